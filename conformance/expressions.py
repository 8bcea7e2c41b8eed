"""``${...}`` templates: Jinja2 expressions evaluated in a sandbox, and the scope they see.

A string that is exactly one ``${expr}`` takes the expression's value with its type (an int stays an
int, a Decimal a Decimal); in any other string the values are formatted into the text; lists and
mappings are resolved item by item. ``$${`` is a literal ``${``.

The loader compiles every expression when it reads a case (:func:`check_template`), so a syntax error
is a ``file:line:col`` error before anything is sent; the engine and the planner evaluate them later
(:func:`resolve`) against a ``scope.Scope`` (or a plain mapping of names). Compiled expressions are
cached by their text.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from conformance.facts import MissingFactError

__all__ = [
    "HELPERS",
    "SCOPE_NAMES",
    "ExpressionError",
    "Names",
    "check_template",
    "evaluate",
    "expressions_in",
    "is_template",
    "names_in",
    "resolve",
    "step_references",
]


class ExpressionError(Exception):
    """An expression that does not compile or cannot be evaluated; names the expression.

    ``offset`` is where the ``${`` starts inside the template text, when known.
    """

    def __init__(
        self,
        expression: str,
        message: str,
        *,
        offset: int | None = None,
        written: str | None = None,
        unknown_fact: bool = False,
    ) -> None:
        self.written = written if written is not None else f"${{{expression}}}"  # as in the template
        super().__init__(f"{self.written}: {message}")
        self.expression = expression
        self.message = message
        self.offset = offset
        self.unknown_fact = unknown_fact  # the run lacks a market fact: skip, do not judge


# --------------------------------------------------------------------------------------------------
# Names every expression sees besides parameters and captures (``scope.Scope`` provides the others).
HELPERS: Mapping[str, Callable[..., Any]] = {
    "decimal": lambda x: x if isinstance(x, Decimal) else Decimal(str(x)),
    "abs": abs,
    "min": min,
    "max": max,
    "int": int,
    "str": str,
}
SCOPE_NAMES = frozenset({"market", "markets", "symbols", "profile", "steps", *HELPERS})


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


class Namespaced(Protocol):
    """Anything that provides the names expressions see, such as ``scope.Scope``."""

    @property
    def namespace(self) -> Mapping[str, Any]: ...


Names = Namespaced | Mapping[str, Any]


def _namespace(scope: Names) -> Mapping[str, Any]:
    return scope if isinstance(scope, Mapping) else scope.namespace


def _evaluate(source: str, names: Mapping[str, Any]) -> Any:
    compiled = _compile(source)
    try:
        value = compiled.run(**names)
        if isinstance(value, jinja2.Undefined):
            str(value)  # raises the UndefinedError that names what is missing
    except ExpressionError:
        raise
    except MissingFactError as exc:
        raise ExpressionError(source, str(exc), unknown_fact=True) from None
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


def evaluate(expression: str, scope: Names) -> Any:
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


def resolve(value: Any, scope: Names) -> Any:
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
