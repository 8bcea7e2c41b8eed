"""The built-in target: the reference venue on a free loopback port, with its demo accounts.

``conformance run`` without ``--target`` runs against it (and so does the pytest plugin). The harness
uses the venue's own markets file as its markets file, so the facts only that file can give (ztdx's
minimum leverage and position limit) are known; ``--markets`` replaces both.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from conformance.credentials import Credentials
from conformance.session import PRIMARY, SECONDARY


@dataclass(frozen=True)
class BuiltinTarget:
    url: str
    accounts: Mapping[str, Credentials]
    markets_file: Path


def default_markets_file() -> Path:
    """The markets file the reference venue serves by default (``conformance/venue/markets.yaml``)."""
    return Path(str(resources.files("conformance.venue").joinpath("markets.yaml")))


@contextmanager
def builtin_target(
    dialect: str, *, markets_file: Path | None = None, fault: str | None = None
) -> Iterator[BuiltinTarget]:
    """Serve the reference venue for ``dialect`` until the block ends."""
    from conformance.venue.accounts import DEMO_ACCOUNTS
    from conformance.venue.markets import load_markets
    from conformance.venue.server import running_venue

    path = markets_file if markets_file is not None else default_markets_file()
    venue_markets = load_markets(path) if markets_file is not None else None
    first, second = DEMO_ACCOUNTS[0], DEMO_ACCOUNTS[1]
    accounts = {
        PRIMARY: Credentials(first.api_key, first.api_secret),
        SECONDARY: Credentials(second.api_key, second.api_secret),
    }
    with running_venue(dialect, markets=venue_markets, fault=fault) as url:
        yield BuiltinTarget(url=url, accounts=accounts, markets_file=path)
