"""The venue's accounts: API key and HMAC secret pairs, from a YAML file or the two demo accounts.

An accounts file is ``accounts: [{api_key: ..., api_secret: ...}, ...]``. Without one the venue runs with
`DEMO_ACCOUNTS`, two fixed, public key pairs shaped like Binance's (64 alphanumeric characters), so that
a second account is always there for the per-user isolation cases. The API key identifies the user:
leverage and positions are stored under it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from conformance.venue.config import Node, load_document

# A key travels in the X-MBX-APIKEY header and a secret is HMAC key material: visible ASCII, no spaces.
_CREDENTIAL = re.compile(r"[!-~]{1,256}")


@dataclass(frozen=True)
class Account:
    api_key: str
    api_secret: str = field(repr=False)


DEMO_ACCOUNTS: tuple[Account, ...] = (
    Account(
        api_key="DemoKey1tMXTKBWjbJpTDcAG4A5gxV7Uk3t7to0hqiDEC4BOjc2tOW2VSWw0ih0S",
        api_secret="DemoSecret1DgyFfz9sINa7r1mcne70FuYF5cbiLvJMZPwWAoDR1hR4YLX2Nw0gX",
    ),
    Account(
        api_key="DemoKey2fzQ5Ew6QkSojZRzmmGr8KcUW1erlszFlYbeFEN3MQt3JLeaVnpDq7EUI",
        api_secret="DemoSecret2BvdHAsNoLOSLHUZGno6EZ0Ru2UzapaNMw9PDkRh4oTnKGVWsLEjGn",
    ),
)


class Accounts(Mapping[str, Account]):
    """The venue's accounts by API key, in the order given (what the rulebook looks keys up in)."""

    def __init__(self, accounts: Iterable[Account]) -> None:
        self._by_key: dict[str, Account] = {}
        for account in accounts:
            if not _CREDENTIAL.fullmatch(account.api_key) or not _CREDENTIAL.fullmatch(account.api_secret):
                raise ValueError("API keys and secrets are 1-256 visible ASCII characters without spaces")
            if account.api_key in self._by_key:
                raise ValueError(f"two accounts share the API key {account.api_key!r}")
            self._by_key[account.api_key] = account
        if not self._by_key:
            raise ValueError("the venue needs at least one account")

    def __getitem__(self, api_key: str) -> Account:
        return self._by_key[api_key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_key)

    def __len__(self) -> int:
        return len(self._by_key)


def load_accounts(path: str | Path) -> tuple[Account, ...]:
    """Read an accounts file; every mistake is a one-line `ConfigError` pointing at ``file:line:col``."""
    document = load_document(path)
    entries = document.mapping(allowed=frozenset({"accounts"})).required("accounts")
    items = entries.sequence()
    if not items:
        raise entries.error("expected at least one account")
    accounts: list[Account] = []
    seen: set[str] = set()
    for item in items:
        fields = item.mapping(allowed=frozenset({"api_key", "api_secret"}))
        key_node = fields.required("api_key")
        api_key = _credential(key_node)
        if api_key in seen:
            raise key_node.error("this API key is already used by an earlier account")
        seen.add(api_key)
        accounts.append(Account(api_key, _credential(fields.required("api_secret"))))
    return tuple(accounts)


def _credential(node: Node) -> str:
    value = node.text()
    if not _CREDENTIAL.fullmatch(value):
        raise node.error("expected 1-256 visible ASCII characters without spaces")
    return value
