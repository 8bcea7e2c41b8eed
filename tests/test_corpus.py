"""The hand-written suite under cases/, linted like code.

Every file loads and validates; ids are unique; every clause of specs/contract.yaml has at least one case
that runs (not skipped) for each dialect it applies to, when planned against both built-in profiles with
the reference venue's markets, a second account and trading; descriptions are in the present tense; each
case lives in its clause's family directory; no two cases are the same case under another name; every
expected rejection also asserts the error envelope; cases that are not about market facts use one symbol.
"""

from __future__ import annotations

import functools
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance import markets, profiles
from conformance.builtin import default_markets_file
from conformance.cases import contract_clauses, load_case, load_cases
from conformance.markets_file import load_markets_file
from conformance.model import Case, CaseInstance, Step
from conformance.planning import RunSetup, plan
from conformance.resources import cases_dir

CASES = cases_dir()
FILES = sorted(CASES.rglob("*.yaml"))
DIALECTS = ("binance-usdm", "ztdx")
# Families whose clauses are not about market facts: one symbol is enough (the suite stays fast).
ONE_SYMBOL_FAMILIES = ("security", "timing", "response")


@functools.cache
def suite() -> list[Case]:
    return load_cases(CASES)


@functools.cache
def planned(dialect: str) -> list[CaseInstance]:
    """The suite's instances for a built-in profile, against the reference venue's default markets."""
    profile = profiles.load_profile(dialect)
    markets_file = load_markets_file(default_markets_file())
    symbols = tuple(markets_file.symbols)
    report = markets.merge_market_facts(profile, symbols, markets_file, markets.Discovery())
    facts = {fact.symbol: fact for fact in report.facts}
    setup = RunSetup(profile, facts, symbols, second_account=True, allow_trading=True)
    result = plan(suite(), setup)
    assert result.errors == ()
    return list(result.instances)


def test_there_are_case_files() -> None:
    assert len(FILES) >= 30
    assert not list(CASES.rglob("*.yml")), "use .yaml"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(CASES).as_posix())
def test_each_case_file_loads_and_validates(path: Path) -> None:
    load_case(path)


def test_ids_are_unique_across_the_suite() -> None:
    ids = [case.id for case in suite()]
    assert len(ids) == len(set(ids))
    assert len(ids) == len(FILES)


def test_each_case_lives_in_its_clauses_family() -> None:
    clauses = contract_clauses()
    misplaced = [
        (str(case.location), clauses[case.clause].family)
        for case in suite()
        if Path(case.location.file).parent.name != clauses[case.clause].family
    ]
    assert misplaced == []


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_clause_has_a_case_that_runs_for_each_dialect_it_applies_to(dialect: str) -> None:
    running = {i.case.clause for i in planned(dialect) if i.skip_reason is None}
    applies = {c.id for c in contract_clauses().values() if c.level_for(dialect) is not None}
    assert sorted(applies - running) == []
    assert running <= applies


@pytest.mark.parametrize("dialect", DIALECTS)
def test_instances_have_unique_ids_and_none_is_skipped(dialect: str) -> None:
    instances = planned(dialect)
    assert len({i.id for i in instances}) == len(instances)
    assert [(i.id, i.skip_reason) for i in instances if i.skip_reason is not None] == []


_PRESENT_TENSE = re.compile(r"[a-z]+(?<!ed)(?<!ing)s\b")  # "rejects", "accepts", "leaves"...


def test_descriptions_are_one_line_in_the_present_tense() -> None:
    wrong = [
        (case.id, case.description)
        for case in suite()
        if not _PRESENT_TENSE.match(case.description)
        or "\n" in case.description
        or case.description.split()[0] in ("is", "was", "has", "does")
        or case.description.endswith(".")
    ]
    assert wrong == []


def _content(path: Path) -> str:
    """A case file's content without what names it: two cases with equal content are one case twice."""
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    for key in ("id", "description", "tags"):
        data.pop(key, None)
    for step in (*data.get("steps", []), *data.get("cleanup", [])):
        step.pop("name", None)
    return json.dumps(data, sort_keys=True, default=str)


def test_no_two_cases_are_the_same() -> None:
    by_content: dict[str, list[str]] = defaultdict(list)
    for path in FILES:
        by_content[_content(path)].append(path.relative_to(CASES).as_posix())
    assert [paths for paths in by_content.values() if len(paths) > 1] == []


def _steps(case: Case) -> Iterator[Step]:
    yield from case.steps
    yield from case.cleanup


def test_every_expected_rejection_asserts_the_envelope() -> None:
    """A step that expects an error code or a 4xx status also expects `rejected` (4xx + envelope)."""
    missing = []
    for case in suite():
        for step in _steps(case):
            checks = {e.check: e.argument for e in step.expect}
            status = checks.get("status")
            expects_4xx = status == "4xx" or (isinstance(status, int) and 400 <= status < 500)
            if ("code" in checks or expects_4xx) and "rejected" not in checks:
                missing.append(str(step.location))
    assert missing == []


def test_cases_not_about_market_facts_use_one_symbol() -> None:
    many = []
    for case in suite():
        if Path(case.location.file).parent.name not in ONE_SYMBOL_FAMILIES:
            continue
        for name, source in case.parametrize.items():
            if source.kind == "symbols" and source.limit != 1:
                many.append(f"{case.location}: {name}")
    assert many == []


def test_trading_cases_close_what_they_open() -> None:
    for case in suite():
        if "trading" in case.requires:
            assert [step.kind for step in case.cleanup] == ["close_position"], case.id
