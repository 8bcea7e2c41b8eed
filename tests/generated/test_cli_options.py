"""``conformance run --max-examples N --seed N``: generated cases in the CLI's run, by default."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from click.testing import CliRunner

from conformance import generated
from conformance.cli import main, run


def _run(tmp_path: Path, *options: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["run", "--report-dir", str(tmp_path), *options])
    assert result.exit_code == 0, result.output
    [document] = list(tmp_path.glob("2*/results.json"))
    loaded: dict[str, Any] = json.loads(document.read_text(encoding="utf-8"))
    return loaded


def test_the_default_budget_is_the_librarys() -> None:
    option = next(p for p in run.params if isinstance(p, click.Option) and p.name == "max_examples")
    assert option.default == generated.DEFAULT_MAX_EXAMPLES


def test_generated_cases_run_with_the_seed_given(tmp_path: Path) -> None:
    document = _run(tmp_path, "--max-examples", "2", "--seed", "5", "-k", "generated-boundaries")
    cases = document["cases"]
    assert isinstance(cases, list)
    assert [c["id"] for c in cases] == [
        f"generated-boundaries[{s}]" for s in ("BTCUSDT", "ETHUSDT", "SOLUSDT")
    ]
    assert {c["origin"] for c in cases} == {"generated"}
    assert any("seed 5" in note for note in document["notes"])


def test_max_examples_zero_runs_none(tmp_path: Path) -> None:
    document = _run(tmp_path, "--max-examples", "0")
    cases = document["cases"]
    assert isinstance(cases, list)
    assert cases
    assert {c["origin"] for c in cases} == {"hand-written"}
