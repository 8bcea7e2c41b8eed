"""Running generated cases against the in-process reference venue (and its broken twins)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx
import pytest

from conformance import engine, generated
from conformance.builtin import default_markets_file
from conformance.credentials import Credentials
from conformance.model import Case, RunResult
from conformance.venue import DEMO_ACCOUNTS, create_app

RunGenerated = Callable[..., Awaitable[RunResult]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def accounts(second: bool = True) -> dict[str, Credentials]:
    found = {"primary": Credentials(DEMO_ACCOUNTS[0].api_key, DEMO_ACCOUNTS[0].api_secret)}
    if second:
        found["secondary"] = Credentials(DEMO_ACCOUNTS[1].api_key, DEMO_ACCOUNTS[1].api_secret)
    return found


async def run_against(
    profile: str,
    *,
    fault: str | None = None,
    select: str | None = "generated",
    max_examples: int = 3,
    seed: int = 1,
    suite: Sequence[Case] | None = (),
    second_account: bool = True,
    **options: Any,
) -> RunResult:
    """One run against a fresh in-process venue: the generated cases and ``suite`` (none by default; None:
    the shipped suite). ``options`` go to :class:`~conformance.engine.RunConfig`."""
    app = create_app(profile, fault=fault)
    options.setdefault("transport", httpx.ASGITransport(app=app, raise_app_exceptions=False))
    config = engine.RunConfig(
        target="http://venue.test",
        accounts=accounts(second_account),
        profile=profile,
        markets_file=options.pop("markets_file", default_markets_file()),
        allow_trading=True,
        select=select,
        sources=(generated.source(max_examples=max_examples, seed=seed),) if max_examples else (),
        **options,
    )
    try:
        return await engine.run(config, suite=suite)
    finally:
        app.state.venue.store.close()


@pytest.fixture
def run_generated() -> RunGenerated:
    """``await run_generated(profile, fault=..., select=..., max_examples=..., seed=...)``."""
    return run_against
