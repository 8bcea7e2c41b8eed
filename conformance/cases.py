"""The case loader: YAML files under ``cases/`` into :class:`model.Case` objects.

Each file is parsed with line marks, validated against ``specs/schemas/case.schema.json``, checked for what
the schema cannot say (known clause, unique ids, step references, expressions that compile and name
defined things), and only then built into the model. Every problem of every file is collected and raised
together as one :class:`CaseFileError`, each at ``file:line:col`` with an excerpt; nothing surfaces as a
traceback.

What the engine receives in :class:`model.Expectation`:

- ``status``: an int, a list of ints, a class such as ``"4xx"``, or a template;
- ``code``: an int, a list of ints, or a template; ``accepted`` / ``rejected``: ``True``;
- ``schema``: a path relative to ``specs/`` (optionally ``#fragment``); ``unchanged_since``: a step id;
- ``message``: a matcher ``{"equals": text}`` or ``{"matches": regex}``;
- ``body`` / ``values``: one expectation per field (``path`` set), the argument a matcher mapping with one
  of equals, not_equals, decimal, approx (+ ``rel``), one_of, matches, type, present; a bare value ``v``
  becomes ``{"equals": v}``.

``level`` is taken out of ``{is: ..., level: ...}`` and matchers; ``None`` inherits the case's level.
Parameters given as a list get an empty label: the planner derives it from the resolved value.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml
from jsonschema import Draft202012Validator

from conformance import resources
from conformance.documents import (
    Document,
    JsonPath,
    Problem,
    display_path,
    parse_yaml,
    schema_problems,
)
from conformance.expressions import (
    SCOPE_NAMES,
    ExpressionError,
    check_template,
    expressions_in,
    names_in,
    step_references,
)
from conformance.model import (
    Case,
    Clause,
    Expectation,
    Level,
    ParamSource,
    RequestSpec,
    SignSpec,
    SourceLocation,
    Step,
    TimestampSpec,
)

__all__ = [
    "CaseFileError",
    "Problem",
    "case_schema",
    "contract_clauses",
    "load_case",
    "load_cases",
    "parse_case",
]

CASE_SUFFIXES = (".yaml", ".yml")
_Loaded = tuple[tuple[Case, Document] | None, list[Problem]]


class CaseFileError(Exception):
    """One or more case files are wrong; ``problems`` lists each mistake at its ``file:line:col``."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__(self.render())

    def render(self) -> str:
        count = len(self.problems)
        body = "\n".join(problem.render() for problem in self.problems)
        if count <= 1:
            return body
        files = len({p.location.file for p in self.problems})
        where = f" in {files} files" if files > 1 else ""
        return f"{body}\n{count} problems{where}"


# --------------------------------------------------------------------------------------------------
# Data the loader needs


@functools.cache
def case_schema() -> Mapping[str, Any]:
    path = resources.specs_dir() / "schemas" / "case.schema.json"
    return cast(Mapping[str, Any], json.loads(path.read_text(encoding="utf-8")))


@functools.cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(case_schema())


@functools.cache
def contract_clauses(path: Path | None = None) -> Mapping[str, Clause]:
    """The clause catalogue of ``specs/contract.yaml``, by id.

    The one place the loader and the planner read the contract; swap its body for ``conformance.contract``
    when that module exists.
    """
    source = path or resources.specs_dir() / "contract.yaml"
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    return {
        entry["id"]: Clause(
            id=entry["id"],
            family=entry["family"],
            summary=entry["summary"],
            levels={dialect: Level(level) for dialect, level in entry["levels"].items()},
        )
        for entry in data["clauses"]
    }


# --------------------------------------------------------------------------------------------------
# Loading


def load_cases(path: str | Path, *, clauses: Mapping[str, Clause] | None = None) -> list[Case]:
    """Load one case file, or every ``*.yaml`` / ``*.yml`` below a directory (sorted by path).

    Raises CaseFileError with every problem of every file, including case ids used twice.
    """
    root = Path(path)
    if root.is_dir():
        files = sorted(
            (p for p in root.rglob("*") if p.suffix in CASE_SUFFIXES and p.is_file()),
            key=lambda p: p.relative_to(root).as_posix(),
        )
    else:
        files = [root]
    catalogue = clauses if clauses is not None else contract_clauses()
    cases: list[Case] = []
    problems: list[Problem] = []
    first_ids: dict[str, SourceLocation] = {}
    for file in files:
        loaded, file_problems = _load_file(file, catalogue)
        problems.extend(file_problems)
        if loaded is None:
            continue
        case, document = loaded
        if case.id in first_ids:
            message = f"duplicate case id '{case.id}' (also in {first_ids[case.id]})"
            problems.append(document.problem(("id",), message))
            continue
        first_ids[case.id] = document.location(("id",))
        cases.append(case)
    if problems:
        raise CaseFileError(problems)
    return cases


def load_case(path: str | Path, *, clauses: Mapping[str, Clause] | None = None) -> Case:
    """Load exactly one case file."""
    loaded, problems = _load_file(Path(path), clauses if clauses is not None else contract_clauses())
    if problems or loaded is None:
        raise CaseFileError(problems)
    return loaded[0]


def parse_case(text: str, *, file: str = "<case>", clauses: Mapping[str, Clause] | None = None) -> Case:
    """Build a case from YAML text (generated reproductions, tests); ``file`` is shown in messages."""
    loaded, problems = _parse(text, file, clauses if clauses is not None else contract_clauses())
    if problems or loaded is None:
        raise CaseFileError(problems)
    return loaded[0]


def _load_file(path: Path, clauses: Mapping[str, Clause]) -> _Loaded:
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [Problem(SourceLocation(shown, 0, 0), "no such file or directory")]
    except UnicodeDecodeError as exc:
        return None, [
            Problem(SourceLocation(shown, 0, 0), f"not UTF-8 text ({exc.reason} at byte {exc.start})")
        ]
    except OSError as exc:
        return None, [Problem(SourceLocation(shown, 0, 0), f"cannot be read: {exc.strerror}")]
    return _parse(text, shown, clauses)


def _parse(text: str, file: str, clauses: Mapping[str, Clause]) -> _Loaded:
    try:
        return _parse_checked(text, file, clauses)
    except Exception as exc:  # a bug of the loader must still read as a located message, not a traceback
        message = f"the loader failed on this file ({type(exc).__name__}: {exc}); please report it"
        return None, [Problem(SourceLocation(file, 0, 0), message)]


def _parse_checked(text: str, file: str, clauses: Mapping[str, Clause]) -> _Loaded:
    document, problems = parse_yaml(text, file)
    if document.data is None and problems:
        return None, problems
    problems += schema_problems(document, _validator(), root_name="the case")
    if problems:
        return None, sorted(problems, key=lambda p: (p.location.line, p.location.col))
    problems = _Checker(document, clauses).check()
    if problems:
        return None, problems
    return (_build_case(document), document), []


# --------------------------------------------------------------------------------------------------
# Checks the schema cannot express


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
    def __init__(self, document: Document, clauses: Mapping[str, Clause]) -> None:
        self.doc = document
        self.data: Mapping[str, Any] = document.data
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
        return sorted(self.problems, key=lambda p: (p.location.line, p.location.col))

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


# --------------------------------------------------------------------------------------------------
# Building the model (the document is valid)


def _build_case(doc: Document) -> Case:
    data: Mapping[str, Any] = doc.data
    level = data.get("level")
    return Case(
        id=data["id"],
        description=data["description"],
        clause=data["clause"],
        location=doc.location(()),
        level=Level(level) if level is not None else None,
        profiles=tuple(data.get("profiles", ())),
        tags=tuple(data.get("tags", ())),
        requires=tuple(data.get("requires", ())),
        parametrize={name: _param_source(source) for name, source in data.get("parametrize", {}).items()},
        steps=tuple(_build_step(doc, ("steps", i), s) for i, s in enumerate(data["steps"])),
        cleanup=tuple(_build_step(doc, ("cleanup", i), s) for i, s in enumerate(data.get("cleanup", ()))),
    )


def _param_source(source: Any) -> ParamSource:
    if isinstance(source, list):
        return ParamSource(kind="values", values=tuple(("", value) for value in source))
    if source.get("from") == "symbols":
        return ParamSource(kind="symbols", where=source.get("where"), limit=source.get("limit"))
    if source.get("from") == "encodings":
        return ParamSource(kind="encodings", only=tuple(source.get("only", ())))
    return ParamSource(kind="values", values=tuple((str(label), value) for label, value in source.items()))


def _build_step(doc: Document, path: JsonPath, data: Mapping[str, Any]) -> Step:
    common: dict[str, Any] = {
        "location": doc.location(path),
        "id": data.get("id"),
        "name": data.get("name"),
        "account": data.get("account", "primary"),
        "capture": dict(data.get("capture", {})),
        "expect": tuple(_expectations(doc, (*path, "expect"), data.get("expect", {}))),
        "when": data.get("when"),
    }
    if "request" in data:
        return Step(
            kind="request", request=_request(data["request"]), sign=_sign(data.get("sign", True)), **common
        )
    if "read" in data:
        return Step(kind="read", read=data["read"], symbol=data["symbol"], **common)
    return Step(kind="close_position", symbol=data["close_position"], **common)


def _request(data: Mapping[str, Any]) -> RequestSpec:
    return RequestSpec(
        method=data["method"],
        path=data["path"],
        params=dict(data.get("params", {})),
        encoding=data.get("encoding", "query"),
        query=dict(data.get("query", {})),
        body=dict(data.get("body", {})),
        raw_body=data.get("raw_body"),
        content_type=data.get("content_type"),
        headers=dict(data.get("headers", {})),
    )


def _sign(data: bool | Mapping[str, Any]) -> SignSpec:
    if data is True:
        return SignSpec()
    if data is False:
        return SignSpec(enabled=False)
    return SignSpec(
        secret=data.get("secret", "own"),
        signature=data.get("signature", "normal"),
        tamper=dict(data.get("tamper", {})),
        placement=data.get("placement", "auto"),
        timestamp=_timestamp(data.get("timestamp", "now")),
        recv_window=data.get("recv_window"),
        api_key=data.get("api_key", "own"),
    )


def _timestamp(data: str | Mapping[str, Any]) -> TimestampSpec:
    if data == "omit":
        return TimestampSpec(mode="omit")
    if isinstance(data, str):
        return TimestampSpec()
    if "edge" in data:
        return TimestampSpec(mode="edge", edge=data["edge"], side=data["side"])
    if "value" in data:
        return TimestampSpec(mode="literal", value=data["value"])
    return TimestampSpec(offset_ms=data["offset_ms"])


_LEVELLED = ("status", "accepted", "rejected", "code", "schema", "unchanged_since")


def _expectations(doc: Document, path: JsonPath, expect: Mapping[str, Any]) -> Iterator[Expectation]:
    for check, value in expect.items():
        where = doc.location((*path, check), key=True)
        if check in _LEVELLED:
            if isinstance(value, Mapping):
                yield Expectation(check, value["is"], _level(value), where)
            else:
                yield Expectation(check, value, None, where)
        elif check == "message":
            if isinstance(value, str):
                yield Expectation(check, {"equals": value}, None, where)
            elif "matches" in value:
                yield Expectation(check, {"matches": value["matches"]}, _level(value), where)
            else:
                yield Expectation(check, {"equals": value["is"]}, _level(value), where)
        else:  # body, values
            for name, matcher in value.items():
                at = doc.location((*path, check, name), key=True)
                if isinstance(matcher, Mapping):
                    argument = {k: v for k, v in matcher.items() if k != "level"}
                    yield Expectation(check, argument, _level(matcher), at, path=name)
                else:
                    yield Expectation(check, {"equals": matcher}, None, at, path=name)


def _level(value: Mapping[str, Any]) -> Level | None:
    level = value.get("level")
    return Level(level) if level is not None else None
