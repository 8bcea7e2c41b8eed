"""The pytest plugin, exercised with pytester in a subprocess as a user would run it."""

from __future__ import annotations

import pytest

from conformance.builtin import default_markets_file
from conformance.venue import DEMO_ACCOUNTS
from conformance.venue.faults import FAULTS
from tests.processes import Served

pytestmark = pytest.mark.slow

READBACK = """\
id: readback
description: shows an accepted leverage in the read-back
clause: PER-READBACK
tags: [persistence]
parametrize:
  symbol: {from: symbols}
steps:
  - request:
      method: POST
      path: /fapi/v1/leverage
      params: {symbol: "${symbol}", leverage: "${market.mid}"}
    expect:
      accepted: true
  - read: leverage
    symbol: "${symbol}"
    expect:
      values:
        leverage: "${market.mid%s}"
"""


def write_case(pytester: pytest.Pytester, name: str, text: str) -> None:
    folder = pytester.path / "cases"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.yaml").write_text(text)


def test_each_case_instance_is_an_item_and_passes(pytester: pytest.Pytester) -> None:
    write_case(pytester, "readback", READBACK % "")
    result = pytester.runpytest_subprocess("cases", "--profile", "ztdx", "-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        ["*readback?BTCUSDT?*PASSED*", "*conformance: restored primary BTCUSDT leverage*"]
    )


def test_a_failure_shows_the_clause_expected_actual_and_the_transcript(pytester: pytest.Pytester) -> None:
    write_case(pytester, "readback", READBACK % " + 1")
    result = pytester.runpytest_subprocess("cases", "--profile", "binance-usdm", "-k", "BTCUSDT")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*PER-READBACK (MUST) FAIL: shows an accepted leverage in the read-back",
            "*MUST value 'leverage' differs",
            "*expected: 64",
            "*actual:   63",
            "*> POST http://127.0.0.1:*/fapi/v1/leverage?symbol=BTCUSDT&leverage=63&timestamp=*",
        ]
    )
    assert DEMO_ACCOUNTS[0].api_secret not in result.stdout.str()


def test_keyword_selection_matches_tags_and_clauses(pytester: pytest.Pytester) -> None:
    write_case(pytester, "readback", READBACK % "")
    assert pytester.runpytest_subprocess("cases", "--profile", "ztdx", "-k", "PER-READBACK").ret == 0
    result = pytester.runpytest_subprocess("cases", "--profile", "ztdx", "-k", "not persistence")
    result.assert_outcomes(deselected=3)


def test_a_malformed_case_file_is_a_located_collection_error(pytester: pytest.Pytester) -> None:
    write_case(pytester, "broken", "id: Broken Id\ndescription: x\nclause: LEV-OK\nsteps: []\n")
    result = pytester.runpytest_subprocess("cases", "--profile", "ztdx")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*ERROR collecting cases/broken.yaml*", "*broken.yaml:1:5: 'id' must be*"])
    assert "Traceback" not in result.stdout.str()


def test_the_plugin_is_inert_without_its_options(pytester: pytest.Pytester) -> None:
    write_case(pytester, "readback", READBACK % "")
    result = pytester.runpytest_subprocess("cases")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_a_target_with_credentials_from_the_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_case(pytester, "readback", READBACK % "")
    monkeypatch.setenv("CONFORMANCE_API_KEY", DEMO_ACCOUNTS[0].api_key)
    monkeypatch.setenv("CONFORMANCE_API_SECRET", DEMO_ACCOUNTS[0].api_secret)
    fault = next(f for f in FAULTS.values() if f.clause == "PER-READBACK" and "ztdx" in f.profiles)
    markets = str(default_markets_file())  # ztdx publishes no minimum leverage: the file gives it
    with Served("--profile", "ztdx") as good, Served("--profile", "ztdx", "--fault", fault.name) as broken:
        passed = pytester.runpytest_subprocess(
            "cases", "--target", good.url, "--profile", "ztdx", "--markets", markets
        )
        failed = pytester.runpytest_subprocess(
            "cases", "--target", broken.url, "--profile", "ztdx", "--markets", markets
        )
    passed.assert_outcomes(passed=3)
    assert failed.ret == pytest.ExitCode.TESTS_FAILED
    failed.stdout.fnmatch_lines(["*PER-READBACK (MUST) FAIL*"])


def test_generated_cases_are_items_only_when_asked_for(pytester: pytest.Pytester) -> None:
    write_case(pytester, "readback", READBACK % "")
    without = pytester.runpytest_subprocess("cases", "--profile", "binance-usdm", "--collect-only", "-q")
    assert "generated" not in without.stdout.str()
    selected = ("-k", "generated and boundaries")
    result = pytester.runpytest_subprocess(
        "cases", "--profile", "binance-usdm", "--max-examples", "2", "--seed", "5", *selected, "-v"
    )
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] == 3
    assert outcomes["deselected"] > 3  # the file's three and the other generated instances
    # the generated items are counted as collected, so the counts add up
    result.stdout.re_match_lines(
        [rf".*collected {outcomes['deselected'] + 3} items / \d+ deselected / 3 selected"]
    )
    result.stdout.fnmatch_lines(
        [
            "*generated::generated-boundaries?BTCUSDT? PASSED*",
            "*conformance: generated cases: seed 5, at most 2 examples each (rerun with --seed 5)",
        ]
    )


def test_a_generated_item_fails_on_the_faults_clause(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONFORMANCE_API_KEY", DEMO_ACCOUNTS[0].api_key)
    monkeypatch.setenv("CONFORMANCE_API_SECRET", DEMO_ACCOUNTS[0].api_secret)
    options = ("--profile", "binance-usdm", "--max-examples", "2", "--seed", "5", "-k", "boundaries")
    with Served("--profile", "binance-usdm", "--fault", "band-top-exclusive") as venue:
        result = pytester.runpytest_subprocess("--target", venue.url, *options)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*LEV-BOUNDS (MUST) FAIL*", "reproduction (the shrunk failing example*"])
    assert DEMO_ACCOUNTS[0].api_secret not in result.stdout.str()


def test_a_negative_max_examples_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--profile", "ztdx", "--max-examples", "-1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--max-examples must be 0 or more"])
