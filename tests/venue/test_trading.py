"""MARKET orders and positions: filters, reduce-only, margin release, and concurrent fills."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from tests.venue.venue_client import VenueClient, envelope

pytestmark = pytest.mark.anyio


async def test_a_market_order_fills_at_once_at_the_ticker_price(venue: VenueClient) -> None:
    response = await venue.order("BTCUSDT", "BUY", "0.002", newClientOrderId="my-order_1")
    assert response.status_code == 200, response.text
    order = response.json()
    assert order["status"] == "FILLED"
    assert (order["type"], order["side"], order["positionSide"]) == ("MARKET", "BUY", "BOTH")
    assert (order["origQty"], order["executedQty"], order["avgPrice"]) == ("0.002", "0.002", "65000.00")
    assert Decimal(order["cumQuote"]) == Decimal("130")
    assert order["clientOrderId"] == "my-order_1"
    assert order["updateTime"] == venue.clock.now
    position = await venue.position("BTCUSDT")
    assert (position["positionAmt"], Decimal(position["entryPrice"])) == ("0.002", Decimal(65000))


async def test_order_ids_increase(venue: VenueClient) -> None:
    first = (await venue.order("SOLUSDT", "BUY", "1")).json()["orderId"]
    second = (await venue.order("SOLUSDT", "BUY", "1")).json()["orderId"]
    assert second > first


@pytest.mark.parametrize(
    ("quantity", "code"),
    [
        ("0", -4003),
        ("0.0001", -4004),
        ("1000.001", -4005),
        ("0.0025", -1111),
        ("0.001", -4164),
        ("-1", -1102),
        ("abc", -1102),
        ("1e-3", -1102),
    ],
)
async def test_lot_size_and_min_notional_are_enforced(venue: VenueClient, quantity: str, code: int) -> None:
    _, got, msg = envelope(await venue.order("BTCUSDT", "BUY", quantity))
    assert got == code, msg
    if code == -4164:
        assert msg == "Order's notional must be no smaller than 100 (unless you choose reduce only)."


@pytest.mark.parametrize(
    ("change", "code"),
    [({"side": "HOLD"}, -1117), ({"type": "LIMIT"}, -1116), ({"positionSide": "LONG"}, -4061)],
)
async def test_only_one_way_market_orders_are_accepted(
    venue: VenueClient, change: dict[str, str], code: int
) -> None:
    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.002", **change}
    assert envelope(await venue.send("POST", "/fapi/v1/order", params))[1] == code


async def test_a_client_order_id_outside_binances_pattern_is_rejected(venue: VenueClient) -> None:
    assert envelope(await venue.order("BTCUSDT", "BUY", "0.002", newClientOrderId="a b"))[1] == -1100


async def test_reduce_only_closes_and_releases_margin_in_proportion(venue: VenueClient) -> None:
    await venue.set_leverage("BTCUSDT", 10)
    await venue.order("BTCUSDT", "BUY", "0.004")
    assert await venue.margin("BTCUSDT") == Decimal("26")
    # A reduce-only order may be below MIN_NOTIONAL.
    response = await venue.order("BTCUSDT", "SELL", "0.001", reduceOnly="true")
    assert response.json()["reduceOnly"] is True
    position = await venue.position("BTCUSDT")
    assert (position["positionAmt"], Decimal(position["isolatedMargin"])) == ("0.003", Decimal("19.5"))
    await venue.order("BTCUSDT", "SELL", "0.003", reduceOnly="TRUE")
    position = await venue.position("BTCUSDT")
    assert (position["positionAmt"], position["isolatedMargin"], position["entryPrice"]) == ("0", "0", "0")


@pytest.mark.parametrize(
    ("opened", "side", "quantity"),
    [(None, "SELL", "0.002"), ("0.002", "BUY", "0.002"), ("0.002", "SELL", "0.003")],
    ids=["flat", "same-side", "more-than-held"],
)
async def test_a_reduce_only_order_that_would_not_reduce_is_rejected(
    venue: VenueClient, opened: str | None, side: str, quantity: str
) -> None:
    if opened is not None:
        await venue.order("BTCUSDT", "BUY", opened)
    before = await venue.position("BTCUSDT")
    response = await venue.order("BTCUSDT", side, quantity, reduceOnly="true")
    assert envelope(response) == (400, -2022, "ReduceOnly Order is rejected.")
    assert await venue.position("BTCUSDT") == before


async def test_reduce_only_must_be_a_boolean(venue: VenueClient) -> None:
    assert envelope(await venue.order("BTCUSDT", "BUY", "0.002", reduceOnly="yes"))[1] == -1130


async def test_an_opposite_order_larger_than_the_position_flips_it(venue: VenueClient) -> None:
    await venue.set_leverage("SOLUSDT", 10)
    await venue.order("SOLUSDT", "BUY", "2")
    await venue.order("SOLUSDT", "SELL", "5")
    position = await venue.position("SOLUSDT")
    assert position["positionAmt"] == "-3"
    assert Decimal(position["isolatedMargin"]) == Decimal(450) / 10
    assert Decimal(position["notional"]) == Decimal(-450)


async def test_a_position_cannot_grow_beyond_the_max_notional_at_its_leverage(venue: VenueClient) -> None:
    await venue.set_leverage("SOLUSDT", 50)  # binance-usdm: 5000 at 50x; ztdx: 2000000
    quantity = "34" if venue.profile == "binance-usdm" else "13334"
    assert envelope(await venue.order("SOLUSDT", "BUY", quantity))[1] == -2027
    assert (await venue.position("SOLUSDT"))["positionAmt"] == "0"


async def test_margin_sums_fills_at_full_decimal_precision(venue: VenueClient) -> None:
    await venue.set_leverage("ETHUSDT", 7)
    await venue.order("ETHUSDT", "BUY", "0.007")
    await venue.set_leverage("ETHUSDT", 3)
    await venue.order("ETHUSDT", "BUY", "0.011")
    expected = Decimal("22.4") / 7 + Decimal("35.2") / 3
    assert await venue.margin("ETHUSDT") == expected


async def test_concurrent_orders_on_one_position_all_count(venue: VenueClient) -> None:
    responses = await asyncio.gather(*(venue.order("SOLUSDT", "BUY", "1") for _ in range(25)))
    assert [r.status_code for r in responses] == [200] * 25
    position = await venue.position("SOLUSDT")
    assert position["positionAmt"] == "25"
    assert Decimal(position["isolatedMargin"]) == Decimal(25 * 150) / 20
