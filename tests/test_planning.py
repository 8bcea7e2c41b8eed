from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from conformance.cases import load_cases, parse_case
from conformance.expressions import resolve
from conformance.model import Case, CaseInstance, Level, MarketFacts, Profile, Touch
from conformance.planning import (
    PlanError,
    RunSetup,
    Selection,
    SelectionError,
    expand,
    level_for,
    plan,
    scope_for,
    select,
    writes,
)

ROOT = Path(__file__).resolve().parent.parent

MARKETS = {
    "BTCUSDT": MarketFacts(
        "BTCUSDT", 1, 125, price=Decimal(65000), min_qty=Decimal("0.001"), step_size=Decimal("0.001")
    ),
    "ETHUSDT": MarketFacts("ETHUSDT", 1, 100, price=Decimal(3200)),
    "SOLUSDT": MarketFacts("SOLUSDT", 2, 50, price=Decimal(150)),
}
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")


def make_profile(dialect: str = "ztdx", /, **changes: object) -> Profile:
    values: dict[str, Any] = {
        "name": dialect,
        "dialect": dialect,
        "title": dialect,
        "openapi": f"openapi/{dialect}.yaml",
        "encodings": ("query", "form", "json") if dialect == "ztdx" else ("query", "form"),
        "url_decoded_fallback": dialect == "ztdx",
        "paths": {"leverage": "/fapi/v1/leverage"},
        "band_source": "exchange_info" if dialect == "ztdx" else "brackets",
        "notional_rule": "max_position_size_usd" if dialect == "ztdx" else "brackets",
        "margin_field": "isolatedMargin",
        "margin_missing_reason": None,
        "messages": {},
        "recv_window_max": 60000 if dialect == "ztdx" else None,
        "clause_levels": {},
        "source": f"specs/profiles/{dialect}.yaml",
    }
    values.update(changes)
    return Profile(**values)


def setup(dialect: str = "ztdx", /, **changes: Any) -> RunSetup:
    profile_changes = {k: v for k, v in changes.items() if k in Profile.__dataclass_fields__}
    run_changes = {k: v for k, v in changes.items() if k not in profile_changes}
    return RunSetup(make_profile(dialect, **profile_changes), MARKETS, SYMBOLS, **run_changes)


def case(body: str, *, head: str = "") -> Case:
    text = f"id: c\ndescription: d\nclause: {head or 'LEV-BOUNDS'}\n{body}"
    return parse_case(text, file="c.yaml")


POST = """\
steps:
  - request:
      method: POST
      path: /fapi/v1/leverage
      params: {symbol: "${symbol}", leverage: 20}
"""


def ids(instances: list[CaseInstance]) -> list[str]:
    return [i.id for i in instances]


# --- expansion


def test_symbols_times_encodings_times_fact_values() -> None:
    c = case(
        """\
parametrize:
  symbol: {from: symbols}
  encoding: {from: encodings, only: [form, json]}
  leverage: {min: "${market.min}", max+1: "${market.max + 1}"}
"""
        + POST
    )
    instances = expand(c, setup())
    assert ids(instances)[:5] == [
        "c[BTCUSDT-form-min]",
        "c[BTCUSDT-form-max+1]",
        "c[BTCUSDT-json-min]",
        "c[BTCUSDT-json-max+1]",
        "c[ETHUSDT-form-min]",
    ]
    assert len(instances) == 3 * 2 * 2
    last = instances[-1]
    assert last.id == "c[SOLUSDT-json-max+1]"
    assert last.params == {"symbol": "SOLUSDT", "encoding": "json", "leverage": 51}
    assert type(last.params["leverage"]) is int
    assert all(i.level is Level.MUST and i.skip_reason is None for i in instances)


def test_a_case_without_parameters_has_its_own_id() -> None:
    c = case("steps:\n  - request: {method: GET, path: /fapi/v1/time}\n", head="ERR-ENVELOPE")
    [instance] = expand(c, setup())
    assert instance.id == "c"
    assert instance.params == {}


def test_list_values_are_labelled_by_their_value_and_sanitised() -> None:
    c = case(
        """\
parametrize:
  text: ["20.5", abc, "", " 20", "+20", "a/b", "a_b", "${1 + 1}", true, null, 1.5]
"""
        + POST.replace("${symbol}", "BTCUSDT")
    )
    assert ids(expand(c, setup())) == [
        "c[20.5]",
        "c[abc]",
        "c[empty]",
        "c[_20]",
        "c[+20]",
        "c[a_b]",
        "c[a_b_2]",
        "c[2]",
        "c[true]",
        "c[null]",
        "c[1.5]",
    ]


def test_a_long_label_is_cut_and_keeps_a_digest() -> None:
    c = case(f'parametrize:\n  text: ["{"9" * 400}", "{"9" * 401}"]\n' + POST.replace("${symbol}", "BTCUSDT"))
    first, second = ids(expand(c, setup()))
    assert first.startswith("c[" + "9" * 24 + "~")
    assert len(first) < 40
    assert first != second


def test_where_filters_symbols_and_limit_cuts() -> None:
    c = case('parametrize:\n  symbol: {from: symbols, where: "${market.min > 1}"}\n' + POST)
    assert ids(expand(c, setup())) == ["c[SOLUSDT]"]
    c = case('parametrize:\n  symbol: {from: symbols, where: "${market.max >= 100}", limit: 1}\n' + POST)
    [chosen] = ids(expand(c, setup()))
    assert chosen in ("c[BTCUSDT]", "c[ETHUSDT]")  # SOLUSDT's max is 50
    assert ids(expand(c, setup())) == [chosen]  # stable


def test_limited_cases_spread_over_the_symbols_by_their_id() -> None:
    """`limit: 1` means any one symbol: cases pick by their id's hash, so they share no lane and run
    concurrently; the choice does not depend on which other cases are planned."""
    picks = {}
    for n in range(30):
        head = f"id: case-{n}\ndescription: d\nclause: LEV-BOUNDS\n"
        text = head + "parametrize:\n  symbol: {from: symbols, limit: 1}\n" + POST
        [instance] = expand(parse_case(text, file="c.yaml"), setup())
        picks[n] = instance.params["symbol"]
    assert set(picks.values()) == set(SYMBOLS)
    head = "id: case-7\ndescription: d\nclause: LEV-BOUNDS\n"
    text = head + "parametrize:\n  symbol: {from: symbols, limit: 1}\n" + POST
    [again] = expand(parse_case(text, file="c.yaml"), setup())
    assert again.params["symbol"] == picks[7]


def test_later_sources_use_earlier_names() -> None:
    c = case(
        """\
parametrize:
  symbol: {from: symbols, where: "${market.max >= 100}"}
  other: {from: symbols, where: "${other != symbol and markets[other].max < market.max}"}
  double: {twice: "${market.max * 2}"}
"""
        + POST
    )
    instances = expand(c, setup())
    assert ids(instances) == [
        "c[BTCUSDT-ETHUSDT-twice]",
        "c[BTCUSDT-SOLUSDT-twice]",
        "c[ETHUSDT-SOLUSDT-twice]",
    ]
    assert instances[2].params == {"symbol": "ETHUSDT", "other": "SOLUSDT", "double": 200}


def test_a_symbols_source_that_yields_nothing_is_one_skipped_instance() -> None:
    c = case('parametrize:\n  symbol: {from: symbols, where: "${market.min > 10}"}\n' + POST)
    [instance] = expand(c, setup())
    assert instance.id == "c"
    assert instance.skip_reason == (
        "no run symbol satisfies ${market.min > 10} (run symbols: BTCUSDT, ETHUSDT, SOLUSDT)"
    )
    assert instance.touches == frozenset()
    assert instance.writes is True
    empty = RunSetup(make_profile(), MARKETS, ())
    assert expand(c, empty)[0].skip_reason == "the run has no symbols"


def test_an_encodings_source_that_yields_nothing_is_one_skipped_instance() -> None:
    c = case(
        "parametrize:\n  encoding: {from: encodings, only: [json]}\n" + POST.replace("${symbol}", "BTCUSDT")
    )
    assert ids(expand(c, setup("ztdx"))) == ["c[json]"]
    [instance] = expand(c, setup("binance-usdm"))
    assert (
        instance.skip_reason
        == "the profile binance-usdm accepts none of the encodings json (it accepts query, form)"
    )


def test_an_expression_that_fails_while_planning_is_a_plan_error() -> None:
    c = case('parametrize:\n  leverage: {bad: "${market.max}"}\n' + POST.replace("${symbol}", "BTCUSDT"))
    with pytest.raises(
        PlanError, match=r"^c.yaml:1:1: c: parameter 'leverage': \$\{market.max\}: 'market' is undefined"
    ):
        expand(c, setup())
    good = case(POST.replace("${symbol}", "BTCUSDT"))
    result = plan([c, good], setup())
    assert ids(list(result.instances)) == ["c"]
    assert [e.case for e in result.errors] == [c]


# --- requirements and levels


@pytest.mark.parametrize(
    ("requires", "changes", "reason"),
    [
        ("[second-account]", {}, "needs a second account, and none is configured"),
        ("[trading]", {}, "places orders, and trading is not allowed (--allow-trading)"),
        (
            "[margin]",
            {"margin_field": None},
            "needs the position's margin, which the profile ztdx cannot observe",
        ),
        (
            "[margin]",
            {
                "margin_field": None,
                "margin_missing_reason": "ZTDX shows isolatedMargin 0 for cross positions",
            },
            "ZTDX shows isolatedMargin 0 for cross positions",
        ),
        (
            "[margin]",
            {"margin_observable": False},
            "needs the position's margin, which the profile ztdx cannot observe",
        ),
        (
            "[second-account, trading]",
            {},
            "needs a second account, and none is configured;"
            " places orders, and trading is not allowed (--allow-trading)",
        ),
    ],
)
def test_unmet_requirements_skip_every_instance(
    requires: str, changes: dict[str, object], reason: str
) -> None:
    c = case(f"requires: {requires}\nparametrize:\n  symbol: {{from: symbols}}\n" + POST)
    instances = expand(c, setup(**changes))
    assert len(instances) == 3
    assert {i.skip_reason for i in instances} == {reason}


def test_met_requirements_do_not_skip() -> None:
    c = case("requires: [second-account, trading, margin]\n" + POST.replace("${symbol}", "BTCUSDT"))
    [instance] = expand(c, setup(second_account=True, allow_trading=True))
    assert instance.skip_reason is None


def test_the_level_comes_from_the_case_then_the_profile_then_the_contract() -> None:
    notional = case(POST.replace("${symbol}", "BTCUSDT"), head="LEV-NOTIONAL")
    assert level_for(notional, make_profile("binance-usdm")) is Level.SHOULD
    assert level_for(notional, make_profile("ztdx")) is Level.MUST
    assert level_for(notional, make_profile("ztdx", clause_levels={"LEV-NOTIONAL": Level.INFO})) is Level.INFO
    pinned = case("level: INFO\n" + POST.replace("${symbol}", "BTCUSDT"), head="LEV-NOTIONAL")
    assert level_for(pinned, make_profile("ztdx", clause_levels={"LEV-NOTIONAL": Level.SHOULD})) is Level.INFO
    assert expand(pinned, setup("ztdx"))[0].level is Level.INFO


def test_a_case_for_another_dialect_has_no_instance() -> None:
    ztdx_only = case(POST.replace("${symbol}", "BTCUSDT"), head="LEV-STRING")
    assert ids(expand(ztdx_only, setup("ztdx"))) == ["c"]
    assert expand(ztdx_only, setup("binance-usdm")) == []
    # ...unless the profile gives the clause a level
    assert ids(expand(ztdx_only, setup("binance-usdm", clause_levels={"LEV-STRING": Level.INFO}))) == ["c"]
    restricted = case("profiles: [binance-usdm]\n" + POST.replace("${symbol}", "BTCUSDT"))
    assert expand(restricted, setup("ztdx")) == []
    assert ids(expand(restricted, setup("binance-usdm"))) == ["c"]


# --- touches and writes


def touches(instance: CaseInstance) -> set[tuple[str, str | None]]:
    return {(t.account, t.symbol) for t in instance.touches}


def test_touches_are_the_accounts_and_symbols_the_steps_name() -> None:
    c = case(
        """\
requires: [second-account]
parametrize:
  symbol: {from: symbols, where: "${symbol == 'BTCUSDT'}"}
steps:
  - read: leverage
    symbol: "${symbol}"
    account: secondary
  - request:
      method: POST
      path: /fapi/v1/leverage
      query: {symbol: ETHUSDT}
    sign: {tamper: {symbol: SOLUSDT}}
  - request: {method: GET, path: /fapi/v1/time}
    sign: false
cleanup:
  - close_position: "${symbol}"
"""
    )
    [instance] = expand(c, setup(second_account=True))
    assert touches(instance) == {
        ("secondary", "BTCUSDT"),
        ("primary", "ETHUSDT"),
        ("primary", "SOLUSDT"),
        ("primary", None),
        ("primary", "BTCUSDT"),
    }


def test_a_symbol_known_only_at_run_time_touches_every_run_symbol() -> None:
    c = case(
        """\
steps:
  - id: first
    read: position
    symbol: BTCUSDT
  - request:
      method: POST
      path: /fapi/v1/leverage
      params: {symbol: "${steps.first.body.symbol}"}
"""
    )
    [instance] = expand(c, setup())
    assert touches(instance) == {("primary", s) for s in SYMBOLS}


def test_another_accounts_key_touches_that_account_too() -> None:
    c = case(
        "requires: [second-account]\n"
        + POST.replace("${symbol}", "BTCUSDT")
        + "    sign: {api_key: other-account}\n"
    )
    [instance] = expand(c, setup(second_account=True))
    assert instance.touches == {Touch("primary", "BTCUSDT"), Touch("secondary", "BTCUSDT")}


def test_an_account_known_only_at_run_time_is_every_account() -> None:
    c = case(
        "requires: [second-account]\nsteps:\n  - id: x\n    read: leverage\n    symbol: BTCUSDT\n"
        "  - read: leverage\n    symbol: BTCUSDT\n"
        "    account: \"${'secondary' if steps.x.values.leverage > 1 else 'primary'}\"\n"
    )
    [instance] = expand(c, setup(second_account=True))
    assert touches(instance) == {("primary", "BTCUSDT"), ("secondary", "BTCUSDT")}


def test_writes_is_any_non_get_request_or_close_position() -> None:
    reads = case("steps:\n  - read: leverage\n    symbol: BTCUSDT\n  - request: {method: GET, path: /x}\n")
    assert writes(reads) is False
    assert expand(reads, setup())[0].writes is False
    assert writes(case(POST.replace("${symbol}", "BTCUSDT"))) is True
    assert (
        writes(case("steps:\n  - read: leverage\n    symbol: X\ncleanup:\n  - close_position: X\n")) is True
    )


# --- selection


@pytest.fixture
def instances() -> tuple[CaseInstance, ...]:
    security = parse_case(
        "id: auth-sig-case\ndescription: d\nclause: AUTH-SIG-CASE\ntags: [security, signature]\n"
        'parametrize:\n  symbol: {from: symbols, where: "${market.max >= 100}"}\n' + POST,
        file="a.yaml",
    )
    invalid = parse_case(
        "id: auth-sig-wrong\ndescription: d\nclause: AUTH-SIG-INVALID\ntags: [security]\n"
        + POST.replace("${symbol}", "X"),
        file="b.yaml",
    )
    generated = parse_case(
        "id: lev-fuzz\ndescription: d\nclause: LEV-BOUNDS\ntags: [generated, leverage]\n"
        + POST.replace("${symbol}", "X"),
        file="c.yaml",
    )
    return plan([security, invalid, generated], setup()).instances


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("", ["auth-sig-case[BTCUSDT]", "auth-sig-case[ETHUSDT]", "auth-sig-wrong", "lev-fuzz"]),
        ("security", ["auth-sig-case[BTCUSDT]", "auth-sig-case[ETHUSDT]", "auth-sig-wrong"]),
        ("security and not AUTH-SIG-CASE", ["auth-sig-wrong"]),
        ("auth-sig-invalid", ["auth-sig-wrong"]),
        ("generated", ["lev-fuzz"]),
        ("ethusdt", ["auth-sig-case[ETHUSDT]"]),
        ("not security", ["lev-fuzz"]),
        ("(leverage or signature) and not btc", ["auth-sig-case[ETHUSDT]", "lev-fuzz"]),
        ("not not lev", ["lev-fuzz"]),
        ("secur", []),  # tags and clause ids match whole; ids match by substring
        ("sig-wr or fuzz", ["auth-sig-wrong", "lev-fuzz"]),
        ("hand-written and security and BTCUSDT", ["auth-sig-case[BTCUSDT]"]),
    ],
)
def test_selection(instances: tuple[CaseInstance, ...], expression: str, expected: list[str]) -> None:
    assert ids(select(instances, expression)) == expected


def test_plan_applies_the_selection(instances: tuple[CaseInstance, ...]) -> None:
    cases = list({i.case.id: i.case for i in instances}.values())
    assert ids(list(plan(cases, setup(), select="lev-fuzz or ETH").instances)) == [
        "auth-sig-case[ETHUSDT]",
        "lev-fuzz",
    ]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("security and", "-k 'security and': expected a word after 'and' at column 13"),
        ("and security", "-k 'and security': expected a word, got 'and' at column 1"),
        ("(security", "-k '(security': expected ')' at column 10"),
        ("security)", "-k 'security)': unexpected ')' at column 9"),
        ("security leverage", "-k 'security leverage': unexpected 'leverage' at column 10"),
        ("not", "-k 'not': expected a word after 'not' at column 4"),
        ("()", "-k '()': expected a word, got ')' at column 2"),
    ],
)
def test_a_malformed_selection_is_a_clear_error(expression: str, message: str) -> None:
    with pytest.raises(SelectionError) as info:
        Selection(expression)
    assert str(info.value) == message
    with pytest.raises(SelectionError):
        plan([], setup(), select=expression)


# --- the shipped cases


@pytest.mark.parametrize("dialect", ["binance-usdm", "ztdx"])
def test_the_shipped_cases_expand_for_both_dialects(dialect: str) -> None:
    instances = plan(load_cases(ROOT / "cases"), setup(dialect)).instances
    by_id = {i.id: i for i in instances}
    assert len(by_id) == len(instances)
    assert by_id["lev-bounds-reject[SOLUSDT-max+1]"].params == {"symbol": "SOLUSDT", "leverage": 51}
    assert by_id["lev-bounds-reject[SOLUSDT-min-1]"].params == {"symbol": "SOLUSDT", "leverage": 1}
    assert by_id["lev-bounds-accept[BTCUSDT-max]"].params == {"symbol": "BTCUSDT", "leverage": 125}
    assert by_id["per-readback[ETHUSDT-min]"].touches == {Touch("primary", "ETHUSDT")}
    encodings = make_profile(dialect).encodings
    # `limit: 1`: one symbol, chosen by the case id's hash (ETHUSDT for this id), every encoding
    assert [i.id for i in instances if i.case.id == "auth-sig-wrong-secret"] == [
        f"auth-sig-wrong-secret[ETHUSDT-{e}]" for e in encodings
    ]
    examples = {"lev-bounds-reject", "lev-bounds-accept", "per-readback", "auth-sig-wrong-secret"}
    chosen = [i for i in instances if i.case.id in examples]
    assert all(i.writes and i.skip_reason is None and i.level is Level.MUST for i in chosen)


def test_an_instance_scope_holds_its_parameters_and_market() -> None:
    c = case('parametrize:\n  symbol: {from: symbols, where: "${market.min > 1}"}\n' + POST)
    run = setup()
    [instance] = expand(c, run)
    assert resolve("${symbol}:${market.min}:${profile.name}", scope_for(instance, run)) == "SOLUSDT:2:ztdx"


# --- facts the run does not have


ASSUMED = {
    symbol: MarketFacts(symbol, 1, facts.max_leverage, sources={"min_leverage": "assumed"})
    for symbol, facts in MARKETS.items()
}


def test_a_value_that_needs_an_unknown_fact_is_a_skipped_instance_not_a_guess() -> None:
    c = case(
        "parametrize:\n  symbol: {from: symbols, where: \"${symbol == 'BTCUSDT'}\"}\n"
        '  leverage: {min: "${market.min}", max: "${market.max}"}\n' + POST
    )
    low, high = expand(c, RunSetup(make_profile(), ASSUMED, SYMBOLS))
    assert (low.id, high.id) == ("c[BTCUSDT-min]", "c[BTCUSDT-max]")
    assert low.skip_reason is not None
    assert low.skip_reason.startswith("the minimum leverage of BTCUSDT is not known")
    assert "--markets" in low.skip_reason
    assert high.skip_reason is None
    assert high.params == {"symbol": "BTCUSDT", "leverage": 125}


def test_a_filter_that_needs_an_unknown_fact_leaves_the_symbol_out_and_says_why() -> None:
    c = case('parametrize:\n  symbol: {from: symbols, where: "${market.min > 1}"}\n' + POST)
    [instance] = expand(c, RunSetup(make_profile(), ASSUMED, SYMBOLS))
    assert instance.skip_reason is not None
    assert instance.skip_reason.startswith("no run symbol is known to satisfy ${market.min > 1}: the minimum")
