from decimal import Decimal
from typing import Any

import pytest

from conformance import expressions
from conformance.expressions import (
    ExpressionError,
    check_template,
    evaluate,
    expressions_in,
    names_in,
    resolve,
    step_references,
)
from conformance.model import Bracket, Level, MarketFacts, Profile
from conformance.scope import Scope, StepRecord

BRACKETS = (
    Bracket(1, 125, Decimal(50000)),
    Bracket(2, 100, Decimal(500000)),
    Bracket(3, 50, Decimal(1000000)),
)
BTC = MarketFacts(
    "BTCUSDT",
    1,
    125,
    max_position_size_usd=Decimal(10000000),
    brackets=BRACKETS,
    price=Decimal("65000.00"),
    min_qty=Decimal("0.001"),
    step_size=Decimal("0.001"),
    min_notional=Decimal(100),
)
ETH = MarketFacts(
    "ETHUSDT",
    1,
    100,
    price=Decimal(3200),
    min_qty=Decimal("0.001"),
    step_size=Decimal("0.001"),
    min_notional=Decimal(20),
)
SOL = MarketFacts(
    "SOLUSDT", 2, 50, price=Decimal(150), min_qty=Decimal(1), step_size=Decimal(1), min_notional=Decimal(5)
)


def make_profile(**changes: object) -> Profile:
    values: dict[str, Any] = {
        "name": "binance-usdm",
        "dialect": "binance-usdm",
        "title": "Binance USDⓈ-M Futures",
        "openapi": "openapi/binance-usdm.yaml",
        "encodings": ("query", "form"),
        "url_decoded_fallback": False,
        "paths": {"leverage": "/fapi/v1/leverage", "position": "/fapi/v2/positionRisk"},
        "band_source": "brackets",
        "notional_rule": "brackets",
        "margin_field": "isolatedMargin",
        "margin_missing_reason": None,
        "messages": {"out_of_band": "Leverage {leverage} is not valid"},
        "recv_window_max": None,
        "clause_levels": {"LEV-NOTIONAL": Level.SHOULD},
        "source": "specs/profiles/binance-usdm.yaml",
    }
    values.update(changes)
    return Profile(**values)


@pytest.fixture
def scope() -> Scope:
    return Scope(
        profile=make_profile(),
        markets={"BTCUSDT": BTC, "ETHUSDT": ETH, "SOLUSDT": SOL},
        symbols=("BTCUSDT", "ETHUSDT", "SOLUSDT"),
        params={"symbol": "BTCUSDT", "encoding": "form", "text": "20.5"},
    )


# --- native values and text


def test_a_whole_template_keeps_the_type_of_its_value(scope: Scope) -> None:
    assert resolve("${market.max + 1}", scope) == 126
    assert type(resolve("${market.max + 1}", scope)) is int
    assert resolve("${market.price}", scope) == Decimal("65000.00")
    assert type(resolve("${market.price * 2}", scope)) is Decimal
    assert resolve("${market.max > 100}", scope) is True
    assert resolve("${[1, 2]}", scope) == [1, 2]
    assert resolve("${none}", scope) is None


def test_text_around_a_template_is_interpolated(scope: Scope) -> None:
    assert resolve("lev=${market.max}&s=${symbol}", scope) == "lev=125&s=BTCUSDT"
    assert resolve("${market.min_qty}", scope) == Decimal("0.002")
    assert resolve("q=${decimal('1E+2')}", scope) == "q=100"  # decimals never in exponent form
    assert resolve("${true}/${none}", scope) == "true/null"


def test_lists_and_mappings_are_resolved_recursively(scope: Scope) -> None:
    value = {"symbol": "${symbol}", "list": ["${market.min}", {"deep": "${market.mid}"}], "n": 3}
    assert resolve(value, scope) == {"symbol": "BTCUSDT", "list": [1, {"deep": 63}], "n": 3}


def test_text_without_templates_is_left_alone(scope: Scope) -> None:
    assert resolve("plain $ {x}", scope) == "plain $ {x}"
    assert resolve(20, scope) == 20


def test_a_doubled_dollar_is_a_literal_template_marker(scope: Scope) -> None:
    assert resolve("$${symbol} is ${symbol}", scope) == "${symbol} is BTCUSDT"
    assert resolve("$${symbol}", scope) == "${symbol}"


def test_braces_and_strings_inside_an_expression_do_not_end_it(scope: Scope) -> None:
    assert resolve("${ {'a': '}'}['a'] }", scope) == "}"


# --- errors


def test_an_undefined_name_is_an_error_naming_the_expression(scope: Scope) -> None:
    with pytest.raises(ExpressionError) as info:
        resolve("x${nope + 1}", scope)
    assert str(info.value).startswith("${nope + 1}: 'nope' is undefined")
    assert info.value.expression == "nope + 1"


def test_a_missing_attribute_is_an_error(scope: Scope) -> None:
    with pytest.raises(ExpressionError, match="no attribute 'maxx'"):
        resolve("${market.maxx}", scope)


def test_a_runtime_failure_is_an_expression_error(scope: Scope) -> None:
    with pytest.raises(ExpressionError, match=r"^\$\{int\(text\)\}: invalid literal"):
        resolve("${int(text)}", scope)
    with pytest.raises(ExpressionError, match="division"):
        resolve("${1 // 0}", scope)


def test_syntax_errors_are_found_when_checking_with_their_offset() -> None:
    with pytest.raises(ExpressionError) as info:
        check_template("a ${market.max +}")
    assert info.value.offset == 2
    assert "end of template" in info.value.message
    with pytest.raises(ExpressionError, match="not closed") as unclosed:
        check_template("x ${symbol")
    assert unclosed.value.written == "${symbol"
    with pytest.raises(ExpressionError, match="empty"):
        check_template("${  }")


def test_the_sandbox_refuses_internals(scope: Scope) -> None:
    with pytest.raises(ExpressionError):
        resolve("${symbol.__class__.__mro__}", scope)
    with pytest.raises(ExpressionError):
        resolve("${symbols.append('X')}", scope)


def test_expressions_are_compiled_once() -> None:
    expressions._compile.cache_clear()
    check_template("${market.max * 3}")
    evaluate("market.max * 3", {"market": {"max": 2}})
    info = expressions._compile.cache_info()
    assert (info.misses, info.hits) == (1, 1)


# --- helpers and analysis


def test_helpers(scope: Scope) -> None:
    assert resolve("${decimal('1.10') + decimal(2)}", scope) == Decimal("3.10")
    assert (
        resolve("${abs(-3)}, ${min(2, 5)}, ${max(2, 5)}, ${int('7') + 1}, ${str(5) ~ 'x'}", scope)
        == "3, 2, 5, 8, 5x"
    )


def test_names_and_step_references_are_found() -> None:
    assert names_in("market.max + lev * steps.before.values.leverage") == {"market", "lev", "steps"}
    assert names_in("symbol") == {"symbol"}
    assert step_references("steps.before.status + steps['after'].status") == {"before", "after"}
    assert step_references("steps") == set()
    assert expressions_in("a${x}b${y}") == [(1, "x"), (6, "y")]


# --- the scope


def test_market_is_the_facts_of_the_symbol_parameter(scope: Scope) -> None:
    assert resolve("${market.symbol} ${market.min} ${market.max} ${market.mid}", scope) == "BTCUSDT 1 125 63"
    assert resolve("${market.min}", scope.bind(symbol="SOLUSDT")) == 2
    assert resolve("${markets.ETHUSDT.max} ${symbols}", scope) == '100 ["BTCUSDT","ETHUSDT","SOLUSDT"]'
    with pytest.raises(ExpressionError, match="'market' is undefined"):
        resolve("${market.max}", Scope(markets={"BTCUSDT": BTC}))


def test_the_smallest_order_is_the_larger_of_min_qty_and_the_notional_minimum(scope: Scope) -> None:
    assert resolve("${market.min_qty}", scope) == Decimal("0.002")  # 100 / 65000 = 0.00154 -> 2 steps
    assert resolve("${market.min_qty}", scope.bind(symbol="ETHUSDT")) == Decimal("0.007")  # 20 / 3200
    assert resolve("${market.min_qty}", scope.bind(symbol="SOLUSDT")) == Decimal(1)  # 5 / 150 < minQty 1


def test_a_missing_fact_is_an_expression_error() -> None:
    bare = Scope(profile=make_profile(), markets={"X": MarketFacts("X", 1, 2)}, params={"symbol": "X"})
    with pytest.raises(ExpressionError, match="no price is known for X"):
        resolve("${market.price}", bare)
    with pytest.raises(ExpressionError, match="order filters or price of X are not known"):
        resolve("${market.min_qty}", bare)


def test_notional_cap_follows_the_brackets_rule(scope: Scope) -> None:
    assert resolve("${market.notional_cap(125)}", scope) == 50000
    assert resolve("${market.notional_cap(101)}", scope) == 50000
    assert resolve("${market.notional_cap(100)}", scope) == 500000
    assert resolve("${market.notional_cap(20)}", scope) == 1000000
    with pytest.raises(ExpressionError, match="BTCUSDT at leverage 126: no bracket allows it"):
        resolve("${market.notional_cap(126)}", scope)


def test_notional_cap_follows_the_profile_rule(scope: Scope) -> None:
    assert resolve("${market.notional_cap(100)}", scope) == Decimal(500000)
    ztdx = Scope(profile=make_profile(notional_rule="max_position_size_usd"), markets={"BTCUSDT": BTC})
    assert resolve("${market.notional_cap(1)}", ztdx.bind(symbol="BTCUSDT")) == Decimal(10000000)


def test_profile_names_and_messages(scope: Scope) -> None:
    assert resolve("${profile.name} ${profile.dialect} ${profile.paths.leverage}", scope) == (
        "binance-usdm binance-usdm /fapi/v1/leverage"
    )
    assert resolve("${profile.encodings}", scope) == ("query", "form")
    assert (
        resolve("${profile.message('out_of_band', leverage=market.max + 1)}", scope)
        == "Leverage 126 is not valid"
    )
    with pytest.raises(ExpressionError, match="has no message 'nope' \\(it has: out_of_band\\)"):
        resolve("${profile.message('nope')}", scope)


def test_steps_and_captures(scope: Scope) -> None:
    record = StepRecord(status=200, body={"leverage": 20, "items": 1}, values={"leverage": 20, "items": 3})
    later = scope.with_step("before", record).with_captures({"lev": 20})
    assert resolve("${steps.before.status} ${steps.before.body.leverage} ${lev}", later) == "200 20 20"
    # a key of a mapping wins over a method of the same name
    assert resolve("${steps.before.values.items + steps.before.body.items}", later) == 4
    with pytest.raises(ExpressionError, match="no attribute 'after'"):
        resolve("${steps.after.status}", later)


def test_parameters_shadow_captures() -> None:
    both = Scope(params={"x": 1}, captures={"x": 2, "y": 3})
    assert resolve("${x + y}", both) == 4
