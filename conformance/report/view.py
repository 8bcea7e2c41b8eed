"""What the HTML report shows, derived from a results document and nothing else.

The template lays out; this module decides: the clause matrix (every clause of the contract, grouped by
family, with the outcome of each case that checks it), which cases open, how bodies are shown, the curl
and replay commands of failing steps, where each market fact came from. Everything here is plain data
taken from the document; escaping is the template's (Jinja2 autoescape).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from conformance.report.curl import api_key_shown, curl_command, replay_command

# Worst first: a clause's status is the worst outcome among its cases.
OUTCOMES: tuple[str, ...] = ("fail", "error", "warn", "pass", "skip")
NOT_RUN = "not-run"
LEVELS: tuple[str, ...] = ("MUST", "SHOULD", "INFO")
OTHER_FAMILY = "other"
PRETTY_MIN_LENGTH = 80  # shorter JSON bodies are shown as sent

_OPEN = frozenset({"fail", "error", "warn"})

OUTCOME_TITLES: Mapping[str, str] = {
    "pass": "pass",
    "fail": "fail",
    "warn": "warn",
    "error": "error",
    "skip": "skip",
    NOT_RUN: "not run",
}

VERDICT_TITLES: Mapping[str, str] = {
    "conformant": "Conformant",
    "nonconformant": "Non-conformant",
    "incomplete": "Incomplete",
}

_FACTS: tuple[tuple[str, str], ...] = (
    ("min_leverage", "min leverage"),
    ("max_leverage", "max leverage"),
    ("brackets", "brackets"),
    ("max_position_size_usd", "max position (USD)"),
    ("price", "price"),
    ("min_qty", "min qty"),
    ("step_size", "step size"),
    ("min_notional", "min notional"),
)


# --------------------------------------------------------------------------------------------------
# Cases


@dataclass(frozen=True)
class StepView:
    step: Mapping[str, Any]
    request_body: str  # as sent, or re-indented JSON
    request_pretty: bool
    response_body: str
    response_pretty: bool
    failing: bool  # failed an expectation or could not be judged
    curl: str | None  # for failing steps that sent a request
    key_shown: str | None  # the masked API key the request carried


@dataclass(frozen=True)
class CaseView:
    case: Mapping[str, Any]
    anchor: str
    family: str
    clause_summary: str
    open: bool
    steps: tuple[StepView, ...]
    replay: str | None  # the replay command, for cases that did not pass
    search: str  # lower-case text the filter matches besides the visible text


def pretty_json(text: str) -> str | None:
    """A JSON object or array re-indented without touching a single token (``1e1`` stays ``1e1``,
    ``"20"`` stays a string); None for anything else, or when the text is short enough as it is."""
    if len(text) < PRETTY_MIN_LENGTH:
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict | list):
        return None
    out: list[str] = []
    depth = 0
    index = 0
    in_string = False
    while index < len(text):
        char = text[index]
        if in_string:
            out.append(char)
            if char == "\\":
                out.append(text[index + 1])
                index += 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
            out.append(char)
        elif char in "{[":
            rest = text[index + 1 :].lstrip()
            if rest[:1] == ("}" if char == "{" else "]"):  # an empty container stays on one line
                out.append(char + rest[0])
                index = len(text) - len(rest)
            else:
                depth += 1
                out.append(char + "\n" + "  " * depth)
        elif char in "}]":
            depth -= 1
            out.append("\n" + "  " * depth + char)
        elif char == ",":
            out.append(",\n" + "  " * depth)
        elif char == ":":
            out.append(": ")
        elif not char.isspace():
            out.append(char)
        index += 1
    return "".join(out)


def _body(text: str) -> tuple[str, bool]:
    pretty = pretty_json(text)
    return (pretty, True) if pretty is not None else (text, False)


def _step_view(step: Mapping[str, Any], *, case_failed: bool) -> StepView:
    request, response = step["request"], step["response"]
    failing = case_failed and (bool(step["failures"]) or step["error"] is not None)
    request_body, request_pretty = _body(request["body"]) if request else ("", False)
    response_body, response_pretty = _body(response["body"]) if response else ("", False)
    return StepView(
        step=step,
        request_body=request_body,
        request_pretty=request_pretty,
        response_body=response_body,
        response_pretty=response_pretty,
        failing=failing,
        curl=curl_command(request) if failing and request is not None else None,
        key_shown=api_key_shown(request) if request is not None else None,
    )


def case_views(document: Mapping[str, Any]) -> list[CaseView]:
    """Every case of the run in the document's order, with its anchor, family and derived views."""
    _, clauses = _catalogue(document)
    catalogue = {clause["id"]: clause for clause in clauses}
    run_dir = f"reports/{document['run_id']}"
    views = []
    for number, case in enumerate(document["cases"], start=1):
        problem = case["outcome"] in _OPEN
        views.append(
            CaseView(
                case=case,
                anchor=f"case-{number}",
                family=catalogue[case["clause"]]["family"],
                clause_summary=catalogue[case["clause"]]["summary"],
                open=problem,
                steps=tuple(_step_view(step, case_failed=problem) for step in case["steps"]),
                replay=replay_command(run_dir, case["id"]) if problem else None,
                search=" ".join(
                    [case["id"], case["clause"], case["outcome"], case["level"], *case["tags"]]
                ).lower(),
            )
        )
    return views


# --------------------------------------------------------------------------------------------------
# The clause matrix


@dataclass(frozen=True)
class ClauseRow:
    id: str
    family: str
    summary: str
    level: str | None  # None: the clause does not apply to the run's dialect
    cases: tuple[CaseView, ...]
    status: str  # the worst outcome of its cases, or "not-run"
    counts: Counter[str]


@dataclass(frozen=True)
class FamilyGroup:
    id: str
    title: str
    clauses: tuple[ClauseRow, ...]
    counts: Counter[str] = field(default_factory=Counter)  # clause statuses


def _status(cases: Sequence[CaseView]) -> str:
    present = {view.case["outcome"] for view in cases}
    return next((outcome for outcome in OUTCOMES if outcome in present), NOT_RUN)


def _catalogue(document: Mapping[str, Any]) -> tuple[list[tuple[str, str]], list[Mapping[str, Any]]]:
    """(families, clauses) of the document's contract, plus any clause a case cites that it lacks."""
    contract = document.get("contract") or {"families": [], "clauses": []}
    families = [(f["id"], f["title"]) for f in contract["families"]]
    clauses = list(contract["clauses"])
    known = {c["id"] for c in clauses}
    extra: dict[str, Mapping[str, Any]] = {}
    for case in document["cases"]:
        if case["clause"] not in known and case["clause"] not in extra:
            extra[case["clause"]] = {
                "id": case["clause"],
                "family": OTHER_FAMILY,
                "summary": "(not in the contract catalogue)",
                "level": case["level"],
            }
    if extra:
        families.append((OTHER_FAMILY, "Other clauses"))
        clauses.extend(extra[key] for key in sorted(extra))
    return families, clauses


def matrix(document: Mapping[str, Any], cases: Iterable[CaseView]) -> list[FamilyGroup]:
    families, clauses = _catalogue(document)
    by_clause: dict[str, list[CaseView]] = {}
    for view in cases:
        by_clause.setdefault(view.case["clause"], []).append(view)
    groups = []
    for family, title in families:
        rows = []
        for clause in clauses:
            if clause["family"] != family:
                continue
            checked = by_clause.get(clause["id"], [])
            rows.append(
                ClauseRow(
                    id=clause["id"],
                    family=family,
                    summary=clause["summary"],
                    level=clause["level"],
                    cases=tuple(checked),
                    status=_status(checked),
                    counts=Counter(view.case["outcome"] for view in checked),
                )
            )
        groups.append(FamilyGroup(family, title, tuple(rows), Counter(row.status for row in rows)))
    return groups


# --------------------------------------------------------------------------------------------------
# Market facts and their sources


@dataclass(frozen=True)
class FactCell:
    text: str
    source: int | None  # 1-based index into the sources list


@dataclass(frozen=True)
class FactsTable:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, tuple[FactCell, ...]], ...]  # (symbol, cells)
    sources: tuple[str, ...]


def _fact_text(facts: Mapping[str, Any], name: str) -> str:
    value = facts.get(name)
    if name == "brackets":
        brackets = value or []
        if not brackets:
            return "—"
        caps = ", ".join(f"{b['initial_leverage']}x ≤ {b['notional_cap']}" for b in brackets)
        return f"{len(brackets)}: {caps}"
    return "—" if value is None else str(value)


def facts_table(document: Mapping[str, Any]) -> FactsTable:
    sources: list[str] = []
    rows = []
    for facts in document["market_facts"]:
        cells = []
        for name, _title in _FACTS:
            where = facts["sources"].get(name)
            number = None
            if where is not None:
                if where not in sources:
                    sources.append(where)
                number = sources.index(where) + 1
            cells.append(FactCell(_fact_text(facts, name), number))
        rows.append((facts["symbol"], tuple(cells)))
    return FactsTable(tuple(title for _, title in _FACTS), tuple(rows), tuple(sources))


# --------------------------------------------------------------------------------------------------
# The page


@dataclass(frozen=True)
class Page:
    run: Mapping[str, Any]
    verdict_title: str
    verdict_reason: str
    cases: tuple[CaseView, ...]
    families: tuple[FamilyGroup, ...]
    facts: FactsTable
    levels: tuple[str, ...]
    outcomes: tuple[str, ...]
    clause_total: int  # clauses that apply to the run's dialect
    clause_checked: int  # of those, clauses some case checked (whatever its outcome)


def _verdict_reason(document: Mapping[str, Any]) -> str:
    summary = document["summary"]
    if document["verdict"] == "nonconformant":
        failing = sorted({c["clause"] for c in document["cases"] if c["outcome"] == "fail"})
        cases = "case" if summary["fail"] == 1 else "cases"
        return f"{summary['fail']} {cases} broke a MUST clause: {', '.join(failing)}."
    if document["verdict"] == "incomplete":
        reasons = []
        if summary["error"]:
            reasons.append(f"{summary['error']} could not be judged")
        if not document["complete"]:
            reasons.append("the run did not finish")
        return "No MUST clause failed, but " + " and ".join(reasons or ["the run is incomplete"]) + "."
    warned = f"; {summary['warn']} SHOULD warnings" if summary["warn"] else ""
    return f"Every MUST clause that was checked held{warned}."


def page(document: Mapping[str, Any]) -> Page:
    views = case_views(document)
    groups = matrix(document, views)
    applicable = [row for group in groups for row in group.clauses if row.level is not None]
    return Page(
        run=document,
        verdict_title=VERDICT_TITLES.get(document["verdict"], document["verdict"]),
        verdict_reason=_verdict_reason(document),
        cases=tuple(views),
        families=tuple(groups),
        facts=facts_table(document),
        levels=LEVELS,
        outcomes=OUTCOMES,
        clause_total=len(applicable),
        clause_checked=sum(1 for row in applicable if row.cases),
    )
