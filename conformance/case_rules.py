"""The rules of a case file that its JSON Schema cannot express.

Run on a document that already matches the schema: the clause exists and applies to the listed dialects;
step ids are unique; ``unchanged_since`` and ``steps.<id>`` name earlier steps; every ``${...}`` compiles
and names only what is defined where it stands; regular expressions compile; the second account is
declared when used; ``accepted`` and ``rejected`` are not both expected.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from conformance.expressions import (
    SCOPE_NAMES,
    ExpressionError,
    check_template,
    expressions_in,
    names_in,
    step_references,
)
from conformance.model import Clause
from conformance.yamlsource import JsonPath, Problem, YamlSource, in_file_order

__all__ = ["case_problems"]


def case_problems(source: YamlSource, clauses: Mapping[str, Clause]) -> list[Problem]:
    """Every rule the (schema-valid) case file breaks, sorted by position."""
    return _Checker(source, clauses).check()


@dataclass(frozen=True)
class _StepInfo:
    path: JsonPath  # ("steps", 0) or ("cleanup", 1)
    data: Mapping[str, Any]

    @property
    def id(self) -> str | None:
        return self.data.get("id")

    @property
    def captures(self) -> list[str]:
        return list(self.data.get("capture", {}))


_SECONDARY = {
    ("account",): "secondary",
    ("sign", "secret"): "other-account",
    ("sign", "api_key"): "other-account",
}


class _Checker:
    def __init__(self, source: YamlSource, clauses: Mapping[str, Clause]) -> None:
        self.doc = source
        self.data: Mapping[str, Any] = source.data
        self.clauses = clauses
        self.problems: list[Problem] = []
        self.params = list(self.data.get("parametrize", {}))
        self.steps = [
            _StepInfo((section, index), step)
            for section in ("steps", "cleanup")
            for index, step in enumerate(self.data.get(section, []))
        ]

    def add(self, path: JsonPath, message: str, *, key: bool = False, offset: int | None = None) -> None:
        self.problems.append(self.doc.problem(path, message, key=key, offset=offset))

    def check(self) -> list[Problem]:
        self._clause()
        self._step_ids()
        self._parametrize()
        captured: list[str] = []
        for index, step in enumerate(self.steps):
            self._step(step, self.steps[:index], captured)
            captured += step.captures
        return in_file_order(self.problems)

    # case level

    def _clause(self) -> None:
        clause_id = self.data["clause"]
        clause = self.clauses.get(clause_id)
        if clause is None:
            close = difflib.get_close_matches(clause_id, list(self.clauses), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            self.add(("clause",), f"unknown clause '{clause_id}': not in specs/contract.yaml{hint}")
            return
        for index, dialect in enumerate(self.data.get("profiles", [])):
            if dialect not in clause.levels:
                applies = ", ".join(clause.levels) or "none"
                self.add(
                    ("profiles", index),
                    f"the clause {clause_id} does not apply to the dialect '{dialect}'"
                    f" (it applies to: {applies})",
                )

    def _step_ids(self) -> None:
        seen: dict[str, JsonPath] = {}
        for step in self.steps:
            if step.id is None:
                continue
            if step.id in seen:
                first = self.doc.location((*seen[step.id], "id"))
                self.add((*step.path, "id"), f"duplicate step id '{step.id}' (first at line {first.line})")
            else:
                seen[step.id] = step.path
        for step in self.steps:
            for name in step.captures:
                if name in self.params:
                    self.add((*step.path, "capture", name), f"'{name}' is already a parameter", key=True)

    def _parametrize(self) -> None:
        for index, (name, source) in enumerate(self.data.get("parametrize", {}).items()):
            before = self.params[:index]
            path: JsonPath = ("parametrize", name)
            if isinstance(source, Mapping) and "from" in source:
                if "where" in source:
                    self._templates((*path, "where"), source["where"], [*before, name], steps=None)
                continue
            self._templates(path, source, before, steps=None)

    # steps

    def _step(self, step: _StepInfo, earlier: list[_StepInfo], captured: list[str]) -> None:
        data = step.data
        self._requirements(step)
        expect = data.get("expect", {})
        for key, value in data.items():
            names = captured + step.captures if key == "expect" else captured
            self._templates((*step.path, key), value, self.params + names, steps=earlier)
        for field_path in expect.get("body", {}):
            self._templates(
                (*step.path, "expect", "body", field_path),
                field_path,
                self.params + captured,
                steps=earlier,
                key=True,
            )
        self._regexes(step.path, expect)
        if expect.get("accepted") is not None and expect.get("rejected") is not None:
            self.add(
                (*step.path, "expect", "rejected"),
                "a step cannot expect both 'accepted' and 'rejected'",
                key=True,
            )
        if "unchanged_since" in expect:
            self._unchanged_since(step, earlier)

    def _requirements(self, step: _StepInfo) -> None:
        if "second-account" in self.data.get("requires", []):
            return
        for keys, value in _SECONDARY.items():
            node: Any = step.data
            for key in keys:
                node = node.get(key) if isinstance(node, Mapping) else None
            if node == value:
                self.add(
                    (*step.path, *keys),
                    f"'{value}' needs a second account: add 'second-account' to the case's 'requires'",
                )

    def _unchanged_since(self, step: _StepInfo, earlier: list[_StepInfo]) -> None:
        value = step.data["expect"]["unchanged_since"]
        path: JsonPath = (*step.path, "expect", "unchanged_since")
        if isinstance(value, Mapping):
            value, path = value["is"], (*path, "is")
        if "read" not in step.data:
            self.add(path, "'unchanged_since' belongs to a 'read' step")
            return
        target = next((s for s in earlier if s.id == value), None)
        if target is None:
            self.add(path, f"'{value}' is not the id of an earlier step ({self._ids(earlier)})")
        elif "read" not in target.data:
            self.add(path, f"'{value}' is not a 'read' step: 'unchanged_since' compares read-back values")

    @staticmethod
    def _ids(steps: list[_StepInfo]) -> str:
        ids = [s.id for s in steps if s.id]
        return "earlier step ids: " + ", ".join(ids) if ids else "no earlier step has an id"

    def _regexes(self, path: JsonPath, expect: Mapping[str, Any]) -> None:
        candidates: list[tuple[JsonPath, Any]] = []
        message = expect.get("message")
        if isinstance(message, Mapping) and "matches" in message:
            candidates.append((("expect", "message", "matches"), message["matches"]))
        for section in ("body", "values"):
            for name, matcher in expect.get(section, {}).items():
                if isinstance(matcher, Mapping) and "matches" in matcher:
                    candidates.append((("expect", section, name, "matches"), matcher["matches"]))
        for sub, pattern in candidates:
            if "${" in pattern:
                continue
            try:
                re.compile(pattern)
            except re.error as exc:
                self.add((*path, *sub), f"invalid regular expression: {exc}")

    # expressions

    def _templates(
        self,
        path: JsonPath,
        value: Any,
        names: list[str],
        *,
        steps: list[_StepInfo] | None,
        key: bool = False,
    ) -> None:
        for where, text in _strings(path, value):
            try:
                check_template(text)
            except ExpressionError as exc:
                self.add(
                    where, f"invalid expression {exc.written}: {exc.message}", key=key, offset=exc.offset
                )
                continue
            for offset, source in expressions_in(text):
                self._names(where, offset, source, names, steps, key=key)

    def _names(
        self,
        path: JsonPath,
        offset: int,
        source: str,
        names: list[str],
        steps: list[_StepInfo] | None,
        *,
        key: bool,
    ) -> None:
        allowed = set(names) | SCOPE_NAMES
        if steps is None:
            allowed.discard("steps")
        known = ", ".join(names) or "none"
        for name in sorted(names_in(source) - allowed):
            if name == "steps":
                why = "'steps' is not available in 'parametrize': parameters are set before any step runs"
            elif steps is None:
                why = f"'{name}' is not defined here (parameters it may use: {known})"
            else:
                why = f"'{name}' is not defined (parameters and earlier captures: {known})"
            self.add(path, f"${{{source}}}: {why}", key=key, offset=offset)
        if steps is None or "steps" not in names_in(source):
            return
        for ref in sorted(step_references(source)):
            if not any(s.id == ref for s in steps):
                self.add(
                    path,
                    f"${{{source}}}: 'steps.{ref}' is not an earlier step ({self._ids(steps)})",
                    key=key,
                    offset=offset,
                )


def _strings(path: JsonPath, value: Any) -> Iterator[tuple[JsonPath, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings((*path, key), item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings((*path, index), item)
