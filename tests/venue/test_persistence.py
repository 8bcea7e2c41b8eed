"""Persistence per (user, symbol) (PER-*): read-back, overwrite, isolation, rejections, margins, restarts."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.venue.venue_clauses import clause
from tests.venue.venue_client import OpenVenue, VenueClient, envelope

pytestmark = pytest.mark.anyio

LEVERAGE = "/fapi/v1/leverage"


@clause("PER-READBACK")
@pytest.mark.parametrize(("symbol", "leverage"), [("BTCUSDT", 7), ("ETHUSDT", 100), ("SOLUSDT", 2)])
async def test_the_read_back_shows_the_accepted_leverage(
    venue: VenueClient, symbol: str, leverage: int
) -> None:
    assert (await venue.set_leverage(symbol, leverage)).status_code == 200
    position = await venue.position(symbol)
    assert position["leverage"] == str(leverage)


@clause("PER-READBACK")
async def test_a_symbol_never_set_reads_back_the_default_leverage_20(venue: VenueClient) -> None:
    response = await venue.send("GET", venue.position_path)
    assert [(p["symbol"], p["leverage"]) for p in response.json()] == [
        ("BTCUSDT", "20"),
        ("ETHUSDT", "20"),
        ("SOLUSDT", "20"),
    ]


@clause("PER-READBACK")
async def test_every_read_back_field_is_a_string_except_update_time(venue: VenueClient) -> None:
    await venue.order("BTCUSDT", "BUY", "0.002")
    position = await venue.position("BTCUSDT")
    assert type(position.pop("updateTime")) is int
    assert all(isinstance(value, str) for value in position.values()), position
    assert position["positionSide"] == "BOTH"
    assert position["marginType"] == "isolated"


@clause("PER-OVERWRITE")
async def test_a_new_accepted_leverage_replaces_the_stored_one(venue: VenueClient) -> None:
    for leverage in (5, 50, 3):
        assert (await venue.set_leverage("BTCUSDT", leverage)).status_code == 200
        assert await venue.leverage("BTCUSDT") == leverage


@clause("PER-SYMBOL-ISOLATION")
async def test_setting_one_symbol_leaves_the_others_unchanged(venue: VenueClient) -> None:
    await venue.set_leverage("ETHUSDT", 9)
    await venue.set_leverage("BTCUSDT", 33)
    assert await venue.leverage("ETHUSDT") == 9
    assert await venue.leverage("SOLUSDT") == 20


@clause("PER-USER-ISOLATION")
async def test_setting_it_for_one_user_leaves_the_other_unchanged(
    venue: VenueClient, other: VenueClient
) -> None:
    await other.set_leverage("BTCUSDT", 4)
    await venue.set_leverage("BTCUSDT", 40)
    assert await other.leverage("BTCUSDT") == 4
    assert await venue.leverage("BTCUSDT") == 40


@clause("PER-USER-ISOLATION")
async def test_positions_belong_to_their_user(venue: VenueClient, other: VenueClient) -> None:
    await venue.order("BTCUSDT", "BUY", "0.002")
    assert (await other.position("BTCUSDT"))["positionAmt"] == "0"


REJECTIONS: dict[str, dict[str, Any]] = {
    "out-of-band": {"leverage": 126},
    "not-an-integer": {"leverage": "20.5"},
    "negative": {"leverage": -5},
    "wrong-secret": {"secret": "wrong"},
    "other-accounts-secret": {"secret": "DemoSecret2BvdHAsNoLOSLHUZGno6EZ0Ru2UzapaNMw9PDkRh4oTnKGVWsLEjGn"},
    "stale": {"timestamp_offset": -6_000},
    "future": {"timestamp_offset": 2_000},
    "recv-window-too-large": {"recv_window": 60_001},
}


@clause("PER-REJECT-NO-EFFECT")
@pytest.mark.parametrize("rejection", list(REJECTIONS))
async def test_a_rejected_request_leaves_the_stored_leverage_unchanged(
    venue: VenueClient, rejection: str
) -> None:
    await venue.set_leverage("BTCUSDT", 15)
    before = await venue.position("BTCUSDT")
    options = dict(REJECTIONS[rejection])
    leverage = options.pop("leverage", 30)
    if "timestamp_offset" in options:
        options["timestamp"] = venue.clock.now + options.pop("timestamp_offset")
    envelope(await venue.set_leverage("BTCUSDT", leverage, **options))
    assert await venue.position("BTCUSDT") == before


@clause("PER-REJECT-NO-EFFECT")
async def test_a_rejected_order_leaves_no_position(venue: VenueClient) -> None:
    envelope(await venue.order("BTCUSDT", "BUY", "0.001"))  # below MIN_NOTIONAL
    assert (await venue.position("BTCUSDT"))["positionAmt"] == "0"


@clause("PER-ORDER-USES")
@pytest.mark.parametrize(("symbol", "leverage", "quantity"), [("BTCUSDT", 7, "0.002"), ("SOLUSDT", 3, "1")])
async def test_an_order_is_margined_at_the_stored_leverage(
    venue: VenueClient, symbol: str, leverage: int, quantity: str
) -> None:
    await venue.set_leverage(symbol, leverage)
    fill = (await venue.order(symbol, "BUY", quantity)).json()
    notional = Decimal(fill["cumQuote"])
    position = await venue.position(symbol)
    assert Decimal(position["isolatedMargin"]) == notional / leverage
    assert Decimal(position["positionAmt"]) == Decimal(quantity)


@clause("PER-ORDER-USES")
async def test_an_order_on_a_never_set_symbol_is_margined_at_20(venue: VenueClient) -> None:
    await venue.order("ETHUSDT", "BUY", "0.010")
    assert await venue.margin("ETHUSDT") == Decimal("32") / 20


@clause("PER-ORDER-EXPLICIT", "ztdx")
async def test_an_order_with_its_own_leverage_uses_it_and_keeps_the_stored_one(venue: VenueClient) -> None:
    await venue.set_leverage("BTCUSDT", 10)
    await venue.order("BTCUSDT", "BUY", "0.002", leverage=4)
    assert await venue.margin("BTCUSDT") == Decimal("130") / 4
    assert await venue.leverage("BTCUSDT") == 10


@clause("PER-ORDER-EXPLICIT", "ztdx")
async def test_an_order_leverage_in_a_json_body_may_be_a_string(venue: VenueClient) -> None:
    params = {"symbol": "SOLUSDT", "side": "BUY", "type": "MARKET", "quantity": 1, "leverage": "5"}
    response = await venue.send("POST", "/fapi/v1/order", params, encoding="json")
    assert response.status_code == 200, response.text
    assert await venue.margin("SOLUSDT") == Decimal(150) / 5


@clause("PER-ORDER-EXPLICIT", "ztdx")
@pytest.mark.parametrize(("leverage", "code"), [(1, -4028), (51, -4028), ("x", -1130)])
async def test_an_order_leverage_outside_the_band_is_rejected(
    venue: VenueClient, leverage: object, code: int
) -> None:
    assert envelope(await venue.order("SOLUSDT", "BUY", "1", leverage=leverage))[1] == code
    assert (await venue.position("SOLUSDT"))["positionAmt"] == "0"


@clause("PER-ORDER-USES", "binance-usdm")
async def test_binance_ignores_a_leverage_parameter_on_orders(venue: VenueClient) -> None:
    await venue.set_leverage("BTCUSDT", 10)
    await venue.order("BTCUSDT", "BUY", "0.002", leverage=4)
    assert await venue.margin("BTCUSDT") == Decimal("130") / 10


@clause("PER-NO-REMARGIN")
async def test_lowering_leverage_keeps_the_open_positions_margin_and_margins_the_next_order_anew(
    venue: VenueClient,
) -> None:
    await venue.set_leverage("BTCUSDT", 20)
    await venue.order("BTCUSDT", "BUY", "0.002")
    before = await venue.position("BTCUSDT")
    response = await venue.set_leverage("BTCUSDT", 5)
    assert response.status_code == 200, response.text
    after = await venue.position("BTCUSDT")
    assert (after["entryPrice"], after["isolatedMargin"]) == (before["entryPrice"], before["isolatedMargin"])
    assert after["leverage"] == "5"
    await venue.order("BTCUSDT", "BUY", "0.003")
    assert await venue.margin("BTCUSDT") == Decimal("130") / 20 + Decimal("195") / 5


@clause("PER-READBACK")
async def test_leverage_and_positions_survive_a_restart_on_the_same_state_file(
    profile: str, open_venue: OpenVenue, tmp_path: Path
) -> None:
    state = tmp_path / "venue.sqlite3"
    first = await open_venue(profile, state_path=state)
    await first.set_leverage("ETHUSDT", 9)
    await first.order("ETHUSDT", "SELL", "0.007")
    before = await first.position("ETHUSDT")
    first.close()
    second = await open_venue(profile, state_path=state)
    assert await second.position("ETHUSDT") == before
    assert before["positionAmt"] == "-0.007"
    assert before["leverage"] == "9"
