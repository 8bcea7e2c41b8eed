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

import functools
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, cast

from jsonschema import Draft202012Validator

from conformance import resources
from conformance.case_rules import case_problems
from conformance.contract import load_contract
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
from conformance.yamlsource import (
    JsonPath,
    Problem,
    SourceError,
    YamlSource,
    display_path,
    in_file_order,
    load_yaml,
    parse_yaml,
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
_Loaded = tuple[tuple[Case, YamlSource] | None, list[Problem]]


class CaseFileError(SourceError):
    """One or more case files are wrong; ``problems`` lists each mistake at its ``file:line:col``."""


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
    """The clause catalogue of ``specs/contract.yaml`` (or of ``path``), by id."""
    return {clause.id: clause for clause in load_contract(path)}


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
        case, source = loaded
        if case.id in first_ids:
            message = f"duplicate case id '{case.id}' (also in {first_ids[case.id]})"
            problems.append(source.problem(("id",), message))
            continue
        first_ids[case.id] = source.location(("id",))
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
    return _guarded(shown, lambda: _check(load_yaml(path, name=shown), clauses))


def _parse(text: str, file: str, clauses: Mapping[str, Clause]) -> _Loaded:
    return _guarded(file, lambda: _check(parse_yaml(text, file), clauses))


def _guarded(file: str, load: Callable[[], _Loaded]) -> _Loaded:
    try:
        return load()
    except Exception as exc:  # a bug of the loader must still read as a located message, not a traceback
        message = f"the loader failed on this file ({type(exc).__name__}: {exc}); please report it"
        return None, [Problem(SourceLocation(file, 0, 0), message)]


def _check(source: YamlSource, clauses: Mapping[str, Clause]) -> _Loaded:
    if source.data is None and source.problems:
        return None, list(source.problems)
    problems = in_file_order([*source.problems, *source.schema_problems(_validator(), root_name="the case")])
    if problems:
        return None, problems
    problems = case_problems(source, clauses)
    if problems:
        return None, problems
    return (_build_case(source), source), []


# --------------------------------------------------------------------------------------------------
# Building the model (the source is valid)


def _build_case(doc: YamlSource) -> Case:
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


def _build_step(doc: YamlSource, path: JsonPath, data: Mapping[str, Any]) -> Step:
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
        payload=data.get("payload", "raw"),
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


def _expectations(doc: YamlSource, path: JsonPath, expect: Mapping[str, Any]) -> Iterator[Expectation]:
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
