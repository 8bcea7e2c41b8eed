"""A session: one run's connection to one venue.

It holds the HTTP client, the venue clock, the profile, the accounts and the market facts, and sends each
step's request signed as the step says. Transport trouble becomes an :class:`~conformance.execution.Exchange`
with an error (never an exception); several in a row mark the target unreachable, which ends the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Final

import httpx

from conformance.checks import CheckEnvironment
from conformance.clock import VenueClock
from conformance.credentials import Credentials
from conformance.execution import Exchange
from conformance.model import CaseInstance, Profile, SignSpec
from conformance.scope import Scope
from conformance.signing import SigningError, VenueSigner

PRIMARY: Final = "primary"
SECONDARY: Final = "secondary"
UNREACHABLE_AFTER: Final = 3  # consecutive connection failures


class UnreachableTarget(Exception):
    """The target cannot be reached (before or during a run)."""


ScopeBuilder = Callable[[CaseInstance], Scope]


class VenueSession:
    """Implements :class:`conformance.execution.Session` over a real ``httpx.AsyncClient``."""

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        base_url: str,
        profile: Profile,
        accounts: Mapping[str, Credentials],
        clock: VenueClock,
        check_env: CheckEnvironment,
        scope_builder: ScopeBuilder,
    ) -> None:
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._profile = profile
        self._accounts = dict(accounts)
        self._clock = clock
        self._check_env = check_env
        self._scope = scope_builder
        self._failures_in_a_row = 0

    # -- what execution reads

    @property
    def profile(self) -> Profile:
        return self._profile

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def check_env(self) -> CheckEnvironment:
        return self._check_env

    @property
    def clock(self) -> VenueClock:
        return self._clock

    @property
    def credentials(self) -> tuple[Credentials, ...]:
        return tuple(self._accounts.values())

    @property
    def accounts(self) -> tuple[str, ...]:
        return tuple(self._accounts)

    @property
    def unreachable(self) -> bool:
        return self._failures_in_a_row >= UNREACHABLE_AFTER

    def scope(self, instance: CaseInstance) -> Scope:
        return self._scope(instance)

    def has_account(self, account: str) -> bool:
        return account in self._accounts

    def signer(self, account: str, sign: SignSpec | None = None) -> VenueSigner:
        """The signer of an account; the other account's secret serves ``secret: other-account``."""
        others = [c for name, c in self._accounts.items() if name != account]
        return VenueSigner(self._accounts[account], self._clock, sign, other=others[0] if others else None)

    # -- sending

    async def send(self, request: httpx.Request, account: str, sign: SignSpec) -> Exchange:
        started = time.perf_counter()
        try:
            response = await self._client.send(request, auth=self.signer(account, sign))
            await response.aread()
        except SigningError as problem:
            return Exchange(request, None, _ms_since(started), f"cannot sign the request: {problem}")
        except httpx.TimeoutException as problem:
            self._failures_in_a_row += 1
            return Exchange(
                _sent(problem, request), None, _ms_since(started), f"timeout: {_describe(problem)}"
            )
        except httpx.TransportError as problem:
            self._failures_in_a_row += 1
            return Exchange(
                _sent(problem, request), None, _ms_since(started), f"connection: {_describe(problem)}"
            )
        self._failures_in_a_row = 0
        return Exchange(response.request, response, _ms_since(started))

    async def aclose(self) -> None:
        await self._client.aclose()


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _describe(problem: Exception) -> str:
    return str(problem) or type(problem).__name__


def _sent(problem: httpx.RequestError, fallback: httpx.Request) -> httpx.Request:
    """The request as signed when the transport failed (httpx attaches it), else the unsigned one."""
    try:
        return problem.request
    except RuntimeError:
        return fallback
