"""Fixtures for the reference venue's tests: an in-process venue per profile, and a signed client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from conformance.venue import DEMO_ACCOUNTS, create_app
from tests.venue.venue_clauses import PROFILES
from tests.venue.venue_client import FixedClock, OpenVenue, VenueClient


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=PROFILES)
def profile(request: pytest.FixtureRequest) -> str:
    """Both profiles, unless the test names its own (``@clause(..., "ztdx")`` parametrizes it directly)."""
    return str(request.param)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
async def open_venue(clock: FixedClock) -> AsyncIterator[OpenVenue]:
    """``await open_venue(profile, **create_app_options)``: a client of a fresh venue (primary account)."""
    async with AsyncExitStack() as stack:

        async def open_(profile: str, **options: Any) -> VenueClient:
            options.setdefault("clock", clock)
            app = create_app(profile, **options)
            stack.callback(app.state.venue.store.close)
            transport = httpx.ASGITransport(app=app)
            http = await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://venue")
            )
            accounts = list(options.get("accounts") or DEMO_ACCOUNTS)
            other = accounts[1] if len(accounts) > 1 else None
            return VenueClient(http, accounts[0], options["clock"], profile, other=other, app=app)

        yield open_


@pytest.fixture
async def venue(profile: str, open_venue: OpenVenue) -> VenueClient:
    """The default venue of ``profile``, seen by the first demo account."""
    return await open_venue(profile)


@pytest.fixture
def other(venue: VenueClient) -> VenueClient:
    """The same venue, seen by the second demo account."""
    assert venue.other is not None
    return VenueClient(
        venue.http, venue.other, venue.clock, venue.profile, other=venue.account, app=venue.app
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Record each venue test's clause and profile, so JUnit XML shows coverage per profile."""
    for item in items:
        marker = item.get_closest_marker("clause")
        callspec = getattr(item, "callspec", None)
        if marker is not None and callspec is not None:
            item.user_properties.append(("clause", marker.args[0]))
            item.user_properties.append(("profile", callspec.params.get("profile", "")))
