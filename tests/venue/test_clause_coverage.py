"""Every clause of ``specs/contract.yaml`` has a venue test for every profile it applies to.

The ``@clause(...)`` decorators are read from the test sources, so the answer does not depend on which
tests this run selected.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import yaml

from conformance.resources import specs_dir
from tests.venue.venue_clauses import PROFILES

HERE = Path(__file__).parent


def _covered() -> dict[str, set[str]]:
    """clause id -> the profiles some test in this directory checks it for."""
    covered: dict[str, set[str]] = defaultdict(set)
    for path in sorted(HERE.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "clause":
                arguments = [
                    arg.value
                    for arg in node.args
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                ]
                assert len(arguments) == len(node.args), f"{path.name}:{node.lineno}: use literal strings"
                clause_id, *profiles = arguments
                covered[clause_id].update(profiles or PROFILES)
    return covered


def _contract() -> dict[str, set[str]]:
    """clause id -> the profiles it applies to."""
    document = yaml.safe_load((specs_dir() / "contract.yaml").read_text(encoding="utf-8"))
    return {entry["id"]: set(entry["levels"]) for entry in document["clauses"]}


def test_every_clause_has_a_venue_test_for_every_profile_it_applies_to() -> None:
    covered = _covered()
    missing = sorted(
        f"{clause_id} [{profile}]"
        for clause_id, profiles in _contract().items()
        for profile in profiles
        if profile not in covered.get(clause_id, set())
    )
    assert not missing, "clauses without a venue test: " + ", ".join(missing)


def test_venue_tests_cite_only_clauses_of_the_contract() -> None:
    contract = _contract()
    unknown = sorted(set(_covered()) - set(contract))
    assert not unknown, f"tests cite clauses the contract does not have: {unknown}"
    misapplied = sorted(
        f"{clause_id} [{profile}]"
        for clause_id, profiles in _covered().items()
        for profile in profiles - contract.get(clause_id, set())
    )
    assert not misapplied, f"tests check clauses for profiles they do not apply to: {misapplied}"
