"""Market facts: discovery per profile over httpx.MockTransport, merging with the markets file, the rules."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import textwrap
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from conformance.clock import VenueClock
from conformance.facts import notional_cap, smallest_order_qty
from conformance.markets import MarketFactsError, MarketsReport, gather_market_facts
from conformance.markets_file import MarketsFile, parse_markets_file
from conformance.model import Bracket, FactDisagreement, MarketFacts, Profile
from conformance.signing import API_KEY_HEADER, Credentials, VenueSigner

# --------------------------------------------------------------------------------------------------
# The pure rules

BRACKETS = (
    Bracket(1, 125, Decimal(50000)),
    Bracket(2, 100, Decimal(250000)),
    Bracket(3, 50, Decimal(1000000)),
    Bracket(4, 20, Decimal(5000000)),
)


def facts(**values: Any) -> MarketFacts:
    return MarketFacts(**{"symbol": "BTCUSDT", "min_leverage": 1, "max_leverage": 125, **values})


@pytest.mark.parametrize(
    ("leverage", "cap"),
    [(125, 50000), (101, 50000), (100, 250000), (51, 250000), (50, 1000000), (20, 5000000), (1, 5000000)],
)
def test_binance_notional_cap_is_the_highest_bracket_allowing_the_leverage(leverage: int, cap: int) -> None:
    assert notional_cap(facts(brackets=BRACKETS), leverage, "brackets") == Decimal(cap)


def test_binance_notional_cap_above_every_bracket_is_unknown() -> None:
    assert notional_cap(facts(brackets=BRACKETS), 126, "brackets") is None
    assert notional_cap(facts(), 20, "brackets") is None


def test_ztdx_notional_cap_is_the_position_limit_whatever_the_leverage() -> None:
    limit = Decimal("10000000")
    assert {
        notional_cap(facts(max_position_size_usd=limit), lev, "max_position_size_usd") for lev in (1, 50)
    } == {limit}


@pytest.mark.parametrize(
    ("min_qty", "step", "min_notional", "price", "expected"),
    [
        ("0.001", "0.001", "100", "65000.00", "0.002"),  # 0.00154 rounds up to the step
        ("0.001", "0.001", "20", "3200.00", "0.007"),  # 0.00625
        ("1", "1", "5", "150.00", "1"),  # minQty already enough
        ("0.001", "0.001", "65", "65000", "0.001"),  # exactly minQty
        ("0.001", "0.001", "130", "65000", "0.002"),  # exactly two steps: no extra step
        ("0.00100000", "0.00100000", "100", "65000", "0.002"),  # Binance's zero-padded filters
        ("0.0015", "0.001", "230", "65000", "0.0045"),  # minQty off the step grid: minQty + n steps
        ("10", "10", "105", "1", "110"),
    ],
)
def test_smallest_order_qty(min_qty: str, step: str, min_notional: str, price: str, expected: str) -> None:
    qty = smallest_order_qty(
        facts(
            min_qty=Decimal(min_qty),
            step_size=Decimal(step),
            min_notional=Decimal(min_notional),
            price=Decimal(price),
        )
    )
    assert qty is not None
    assert str(qty) == expected
    assert qty * Decimal(price) >= Decimal(min_notional)


def test_smallest_order_qty_with_missing_facts() -> None:
    assert smallest_order_qty(facts()) is None
    assert smallest_order_qty(facts(min_qty=Decimal("0.001"))) == Decimal("0.001")  # no MIN_NOTIONAL
    no_price = facts(min_qty=Decimal("0.001"), step_size=Decimal("0.001"), min_notional=Decimal(100))
    assert smallest_order_qty(no_price) is None


# --------------------------------------------------------------------------------------------------
# A fake venue serving the reference venue's default markets


def profile(dialect: str) -> Profile:
    binance = dialect == "binance-usdm"
    return Profile(
        name=dialect,
        dialect=dialect,
        title=dialect,
        openapi="openapi/x.yaml",
        encodings=("query", "form") if binance else ("query", "form", "json"),
        url_decoded_fallback=not binance,
        paths={
            "time": "/fapi/v1/time",
            "exchange_info": "/fapi/v1/exchangeInfo",
            "ticker": "/fapi/v1/ticker/price",
            "brackets": "/fapi/v1/leverageBracket",
            "leverage": "/fapi/v1/leverage",
            "order": "/fapi/v1/order",
            "position": "/fapi/v2/positionRisk" if binance else "/fapi/v1/positionRisk",
        },
        band_source="brackets" if binance else "exchange_info",
        notional_rule="brackets" if binance else "max_position_size_usd",
        margin_field="isolatedMargin",
        margin_missing_reason=None,
        messages={},
        recv_window_max=None if binance else 60000,
        clause_levels={},
        source="test",
    )


BINANCE = profile("binance-usdm")
ZTDX = profile("ztdx")
OWN = Credentials("key-0123456789abcdef", "secret-fedcba9876543210")
NOW = 1_732_200_000_000

MARKETS: dict[str, dict[str, Any]] = {
    "BTCUSDT": {"max": 125, "price": "65000.00", "lot": ("0.001", "0.001"), "notional": "100"},
    "ETHUSDT": {"max": 100, "price": "3200.00", "lot": ("0.001", "0.001"), "notional": "20"},
    "SOLUSDT": {"max": 50, "price": "150.00", "lot": ("1", "1"), "notional": "5"},
}
BRACKET_TABLE = {
    "BTCUSDT": [(1, 125, 50000), (2, 100, 250000), (3, 50, 1000000)],
    "ETHUSDT": [(1, 100, 10000), (2, 75, 100000)],
    "SOLUSDT": [(1, 50, 5000), (2, 25, 100000)],
}


class FakeVenue:
    """exchangeInfo, ticker/price and a signed leverageBracket, with faults on demand."""

    def __init__(self, dialect: str, *, broken: dict[str, httpx.Response] | None = None) -> None:
        self.dialect = dialect
        self.broken = broken or {}
        self.requests: list[httpx.Request] = []
        self.overrides: dict[str, dict[str, Any]] = {}

    def market(self, symbol: str) -> dict[str, Any]:
        return {**MARKETS[symbol], **self.overrides.get(symbol, {})}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path in self.broken:
            return self.broken[path]
        symbol = request.url.params.get("symbol")
        if path == "/fapi/v1/exchangeInfo":
            return httpx.Response(200, json={"timezone": "UTC", "symbols": self.symbols()})
        if path == "/fapi/v1/ticker/price":
            tickers = [{"symbol": s, "price": self.market(s)["price"], "time": NOW} for s in MARKETS]
            return httpx.Response(200, json=self.one(tickers, symbol))
        if path == "/fapi/v1/leverageBracket":
            if not self.correctly_signed(request):
                return httpx.Response(
                    400, json={"code": -1022, "msg": "Signature for this request is not valid."}
                )
            table = [
                {
                    "symbol": s,
                    "brackets": [
                        {
                            "bracket": n,
                            "initialLeverage": lev,
                            "notionalCap": cap,
                            "notionalFloor": 0,
                            "maintMarginRatio": 0.004,
                            "cum": 0.0,
                        }
                        for n, lev, cap in self.market(s).get("brackets", BRACKET_TABLE[s])
                    ],
                }
                for s in MARKETS
            ]
            return httpx.Response(200, json=self.one(table, symbol))
        return httpx.Response(404, json={"code": -5000, "msg": f"Path {path} not found."})

    @staticmethod
    def one(entries: list[dict[str, Any]], symbol: str | None) -> Any:
        if symbol is None:
            return entries
        return next(e for e in entries if e["symbol"] == symbol)

    def symbols(self) -> list[dict[str, Any]]:
        listed = []
        for symbol in [*MARKETS, "XRPUSDT"]:
            if symbol == "XRPUSDT":
                listed.append({"symbol": symbol, "status": "BREAK", "filters": []})
                continue
            market = self.market(symbol)
            entry: dict[str, Any] = {
                "symbol": symbol,
                "status": "TRADING",
                "filters": [
                    {
                        "filterType": "PRICE_FILTER",
                        "minPrice": "0.10",
                        "maxPrice": "1000000",
                        "tickSize": "0.10",
                    },
                    {
                        "filterType": "LOT_SIZE",
                        "minQty": market["lot"][0],
                        "maxQty": "1000",
                        "stepSize": market["lot"][1],
                    },
                    {
                        "filterType": "MARKET_LOT_SIZE",
                        "minQty": "0.001",
                        "maxQty": "100",
                        "stepSize": "0.001",
                    },
                    {"filterType": "MIN_NOTIONAL", "notional": market["notional"]},
                ],
            }
            if self.dialect == "ztdx":
                entry["maxLeverage"] = market["max"]
            listed.append(entry)
        return listed

    @staticmethod
    def correctly_signed(request: httpx.Request) -> bool:
        query = request.url.query.decode()
        payload, _, signature = query.rpartition("&signature=")
        expected = hmac.new(OWN.api_secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        return request.headers.get(API_KEY_HEADER) == OWN.api_key and hmac.compare_digest(expected, signature)

    def paths(self) -> list[str]:
        return sorted(
            r.url.path + ("?symbol=" + r.url.params["symbol"] if "symbol" in r.url.params else "")
            for r in self.requests
        )


def gather(
    venue: Callable[[httpx.Request], httpx.Response],
    prof: Profile,
    *,
    markets_file: MarketsFile | None = None,
    symbols: list[str] | None = None,
    discover: bool = True,
    auth: httpx.Auth | None = None,
) -> MarketsReport:
    signer = auth if auth is not None else VenueSigner(OWN, VenueClock(local_ms=lambda: float(NOW)))

    async def go() -> MarketsReport:
        async with httpx.AsyncClient(
            transport=httpx.MockTransport(venue), base_url="http://venue.test"
        ) as client:
            return await gather_market_facts(
                client, prof, auth=signer, markets_file=markets_file, symbols=symbols, discover=discover
            )

    return asyncio.run(go())


def markets_file(text: str) -> MarketsFile:
    return parse_markets_file(textwrap.dedent(text), "markets.yaml")


# --------------------------------------------------------------------------------------------------
# Discovery per profile


def test_binance_discovers_every_trading_symbol_from_signed_brackets() -> None:
    venue = FakeVenue("binance-usdm")
    report = gather(venue, BINANCE)
    assert [f.symbol for f in report.facts] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]  # not XRPUSDT (BREAK)
    btc = report.for_symbol("BTCUSDT")
    assert (btc.min_leverage, btc.max_leverage) == (1, 125)
    assert btc.brackets[0] == Bracket(1, 125, Decimal(50000))
    assert (btc.price, btc.min_qty, btc.step_size, btc.min_notional) == (
        Decimal("65000.00"),
        Decimal("0.001"),
        Decimal("0.001"),
        Decimal(100),
    )
    assert btc.sources == {
        "max_leverage": "GET /fapi/v1/leverageBracket",
        "brackets": "GET /fapi/v1/leverageBracket",
        "min_leverage": "GET /fapi/v1/leverageBracket (the band starts at 1)",
        "min_qty": "GET /fapi/v1/exchangeInfo",
        "step_size": "GET /fapi/v1/exchangeInfo",
        "min_notional": "GET /fapi/v1/exchangeInfo",
        "price": "GET /fapi/v1/ticker/price",
    }
    assert smallest_order_qty(btc) == Decimal("0.002")
    assert report.disagreements == ()
    assert report.missing == {}
    assert venue.paths() == ["/fapi/v1/exchangeInfo", "/fapi/v1/leverageBracket", "/fapi/v1/ticker/price"]


def test_binance_single_symbol_brackets_come_as_one_object() -> None:
    venue = FakeVenue("binance-usdm")
    report = gather(venue, BINANCE, symbols=["SOLUSDT"])
    assert venue.paths() == [
        "/fapi/v1/exchangeInfo",
        "/fapi/v1/leverageBracket?symbol=SOLUSDT",
        "/fapi/v1/ticker/price?symbol=SOLUSDT",
    ]
    (sol,) = report.facts
    assert (sol.min_leverage, sol.max_leverage) == (1, 50)
    assert notional_cap(sol, 30, "brackets") == Decimal(5000)
    assert smallest_order_qty(sol) == Decimal(1)


def test_ztdx_band_from_exchange_info_with_min_from_the_file() -> None:
    venue = FakeVenue("ztdx")
    given = markets_file(
        """\
        symbols:
          SOLUSDT: {min_leverage: 2, max_position_size_usd: "250000"}
          BTCUSDT: {max_position_size_usd: 10000000}
        """
    )
    report = gather(venue, ZTDX, markets_file=given)
    assert [f.symbol for f in report.facts] == ["SOLUSDT", "BTCUSDT"]
    sol, btc = report.facts
    assert (sol.min_leverage, sol.max_leverage) == (2, 50)
    assert sol.sources["min_leverage"] == "markets file markets.yaml"
    assert sol.sources["max_leverage"] == "GET /fapi/v1/exchangeInfo"
    assert (btc.min_leverage, btc.sources["min_leverage"]) == (1, "assumed")
    assert notional_cap(sol, 7, "max_position_size_usd") == Decimal(250000)
    assert btc.brackets == ()
    assert "/fapi/v1/leverageBracket" not in venue.paths()  # ztdx needs no brackets
    assert report.missing == {}


def test_ztdx_without_a_file_assumes_min_1_and_misses_the_position_limit() -> None:
    report = gather(FakeVenue("ztdx"), ZTDX, symbols=["ETHUSDT"])
    (eth,) = report.facts
    assert (eth.min_leverage, eth.max_leverage) == (1, 100)
    assert eth.sources["min_leverage"] == "assumed"
    assert eth.max_position_size_usd is None
    assert report.missing == {
        "ETHUSDT": {"max_position_size_usd": "not in the markets file (the venue does not publish it)"}
    }


# --------------------------------------------------------------------------------------------------
# The file and the venue


def test_file_values_win_and_disagreements_are_reported() -> None:
    venue = FakeVenue("binance-usdm")
    venue.overrides["ETHUSDT"] = {"lot": ("0.01", "0.01"), "price": "3300.00"}
    given = markets_file(
        """\
        symbols:
          BTCUSDT:
            max_leverage: 100
            brackets:
              - {bracket: 1, initialLeverage: 100, notionalCap: 50000}
              - {bracket: 2, initialLeverage: 100, notionalCap: "250000.00"}
              - {bracket: 3, initialLeverage: 50, notionalCap: 1000000}
          ETHUSDT:
            price: "3200.00"
            filters:
              LOT_SIZE: {minQty: "0.001", stepSize: "0.001"}
              MIN_NOTIONAL: {notional: "20.0"}
        """
    )
    report = gather(venue, BINANCE, markets_file=given)
    btc, eth = report.facts
    assert btc.max_leverage == 100
    assert btc.sources["max_leverage"] == "markets file markets.yaml"
    assert btc.brackets[0].initial_leverage == 100
    assert btc.sources["brackets"] == "markets file markets.yaml"
    assert eth.min_qty == Decimal("0.01")  # filters: exchangeInfo wins
    assert eth.price == Decimal("3300.00")  # price: the ticker wins
    assert eth.min_notional == Decimal(20)
    assert report.disagreements == (
        FactDisagreement("BTCUSDT", "max_leverage", "100", "125", "GET /fapi/v1/leverageBracket"),
        FactDisagreement(
            "BTCUSDT",
            "brackets",
            "1: 100x up to 50000, 2: 100x up to 250000, 3: 50x up to 1000000",
            "1: 125x up to 50000, 2: 100x up to 250000, 3: 50x up to 1000000",
            "GET /fapi/v1/leverageBracket",
        ),
        FactDisagreement("ETHUSDT", "min_qty", "0.001", "0.01", "GET /fapi/v1/exchangeInfo"),
        FactDisagreement("ETHUSDT", "step_size", "0.001", "0.01", "GET /fapi/v1/exchangeInfo"),
        FactDisagreement("ETHUSDT", "price", "3200", "3300", "GET /fapi/v1/ticker/price"),
    )


def test_equal_decimals_written_differently_agree() -> None:
    given = markets_file(
        """\
        symbols:
          BTCUSDT:
            max_leverage: 125
            price: 65000
            filters: {LOT_SIZE: {minQty: "0.0010", stepSize: 0.001}, MIN_NOTIONAL: {notional: "100.00"}}
        """
    )
    assert gather(FakeVenue("binance-usdm"), BINANCE, markets_file=given).disagreements == ()


def test_the_file_caps_discovery_and_symbols_select() -> None:
    given = markets_file(
        """\
        symbols:
          BTCUSDT: {}
          ETHUSDT: {}
        """
    )
    assert [f.symbol for f in gather(FakeVenue("binance-usdm"), BINANCE, markets_file=given).facts] == [
        "BTCUSDT",
        "ETHUSDT",
    ]
    selected = gather(FakeVenue("binance-usdm"), BINANCE, markets_file=given, symbols=["ETHUSDT", "SOLUSDT"])
    assert [f.symbol for f in selected.facts] == ["ETHUSDT", "SOLUSDT"]  # --symbols may name others


def test_the_file_alone_without_discovery() -> None:
    def no_network(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"no request expected, got {request.url}")

    given = markets_file(
        """\
        symbols:
          BTCUSDT:
            min_leverage: 1
            max_leverage: 125
            brackets: [{bracket: 1, initialLeverage: 125, notionalCap: 50000}]
            price: "65000"
            filters: {LOT_SIZE: {minQty: "0.001", stepSize: "0.001"}, MIN_NOTIONAL: {notional: 100}}
        """
    )
    report = gather(no_network, BINANCE, markets_file=given, discover=False)
    (btc,) = report.facts
    assert set(btc.sources.values()) == {
        "markets file markets.yaml",
        "markets file markets.yaml (the band starts at 1)",
    }
    assert smallest_order_qty(btc) == Decimal("0.002")


def test_binance_band_is_1_to_bracket_1_whatever_the_file_says() -> None:
    given = markets_file(
        """\
        symbols:
          SOLUSDT:
            min_leverage: 2
            max_leverage: 60
            brackets: [{bracket: 1, initialLeverage: 50, notionalCap: 5000}]
        """
    )
    (sol,) = gather(FakeVenue("binance-usdm"), BINANCE, markets_file=given, discover=False).facts
    assert (sol.min_leverage, sol.max_leverage) == (1, 50)
    assert sol.sources["max_leverage"] == "markets file markets.yaml"


# --------------------------------------------------------------------------------------------------
# Missing facts and failures


def test_an_unavailable_ticker_leaves_the_price_missing() -> None:
    venue = FakeVenue("binance-usdm", broken={"/fapi/v1/ticker/price": httpx.Response(500, text="oops")})
    report = gather(venue, BINANCE, symbols=["BTCUSDT"])
    (btc,) = report.facts
    assert btc.price is None
    assert smallest_order_qty(btc) is None
    assert report.missing == {"BTCUSDT": {"price": "GET /fapi/v1/ticker/price answered HTTP 500: oops"}}
    assert report.problems == {
        "GET /fapi/v1/ticker/price": "GET /fapi/v1/ticker/price answered HTTP 500: oops"
    }


def test_unsigned_brackets_leave_no_band() -> None:
    class Unsigned(httpx.Auth):
        pass  # sends the request as it is

    with pytest.raises(MarketFactsError) as caught:
        gather(FakeVenue("binance-usdm"), BINANCE, symbols=["BTCUSDT"], auth=Unsigned())
    assert str(caught.value) == (
        'BTCUSDT: no max leverage: GET /fapi/v1/leverageBracket answered HTTP 400: {"code":-1022,'
        '"msg":"Signature for this request is not valid."}'
    )


def test_a_file_band_survives_a_failed_discovery_but_brackets_are_missing() -> None:
    venue = FakeVenue("binance-usdm", broken={"/fapi/v1/leverageBracket": httpx.Response(200, text="[{]")})
    given = markets_file("symbols:\n  BTCUSDT: {max_leverage: 125}\n")
    report = gather(venue, BINANCE, markets_file=given)
    (btc,) = report.facts
    assert (btc.min_leverage, btc.sources["min_leverage"]) == (1, "the band starts at 1")
    assert report.missing["BTCUSDT"] == {
        "brackets": "not in the markets file; "
        "GET /fapi/v1/leverageBracket answered something that is not JSON"
    }


def test_garbage_in_an_answer_is_a_problem_not_a_crash() -> None:
    garbage = httpx.Response(
        200, json={"symbols": [{"symbol": "BTCUSDT", "filters": [{"filterType": "LOT_SIZE"}]}]}
    )
    venue = FakeVenue("ztdx", broken={"/fapi/v1/exchangeInfo": garbage})
    given = markets_file("symbols:\n  BTCUSDT: {max_leverage: 125, max_position_size_usd: 1}\n")
    report = gather(venue, ZTDX, markets_file=given)
    assert report.problems == {
        "GET /fapi/v1/exchangeInfo": "GET /fapi/v1/exchangeInfo "
        "BTCUSDT LOT_SIZE minQty is not a decimal (null)"
    }
    assert set(report.missing["BTCUSDT"]) == {"min_qty", "step_size", "min_notional"}


def test_an_unknown_symbol_is_an_error() -> None:
    with pytest.raises(
        MarketFactsError, match="DOGEUSDT: not in the markets file and not listed by the venue"
    ):
        gather(FakeVenue("ztdx"), ZTDX, symbols=["BTCUSDT", "DOGEUSDT"])


def test_an_empty_band_is_an_error() -> None:
    given = markets_file("symbols:\n  SOLUSDT: {min_leverage: 60}\n")
    with pytest.raises(
        MarketFactsError, match=r"SOLUSDT: min leverage 60 \(markets file markets.yaml\) is above max"
    ):
        gather(FakeVenue("ztdx"), ZTDX, markets_file=given)


def test_no_file_and_nothing_discovered() -> None:
    venue = FakeVenue("ztdx", broken={"/fapi/v1/exchangeInfo": httpx.Response(503, text="down")})
    with pytest.raises(MarketFactsError, match="no symbols: no markets file and none discovered"):
        gather(venue, ZTDX)
