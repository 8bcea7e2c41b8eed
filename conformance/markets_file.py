"""The markets file: market facts per symbol given by the user, validated before any request is sent.

The format is ``specs/schemas/markets.schema.json`` (the contract's example, plus optional ``price`` and
``filters`` as exchangeInfo names them). Every problem points at ``file:line:col``, with a short excerpt::

    markets.yaml:3:19: 'symbols.BTCUSDT.max_leverage' must be an integer (got "lots")
     3 |     max_leverage: lots
       |                   ^
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from conformance.model import Bracket, SourceLocation
from conformance.resources import specs_dir
from conformance.yamlsource import (
    JsonPath,
    Problem,
    SourceError,
    YamlSource,
    dotted,
    in_file_order,
    load_yaml,
    parse_yaml,
)


@dataclass(frozen=True)
class FileMarket:
    """What the markets file says about one symbol; None (or no brackets) where it says nothing."""

    symbol: str
    location: SourceLocation
    min_leverage: int | None = None
    max_leverage: int | None = None
    max_position_size_usd: Decimal | None = None
    brackets: tuple[Bracket, ...] = ()
    price: Decimal | None = None
    min_qty: Decimal | None = None
    step_size: Decimal | None = None
    min_notional: Decimal | None = None


@dataclass(frozen=True)
class MarketsFile:
    path: str
    symbols: Mapping[str, FileMarket]  # in the file's order

    @property
    def source(self) -> str:
        """How facts from this file are credited in ``MarketFacts.sources``."""
        return f"markets file {self.path}"


class MarketsFileError(SourceError):
    """The markets file cannot be used; ``problems`` are in file order."""


def markets_schema() -> dict[str, Any]:
    path = specs_dir() / "schemas" / "markets.schema.json"
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


@functools.cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(markets_schema())


# --------------------------------------------------------------------------------------------------
# Reading


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value))


def _optional_decimal(mapping: Mapping[str, Any], key: str) -> Decimal | None:
    return _decimal(mapping[key]) if key in mapping else None


def _market(symbol: str, entry: Mapping[str, Any], location: SourceLocation) -> FileMarket:
    brackets = tuple(
        sorted(
            (
                Bracket(
                    bracket=int(b["bracket"]),
                    initial_leverage=int(b["initialLeverage"]),
                    notional_cap=_decimal(b["notionalCap"]),
                    notional_floor=_decimal(b.get("notionalFloor", 0)),
                )
                for b in entry.get("brackets", ())
            ),
            key=lambda b: b.bracket,
        )
    )
    filters = entry.get("filters", {})
    lot, notional = filters.get("LOT_SIZE", {}), filters.get("MIN_NOTIONAL", {})
    return FileMarket(
        symbol=symbol,
        location=location,
        min_leverage=int(entry["min_leverage"]) if "min_leverage" in entry else None,
        max_leverage=int(entry["max_leverage"]) if "max_leverage" in entry else None,
        max_position_size_usd=_optional_decimal(entry, "max_position_size_usd"),
        brackets=brackets,
        price=_optional_decimal(entry, "price"),
        min_qty=_optional_decimal(lot, "minQty"),
        step_size=_optional_decimal(lot, "stepSize"),
        min_notional=_optional_decimal(notional, "notional"),
    )


def _consistency(market: FileMarket, source: YamlSource, path: JsonPath) -> list[Problem]:
    """What the schema cannot say: a band that is not empty, bracket numbers used once."""
    problems = []
    numbers = [b.bracket for b in market.brackets]
    if len(set(numbers)) != len(numbers):
        where = (*path, "brackets")
        problems.append(source.problem(where, f"'{dotted(where)}' repeats a bracket number"))
    low, high = market.min_leverage, market.max_leverage
    if low is not None and high is not None and low > high:
        where = (*path, "min_leverage")
        message = f"'{dotted(where)}' must be at most max_leverage, {high} (got {low})"
        problems.append(source.problem(where, message))
    return problems


def _read(source: YamlSource) -> MarketsFile:
    problems = list(source.problems) or source.schema_problems(_validator(), root_name="the markets file")
    if problems:
        raise MarketsFileError(problems)
    markets: dict[str, FileMarket] = {}
    for symbol, entry in source.data["symbols"].items():
        path = ("symbols", symbol)
        markets[symbol] = _market(symbol, entry, source.location(path))
        problems.extend(_consistency(markets[symbol], source, path))
    if problems:
        raise MarketsFileError(in_file_order(problems))
    return MarketsFile(path=source.file, symbols=markets)


def parse_markets_file(text: str, name: str) -> MarketsFile:
    """Validate and read a markets file's text; ``name`` is how problems name the file."""
    return _read(parse_yaml(text, name))


def load_markets_file(path: str | Path) -> MarketsFile:
    """Read and validate a markets file."""
    return _read(load_yaml(Path(path), name=str(path)))
