"""``${...}`` templates: Jinja2 expressions evaluated in a sandbox, and the scope they see.

A string that is exactly one ``${expr}`` takes the expression's value with its type (an int stays an
int, a Decimal a Decimal); in any other string the values are formatted into the text; lists and
mappings are resolved item by item. ``$${`` is a literal ``${``.

The loader compiles every expression when it reads a case (:func:`check_template`), so a syntax error
is a ``file:line:col`` error before anything is sent; the engine and the planner evaluate them later
(:func:`resolve`) against a :class:`Scope`. Compiled expressions are cached by their text.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from conformance.model import Bracket, MarketFacts, Profile

__all__ = [
    "SCOPE_NAMES",
    "ExpressionError",
    "MarketView",
    "ProfileView",
    "Scope",
    "StepRecord",
    "check_template",
    "evaluate",
    "expressions_in",
    "is_template",
    "leverage_mid",
    "names_in",
    "notional_cap",
    "resolve",
    "smallest_order_qty",
    "step_references",
]


class ExpressionError(Exception):
    """An expression that does not compile or cannot be evaluated; names the expression.

    ``offset`` is where the ``${`` starts inside the template text, when known.
    """

    def __init__(
        self, expression: str, message: str, *, offset: int | None = None, written: str | None = None
    ) -> None:
        self.written = written if written is not None else f"${{{expression}}}"  # as in the template
        super().__init__(f"{self.written}: {message}")
        self.expression = expression
        self.message = message
        self.offset = offset


# --------------------------------------------------------------------------------------------------
# Facts arithmetic: small pure functions over MarketFacts (they may move to a markets module).


class MissingFactError(ValueError):
    """A fact an expression needs is not known for the symbol."""


def leverage_mid(facts: MarketFacts) -> int:
    return (facts.min_leverage + facts.max_leverage) // 2


def smallest_order_qty(facts: MarketFacts) -> Decimal:
    """The smallest order quantity the filters allow: ``max(min_qty, ceil(min_notional/price/step)*step)``."""
    if facts.min_notional is None:
        if facts.min_qty is None:
            raise MissingFactError(f"no LOT_SIZE minQty or MIN_NOTIONAL is known for {facts.symbol}")
        return facts.min_qty
    if facts.price is None or facts.price <= 0:
        raise MissingFactError(f"no price is known for {facts.symbol}")
    by_notional = facts.min_notional / facts.price
    if facts.step_size is not None and facts.step_size > 0:
        steps = (by_notional / facts.step_size).to_integral_value(rounding=ROUND_CEILING)
        by_notional = steps * facts.step_size
    return max(facts.min_qty or Decimal(0), by_notional)


def notional_cap(facts: MarketFacts, leverage: int, rule: str) -> Decimal:
    """``maxNotionalValue`` for a leverage: with rule ``brackets``, the notionalCap of the highest-numbered
    bracket whose initialLeverage >= leverage; with ``max_position_size_usd``, that constant."""
    if rule == "max_position_size_usd":
        if facts.max_position_size_usd is None:
            raise MissingFactError(f"no max_position_size_usd is known for {facts.symbol}")
        return facts.max_position_size_usd
    eligible = [b for b in facts.brackets if b.initial_leverage >= leverage]
    if not facts.brackets:
        raise MissingFactError(f"no leverage brackets are known for {facts.symbol}")
    if not eligible:
        raise MissingFactError(f"no bracket of {facts.symbol} allows leverage {leverage}")
    return max(eligible, key=lambda b: b.bracket).notional_cap


# --------------------------------------------------------------------------------------------------
# What expressions see


class MarketView:
    """``market``: the facts of one symbol, read-only, with the derived values cases need."""

    __slots__ = ("_facts", "_rule")

    def __init__(self, facts: MarketFacts, rule: str) -> None:
        self._facts = facts
        self._rule = rule

    def __repr__(self) -> str:
        return f"<market {self._facts.symbol}>"

    @property
    def symbol(self) -> str:
        return self._facts.symbol

    @property
    def min(self) -> int:
        return self._facts.min_leverage

    @property
    def max(self) -> int:
        return self._facts.max_leverage

    @property
    def mid(self) -> int:
        return leverage_mid(self._facts)

    @property
    def price(self) -> Decimal:
        if self._facts.price is None:
            raise MissingFactError(f"no price is known for {self._facts.symbol}")
        return self._facts.price

    @property
    def min_qty(self) -> Decimal:
        return smallest_order_qty(self._facts)

    @property
    def step_size(self) -> Decimal | None:
        return self._facts.step_size

    @property
    def min_notional(self) -> Decimal | None:
        return self._facts.min_notional

    @property
    def max_position_size_usd(self) -> Decimal | None:
        return self._facts.max_position_size_usd

    @property
    def brackets(self) -> tuple[Bracket, ...]:
        return self._facts.brackets

    def notional_cap(self, leverage: int) -> Decimal:
        return notional_cap(self._facts, leverage, self._rule)


class ProfileView:
    """``profile``: the dialect-specific facts cases may use, and its message templates."""

    __slots__ = ("_profile",)

    def __init__(self, profile: Profile) -> None:
        self._profile = profile

    def __repr__(self) -> str:
        return f"<profile {self._profile.name}>"

    @property
    def name(self) -> str:
        return self._profile.name

    @property
    def dialect(self) -> str:
        return self._profile.dialect

    @property
    def title(self) -> str:
        return self._profile.title

    @property
    def paths(self) -> Mapping[str, str]:
        return self._profile.paths

    @property
    def encodings(self) -> tuple[str, ...]:
        return self._profile.encodings

    @property
    def recv_window_max(self) -> int | None:
        return self._profile.recv_window_max

    @property
    def margin_field(self) -> str | None:
        return self._profile.margin_field

    def message(self, name: str, **values: Any) -> str:
        template = self._profile.messages.get(name)
        if template is None:
            known = ", ".join(sorted(self._profile.messages)) or "none"
            raise LookupError(f"profile {self._profile.name} has no message {name!r} (it has: {known})")
        return template.format(**values)


@dataclass(frozen=True)
class StepRecord:
    """``steps.<id>``: what an earlier step observed."""

    status: int | None
    body: Any = None  # parsed JSON, or None
    values: Mapping[str, Any] = field(default_factory=dict)  # read-back values and captures


# Every name an expression sees besides parameters and captures.
HELPERS: Mapping[str, Callable[..., Any]] = {
    "decimal": lambda x: x if isinstance(x, Decimal) else Decimal(str(x)),
    "abs": abs,
    "min": min,
    "max": max,
    "int": int,
    "str": str,
}
SCOPE_NAMES = frozenset({"market", "markets", "symbols", "profile", "steps", *HELPERS})


@dataclass(frozen=True, eq=False)
class Scope:
    """The names expressions of one case instance see.

    The planner builds it from the run (profile, facts, symbols) and an instance's parameters; the
    engine adds each step's record (:meth:`with_step`) and captures (:meth:`with_captures`) as it goes.
    ``market`` is the facts of the parameter ``symbol``, when there is one and its facts are known.
    """

    profile: Profile | None = None
    markets: Mapping[str, MarketFacts] = field(default_factory=dict)
    symbols: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    steps: Mapping[str, StepRecord] = field(default_factory=dict)
    captures: Mapping[str, Any] = field(default_factory=dict)

    def bind(self, **params: Any) -> Scope:
        return replace(self, params={**self.params, **params})

    def with_step(self, step_id: str, record: StepRecord) -> Scope:
        return replace(self, steps={**self.steps, step_id: record})

    def with_captures(self, values: Mapping[str, Any]) -> Scope:
        return replace(self, captures={**self.captures, **values})

    @functools.cached_property
    def namespace(self) -> Mapping[str, Any]:
        rule = self.profile.notional_rule if self.profile is not None else "brackets"
        markets = {symbol: MarketView(facts, rule) for symbol, facts in self.markets.items()}
        names: dict[str, Any] = {"markets": markets, "symbols": list(self.symbols), "steps": self.steps}
        if self.profile is not None:
            names["profile"] = ProfileView(self.profile)
        symbol = self.params.get("symbol")
        if isinstance(symbol, str) and symbol in markets:
            names["market"] = markets[symbol]
        names.update(self.captures)
        names.update(self.params)
        return names


# --------------------------------------------------------------------------------------------------
# The environment


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox, where ``a.b`` on a mapping means its key ``b`` (so ``values.items`` is a value)."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


_ENV = _Environment(undefined=jinja2.StrictUndefined, autoescape=False)
_ENV.globals.clear()
_ENV.globals.update(HELPERS)


@dataclass(frozen=True)
class _Compiled:
    source: str
    run: Callable[..., Any]
    tree: nodes.Expr


@functools.lru_cache(maxsize=4096)
def _compile(source: str) -> _Compiled:
    if not source.strip():
        raise ExpressionError(source, "the expression is empty")
    try:
        run = _ENV.compile_expression(source, undefined_to_none=False)
        template = _ENV.parse("{{ (" + source + ") }}")
    except jinja2.TemplateSyntaxError as exc:
        raise ExpressionError(source, exc.message or "invalid syntax") from None
    output = template.body[0]
    assert isinstance(output, nodes.Output)
    tree = output.nodes[0]
    assert isinstance(tree, nodes.Expr)
    return _Compiled(source, run, tree)


# --------------------------------------------------------------------------------------------------
# Template text


@dataclass(frozen=True)
class _Parts:
    """A template string split into literal text (str) and expressions (with their offsets)."""

    items: tuple[str | tuple[int, str], ...]

    @property
    def single(self) -> str | None:
        """The expression when the whole string is one ``${...}``."""
        if len(self.items) == 1 and isinstance(self.items[0], tuple):
            return self.items[0][1]
        return None


def _skip_string(text: str, i: int) -> int:
    quote = text[i]
    i += 1
    while i < len(text) and text[i] != quote:
        i += 2 if text[i] == "\\" else 1
    return i + 1


@functools.lru_cache(maxsize=4096)
def _split(text: str) -> _Parts:
    items: list[str | tuple[int, str]] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$${", i):
            literal.append("${")
            i += 3
            continue
        if not text.startswith("${", i):
            literal.append(text[i])
            i += 1
            continue
        start, j, depth = i, i + 2, 1
        while j < len(text):
            char = text[j]
            if char in "'\"":
                j = _skip_string(text, j)
                continue
            if char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        if j >= len(text):
            rest = text[start + 2 :]
            raise ExpressionError(rest, "'${' is not closed by '}'", offset=start, written="${" + rest)
        if literal:
            items.append("".join(literal))
            literal = []
        items.append((start, text[start + 2 : j]))
        i = j + 1
    if literal:
        items.append("".join(literal))
    return _Parts(tuple(items))


def is_template(value: Any) -> bool:
    """Whether a string holds a ``${...}`` (or an escaped ``$${``) to resolve."""
    return isinstance(value, str) and "${" in value


def expressions_in(text: str) -> list[tuple[int, str]]:
    """The ``(offset, expression)`` pairs of a template string; raises ExpressionError when malformed."""
    if not is_template(text):
        return []
    return [item for item in _split(text).items if isinstance(item, tuple)]


def check_template(text: str) -> None:
    """Compile every expression of a string; raises ExpressionError (with its offset) at the first bad one."""
    for offset, source in expressions_in(text):
        try:
            _compile(source)
        except ExpressionError as exc:
            raise ExpressionError(source, exc.message, offset=offset, written=exc.written) from None


def _nodes(expression: str) -> Iterator[nodes.Node]:
    tree = _compile(expression).tree
    yield tree
    yield from tree.find_all(nodes.Node)


def names_in(expression: str) -> frozenset[str]:
    """The free names an expression reads (after it compiled)."""
    return frozenset(n.name for n in _nodes(expression) if isinstance(n, nodes.Name) and n.ctx == "load")


def step_references(expression: str) -> frozenset[str]:
    """The step ids an expression reads as ``steps.<id>`` or ``steps['<id>']``."""
    found: set[str] = set()
    for node in _nodes(expression):
        if not isinstance(node, (nodes.Getattr, nodes.Getitem)):
            continue
        target = node.node
        if not (isinstance(target, nodes.Name) and target.name == "steps"):
            continue
        if isinstance(node, nodes.Getattr):
            found.add(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            found.add(node.arg.value)
    return frozenset(found)


# --------------------------------------------------------------------------------------------------
# Evaluation


def _namespace(scope: Scope | Mapping[str, Any]) -> Mapping[str, Any]:
    return scope.namespace if isinstance(scope, Scope) else scope


def _evaluate(source: str, names: Mapping[str, Any]) -> Any:
    compiled = _compile(source)
    try:
        value = compiled.run(**names)
        if isinstance(value, jinja2.Undefined):
            str(value)  # raises the UndefinedError that names what is missing
    except ExpressionError:
        raise
    except jinja2.UndefinedError as exc:
        raise ExpressionError(source, _undefined_message(exc)) from None
    except (
        jinja2.TemplateError,
        ArithmeticError,
        InvalidOperation,
        LookupError,
        TypeError,
        ValueError,
    ) as exc:
        raise ExpressionError(source, str(exc) or type(exc).__name__) from None
    return value


def _undefined_message(exc: jinja2.UndefinedError) -> str:
    message = exc.message or "undefined"
    if message.endswith("is undefined"):
        return f"{message} (not a parameter, a capture, or one of {', '.join(sorted(SCOPE_NAMES))})"
    return message


def evaluate(expression: str, scope: Scope | Mapping[str, Any]) -> Any:
    """The value of one expression (the text inside ``${...}``)."""
    return _evaluate(expression, _namespace(scope))


def _format(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, default=str, separators=(",", ":"))
    return str(value)


def _resolve_text(text: str, names: Mapping[str, Any]) -> Any:
    parts = _split(text)
    single = parts.single
    if single is not None:
        return _evaluate(single, names)
    out: list[str] = []
    for item in parts.items:
        out.append(item if isinstance(item, str) else _format(_evaluate(item[1], names)))
    return "".join(out)


def resolve(value: Any, scope: Scope | Mapping[str, Any]) -> Any:
    """Resolve every template inside a value: strings, and lists and mappings recursively."""
    return _resolve(value, _namespace(scope))


def _resolve(value: Any, names: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return _resolve_text(value, names) if "${" in value else value
    if isinstance(value, Mapping):
        return {key: _resolve(item, names) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_resolve(item, names) for item in value]
    return value


def walk_strings(value: Any) -> Iterator[str]:
    """Every string inside a value (for checks over all templates of a case)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from walk_strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from walk_strings(item)
