"""The suite catches broken venues: a mutation test over the reference venue's named faults.

The whole hand-written suite runs in-process (``httpx.ASGITransport``) against the correct reference venue,
which must pass it with no fail, warn or error in both profiles, and against each fault for each profile it
applies to. A fault that breaks a MUST makes the run non-conformant with a failing case citing the fault's
clause; a fault that breaks only a SHOULD (its own level, or its clause's level in the profile) warns on
that clause and leaves the run conformant. One more test does the same through the CLI, over loopback,
against ``conformance serve`` with and without a fault.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest

from conformance import engine
from conformance.builtin import default_markets_file
from conformance.cases import contract_clauses
from conformance.credentials import Credentials
from conformance.model import Case, Level, Outcome, RunResult, Verdict
from conformance.venue import DEMO_ACCOUNTS, create_app
from conformance.venue.faults import FAULTS, Fault
from tests.processes import Served, run_cli

pytestmark = pytest.mark.slow

ACCOUNTS = {
    "primary": Credentials(DEMO_ACCOUNTS[0].api_key, DEMO_ACCOUNTS[0].api_secret),
    "secondary": Credentials(DEMO_ACCOUNTS[1].api_key, DEMO_ACCOUNTS[1].api_secret),
}
PROFILES = ("binance-usdm", "ztdx")
CONFORMANCE = Path(sys.executable).with_name("conformance")
# A clause no plausible defect can break: what it observes is never judged.
WITHOUT_FAULTS = {"LEV-LENIENT"}


@functools.cache
def suite() -> tuple[Case, ...]:
    return tuple(engine.load_suite(engine.RunConfig(target="", accounts=ACCOUNTS)))


def run_suite(profile: str, fault: str | None = None) -> RunResult:
    """The whole suite against the reference venue (or one of its faults), in-process."""
    app = create_app(profile, fault=fault)
    config = engine.RunConfig(
        target="http://venue.test",
        accounts=ACCOUNTS,
        profile=profile,
        markets_file=default_markets_file(),
        allow_trading=True,
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),  # a fault's 500 is an answer
    )
    try:
        return asyncio.run(engine.run(config, suite=suite()))
    finally:
        app.state.venue.store.close()


def expected_level(fault: Fault, profile: str) -> Level:
    """What a run against the fault must show: MUST (a fail) or SHOULD (a warn) on its clause."""
    clause_level = contract_clauses()[fault.clause].level_for(profile)
    return Level.SHOULD if Level.SHOULD in (fault.level, clause_level) else Level.MUST


def summary(result: RunResult) -> str:
    counts = Counter((case.clause, case.outcome.value) for case in result.cases if case.outcome != "pass")
    lines = [f"{clause} {outcome} x{n}" for (clause, outcome), n in sorted(counts.items())]
    return f"{result.verdict.value}: " + ("; ".join(lines) or "everything passed")


@pytest.mark.parametrize("profile", PROFILES)
def test_the_correct_venue_passes_the_whole_suite(profile: str) -> None:
    result = run_suite(profile)
    assert result.verdict is Verdict.CONFORMANT, summary(result)
    assert {case.outcome for case in result.cases} == {Outcome.PASS}, summary(result)
    assert len(result.cases) > 150


MUTANTS = [
    pytest.param(name, profile, id=f"{name}-{profile}")
    for name, fault in FAULTS.items()
    for profile in sorted(fault.profiles)
]


@pytest.mark.parametrize(("name", "profile"), MUTANTS)
def test_the_suite_catches_the_fault(name: str, profile: str) -> None:
    fault = FAULTS[name]
    result = run_suite(profile, name)
    outcomes = {case.outcome for case in result.cases if case.clause == fault.clause}
    assert Outcome.ERROR not in {case.outcome for case in result.cases}, summary(result)
    if expected_level(fault, profile) is Level.MUST:
        assert result.verdict is Verdict.NONCONFORMANT, summary(result)
        assert Outcome.FAIL in outcomes, f"no failing case cites {fault.clause}: {summary(result)}"
    else:
        assert Outcome.WARN in outcomes, f"no case warns on {fault.clause}: {summary(result)}"
        assert result.verdict is Verdict.CONFORMANT, f"it breaks only a SHOULD: {summary(result)}"


def test_faults_span_every_family_and_every_clause_a_defect_can_break() -> None:
    assert len(FAULTS) >= 30
    clauses = contract_clauses()
    assert {clauses[f.clause].family for f in FAULTS.values()} == {c.family for c in clauses.values()}
    breakable = {
        (clause.id, dialect)
        for clause in clauses.values()
        for dialect, level in clause.levels.items()
        if level is not Level.INFO and clause.id not in WITHOUT_FAULTS
    }
    covered = {(f.clause, profile) for f in FAULTS.values() for profile in f.profiles}
    assert sorted(breakable - covered) == []
    assert all(clauses[c].level_for(d) is Level.INFO for c in WITHOUT_FAULTS for d in clauses[c].levels)


# -- through the CLI, over loopback -----------------------------------------------------------------


CREDENTIALS = {
    "CONFORMANCE_API_KEY": DEMO_ACCOUNTS[0].api_key,
    "CONFORMANCE_API_SECRET": DEMO_ACCOUNTS[0].api_secret,
    "CONFORMANCE_API_KEY_2": DEMO_ACCOUNTS[1].api_key,
    "CONFORMANCE_API_SECRET_2": DEMO_ACCOUNTS[1].api_secret,
}


@pytest.mark.parametrize(("fault", "exit_code"), [(None, 0), ("sig-prefix-match", 1)])
def test_the_cli_over_loopback_exits_1_for_a_faulty_venue_and_0_for_the_correct_one(
    fault: str | None, exit_code: int, tmp_path: Path
) -> None:
    with Served("--profile", "ztdx", *(["--fault", fault] if fault else [])) as venue:
        completed = run_cli(
            *("run", "--target", venue.url, "--profile", "ztdx", "--report-dir", str(tmp_path)),
            *("--markets", str(default_markets_file())),  # ztdx's minimum leverage and position cap
            env=CREDENTIALS,
        )
    assert completed.returncode == exit_code, completed.stdout + completed.stderr
    if fault is not None:
        assert "AUTH-SIG-INVALID" in completed.stdout
