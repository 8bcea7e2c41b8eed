"""Planning: expanding loaded cases into the case instances of one run, and selecting them with ``-k``.

A case is expanded over its ``parametrize`` sources in order (a cartesian product where later sources may
use earlier names), for one profile, the market facts of the run's symbols and what the run offers
(a second account, trading, a margin observable). Each instance gets an id (``case-id[label-label]``), the
level that applies to the profile's dialect, a skip reason when the run cannot execute it, the
(account, symbol) pairs it may touch and whether it writes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from conformance.cases import contract_clauses
from conformance.expressions import ExpressionError, resolve
from conformance.model import (
    Case,
    CaseInstance,
    Clause,
    Level,
    MarketFacts,
    ParamSource,
    Profile,
    Step,
    Touch,
)
from conformance.scope import Scope

__all__ = [
    "Plan",
    "PlanError",
    "RunSetup",
    "Selection",
    "SelectionError",
    "expand",
    "level_for",
    "plan",
    "scope_for",
    "select",
    "writes",
]


@dataclass(frozen=True)
class RunSetup:
    """What one run offers the cases."""

    profile: Profile
    markets: Mapping[str, MarketFacts]  # facts of the run's symbols
    symbols: tuple[str, ...]  # the run's symbols, in order
    second_account: bool = False
    allow_trading: bool = False
    margin_observable: bool | None = None  # None: observable when the profile names a margin field
    clauses: Mapping[str, Clause] | None = None  # None: specs/contract.yaml

    @property
    def accounts(self) -> tuple[str, ...]:
        return ("primary", "secondary") if self.second_account else ("primary",)


class PlanError(Exception):
    """A case could not be expanded (an expression in its parameters failed); the run reports it as an
    error of that case and goes on."""

    def __init__(self, case: Case, message: str) -> None:
        super().__init__(f"{case.location}: {case.id}: {message}")
        self.case = case
        self.message = message


@dataclass(frozen=True)
class Plan:
    instances: tuple[CaseInstance, ...]
    errors: tuple[PlanError, ...] = ()


def plan(cases: Iterable[Case], setup: RunSetup, *, select: str | None = None) -> Plan:
    """Every instance of the cases for this run, in file order then parameter order, filtered by ``-k``.

    Raises SelectionError when the ``-k`` expression is malformed (before expanding anything).
    """
    selection = Selection(select) if select else None
    instances: list[CaseInstance] = []
    errors: list[PlanError] = []
    for case in cases:
        try:
            expanded = expand(case, setup)
        except PlanError as exc:
            if selection is None or selection.matches_case(case):
                errors.append(exc)
            continue
        instances.extend(i for i in expanded if selection is None or selection.matches(i))
    return Plan(tuple(instances), tuple(errors))


# --------------------------------------------------------------------------------------------------
# Levels and requirements


def level_for(case: Case, profile: Profile, clauses: Mapping[str, Clause] | None = None) -> Level | None:
    """The level of a case under a profile; None when the case does not apply to the profile's dialect.

    The case's own level wins, then the profile's ``clause_levels``, then the contract's level for the
    dialect. A clause the contract does not give the dialect applies only if the profile gives it a level.
    """
    if case.profiles and profile.dialect not in case.profiles:
        return None
    clause = (clauses if clauses is not None else contract_clauses()).get(case.clause)
    contract_level = clause.level_for(profile.dialect) if clause is not None else None
    override = profile.clause_levels.get(case.clause)
    if override is None and contract_level is None:
        return None
    return case.level or override or contract_level


def _requirement_reason(case: Case, setup: RunSetup) -> str | None:
    reasons: list[str] = []
    if "second-account" in case.requires and not setup.second_account:
        reasons.append("needs a second account, and none is configured")
    if "trading" in case.requires and not setup.allow_trading:
        reasons.append("places orders, and trading is not allowed (--allow-trading)")
    margin = setup.margin_observable
    if margin is None:
        margin = setup.profile.margin_field is not None
    if "margin" in case.requires and not margin:
        reasons.append(
            setup.profile.margin_missing_reason
            or f"needs the position's margin, which the profile {setup.profile.name} cannot observe"
        )
    return "; ".join(reasons) or None


def scope_for(instance: CaseInstance, setup: RunSetup) -> Scope:
    """The scope an instance's templates start from; the engine adds step records and captures."""
    return Scope(profile=setup.profile, markets=setup.markets, symbols=setup.symbols, params=instance.params)


def writes(case: Case) -> bool:
    """Whether a case may change venue state: any non-GET request or any close_position."""
    return any(
        step.kind == "close_position" or (step.request is not None and step.request.method != "GET")
        for step in (*case.steps, *case.cleanup)
    )


# --------------------------------------------------------------------------------------------------
# Expansion


def expand(case: Case, setup: RunSetup) -> list[CaseInstance]:
    """The instances of one case for this run ([] when it does not apply to the profile's dialect)."""
    level = level_for(case, setup.profile, setup.clauses)
    if level is None:
        return []
    base = Scope(profile=setup.profile, markets=setup.markets, symbols=setup.symbols)
    combos: list[tuple[dict[str, Any], list[str]]] = [({}, [])]
    empty_reason: str | None = None
    for name, source in case.parametrize.items():
        grown: list[tuple[dict[str, Any], list[str]]] = []
        for params, labels in combos:
            options, reason = _options(case, name, source, base.bind(**params), setup)
            empty_reason = empty_reason or reason
            grown.extend(({**params, name: value}, [*labels, label]) for label, value in options)
        combos = grown
    skip = _requirement_reason(case, setup)
    if not combos:
        return [
            CaseInstance(
                case=case,
                id=case.id,
                params={},
                level=level,
                touches=frozenset(),
                writes=writes(case),
                skip_reason=skip or empty_reason,
            )
        ]
    instances = []
    for params, labels in combos:
        missing = next((v.reason for v in params.values() if isinstance(v, _Unknown)), None)
        instances.append(
            CaseInstance(
                case=case,
                id=f"{case.id}[{'-'.join(labels)}]" if labels else case.id,
                params={k: (None if isinstance(v, _Unknown) else v) for k, v in params.items()},
                level=level,
                touches=frozenset() if missing else _touches(case, base.bind(**params), setup),
                writes=writes(case),
                skip_reason=skip or missing,
            )
        )
    return instances


@dataclass(frozen=True)
class _Unknown:
    """A parameter value that needs a market fact the run does not have: its instance is skipped."""

    reason: str


def _options(
    case: Case, name: str, source: ParamSource, scope: Scope, setup: RunSetup
) -> tuple[list[tuple[str, Any]], str | None]:
    """The (label, value) options of one source, and why there are none when there are none."""
    if source.kind == "encodings":
        encodings = [e for e in setup.profile.encodings if not source.only or e in source.only]
        if encodings:
            return _unique([(e, e) for e in encodings]), None
        return [], (
            f"the profile {setup.profile.name} accepts none of the encodings {', '.join(source.only)}"
            f" (it accepts {', '.join(setup.profile.encodings) or 'none'})"
        )
    if source.kind == "symbols":
        unknown: list[str] = []
        chosen = [
            s
            for s in setup.symbols
            if source.where is None or _holds(case, source.where, scope, name, s, unknown)
        ]
        if source.limit is not None and len(chosen) > source.limit:
            # `limit: N` means "any N will do": start where the case id's hash says, so that single-symbol
            # cases spread over the symbols (and, sharing no state, run concurrently), stably whatever -k says
            start = int.from_bytes(hashlib.sha256(case.id.encode("utf-8")).digest()[:4], "big") % len(chosen)
            chosen = (chosen[start:] + chosen[:start])[: source.limit]
        if chosen:
            return _unique([(s, s) for s in chosen]), None
        if not setup.symbols:
            return [], "the run has no symbols"
        if unknown:
            return [], f"no run symbol is known to satisfy {source.where}: {unknown[0]}"
        return [], f"no run symbol satisfies {source.where} (run symbols: {', '.join(setup.symbols)})"
    options: list[tuple[str, Any]] = []
    for label, raw in source.values:
        try:
            value = resolve(raw, scope)
        except ExpressionError as exc:
            if not exc.unknown_fact:
                raise PlanError(case, f"parameter '{name}': {exc}") from None
            value = _Unknown(exc.message)
            options.append((label or "unknown", value))
            continue
        options.append((label or _label_of(value), value))
    return _unique(options), None


def _holds(case: Case, where: Any, scope: Scope, name: str, symbol: str, unknown: list[str]) -> bool:
    """Whether ``symbol`` satisfies ``where``; a symbol whose facts cannot say is left out (and noted)."""
    try:
        return bool(resolve(where, scope.bind(**{name: symbol})))
    except ExpressionError as exc:
        if exc.unknown_fact:
            unknown.append(exc.message)
            return False
        raise PlanError(case, f"parameter '{name}' ({symbol}): {exc}") from None


def _label_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]")


def _sanitise(label: str) -> str:
    clean = _UNSAFE.sub("_", label) or "empty"
    if len(clean) > 32:
        digest = hashlib.sha1(label.encode()).hexdigest()[:6]
        clean = f"{clean[:24]}~{digest}"
    return clean


def _unique(options: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Sanitise labels (letters, digits, ``_.+-``; ``~`` before a digest of long ones) and make them
    unique within one source by suffixing ``_2``, ``_3``..."""
    seen: set[str] = set()
    out: list[tuple[str, Any]] = []
    for label, value in options:
        clean = candidate = _sanitise(label)
        n = 1
        while candidate in seen:
            n += 1
            candidate = f"{clean}_{n}"
        seen.add(candidate)
        out.append((candidate, value))
    return out


# --------------------------------------------------------------------------------------------------
# Touches


def _touches(case: Case, scope: Scope, setup: RunSetup) -> frozenset[Touch]:
    """The (account, symbol) pairs a case's steps name, resolved with the instance's parameters; what
    cannot be known before the run (it depends on a step's result) is every account or every symbol."""
    touches: set[Touch] = set()
    for step in (*case.steps, *case.cleanup):
        accounts = _accounts(step, scope, setup)
        for symbol in _symbols(step, scope, setup):
            touches.update(Touch(account, symbol) for account in accounts)
    return frozenset(touches)


def _accounts(step: Step, scope: Scope, setup: RunSetup) -> set[str]:
    try:
        account = str(resolve(step.account, scope))
    except ExpressionError:
        return set(setup.accounts)
    accounts = {account}
    if step.request is not None and step.sign.api_key == "other-account":
        accounts.add("secondary" if account == "primary" else "primary")
    return accounts


def _symbols(step: Step, scope: Scope, setup: RunSetup) -> set[str | None]:
    if step.request is None:
        templates: list[Any] = [step.symbol]
    else:
        request = step.request
        places = (request.params, request.query, request.body, step.sign.tamper)
        templates = [place["symbol"] for place in places if "symbol" in place]
        if isinstance(request.raw_body, str) and "symbol" in request.raw_body:
            return set(setup.symbols)
        if not templates:
            return {None}
    symbols: set[str | None] = set()
    for template in templates:
        try:
            value = resolve(template, scope)
        except ExpressionError:
            return set(setup.symbols)
        symbols.add(None if value is None else str(value))
    return symbols


# --------------------------------------------------------------------------------------------------
# Selection (-k)


class SelectionError(ValueError):
    """A malformed ``-k`` expression."""


_TOKEN = re.compile(r"\s*(?:(\()|(\))|([^\s()]+))")


class Selection:
    """A pytest-like ``-k`` expression: words joined by ``and``, ``or``, ``not`` and parentheses.

    A word matches an instance when it is a substring of the instance id, or equals one of the case's
    tags, its clause id or its origin (``generated``, ``hand-written``); all case-insensitive.
    """

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self._tokens = [
            (m.start(m.lastindex or 0), m.group(m.lastindex or 0)) for m in _TOKEN.finditer(expression)
        ]
        if expression.strip() and not self._tokens:
            raise self._error("expected a word", len(expression))
        self._pos = 0
        self._tree: Any = self._or() if self._tokens else True
        if self._pos < len(self._tokens):
            column, token = self._tokens[self._pos]
            raise self._error(f"unexpected '{token}'", column)

    def _error(self, what: str, column: int) -> SelectionError:
        return SelectionError(f"-k {self.expression!r}: {what} at column {column + 1}")

    def _peek(self) -> str | None:
        return self._tokens[self._pos][1] if self._pos < len(self._tokens) else None

    def _or(self) -> Any:
        node = self._and()
        while self._peek() == "or":
            self._pos += 1
            node = ("or", node, self._and())
        return node

    def _and(self) -> Any:
        node = self._not()
        while self._peek() == "and":
            self._pos += 1
            node = ("and", node, self._not())
        return node

    def _not(self) -> Any:
        if self._pos >= len(self._tokens):
            previous = self._tokens[-1][1] if self._tokens else ""
            raise self._error(f"expected a word after '{previous}'", len(self.expression))
        column, token = self._tokens[self._pos]
        self._pos += 1
        if token == "not":
            return ("not", self._not())
        if token == "(":
            node = self._or()
            if self._peek() != ")":
                raise self._error(
                    "expected ')'", self._tokens[self._pos][0] if self._peek() else len(self.expression)
                )
            self._pos += 1
            return node
        if token in (")", "and", "or"):
            raise self._error(f"expected a word, got '{token}'", column)
        return ("word", token.lower())

    def matches(self, instance: CaseInstance) -> bool:
        return self._eval(self._tree, instance.id.lower(), instance.case)

    def matches_case(self, case: Case) -> bool:
        return self._eval(self._tree, case.id.lower(), case)

    def _eval(self, node: Any, ident: str, case: Case) -> bool:
        if node is True:
            return True
        kind = node[0]
        if kind == "word":
            word: str = node[1]
            keywords = {t.lower() for t in case.tags} | {case.clause.lower(), case.origin.lower()}
            return word in ident or word in keywords
        if kind == "not":
            return not self._eval(node[1], ident, case)
        if kind == "and":
            return self._eval(node[1], ident, case) and self._eval(node[2], ident, case)
        return self._eval(node[1], ident, case) or self._eval(node[2], ident, case)


def select(instances: Iterable[CaseInstance], expression: str) -> list[CaseInstance]:
    """The instances a ``-k`` expression selects, in order. Raises SelectionError when malformed."""
    selection = Selection(expression)
    return [instance for instance in instances if selection.matches(instance)]
