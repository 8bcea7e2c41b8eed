"""Public Binance clients work against the binance-usdm venue unchanged: the official connector and ccxt.

Each changes leverage, places a MARKET order, reads positions back and closes, against a real server in a
thread; a wrong secret surfaces as the client's own error carrying -1022.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import ccxt
import pytest
from binance.error import ClientError
from binance.um_futures import UMFutures

from conformance.venue import DEMO_ACCOUNTS
from conformance.venue.server import running_venue

ACCOUNT = DEMO_ACCOUNTS[0]
BTC = "BTC/USDT:USDT"


@pytest.fixture(scope="module")
def venue_url() -> Iterator[str]:
    with running_venue("binance-usdm") as url:
        yield url


# -- binance-futures-connector ----------------------------------------------------------------------


def test_the_official_connector_trades_and_reads_positions(venue_url: str) -> None:
    client = UMFutures(ACCOUNT.api_key, ACCOUNT.api_secret, base_url=venue_url)
    assert client.change_leverage(symbol="ETHUSDT", leverage=10) == {
        "leverage": 10,
        "maxNotionalValue": "2000000",
        "symbol": "ETHUSDT",
    }
    order = client.new_order(symbol="ETHUSDT", side="BUY", type="MARKET", quantity=0.01)
    assert (order["status"], order["executedQty"]) == ("FILLED", "0.01")
    (position,) = client.get_position_risk(symbol="ETHUSDT")
    assert position["positionAmt"] == "0.01"
    assert Decimal(position["isolatedMargin"]) == Decimal(32) / 10
    client.new_order(symbol="ETHUSDT", side="SELL", type="MARKET", quantity=0.01, reduceOnly="true")
    assert client.get_position_risk(symbol="ETHUSDT") == []
    assert client.leverage_brackets(symbol="ETHUSDT")["brackets"][0]["initialLeverage"] == 100
    assert client.ticker_price("ETHUSDT")["price"] == "3200.00"


def test_the_official_connector_sees_a_wrong_secret_as_1022(venue_url: str) -> None:
    client = UMFutures(ACCOUNT.api_key, "not-the-secret", base_url=venue_url)
    with pytest.raises(ClientError) as caught:
        client.change_leverage(symbol="ETHUSDT", leverage=10)
    assert (caught.value.status_code, caught.value.error_code) == (400, -1022)


# -- ccxt -------------------------------------------------------------------------------------------


def _ccxt(url: str, secret: str) -> ccxt.binanceusdm:
    exchange = ccxt.binanceusdm(
        {"apiKey": ACCOUNT.api_key, "secret": secret, "options": {"fetchCurrencies": False}}
    )
    # Point every USDⓈ-M endpoint family (fapiPublic, fapiPrivateV2, ...) at the venue.
    for name, address in exchange.urls["api"].items():
        if isinstance(address, str) and address.startswith("https://fapi.binance.com"):
            exchange.urls["api"][name] = address.replace("https://fapi.binance.com", url)
    return exchange


def test_ccxt_trades_and_reads_positions(venue_url: str) -> None:
    exchange = _ccxt(venue_url, ACCOUNT.api_secret)
    markets = exchange.load_markets()
    assert markets[BTC]["limits"]["amount"]["min"] == 0.001
    assert exchange.set_leverage(25, BTC)["leverage"] == 25
    order = exchange.create_order(BTC, "market", "buy", 0.002)
    assert (order["status"], order["filled"], order["average"]) == ("closed", 0.002, 65000.0)
    (position,) = exchange.fetch_positions([BTC])
    assert (position["side"], position["contracts"], position["entryPrice"]) == ("long", 0.002, 65000.0)
    assert position["initialMargin"] == pytest.approx(130 / 25, rel=1e-9)
    exchange.create_order(BTC, "market", "sell", 0.002, params={"reduceOnly": True})
    assert exchange.fetch_positions([BTC]) == []


def test_ccxt_sees_a_wrong_secret_as_1022(venue_url: str) -> None:
    exchange = _ccxt(venue_url, "not-the-secret")
    exchange.load_markets()
    with pytest.raises(ccxt.AuthenticationError, match="-1022"):
        exchange.set_leverage(10, BTC)
