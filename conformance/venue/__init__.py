"""The reference venue: a complete, correct implementation of ``specs/venue-contract.md``.

It imports nothing from the harness, so it can serve as an independent oracle. Start it in-process with
`create_app` (an ASGI app; use ``httpx.ASGITransport``), on a loopback port in a background thread with
`running_venue`, or from the shell with ``conformance serve``.
"""

from conformance.venue.accounts import DEMO_ACCOUNTS, Account, load_accounts
from conformance.venue.app import create_app
from conformance.venue.config import ConfigError
from conformance.venue.markets import Market, default_markets, load_markets
from conformance.venue.server import running_venue

__all__ = [
    "DEMO_ACCOUNTS",
    "Account",
    "ConfigError",
    "Market",
    "create_app",
    "default_markets",
    "load_accounts",
    "load_markets",
    "running_venue",
]
