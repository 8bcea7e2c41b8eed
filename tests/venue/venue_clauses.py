"""Naming venue tests by the contract clause they check, so coverage per profile is visible.

``@clause("LEV-BOUNDS")`` marks a test with ``pytest.mark.clause("LEV-BOUNDS")`` and runs it once per
profile (``@clause("LEV-STRING", "ztdx")`` for one profile): the ids read ``test_x[ztdx]`` and
``pytest -m clause`` selects them. `test_clause_coverage.py` reads these decorators from the source, so
the check that every clause is covered does not depend on which tests were selected.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

import pytest

PROFILES = ("binance-usdm", "ztdx")

P = ParamSpec("P")
R = TypeVar("R")


def clause(clause_id: str, *profiles: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Mark a test as checking ``clause_id`` and run it against each of ``profiles`` (default: both)."""
    unknown = set(profiles) - set(PROFILES)
    assert not unknown, f"unknown profiles {unknown}"

    def decorate(test: Callable[P, R]) -> Callable[P, R]:
        marked = pytest.mark.clause(clause_id)(test)
        return pytest.mark.parametrize("profile", profiles or PROFILES)(marked)

    return decorate
