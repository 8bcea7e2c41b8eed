"""Which venue a run talks to, and as whom.

A given URL is used with credentials from the environment (``CONFORMANCE_API_KEY`` and
``CONFORMANCE_API_SECRET``, optionally ``..._2`` for a second account); no URL means the built-in reference
venue with its demo accounts. The CLI and the pytest plugin both open their target here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from conformance.credentials import Credentials
from conformance.session import PRIMARY, SECONDARY

ENV_KEY = "CONFORMANCE_API_KEY"
ENV_SECRET = "CONFORMANCE_API_SECRET"
ENV_KEY_2 = "CONFORMANCE_API_KEY_2"
ENV_SECRET_2 = "CONFORMANCE_API_SECRET_2"


class TargetError(ValueError):
    """The target cannot be used as asked (missing credentials, a markets file the venue refuses)."""


@dataclass(frozen=True)
class Target:
    url: str
    accounts: Mapping[str, Credentials]
    markets_file: Path | None
    builtin: bool


def accounts_from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Credentials]:
    """The primary (required) and secondary (optional) accounts named by the environment."""
    env = os.environ if environ is None else environ
    accounts: dict[str, Credentials] = {}
    for name, key_var, secret_var in ((PRIMARY, ENV_KEY, ENV_SECRET), (SECONDARY, ENV_KEY_2, ENV_SECRET_2)):
        key, secret = env.get(key_var, ""), env.get(secret_var, "")
        if bool(key) != bool(secret):
            missing = secret_var if key else key_var
            raise TargetError(f"{missing} is not set (both {key_var} and {secret_var} are needed)")
        if key:
            accounts[name] = Credentials(key, secret)
    if PRIMARY not in accounts:
        raise TargetError(f"--target needs credentials: set {ENV_KEY} and {ENV_SECRET}")
    return accounts


@contextmanager
def open_target(url: str | None, dialect: str, markets_file: Path | None) -> Iterator[Target]:
    """The given URL with the environment's credentials, or the built-in venue for ``dialect`` until the
    block ends."""
    if url is not None:
        yield Target(url, accounts_from_environment(), markets_file, builtin=False)
        return
    from conformance.builtin import builtin_target
    from conformance.venue import ConfigError

    with ExitStack() as stack:
        try:
            builtin = stack.enter_context(builtin_target(dialect, markets_file=markets_file))
        except ConfigError as error:  # the venue cannot use the markets file
            raise TargetError(str(error)) from None
        yield Target(builtin.url, builtin.accounts, builtin.markets_file, builtin=True)
