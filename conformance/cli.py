"""The command line: ``conformance serve | run | replay``. A thin shell over the library API."""

from __future__ import annotations

import click

from conformance import __version__


@click.group()
@click.version_option(__version__, prog_name="conformance")
def main() -> None:
    """Conformance harness for Binance-compatible futures venue APIs."""
