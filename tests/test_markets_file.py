"""The markets file: the contract's format, validated with file:line:col problems."""

from __future__ import annotations

import textwrap
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from conformance.markets_file import MarketsFileError, load_markets_file, markets_schema, parse_markets_file
from conformance.model import Bracket, SourceLocation

CONTRACT_EXAMPLE = """\
# markets file
symbols:
  BTCUSDT:
    min_leverage: 1
    max_leverage: 125
    max_position_size_usd: "10000000"      # ztdx
    brackets:                              # binance, bracket 1 first
      - {bracket: 1, initialLeverage: 125, notionalCap: 50000}
      - {bracket: 2, initialLeverage: 100, notionalCap: 500000}
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(MarketsFileError) as caught:
        parse_markets_file(textwrap.dedent(text), "markets.yaml")
    return [str(p) for p in caught.value.problems]


def test_the_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(markets_schema())


def test_the_contracts_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "markets.yaml"
    path.write_text(CONTRACT_EXAMPLE)
    markets = load_markets_file(path)
    assert markets.path == str(path)
    assert markets.source == f"markets file {path}"
    btc = markets.symbols["BTCUSDT"]
    assert btc.location == SourceLocation(str(path), 4, 5)
    assert (btc.min_leverage, btc.max_leverage) == (1, 125)
    assert btc.max_position_size_usd == Decimal("10000000")
    assert btc.brackets == (
        Bracket(1, 125, Decimal(50000)),
        Bracket(2, 100, Decimal(500000)),
    )
    assert btc.price is None
    assert btc.min_qty is None


def test_optional_price_filters_and_loose_ordering() -> None:
    markets = parse_markets_file(
        textwrap.dedent(
            """\
            symbols:
              SOLUSDT:
                max_leverage: 50
                price: 150.5
                brackets:
                  - {bracket: 2, initialLeverage: 25, notionalCap: "100000", notionalFloor: 5000}
                  - {bracket: 1, initialLeverage: 50, notionalCap: 5000}
                filters:
                  LOT_SIZE: {minQty: "1", stepSize: "1"}
                  MIN_NOTIONAL: {notional: 5}
              ETHUSDT: {}
            """
        ),
        "m.yaml",
    )
    sol = markets.symbols["SOLUSDT"]
    assert [b.bracket for b in sol.brackets] == [1, 2]
    assert sol.brackets[1].notional_floor == Decimal(5000)
    assert (sol.price, sol.min_qty, sol.step_size, sol.min_notional) == (
        Decimal("150.5"),
        Decimal(1),
        Decimal(1),
        Decimal(5),
    )
    assert sol.min_leverage is None
    assert list(markets.symbols) == ["SOLUSDT", "ETHUSDT"]
    assert markets.symbols["ETHUSDT"].max_leverage is None


def test_a_wrong_type_points_at_the_value() -> None:
    assert problems_of(
        """\
        symbols:
          BTCUSDT:
            max_leverage: lots
        """
    ) == ["markets.yaml:3:19: 'symbols.BTCUSDT.max_leverage' must be an integer (got \"lots\")"]


def test_an_unknown_key_suggests_the_closest() -> None:
    assert problems_of(
        """\
        symbols:
          BTCUSDT:
            max_levrage: 20
        """
    ) == ["markets.yaml:3:5: unknown key 'max_levrage' in 'symbols.BTCUSDT' (did you mean 'max_leverage'?)"]


def test_a_missing_bracket_field_points_at_the_bracket() -> None:
    assert problems_of(
        """\
        symbols:
          BTCUSDT:
            brackets:
              - bracket: 1
                initialLeverage: 125
        """
    ) == ["markets.yaml:4:9: 'symbols.BTCUSDT.brackets[0]' is missing the required key 'notionalCap'"]


def test_decimal_and_bound_problems() -> None:
    assert problems_of(
        """\
        symbols:
          BTCUSDT:
            min_leverage: 0
            max_position_size_usd: "-5"
            price: 0
        """
    ) == [
        "markets.yaml:3:19: 'symbols.BTCUSDT.min_leverage' must be at least 1 (got 0)",
        "markets.yaml:4:28: 'symbols.BTCUSDT.max_position_size_usd' "
        'must be a decimal above zero (got "-5")',
        "markets.yaml:5:12: 'symbols.BTCUSDT.price' must be a decimal above zero (got 0)",
    ]


def test_symbol_names_are_upper_case() -> None:
    assert problems_of(
        """\
        symbols:
          btcusdt: {}
        """
    ) == [
        "markets.yaml:2:3: the name 'btcusdt' in 'symbols' must be a symbol of upper-case letters and digits "
        "(and '_' or '-'), such as BTCUSDT"
    ]


def test_an_empty_band_and_repeated_brackets() -> None:
    assert problems_of(
        """\
        symbols:
          BTCUSDT:
            min_leverage: 10
            max_leverage: 5
            brackets:
              - {bracket: 1, initialLeverage: 5, notionalCap: 1}
              - {bracket: 1, initialLeverage: 4, notionalCap: 2}
        """
    ) == [
        "markets.yaml:3:19: 'symbols.BTCUSDT.min_leverage' must be at most max_leverage, 5 (got 10)",
        "markets.yaml:6:7: 'symbols.BTCUSDT.brackets' repeats a bracket number",
    ]


def test_duplicate_keys_are_not_silently_merged() -> None:
    assert problems_of(
        """\
        symbols:
          BTCUSDT: {max_leverage: 20}
          BTCUSDT: {max_leverage: 50}
        """
    ) == ["markets.yaml:3:3: duplicate key 'BTCUSDT' (first at line 2)"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "markets.yaml: the file holds no YAML document"),
        (
            "symbols: [BTCUSDT\n",
            "markets.yaml:2:1: YAML: expected ',' or ']', but got '<stream end>' "
            "(while parsing a flow sequence that starts at line 1)",
        ),
        (
            "markets: {}\n",
            "markets.yaml:1:1: unknown key 'markets' in the markets file; expected one of: symbols",
        ),
        (
            "symbols: {}\n",
            "markets.yaml:1:10: 'symbols' must be a non-empty mapping of symbols, such as BTCUSDT, "
            "to their market facts (got an empty mapping)",
        ),
        (
            "symbols:\n  BTCUSDT:\n",
            "markets.yaml:2:11: 'symbols.BTCUSDT' must be a mapping of market facts, such as "
            "{max_leverage: 125}, or {} to discover them all (got null)",
        ),
        ("- BTCUSDT\n", "markets.yaml:1:1: the markets file must be a mapping with symbols (got a list)"),
    ],
)
def test_shape_problems(text: str, problem: str) -> None:
    assert problem in problems_of(text)


def test_the_rendered_problem_shows_an_excerpt() -> None:
    with pytest.raises(MarketsFileError) as caught:
        parse_markets_file("symbols:\n  BTCUSDT:\n    max_leverage: lots\n", "markets.yaml")
    assert caught.value.render() == (
        "markets.yaml:3:19: 'symbols.BTCUSDT.max_leverage' must be an integer (got \"lots\")\n"
        " 3 |     max_leverage: lots\n"
        "   |                   ^"
    )


def test_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(MarketsFileError) as caught:
        load_markets_file(tmp_path / "missing.yaml")
    assert str(caught.value) == f"{tmp_path / 'missing.yaml'}: no such file or directory"
