"""Every named fault changes what the venue does, in a probe aimed at the clause it declares.

Each probe is a short scenario returning what a client observes; the test runs it against the correct
venue and against the fault, and the two must differ. A fault added without a probe fails
`test_every_fault_has_a_probe`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import yaml

from conformance.resources import specs_dir
from conformance.venue import DEMO_ACCOUNTS, create_app
from conformance.venue.faults import FAULTS, fault_named
from tests.venue.venue_client import OMIT, FixedClock, VenueClient

Probe = Callable[[VenueClient, VenueClient], Awaitable[Any]]
PROBES: dict[str, Probe] = {}


def probe(*names: str) -> Callable[[Probe], Probe]:
    def register(function: Probe) -> Probe:
        for name in names:
            PROBES[name] = function
        return function

    return register


def outcome(response: httpx.Response) -> tuple[int, Any]:
    return response.status_code, response.json()


# -- request security -------------------------------------------------------------------------------


@probe("sig-query-only")
async def _form_body(venue: VenueClient, other: VenueClient) -> Any:
    return outcome(await venue.set_leverage("BTCUSDT", 7, encoding="form"))


@probe("sig-ampersand-separator")
async def _split(venue: VenueClient, other: VenueClient) -> Any:
    params = {"leverage": 7}
    return outcome(
        await venue.send("POST", "/fapi/v1/leverage", params, encoding="form", query={"symbol": "BTCUSDT"})
    )


@probe("no-url-decoded-fallback")
async def _url_decoded(venue: VenueClient, other: VenueClient) -> Any:
    query = f"symbol=BTCUSDT&leverage=7&note={quote('a b')}&timestamp={venue.clock.now}"
    signature = venue.sign(f"symbol=BTCUSDT&leverage=7&note=a b&timestamp={venue.clock.now}")
    return outcome(await venue.raw("POST", "/fapi/v1/leverage", f"{query}&signature={signature}"))


@probe("sig-any-account-secret")
async def _other_secret(venue: VenueClient, other: VenueClient) -> Any:
    return outcome(await venue.set_leverage("BTCUSDT", 7, secret=other.account.api_secret))


@probe("sig-prefix-match")
async def _truncated(venue: VenueClient, other: VenueClient) -> Any:
    query = f"symbol=BTCUSDT&leverage=7&timestamp={venue.clock.now}"
    return outcome(
        await venue.raw("POST", "/fapi/v1/leverage", f"{query}&signature={venue.sign(query)[:16]}")
    )


@probe("sig-case-sensitive")
async def _upper_case(venue: VenueClient, other: VenueClient) -> Any:
    query = f"symbol=BTCUSDT&leverage=7&timestamp={venue.clock.now}"
    return outcome(
        await venue.raw("POST", "/fapi/v1/leverage", f"{query}&signature={venue.sign(query).upper()}")
    )


@probe("key-unknown-as-first-account", "key-unknown-2014")
async def _unknown_key(venue: VenueClient, other: VenueClient) -> Any:
    return outcome(await venue.set_leverage("BTCUSDT", 7, api_key="unknown"))


@probe("key-missing-2015", "key-missing-as-first-account")
async def _no_key(venue: VenueClient, other: VenueClient) -> Any:
    return outcome(await venue.set_leverage("BTCUSDT", 7, api_key=OMIT))


@probe("body-over-query")
async def _both_locations(venue: VenueClient, other: VenueClient) -> Any:
    params = {"symbol": "BTCUSDT", "leverage": 30}
    return outcome(
        await venue.send("POST", "/fapi/v1/leverage", params, encoding="form", query={"leverage": 10})
    )


@probe("sig-optional")
async def _no_signature(venue: VenueClient, other: VenueClient) -> Any:
    return outcome(await venue.set_leverage("BTCUSDT", 7, signature=OMIT))


@probe("duplicate-across-locations")
async def _in_both_locations(venue: VenueClient, other: VenueClient) -> Any:
    params = {"symbol": "BTCUSDT", "leverage": 30}
    return outcome(
        await venue.send("POST", "/fapi/v1/leverage", params, encoding="form", query={"symbol": "BTCUSDT"})
    )


# -- timing -----------------------------------------------------------------------------------------


@probe("timestamp-missing-is-zero")
async def _no_timestamp(venue: VenueClient, other: VenueClient) -> Any:
    return outcome(await venue.set_leverage("BTCUSDT", 7, timestamp=OMIT))


@probe("no-future-check")
async def _future(venue: VenueClient, other: VenueClient) -> Any:
    return outcome(await venue.set_leverage("BTCUSDT", 7, timestamp=venue.clock.now + 5_000))


@probe("stale-check-in-seconds", "default-recv-window-60000")
async def _stale(venue: VenueClient, other: VenueClient) -> Any:
    return outcome(await venue.set_leverage("BTCUSDT", 7, timestamp=venue.clock.now - 6_000))


@probe("recv-window-ignored")
async def _long_window(venue: VenueClient, other: VenueClient) -> Any:
    response = await venue.set_leverage("BTCUSDT", 7, timestamp=venue.clock.now - 20_000, recv_window=30_000)
    return outcome(response)


@probe("recv-window-unbounded")
async def _too_long_window(venue: VenueClient, other: VenueClient) -> Any:
    return outcome(await venue.set_leverage("BTCUSDT", 7, recv_window=60_001))


@probe("timestamp-optional")
async def _without_timestamp(venue: VenueClient, other: VenueClient) -> Any:
    return outcome(await venue.set_leverage("BTCUSDT", 7, timestamp=OMIT))


@probe("future-within-recv-window")
async def _ahead_within_window(venue: VenueClient, other: VenueClient) -> Any:
    return outcome(await venue.set_leverage("BTCUSDT", 7, timestamp=venue.clock.now + 3_000))


@probe("recv-window-max-exclusive")
async def _largest_window(venue: VenueClient, other: VenueClient) -> Any:
    return outcome(await venue.set_leverage("BTCUSDT", 7, recv_window=60_000))


# -- the leverage endpoint --------------------------------------------------------------------------


@probe("band-top-exclusive")
async def _max(venue: VenueClient, other: VenueClient) -> Any:
    return outcome(await venue.set_leverage("BTCUSDT", 125))


@probe("band-accepts-zero")
async def _zero(venue: VenueClient, other: VenueClient) -> Any:
    return outcome(await venue.set_leverage("BTCUSDT", 0))


@probe("band-ignores-min-leverage")
async def _below_min(venue: VenueClient, other: VenueClient) -> Any:
    return outcome(await venue.set_leverage("SOLUSDT", 1))


@probe("out-of-band-message-without-max", "out-of-band-500")
async def _above_max(venue: VenueClient, other: VenueClient) -> Any:
    response = await venue.set_leverage("BTCUSDT", 126)
    return response.status_code, response.text


@probe("leverage-truncated")
async def _fraction(venue: VenueClient, other: VenueClient) -> Any:
    return outcome(await venue.set_leverage("BTCUSDT", "20.5"))


@probe("leverage-string-rejected", "json-body-ignored")
async def _json_string(venue: VenueClient, other: VenueClient) -> Any:
    params = {"symbol": "BTCUSDT", "leverage": "20"}
    return outcome(await venue.send("POST", "/fapi/v1/leverage", params, encoding="json"))


@probe("unknown-symbol-accepted")
async def _unknown_symbol(venue: VenueClient, other: VenueClient) -> Any:
    return outcome(await venue.set_leverage("NOPEUSDT", 7))


@probe("notional-bracket-one", "notional-off-by-one-bracket", "notional-by-brackets")
async def _notional(venue: VenueClient, other: VenueClient) -> Any:
    return outcome(await venue.set_leverage("BTCUSDT", 20))


@probe("echo-previous-leverage")
async def _echo(venue: VenueClient, other: VenueClient) -> Any:
    await venue.set_leverage("BTCUSDT", 7)
    return outcome(await venue.set_leverage("BTCUSDT", 9))


@probe("leverage-int64-wrap")
async def _wrapping(venue: VenueClient, other: VenueClient) -> Any:
    return outcome(await venue.set_leverage("BTCUSDT", str(2**64 + 20)))


@probe("leverage-js-number")
async def _exponent(venue: VenueClient, other: VenueClient) -> Any:
    return outcome(await venue.set_leverage("BTCUSDT", "1e1"))


@probe("leverage-parse-500")
async def _not_a_number(venue: VenueClient, other: VenueClient) -> Any:
    response = await venue.set_leverage("BTCUSDT", "abc")
    return response.status_code, response.text


@probe("form-body-ignored")
async def _form(venue: VenueClient, other: VenueClient) -> Any:
    return outcome(await venue.set_leverage("BTCUSDT", 7, encoding="form"))


@probe("max-notional-as-number", "leverage-answer-wrapped")
async def _answer(venue: VenueClient, other: VenueClient) -> Any:
    return outcome(await venue.set_leverage("BTCUSDT", 7))


@probe("errors-as-200", "error-message-field")
async def _rejection(venue: VenueClient, other: VenueClient) -> Any:
    return outcome(await venue.set_leverage("BTCUSDT", 500))


# -- persistence ------------------------------------------------------------------------------------


@probe("leverage-per-user")
async def _other_symbol(venue: VenueClient, other: VenueClient) -> Any:
    await venue.set_leverage("BTCUSDT", 7)
    return await venue.leverage("ETHUSDT")


@probe("leverage-per-symbol")
async def _other_user(venue: VenueClient, other: VenueClient) -> Any:
    await other.set_leverage("BTCUSDT", 7)
    return await venue.leverage("BTCUSDT")


@probe("leverage-not-stored")
async def _read_back(venue: VenueClient, other: VenueClient) -> Any:
    await venue.set_leverage("BTCUSDT", 7)
    return await venue.leverage("BTCUSDT")


@probe("first-write-wins")
async def _overwrite(venue: VenueClient, other: VenueClient) -> Any:
    await venue.set_leverage("BTCUSDT", 7)
    await venue.set_leverage("BTCUSDT", 9)
    return await venue.leverage("BTCUSDT")


@probe("clamp-before-reject")
async def _rejected(venue: VenueClient, other: VenueClient) -> Any:
    await venue.set_leverage("BTCUSDT", 126)
    return await venue.leverage("BTCUSDT")


@probe("order-default-leverage")
async def _order_margin(venue: VenueClient, other: VenueClient) -> Any:
    await venue.set_leverage("BTCUSDT", 7)
    await venue.order("BTCUSDT", "BUY", "0.002")
    return await venue.margin("BTCUSDT")


@probe("margin-rounded")
async def _precise_margin(venue: VenueClient, other: VenueClient) -> Any:
    await venue.set_leverage("ETHUSDT", 3)
    await venue.order("ETHUSDT", "BUY", "0.011")
    return await venue.margin("ETHUSDT")


@probe("order-explicit-ignored", "order-explicit-persisted")
async def _explicit(venue: VenueClient, other: VenueClient) -> Any:
    await venue.order("BTCUSDT", "BUY", "0.002", leverage=4)
    return await venue.margin("BTCUSDT"), await venue.leverage("BTCUSDT")


@probe("remargin-on-leverage-change", "reject-lowering-with-position")
async def _lowering(venue: VenueClient, other: VenueClient) -> Any:
    await venue.order("BTCUSDT", "BUY", "0.002")
    response = await venue.set_leverage("BTCUSDT", 5)
    return response.status_code, await venue.margin("BTCUSDT")


@probe("store-before-authentication")
async def _stale_change(venue: VenueClient, other: VenueClient) -> Any:
    await venue.set_leverage("BTCUSDT", 7)
    await venue.set_leverage("BTCUSDT", 9, timestamp=venue.clock.now - 60_000)
    return await venue.leverage("BTCUSDT")


@probe("readback-default-when-flat")
async def _flat_read_back(venue: VenueClient, other: VenueClient) -> Any:
    await venue.set_leverage("BTCUSDT", 7)
    return await venue.leverage("BTCUSDT")


# -- the tests --------------------------------------------------------------------------------------


@asynccontextmanager
async def _venue(profile: str, fault: str | None) -> AsyncIterator[tuple[VenueClient, VenueClient]]:
    clock = FixedClock()
    app = create_app(profile, clock=clock, fault=fault)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # a fault may crash: see the 500
    async with httpx.AsyncClient(transport=transport, base_url="http://venue") as http:
        first, second = DEMO_ACCOUNTS
        yield (
            VenueClient(http, first, clock, profile, other=second, app=app),
            VenueClient(http, second, clock, profile, other=first, app=app),
        )
    app.state.venue.store.close()


CASES = [
    pytest.param(name, profile, id=f"{name}-{profile}")
    for name in FAULTS
    for profile in sorted(FAULTS[name].profiles)
]


@pytest.mark.anyio
@pytest.mark.parametrize(("fault", "profile"), CASES)
async def test_the_fault_changes_what_a_client_observes(fault: str, profile: str) -> None:
    async with _venue(profile, None) as (venue, other):
        correct = await PROBES[fault](venue, other)
    async with _venue(profile, fault) as (venue, other):
        broken = await PROBES[fault](venue, other)
    assert broken != correct, f"{fault} behaves like the correct venue: {correct}"


def test_every_fault_has_a_probe() -> None:
    assert sorted(set(FAULTS) - set(PROBES)) == []


def test_faults_cite_clauses_that_bind_their_profiles() -> None:
    contract = yaml.safe_load((specs_dir() / "contract.yaml").read_text(encoding="utf-8"))
    levels = {entry["id"]: entry["levels"] for entry in contract["clauses"]}
    for fault in FAULTS.values():
        assert fault.clause in levels, fault.name
        for profile in fault.profiles:
            assert levels[fault.clause].get(profile) in ("MUST", "SHOULD"), (fault.name, profile)


def test_there_are_at_least_30_faults_with_unique_descriptions() -> None:
    assert len(FAULTS) >= 30
    assert len({fault.description for fault in FAULTS.values()}) == len(FAULTS)


def test_a_fault_is_refused_for_a_profile_it_does_not_apply_to() -> None:
    with pytest.raises(ValueError, match="applies to ztdx, not binance-usdm"):
        fault_named("json-body-ignored", "binance-usdm")
    with pytest.raises(ValueError, match="unknown fault"):
        create_app("ztdx", fault="no-such-fault")
