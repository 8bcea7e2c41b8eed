"""``conformance replay``: one case of a finished run sent again with a fresh timestamp and signature."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from conformance import cli, replay, targets
from conformance.resources import cases_dir

from .conftest import MadeRun

REPRODUCTION = """\
id: gen-leverage-zero
description: rejects leverage 0 (shrunk example)
clause: LEV-BOUNDS
steps:
  - name: set leverage 0
    request:
      method: POST
      path: /fapi/v1/leverage
      params: {symbol: BTCUSDT, leverage: 0}
    expect:
      rejected: true
"""


@pytest.fixture(autouse=True)
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in (targets.ENV_KEY, targets.ENV_SECRET, targets.ENV_KEY_2, targets.ENV_SECRET_2):
        monkeypatch.delenv(variable, raising=False)


def _replay(*args: str) -> Result:
    return CliRunner().invoke(cli.main, ["replay", *args])


def _failing(made: MadeRun) -> dict[str, Any]:
    return next(c for c in made.document["cases"] if c["outcome"] == "fail")


def test_a_failing_case_replays_on_a_fresh_builtin_venue(nonconformant_run: MadeRun) -> None:
    case = _failing(nonconformant_run)
    result = _replay(str(nonconformant_run.run_dir), str(case["id"]))
    # The run was on the built-in venue with a fault; a fresh one has none: the case passes now.
    assert result.exit_code == cli.EXIT_CONFORMANT, result.output
    assert f"replaying {case['id']} from run {nonconformant_run.document['run_id']}" in result.output
    assert "on a fresh built-in venue" in result.output
    assert f"PASS  {case['id']}  {case['clause']} ({case['level']})  [was fail]" in result.output
    assert result.output.rstrip().endswith("CONFORMANT (exit 0)")


def test_replay_re_signs_with_a_fresh_timestamp(nonconformant_run: MadeRun) -> None:
    case = _failing(nonconformant_run)
    result = _replay(str(nonconformant_run.run_dir), str(case["id"]), "--fault", "band-accepts-zero")
    assert result.exit_code == cli.EXIT_NONCONFORMANT, result.output
    assert f"FAIL  {case['id']}" in result.output
    recorded = case["steps"][0]["request"]["signed_payload"]
    signed = re.search(r"signed: (\S+)", result.output)
    assert signed is not None
    old = int(re.findall(r"timestamp=(\d+)", recorded)[0])
    new = int(re.findall(r"timestamp=(\d+)", signed.group(1))[0])
    assert new > old
    assert signed.group(1).replace(str(new), "") == recorded.replace(str(old), "")
    assert "NONCONFORMANT (exit 1)" in result.output


def test_the_case_is_found_in_the_shipped_suite_from_anywhere(
    nonconformant_run: MadeRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the recorded source path is relative to where the run was
    case = _failing(nonconformant_run)
    result = _replay(str(nonconformant_run.run_dir), str(case["id"]))
    assert result.exit_code == cli.EXIT_CONFORMANT, result.output


def test_cases_gives_the_case_file(nonconformant_run: MadeRun, tmp_path: Path) -> None:
    case = _failing(nonconformant_run)
    copy = tmp_path / "mine.yaml"
    source = str(case["source"]).rsplit(":", 2)[0]
    shutil.copy(cases_dir().parent / source, copy)
    result = _replay(str(nonconformant_run.run_dir), str(case["id"]), "--cases", str(copy))
    assert result.exit_code == cli.EXIT_CONFORMANT, result.output
    assert f"case from {copy}" in result.output


def test_a_generated_case_replays_its_reproduction(nonconformant_run: MadeRun, tmp_path: Path) -> None:
    document = json.loads(json.dumps(nonconformant_run.document))
    case = next(c for c in document["cases"] if c["outcome"] == "fail")
    case.update(origin="generated", reproduction=REPRODUCTION, id="gen-leverage-zero[7]")
    (tmp_path / "results.json").write_text(json.dumps(document))
    result = _replay(str(tmp_path), "gen-leverage-zero[7]", "--fault", "band-accepts-zero")
    assert result.exit_code == cli.EXIT_NONCONFORMANT, result.output
    assert "case from <reproduction of gen-leverage-zero[7]>" in result.output
    assert "FAIL  gen-leverage-zero  LEV-BOUNDS (MUST)  [was fail]" in result.output


def _several(made: MadeRun) -> tuple[str, int]:
    """A case id the run planned as several instances, and how many."""
    counts = Counter(c["case_id"] for c in made.document["cases"])
    case_id, count = counts.most_common(1)[0]
    assert count > 1
    return case_id, count


def test_mistakes_are_one_line_and_exit_2(nonconformant_run: MadeRun) -> None:
    failing = str(_failing(nonconformant_run)["id"])
    several, count = _several(nonconformant_run)
    mistakes = [
        ([failing.replace("-", "_", 1)], f"did you mean {failing}"),
        ([several], f"{several} ran as {count} instances; name one:"),
        ([failing, "--fault", "nope"], "unknown fault 'nope'"),
        ([failing, "--target", "http://127.0.0.1:9"], "CONFORMANCE_API_KEY"),
        ([failing, "--cases", "/nonexistent"], "not found"),
    ]
    for args, message in mistakes:
        result = _replay(str(nonconformant_run.run_dir), *args)
        assert result.exit_code == cli.EXIT_BAD_INPUT, (args, result.output)
        assert message in result.output
        assert "Traceback" not in result.output


def test_a_directory_without_results_is_bad_input(tmp_path: Path) -> None:
    result = _replay(str(tmp_path), "x")
    assert result.exit_code == cli.EXIT_BAD_INPUT
    assert "not a run directory" in result.output


def test_the_markets_file_of_the_run_is_found_in_its_fact_sources(nonconformant_run: MadeRun) -> None:
    found = replay.markets_file(nonconformant_run.document)
    assert found is not None
    assert found.name == "markets.yaml"


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8080", True),
        ("http://localhost", True),
        ("http://[::1]:1", True),
        ("https://staging.example", False),
        ("http://10.0.0.1", False),
    ],
)
def test_loopback_targets(url: str, loopback: bool) -> None:
    assert replay.is_loopback(url) is loopback
