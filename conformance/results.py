"""``results.json``: the run as a document, the one source every report is made from.

:func:`to_document` turns a frozen :class:`~conformance.model.RunResult` into plain JSON data that
validates against ``specs/schemas/results.schema.json``; :class:`Redactor` makes sure no secret and no
full API key survives into it (defence in depth: the recorder already masks keys and never sees
secrets).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema

from conformance.contract import Contract, effective_level, load_contract
from conformance.credentials import mask_key
from conformance.model import (
    CaseResult,
    Clause,
    Failure,
    MarketFacts,
    Outcome,
    Profile,
    RecordedRequest,
    RecordedResponse,
    RunResult,
    StepResult,
)
from conformance.resources import specs_dir

FORMAT = "venue-conformance/results/1"


class Redactor:
    """Replaces every known secret, and every full API key, wherever it appears in a document."""

    def __init__(self, secrets: Iterable[str] = (), api_keys: Iterable[str] = ()) -> None:
        self._replacements: list[tuple[str, str]] = [
            (secret, "[redacted]") for secret in secrets if len(secret) >= 4
        ] + [(key, mask_key(key)) for key in api_keys if len(key) > 4]
        # Longest first, so a secret containing a key is replaced whole.
        self._replacements.sort(key=lambda pair: len(pair[0]), reverse=True)

    def text(self, value: str) -> str:
        for needle, replacement in self._replacements:
            if needle in value:
                value = value.replace(needle, replacement)
        return value

    def document(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.document(item) for item in value]
        if isinstance(value, dict):
            return {self.text(str(k)): self.document(v) for k, v in value.items()}
        return value


# --------------------------------------------------------------------------------------------------
# To JSON data


def _plain(value: Any) -> Any:
    """Parameters and values as JSON: decimals as strings, tuples as lists, unknown objects as text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)


def _decimal(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _failure(failure: Failure) -> dict[str, Any]:
    return {
        "title": failure.title,
        "expected": failure.expected,
        "actual": failure.actual,
        "level": str(failure.level),
        "clause": failure.clause,
        "step": failure.step,
    }


def _request(request: RecordedRequest | None) -> dict[str, Any] | None:
    if request is None:
        return None
    return {
        "method": request.method,
        "url": request.url,
        "headers": [list(pair) for pair in request.headers],
        "body": request.body,
        "signed_payload": request.signed_payload,
    }


def _response(response: RecordedResponse | None) -> dict[str, Any] | None:
    if response is None:
        return None
    return {
        "status": response.status,
        "headers": [list(pair) for pair in response.headers],
        "body": response.body,
        "elapsed_ms": round(response.elapsed_ms, 3),
    }


def _step(step: StepResult) -> dict[str, Any]:
    return {
        "index": step.index,
        "name": step.name,
        "request": _request(step.request),
        "response": _response(step.response),
        "error": step.error,
        "failures": [_failure(f) for f in step.failures],
        "values": _plain(dict(step.values)),
        "skipped": step.skipped,
        "cleanup": step.cleanup,
    }


def case_document(case: CaseResult) -> dict[str, Any]:
    return {
        "id": case.id,
        "case_id": case.case_id,
        "description": case.description,
        "clause": case.clause,
        "level": str(case.level),
        "outcome": str(case.outcome),
        "message": case.message,
        "source": case.source,
        "tags": list(case.tags),
        "params": _plain(dict(case.params)),
        "origin": case.origin,
        "duration_ms": round(case.duration_ms, 3),
        "failures": [_failure(f) for f in case.failures],
        "steps": [_step(s) for s in case.steps],
        "reproduction": case.reproduction,
    }


def _facts(facts: MarketFacts) -> dict[str, Any]:
    return {
        "symbol": facts.symbol,
        "min_leverage": facts.min_leverage,
        "max_leverage": facts.max_leverage,
        "max_position_size_usd": _decimal(facts.max_position_size_usd),
        "brackets": [
            {
                "bracket": b.bracket,
                "initial_leverage": b.initial_leverage,
                "notional_cap": str(b.notional_cap),
                "notional_floor": str(b.notional_floor),
            }
            for b in facts.brackets
        ],
        "price": _decimal(facts.price),
        "min_qty": _decimal(facts.min_qty),
        "step_size": _decimal(facts.step_size),
        "min_notional": _decimal(facts.min_notional),
        "sources": dict(facts.sources),
    }


def summary(cases: Iterable[CaseResult]) -> dict[str, int]:
    counts = Counter(case.outcome for case in cases)
    result = {str(outcome): counts.get(outcome, 0) for outcome in Outcome}
    return {"total": sum(counts.values()), **result}


def _contract(contract: Contract, dialect: str, profile: Profile | None) -> dict[str, Any]:
    """The clause catalogue as the run saw it: every clause with its level for the run's profile (None
    when the clause does not apply to its dialect), so a report can show clauses no case checked."""

    def level(clause: Clause) -> str | None:
        weight = effective_level(clause, profile) if profile is not None else clause.level_for(dialect)
        return None if weight is None else str(weight)

    return {
        "source": contract.source,
        "families": [{"id": family, "title": title} for family, title in contract.families.items()],
        "clauses": [
            {"id": c.id, "family": c.family, "summary": c.summary, "level": level(c)}
            for c in contract.clauses
        ],
    }


def to_document(
    run: RunResult,
    redactor: Redactor | None = None,
    *,
    contract: Contract | None = None,
    profile: Profile | None = None,
) -> dict[str, Any]:
    """The run as JSON data. ``contract`` defaults to the built-in catalogue; ``profile``, when given,
    supplies its clause-level overrides (otherwise the contract's level for the run's dialect is used)."""
    catalogue = contract if contract is not None else load_contract()
    document = {
        "format": FORMAT,
        "run_id": run.run_id,
        "verdict": str(run.verdict),
        "complete": run.complete,
        "builtin": run.builtin,
        "profile": run.profile,
        "dialect": run.dialect,
        "target": run.target,
        "clock_offset_ms": round(run.clock_offset_ms, 3),
        "round_trip_ms": round(run.round_trip_ms, 3),
        "started_at": run.started_at,
        "duration_ms": round(run.duration_ms, 3),
        "harness_version": run.harness_version,
        "specs_hash": run.specs_hash,
        "cases_hash": run.cases_hash,
        "summary": summary(run.cases),
        "contract": _contract(catalogue, run.dialect, profile),
        "market_facts": [_facts(f) for f in run.market_facts],
        "disagreements": [
            {
                "symbol": d.symbol,
                "fact": d.fact,
                "file_value": d.file_value,
                "venue_value": d.venue_value,
                "source": d.source,
            }
            for d in run.disagreements
        ],
        "notes": list(run.notes),
        "cases": [case_document(c) for c in run.cases],
    }
    return redactor.document(document) if redactor is not None else document


# --------------------------------------------------------------------------------------------------
# Schema, files


def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads((specs_dir() / "schemas" / "results.schema.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def validate(document: Mapping[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` unless the document follows ``results.schema.json``."""
    _validator().validate(document)


def dumps(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def load(path: Path) -> dict[str, Any]:
    """Read a ``results.json`` (a file, or a run directory holding one)."""
    if path.is_dir():
        path = path / "results.json"
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document
