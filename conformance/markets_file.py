"""The markets file: market facts per symbol given by the user, validated before any request is sent.

The format is ``specs/schemas/markets.schema.json`` (the contract's example, plus optional ``price`` and
``filters`` as exchangeInfo names them). Every problem points at ``file:line:col``, with a short excerpt::

    markets.yaml:4:19: symbols.BTCUSDT.max_leverage must be an integer (got "lots")
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from conformance.model import Bracket, SourceLocation
from conformance.resources import specs_dir


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


@dataclass(frozen=True)
class Problem:
    location: SourceLocation
    message: str
    excerpt: str = ""

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class MarketsFileError(Exception):
    """The markets file cannot be used; ``problems`` are sorted by position in the file."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(sorted(problems, key=lambda p: (p.location.line, p.location.col)))
        super().__init__("\n".join(str(p) for p in self.problems))

    def render(self) -> str:
        """Every problem with its excerpt, for the terminal."""
        return "\n".join(f"{p}\n{p.excerpt}" if p.excerpt else str(p) for p in self.problems)


def markets_schema() -> dict[str, Any]:
    path = specs_dir() / "schemas" / "markets.schema.json"
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


# --------------------------------------------------------------------------------------------------
# Positions in the YAML text


class _Text:
    """The file's name and lines, to place problems."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.lines = text.splitlines()

    def problem(self, line: int, col: int, message: str) -> Problem:
        excerpt = ""
        if 1 <= line <= len(self.lines):
            gutter = " " * len(str(line))
            excerpt = f"  {line} | {self.lines[line - 1]}\n  {gutter} | {' ' * (col - 1)}^"
        return Problem(SourceLocation(self.name, line, col), message, excerpt)

    def location(self, node: yaml.Node) -> SourceLocation:
        return SourceLocation(self.name, node.start_mark.line + 1, node.start_mark.column + 1)

    def at(self, node: yaml.Node, message: str) -> Problem:
        return self.problem(node.start_mark.line + 1, node.start_mark.column + 1, message)


def _child(node: yaml.Node, key: str | int) -> tuple[yaml.Node | None, yaml.Node | None]:
    """(key node, value node) of a mapping entry, or (None, item) of a sequence item."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(key):
                return key_node, value_node
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
        return None, node.value[key]
    return None, None


def _walk(root: yaml.Node, path: Sequence[str | int]) -> yaml.Node:
    """The deepest node along ``path`` (its parent when the last key is missing)."""
    node = root
    for part in path:
        _, child = _child(node, part)
        if child is None:
            break
        node = child
    return node


def _dotted(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the file"


def _got(value: Any) -> str:
    if value is None or isinstance(value, str | int | float | bool):
        return json.dumps(value)
    return "a mapping" if isinstance(value, dict) else "a list" if isinstance(value, list) else "?"


_TYPE_NAMES = {"object": "a mapping", "array": "a list", "integer": "an integer", "string": "a string"}


def _problems_of(error: jsonschema.ValidationError, root: yaml.Node, text: _Text) -> list[Problem]:
    """A schema error as problems at the right place, in words a user of the file understands."""
    path = list(error.absolute_path)
    node = _walk(root, path)
    where = _dotted(path)
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    instance: Any = error.instance
    expected: Any = error.validator_value
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        allowed = list(schema.get("properties", {}))
        problems = []
        for extra in (k for k in instance if k not in allowed):
            key_node, _ = _child(node, extra)
            close = difflib.get_close_matches(str(extra), allowed, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"expected one of: {', '.join(allowed)}"
            message = f"{where}: unknown key {extra!r} ({hint})"
            problems.append(text.at(key_node if key_node is not None else node, message))
        return problems
    if error.validator == "required":
        missing = [k for k in expected if k not in instance]
        message = f"{where}: {missing[0]!r} is required" if missing else f"{where}: {error.message}"
    elif error.validator == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        kinds = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
        message = f"{where} must be {kinds} (got {_got(instance)})"
    elif error.validator == "oneOf" and "description" in schema:
        described = str(schema["description"]).rstrip(".")
        message = f"{where} must be {described[0].lower()}{described[1:]} (got {_got(instance)})"
    elif error.validator in ("minimum", "exclusiveMinimum"):
        bound = "at least" if error.validator == "minimum" else "above"
        message = f"{where} must be {bound} {expected} (got {_got(instance)})"
    elif error.validator in ("minItems", "minProperties"):
        message = f"{where} must not be empty"
    elif error.validator == "pattern" and path == ["symbols"] and isinstance(instance, str):
        message = f"symbol {instance!r} must be upper-case letters and digits (and '_' or '-')"
        key_node, _ = _child(node, instance)
        node = key_node if key_node is not None else node
    else:
        message = f"{where}: {error.message}"
    return [text.at(node, message)]


def _duplicate_keys(node: yaml.Node, text: _Text) -> list[Problem]:
    problems: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if str(key_node.value) in seen:
                problems.append(text.at(key_node, f"duplicate key {key_node.value!r}"))
            seen.add(str(key_node.value))
            problems.extend(_duplicate_keys(value_node, text))
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            problems.extend(_duplicate_keys(item, text))
    return problems


# --------------------------------------------------------------------------------------------------
# Reading


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value))


def _optional_decimal(mapping: Mapping[str, Any], key: str) -> Decimal | None:
    return _decimal(mapping[key]) if key in mapping else None


def _market(symbol: str, entry: Mapping[str, Any], node: yaml.Node, text: _Text) -> FileMarket:
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
        location=text.location(node),
        min_leverage=int(entry["min_leverage"]) if "min_leverage" in entry else None,
        max_leverage=int(entry["max_leverage"]) if "max_leverage" in entry else None,
        max_position_size_usd=_optional_decimal(entry, "max_position_size_usd"),
        brackets=brackets,
        price=_optional_decimal(entry, "price"),
        min_qty=_optional_decimal(lot, "minQty"),
        step_size=_optional_decimal(lot, "stepSize"),
        min_notional=_optional_decimal(notional, "notional"),
    )


def _consistency(market: FileMarket, node: yaml.Node, text: _Text) -> list[Problem]:
    """What the schema cannot say: a band that is not empty, bracket numbers used once."""
    problems = []
    where = f"symbols.{market.symbol}"
    numbers = [b.bracket for b in market.brackets]
    if len(set(numbers)) != len(numbers):
        problems.append(text.at(_walk(node, ["brackets"]), f"{where}.brackets: a bracket number is repeated"))
    low, high = market.min_leverage, market.max_leverage
    if low is not None and high is not None and low > high:
        message = f"{where}.min_leverage ({low}) is above max_leverage ({high})"
        problems.append(text.at(_walk(node, ["min_leverage"]), message))
    return problems


def parse_markets_file(source: str, name: str) -> MarketsFile:
    """Validate and read a markets file's text; ``name`` is how problems name the file."""
    text = _Text(name, source)
    try:
        root = yaml.compose(source, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        reason = exc.problem or exc.context or "unreadable"
        raise MarketsFileError([text.problem(line, col, f"not valid YAML: {reason}")]) from None
    if root is None:
        raise MarketsFileError([text.problem(1, 1, "the file is empty: it needs `symbols:`")])
    problems = _duplicate_keys(root, text)
    if problems:
        raise MarketsFileError(problems)

    data = yaml.safe_load(source)
    validator = jsonschema.Draft202012Validator(markets_schema())
    for error in validator.iter_errors(data):
        problems.extend(_problems_of(error, root, text))
    if problems:
        raise MarketsFileError(problems)

    markets: dict[str, FileMarket] = {}
    for symbol, entry in data["symbols"].items():
        node = _walk(root, ["symbols", symbol])
        markets[symbol] = _market(symbol, entry, node, text)
        problems.extend(_consistency(markets[symbol], node, text))
    if problems:
        raise MarketsFileError(problems)
    return MarketsFile(path=name, symbols=markets)


def load_markets_file(path: str | Path) -> MarketsFile:
    """Read and validate a markets file."""
    try:
        source = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        problem = Problem(SourceLocation(str(path), 1, 1), f"cannot read the file: {exc.strerror or exc}")
        raise MarketsFileError([problem]) from None
    except UnicodeDecodeError:
        problem = Problem(SourceLocation(str(path), 1, 1), "the file is not UTF-8 text")
        raise MarketsFileError([problem]) from None
    return parse_markets_file(source, str(path))
