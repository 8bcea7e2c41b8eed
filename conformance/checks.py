"""The check registry: what each ``expect:`` key means.

A check receives what a step observed and the expectation's argument (templates already resolved). It
returns nothing when the expectation holds and raises :class:`Mismatch` (title, expected, actual) when it
does not; the engine adds the level, clause and step and records a :class:`~conformance.model.Failure`.
Checks never print and never return ``False``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from conformance import fieldpath
from conformance.fieldpath import MISSING


class Mismatch(Exception):
    """An expectation that did not hold."""

    def __init__(self, title: str, expected: str, actual: str) -> None:
        super().__init__(title)
        self.title = title
        self.expected = expected
        self.actual = actual


class _NotJson:
    def __repr__(self) -> str:
        return "<not JSON>"


NOT_JSON: Final = _NotJson()


@dataclass(frozen=True)
class Observation:
    """What one step produced, as the checks see it."""

    status: int | None
    body_text: str
    body: Any  # parsed JSON, or NOT_JSON
    values: Mapping[str, Any] = field(default_factory=dict)  # read-back values and captures
    earlier: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # step id -> its values


SchemaValidator = Callable[[Any, str], None]  # raises ValueError with a readable message


@dataclass(frozen=True)
class CheckEnvironment:
    validate_schema: SchemaValidator


Check = Callable[[Observation, Any, "str | None", CheckEnvironment], None]

REGISTRY: dict[str, Check] = {}


def check(name: str) -> Callable[[Check], Check]:
    def register(function: Check) -> Check:
        REGISTRY[name] = function
        return function

    return register


def run_check(
    name: str, observation: Observation, argument: Any, path: str | None, env: CheckEnvironment
) -> None:
    try:
        function = REGISTRY[name]
    except KeyError:
        raise Mismatch(f"unknown check {name!r}", "a registered check", name) from None
    function(observation, argument, path, env)


# --------------------------------------------------------------------------------------------------
# Showing values


def show(value: Any, limit: int = 300) -> str:
    """A value as a case author would write it: JSON where possible."""
    if value is MISSING:
        return "(absent)"
    if value is NOT_JSON:
        return "(not JSON)"
    try:
        text = json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _body_excerpt(observation: Observation) -> str:
    text = observation.body_text
    shown = text if len(text) <= 300 else text[:299] + "…"
    return f"HTTP {observation.status} {shown}".rstrip()


# --------------------------------------------------------------------------------------------------
# Status and the error envelope


def _status_matches(status: int | None, wanted: Any) -> bool:
    if status is None:
        return False
    if isinstance(wanted, list):
        return any(_status_matches(status, item) for item in wanted)
    if isinstance(wanted, str) and re.fullmatch(r"[1-5]xx", wanted, re.IGNORECASE):
        return status // 100 == int(wanted[0])
    return isinstance(wanted, int) and not isinstance(wanted, bool) and status == wanted


def _unwrap_is(argument: Any) -> Any:
    if isinstance(argument, Mapping) and "is" in argument:
        return argument["is"]
    return argument


@check("status")
def _status(observation: Observation, argument: Any, path: str | None, env: CheckEnvironment) -> None:
    wanted = _unwrap_is(argument)
    if not _status_matches(observation.status, wanted):
        raise Mismatch("unexpected HTTP status", f"HTTP {show(wanted)}", _body_excerpt(observation))


@check("accepted")
def _accepted(observation: Observation, argument: Any, path: str | None, env: CheckEnvironment) -> None:
    accepted = observation.status is not None and 200 <= observation.status < 300
    if bool(argument) != accepted:
        wanted = "accepted (2xx)" if argument else "not accepted (not 2xx)"
        raise Mismatch(
            "request accepted" if accepted else "request rejected", wanted, _body_excerpt(observation)
        )


def envelope_problem(observation: Observation) -> str | None:
    """Why the body is not the ``{code: negative int, msg: non-empty string}`` envelope, if it is not."""
    body = observation.body
    if body is NOT_JSON:
        return "the body is not JSON"
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    code = body.get("code", MISSING)
    if code is MISSING:
        return "no 'code' field"
    if isinstance(code, bool) or not isinstance(code, int):
        return f"'code' is not an integer ({show(code)})"
    if code >= 0:
        return f"'code' is not negative ({code})"
    msg = body.get("msg", MISSING)
    if msg is MISSING:
        return "no 'msg' field"
    if not isinstance(msg, str) or not msg.strip():
        return f"'msg' is not a non-empty string ({show(msg)})"
    return None


@check("rejected")
def _rejected(observation: Observation, argument: Any, path: str | None, env: CheckEnvironment) -> None:
    status = observation.status
    if not argument:
        _accepted(observation, True, path, env)
        return
    expected = "rejected: HTTP 4xx with {code: negative int, msg: non-empty string}"
    if status is not None and 200 <= status < 300:
        raise Mismatch("request accepted, expected a rejection", expected, _body_excerpt(observation))
    if status is None or not 400 <= status < 500:
        raise Mismatch("rejection is not a 4xx", expected, _body_excerpt(observation))
    problem = envelope_problem(observation)
    if problem is not None:
        raise Mismatch(
            f"rejection without the error envelope: {problem}", expected, _body_excerpt(observation)
        )


@check("code")
def _code(observation: Observation, argument: Any, path: str | None, env: CheckEnvironment) -> None:
    wanted = _unwrap_is(argument)
    options = wanted if isinstance(wanted, list) else [wanted]
    body = observation.body
    code = body.get("code", MISSING) if isinstance(body, dict) else MISSING
    if not any(_json_equal(code, option) for option in options):
        raise Mismatch(
            "unexpected error code",
            " or ".join(show(option) for option in options),
            f"{show(code)} ({_body_excerpt(observation)})" if code is MISSING else show(code),
        )


@check("message")
def _message(observation: Observation, argument: Any, path: str | None, env: CheckEnvironment) -> None:
    body = observation.body
    msg = body.get("msg", MISSING) if isinstance(body, dict) else MISSING
    if isinstance(argument, Mapping) and "matches" in argument:
        pattern = str(argument["matches"])
        if not isinstance(msg, str) or re.search(pattern, msg) is None:
            raise Mismatch("unexpected error message", f"msg matching /{pattern}/", show(msg))
        return
    wanted = argument.get("equals", argument.get("is")) if isinstance(argument, Mapping) else argument
    if msg != wanted:
        raise Mismatch("unexpected error message", show(wanted), show(msg))


@check("schema")
def _schema(observation: Observation, argument: Any, path: str | None, env: CheckEnvironment) -> None:
    if observation.body is NOT_JSON:
        raise Mismatch("body is not JSON", f"a body valid against {argument}", _body_excerpt(observation))
    try:
        env.validate_schema(observation.body, str(argument))
    except ValueError as error:
        raise Mismatch("body does not match its schema", f"valid against {argument}", str(error)) from None


# --------------------------------------------------------------------------------------------------
# Fields and values


@check("body")
def _body(observation: Observation, argument: Any, path: str | None, env: CheckEnvironment) -> None:
    if path is None:
        raise Mismatch("body check without a field path", "a field path", "none")
    actual = fieldpath.select(observation.body, path) if observation.body is not NOT_JSON else MISSING
    match_value(f"field {path!r}", actual, argument)


@check("values")
def _values(observation: Observation, argument: Any, path: str | None, env: CheckEnvironment) -> None:
    if path is None:
        raise Mismatch("values check without a name", "a value name", "none")
    match_value(f"value {path!r}", observation.values.get(path, MISSING), argument)


@check("unchanged_since")
def _unchanged_since(
    observation: Observation, argument: Any, path: str | None, env: CheckEnvironment
) -> None:
    if isinstance(argument, Mapping):
        step_id = str(argument["step"])
        names = list(argument.get("values") or [])
    else:
        step_id, names = str(argument), []
    before = observation.earlier.get(step_id)
    if before is None:
        raise Mismatch(f"step {step_id!r} has no recorded values", "values of an earlier step", "none")
    names = names or [name for name in observation.values if name in before]
    changed = [
        f"{name}: {show(before.get(name, MISSING))} -> {show(observation.values.get(name, MISSING))}"
        for name in names
        if not _same(before.get(name, MISSING), observation.values.get(name, MISSING))
    ]
    if changed:
        raise Mismatch(
            f"stored state changed since step {step_id!r}",
            ", ".join(f"{name} unchanged" for name in names),
            "; ".join(changed),
        )


# --------------------------------------------------------------------------------------------------
# Matchers


def match_value(subject: str, actual: Any, matcher: Any) -> None:
    """Apply one matcher (a bare value or a ``{equals|decimal|approx|...}`` mapping) to a value."""
    if isinstance(matcher, Mapping) and _is_matcher(matcher):
        for name, argument in matcher.items():
            if name in ("level", "rel"):
                continue
            _MATCHERS[name](subject, actual, argument, matcher)
        return
    if isinstance(matcher, Decimal):
        _decimal(subject, actual, matcher, {})
        return
    _equals(subject, actual, matcher, {})


def _is_matcher(mapping: Mapping[str, Any]) -> bool:
    keys = set(mapping) - {"level", "rel"}
    return bool(keys) and keys <= set(_MATCHERS)


def _json_equal(left: Any, right: Any) -> bool:
    """Equality that keeps JSON types apart: 20 is not "20", true is not 1, 20 is not 20.0."""
    if type(left) is not type(right):
        return False
    if isinstance(left, list):
        return len(left) == len(right) and all(_json_equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(_json_equal(left[k], right[k]) for k in left)
    return bool(left == right)


def _same(left: Any, right: Any) -> bool:
    """Equality for recorded values: decimals by value, everything else as JSON."""
    if isinstance(left, Decimal) or isinstance(right, Decimal):
        a, b = as_decimal(left), as_decimal(right)
        return a is not None and b is not None and a == b
    return _json_equal(left, right)


def as_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None or value is MISSING:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | float | str):
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation:
            return None
        return result if result.is_finite() else None
    return None


def _equals(subject: str, actual: Any, expected: Any, _: Mapping[str, Any]) -> None:
    if not _json_equal(actual, expected):
        raise Mismatch(f"{subject} differs", show(expected), show(actual))


def _not_equals(subject: str, actual: Any, expected: Any, _: Mapping[str, Any]) -> None:
    if _json_equal(actual, expected):
        raise Mismatch(f"{subject} should differ", f"anything but {show(expected)}", show(actual))


def _decimal(subject: str, actual: Any, expected: Any, _: Mapping[str, Any]) -> None:
    want, got = as_decimal(expected), as_decimal(actual)
    if want is None:
        raise Mismatch(f"{subject}: expected value is not a decimal", "a decimal", show(expected))
    if got is None or got != want:
        raise Mismatch(f"{subject} differs (as a decimal)", show(str(want)), show(actual))


def _approx(subject: str, actual: Any, expected: Any, matcher: Mapping[str, Any]) -> None:
    want, got = as_decimal(expected), as_decimal(actual)
    rel = as_decimal(matcher.get("rel", "1e-9")) or Decimal("1e-9")
    if want is None:
        raise Mismatch(f"{subject}: expected value is not a decimal", "a decimal", show(expected))
    if got is None or abs(got - want) > rel * max(abs(got), abs(want)):
        raise Mismatch(f"{subject} differs (relative tolerance {rel})", show(str(want)), show(actual))


def _one_of(subject: str, actual: Any, options: Any, _: Mapping[str, Any]) -> None:
    if not any(_json_equal(actual, option) for option in options):
        raise Mismatch(f"{subject} is none of the allowed values", "one of " + show(options), show(actual))


def _matches(subject: str, actual: Any, pattern: Any, _: Mapping[str, Any]) -> None:
    if not isinstance(actual, str) or re.search(str(pattern), actual) is None:
        raise Mismatch(f"{subject} does not match", f"text matching /{pattern}/", show(actual))


_JSON_TYPES: Final[dict[str, Callable[[Any], bool]]] = {
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


def _type(subject: str, actual: Any, wanted: Any, _: Mapping[str, Any]) -> None:
    test = _JSON_TYPES.get(str(wanted))
    if test is None:
        raise Mismatch(f"{subject}: unknown type {wanted!r}", "a JSON type name", show(wanted))
    if actual is MISSING or not test(actual):
        raise Mismatch(f"{subject} has the wrong type", f"a JSON {wanted}", show(actual))


def _present(subject: str, actual: Any, wanted: Any, _: Mapping[str, Any]) -> None:
    if bool(wanted) and actual is MISSING:
        raise Mismatch(f"{subject} is absent", "present", "(absent)")
    if not wanted and actual is not MISSING:
        raise Mismatch(f"{subject} is present", "(absent)", show(actual))


_MATCHERS: Final[dict[str, Callable[[str, Any, Any, Mapping[str, Any]], None]]] = {
    "equals": _equals,
    "not_equals": _not_equals,
    "decimal": _decimal,
    "approx": _approx,
    "one_of": _one_of,
    "matches": _matches,
    "type": _type,
    "present": _present,
}
