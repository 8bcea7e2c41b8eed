"""The market data endpoints and their shapes: time, exchangeInfo, ticker, leverage brackets."""

from __future__ import annotations

from decimal import Decimal

import pytest

from conformance.venue.wire import decimal_text
from tests.venue.venue_client import VenueClient, envelope

pytestmark = pytest.mark.anyio


async def test_server_time_is_the_venues_clock(venue: VenueClient) -> None:
    response = await venue.http.get("/fapi/v1/time")
    assert response.json() == {"serverTime": venue.clock.now}
    assert (await venue.http.get("/fapi/v1/ping")).json() == {}


async def test_exchange_info_lists_every_symbol_with_its_filters(venue: VenueClient) -> None:
    info = (await venue.http.get("/fapi/v1/exchangeInfo")).json()
    assert info["serverTime"] == venue.clock.now
    symbols = {s["symbol"]: s for s in info["symbols"]}
    assert list(symbols) == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    btc = symbols["BTCUSDT"]
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert filters["LOT_SIZE"] == {
        "filterType": "LOT_SIZE",
        "minQty": "0.001",
        "maxQty": "1000",
        "stepSize": "0.001",
    }
    assert filters["MIN_NOTIONAL"] == {"filterType": "MIN_NOTIONAL", "notional": "100"}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01"
    assert (btc["baseAsset"], btc["quoteAsset"], btc["marginAsset"]) == ("BTC", "USDT", "USDT")
    assert (btc["pricePrecision"], btc["quantityPrecision"]) == (2, 3)
    assert symbols["SOLUSDT"]["quantityPrecision"] == 0
    if venue.profile == "ztdx":
        assert [s["maxLeverage"] for s in symbols.values()] == [125, 100, 50]
    else:
        assert all("maxLeverage" not in s for s in symbols.values())


async def test_the_ticker_gives_one_symbol_or_all(venue: VenueClient) -> None:
    one = (await venue.http.get("/fapi/v1/ticker/price", params={"symbol": "SOLUSDT"})).json()
    assert one == {"symbol": "SOLUSDT", "price": "150.00", "time": venue.clock.now}
    every = (await venue.http.get("/fapi/v1/ticker/price")).json()
    assert [t["symbol"] for t in every] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert envelope(await venue.http.get("/fapi/v1/ticker/price?symbol=NOPE"))[1] == -1121


async def test_leverage_brackets_are_signed_and_give_an_array_or_one_object(venue: VenueClient) -> None:
    assert envelope(await venue.http.get("/fapi/v1/leverageBracket"))[1] == -2014
    every = (await venue.send("GET", "/fapi/v1/leverageBracket")).json()
    assert [entry["symbol"] for entry in every] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    btc = (await venue.send("GET", "/fapi/v1/leverageBracket", {"symbol": "BTCUSDT"})).json()
    assert btc == every[0]
    first, second = btc["brackets"][:2]
    assert first == {
        "bracket": 1,
        "initialLeverage": 125,
        "notionalCap": 50000,
        "notionalFloor": 0,
        "maintMarginRatio": 0.004,
        "cum": 0.0,
    }
    assert (second["notionalFloor"], second["initialLeverage"]) == (50000, 75)
    # Binance's maintenance amount: cum[n] = cum[n-1] + floor[n] * (mmr[n] - mmr[n-1])
    assert second["cum"] == pytest.approx(50000 * (second["maintMarginRatio"] - 0.004))


async def test_position_risk_without_symbol_lists_every_symbol(venue: VenueClient) -> None:
    positions = (await venue.send("GET", venue.position_path)).json()
    assert [p["symbol"] for p in positions] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert envelope(await venue.send("GET", venue.position_path, {"symbol": "NOPE"}))[1] == -1121


async def test_only_the_profiles_position_path_is_served(venue: VenueClient) -> None:
    other = "/fapi/v1/positionRisk" if venue.profile == "binance-usdm" else "/fapi/v2/positionRisk"
    assert envelope(await venue.send("GET", other))[1] == -5000


async def test_binance_also_serves_position_risk_v3_with_open_positions_only(venue: VenueClient) -> None:
    response = await venue.send("GET", "/fapi/v3/positionRisk")
    if venue.profile == "ztdx":
        assert envelope(response)[1] == -5000
        return
    assert response.json() == []
    await venue.order("ETHUSDT", "BUY", "0.010")
    (position,) = (await venue.send("GET", "/fapi/v3/positionRisk")).json()
    assert (position["symbol"], position["positionAmt"], position["marginAsset"]) == (
        "ETHUSDT",
        "0.01",
        "USDT",
    )
    assert Decimal(position["initialMargin"]) == Decimal(32) / 20
    assert "leverage" not in position


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("0", "0"),
        ("0.000", "0"),
        ("6.50", "6.5"),
        ("5E+4", "50000"),
        ("-0.0070", "-0.007"),
        ("1E-8", "0.00000001"),
    ],
)
def test_decimals_are_sent_as_plain_text(value: str, text: str) -> None:
    assert decimal_text(Decimal(value)) == text
