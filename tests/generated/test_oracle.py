"""The contract's reading of a leverage request, from the values actually sent."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from conformance.generated.oracle import MISSING, leverage_verdict, read_leverage
from conformance.model import Bracket, MarketFacts
from conformance.profiles import load_profile

BTC = MarketFacts(
    symbol="BTCUSDT",
    min_leverage=1,
    max_leverage=125,
    max_position_size_usd=None,
    brackets=(Bracket(1, 125, Decimal(50000)), Bracket(2, 20, Decimal(250000))),
)
SOL = MarketFacts(symbol="SOLUSDT", min_leverage=2, max_leverage=50)
MARKETS = {"BTCUSDT": BTC, "SOLUSDT": SOL}


@pytest.mark.parametrize(
    ("value", "json_body", "kind", "number"),
    [
        ("20", False, "integer", 20),
        ("-1", False, "integer", -1),
        ("0", False, "integer", 0),
        ("020", False, "lenient", 20),
        ("+20", False, "lenient", 20),
        (" 20", False, "lenient", 20),
        ("20.0", False, "lenient", 20),
        ("20.5", False, "non-integer", None),
        ("1e1", False, "non-integer", None),
        ("0x14", False, "non-integer", None),
        ("", False, "non-integer", None),
        ("abc", False, "non-integer", None),
        ("1234567890", False, "non-integer", None),  # "very long digit strings"
        (20, True, "integer", 20),
        ("20", True, "integer", 20),
        (20.0, True, "lenient", 20),
        (20.5, True, "non-integer", None),
        (True, True, "non-integer", None),
        (None, True, "non-integer", None),
        ([20], True, "non-integer", None),
        (MISSING, False, "missing", None),
    ],
)
def test_leverage_is_read_as_the_contract_reads_it(
    value: Any, json_body: bool, kind: str, number: int | None
) -> None:
    reading = read_leverage(value, json_body=json_body)
    assert (reading.kind, reading.value) == (kind, number)
    assert reading.json_string == (json_body and isinstance(value, str) and kind != "non-integer")


def checks(verdict: Any) -> list[tuple[str, Any]]:
    return [(e.check, e.argument) for e in verdict.request]


def test_an_in_band_value_must_be_accepted_echoed_and_notional_checked() -> None:
    profile = load_profile("binance-usdm")
    verdict = leverage_verdict(profile, MARKETS, symbol="BTCUSDT", leverage="21", encoding="form")
    assert verdict.accept is True
    assert (verdict.symbol, verdict.leverage) == ("BTCUSDT", 21)
    assert ("body", {"equals": 21}) in checks(verdict)
    assert ("body", {"decimal": "50000"}) in checks(
        verdict
    )  # bracket 1: the highest with initialLeverage >= 21


def test_outside_the_band_is_lev_bounds_with_400_4028_and_the_profile_message() -> None:
    profile = load_profile("ztdx")
    verdict = leverage_verdict(profile, MARKETS, symbol="SOLUSDT", leverage=1, encoding="json")
    assert (verdict.accept, verdict.clause) == (False, "LEV-BOUNDS")
    assert ("status", 400) in checks(verdict)
    assert ("code", -4028) in checks(verdict)
    assert ("message", {"equals": "Leverage 1 is not valid. Max: 50"}) in checks(verdict)


@pytest.mark.parametrize(
    ("symbol", "leverage", "clause"),
    [
        ("BTCUSDT", "20.5", "LEV-NON-INTEGER"),
        ("btcusdt", "20", "LEV-SYMBOL"),
        (MISSING, "20", "LEV-SYMBOL"),
        ("BTCUSDT", MISSING, "LEV-SYMBOL"),
        ("BTCUSDT", "0200", "LEV-NON-INTEGER"),  # a lenient spelling of an out-of-band value
    ],
)
def test_what_must_be_rejected_cites_its_clause(symbol: Any, leverage: Any, clause: str) -> None:
    verdict = leverage_verdict(
        load_profile("binance-usdm"), MARKETS, symbol=symbol, leverage=leverage, encoding="query"
    )
    assert (verdict.accept, verdict.clause) == (False, clause)
    assert verdict.request[0].check == "rejected"


def test_a_lenient_spelling_or_an_unnamed_parameter_is_not_judged() -> None:
    profile = load_profile("binance-usdm")
    lenient = leverage_verdict(profile, MARKETS, symbol="BTCUSDT", leverage="020", encoding="query")
    extra = leverage_verdict(profile, MARKETS, symbol="BTCUSDT", leverage="20", encoding="query", extra=True)
    assert lenient.accept is None
    assert extra.accept is None
    assert [e.check for e in lenient.request] == ["status", "rejected"]  # no 5xx; an envelope if rejected
