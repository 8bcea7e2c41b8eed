"""venue-conformance: a conformance test harness for Binance-compatible futures venue APIs."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("venue-conformance")
except PackageNotFoundError:  # running from a checkout that is not installed
    __version__ = "0.0.0+unknown"
