"""``conformance run`` as a user runs it: exit codes, messages (pinned by golden files), reports, secrets,
and the account restored after Ctrl-C or SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.clock import VenueClock
from conformance.credentials import Credentials
from conformance.signing import VenueSigner
from conformance.venue import DEMO_ACCOUNTS
from conformance.venue.faults import FAULTS
from tests.processes import CONFORMANCE, Served, run_cli

FIXTURES = Path(__file__).parent / "fixtures"
CASES = FIXTURES / "engine-cases"
GOLDEN = Path(__file__).parent / "golden" / "cli"
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
SECRETS = [a.api_secret for a in DEMO_ACCOUNTS]
KEYS = [a.api_key for a in DEMO_ACCOUNTS]
CREDENTIALS = {
    "CONFORMANCE_API_KEY": KEYS[0],
    "CONFORMANCE_API_SECRET": SECRETS[0],
    "CONFORMANCE_API_KEY_2": KEYS[1],
    "CONFORMANCE_API_SECRET_2": SECRETS[1],
}
POSITION = {"binance-usdm": "/fapi/v2/positionRisk", "ztdx": "/fapi/v1/positionRisk"}

pytestmark = pytest.mark.slow


def golden(name: str, actual: str) -> None:
    """Compare user-facing text with its golden file (``UPDATE_GOLDEN=1`` rewrites it)."""
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert actual == path.read_text(encoding="utf-8")


def latest(report_dir: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((report_dir / "latest" / "results.json").read_text())
    return document


def stored_leverage(url: str, profile: str) -> dict[tuple[int, str], int]:
    """Every (account, symbol) leverage the served venue holds, read as a client would."""
    seen = {}
    for index, account in enumerate(DEMO_ACCOUNTS):
        signer = VenueSigner(Credentials(account.api_key, account.api_secret), VenueClock())
        with httpx.Client(base_url=url, auth=signer) as client:
            for position in client.get(POSITION[profile]).json():
                if position["symbol"] in SYMBOLS:
                    seen[(index, position["symbol"])] = int(position["leverage"])
    return seen


# -- conformant, non-conformant ---------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["binance-usdm", "ztdx"])
def test_without_a_target_the_built_in_venue_is_conformant(profile: str, tmp_path: Path) -> None:
    done = run_cli("run", "--profile", profile, "--cases", str(CASES), "--report-dir", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "CONFORMANT" in done.stdout
    document = latest(tmp_path)
    assert (document["verdict"], document["profile"], document["builtin"]) == ("conformant", profile, True)
    assert {p.name for p in (tmp_path / "latest").iterdir()} == {"index.html", "junit.xml", "results.json"}


@pytest.mark.parametrize("trading", ["--allow-trading", "--no-trading"])
def test_against_a_served_venue_with_credentials_in_the_environment(trading: str, tmp_path: Path) -> None:
    with Served("--profile", "ztdx") as venue:
        done = run_cli(
            "run",
            "--target",
            venue.url,
            "--profile",
            "ztdx",
            "--cases",
            str(CASES),
            "--report-dir",
            str(tmp_path),
            trading,
            env=CREDENTIALS,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    outcomes = {c["id"]: c["outcome"] for c in latest(tmp_path)["cases"]}
    [opened] = [outcome for id, outcome in outcomes.items() if id.startswith("open-and-close[")]
    assert opened == ("pass" if trading == "--allow-trading" else "skip")
    # ztdx publishes no minimum leverage: without --markets, cases that need it are skipped, never guessed
    assert outcomes["change-leverage[SOLUSDT]"] == "skip"


def test_a_broken_venue_makes_the_run_exit_1(tmp_path: Path) -> None:
    fault = next(f for f in FAULTS.values() if f.clause == "PER-READBACK" and "binance-usdm" in f.profiles)
    with Served("--profile", "binance-usdm", "--fault", fault.name) as venue:
        done = run_cli(
            "run",
            "--target",
            venue.url,
            "--cases",
            str(CASES),
            "--report-dir",
            str(tmp_path),
            env=CREDENTIALS,
        )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "NONCONFORMANT" in done.stdout
    assert "PER-READBACK" in done.stdout


# -- bad input: exit 2 with one clear message ---------------------------------------------------------


def bad_input(tmp_path: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    (tmp_path / "bad-cases").mkdir()
    (tmp_path / "bad-cases" / "broken.yaml").write_text(
        "id: Broken Id\ndescription: breaks\nclause: LEV-NOPE\nsteps:\n  - read: leverage\n    symbol: 3\n"
    )
    (tmp_path / "markets.yaml").write_text("symbols:\n  BTCUSDT:\n    max_leverage: lots\n")
    cases = ["--cases", str(CASES)]
    return {
        "malformed-case-file": (["run", "--cases", "bad-cases"], {}),
        "unknown-profile": (["run", "--profile", "nope", *cases], {}),
        "malformed-markets-file": (["run", "--markets", "markets.yaml", *cases], {}),
        "target-without-credentials": (["run", "--target", "http://127.0.0.1:9", *cases], {}),
        "key-without-secret": (
            ["run", "--target", "http://127.0.0.1:9", *cases],
            {"CONFORMANCE_API_KEY": KEYS[0]},
        ),
        "bad-selection": (["run", "-k", "security and (", *cases], {}),
        "bad-workers": (["run", "--workers", "0", *cases], {}),
    }


@pytest.mark.parametrize(
    "name",
    [
        "malformed-case-file",
        "unknown-profile",
        "malformed-markets-file",
        "target-without-credentials",
        "key-without-secret",
        "bad-selection",
        "bad-workers",
    ],
)
def test_bad_input_exits_2_with_a_pinned_message_and_no_traceback(name: str, tmp_path: Path) -> None:
    args, env = bad_input(tmp_path)[name]
    done = run_cli(*args, "--report-dir", str(tmp_path / "reports"), env=env, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    golden(name, done.stderr.replace(str(CASES), "<cases>"))
    assert not (tmp_path / "reports").exists()


def test_an_unreachable_target_exits_3_with_a_clear_message(tmp_path: Path) -> None:
    done = run_cli(
        "run",
        "--target",
        "http://127.0.0.1:9",
        "--cases",
        str(CASES),
        "--report-dir",
        str(tmp_path),
        env=CREDENTIALS,
    )
    assert done.returncode == 3
    assert "Traceback" not in done.stderr
    golden("unreachable-target", done.stderr)


# -- secrets ----------------------------------------------------------------------------------------------


def test_no_secret_and_no_full_key_reaches_any_output(tmp_path: Path) -> None:
    with Served("--profile", "ztdx") as venue:
        done = run_cli(
            "run",
            "--target",
            venue.url,
            "--profile",
            "ztdx",
            "--cases",
            str(CASES),
            "--allow-trading",
            "--verbose",
            "--report-dir",
            str(tmp_path),
            env=CREDENTIALS,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    outputs = {"stdout": done.stdout, "stderr": done.stderr}
    outputs.update({str(p): p.read_text() for p in tmp_path.rglob("*") if p.is_file()})
    assert len(outputs) == 5  # results.json, junit.xml, index.html: one run, plus latest pointing at it
    for where, text in outputs.items():
        for secret in (*SECRETS, *KEYS):
            assert secret not in text, f"a secret or full key in {where}"
    assert "…" + KEYS[0][-4:] in outputs[str(next(tmp_path.glob("2*/results.json")))]


# -- interruption -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_run_restores_the_account_and_exits_3(how: signal.Signals, tmp_path: Path) -> None:
    with Served("--profile", "binance-usdm", "--latency-ms", "40") as venue:
        before = stored_leverage(venue.url, "binance-usdm")
        environment = {k: v for k, v in os.environ.items() if not k.startswith("CONFORMANCE_")}
        many = FIXTURES / "engine-many"  # 24 cases: the signal lands well before the last
        command = ["run", "--target", venue.url, "--cases", str(many), "--report-dir", str(tmp_path)]
        run = subprocess.Popen(
            [str(CONFORMANCE), *command, "--workers", "1", "--verbose"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**environment, **CREDENTIALS, "PYTHONUNBUFFERED": "1"},
        )
        assert run.stdout is not None
        for line in run.stdout:  # wait until a case has changed leverage and finished
            if line.startswith("✓"):
                break
        assert stored_leverage(venue.url, "binance-usdm") != before
        run.send_signal(how)
        stdout, stderr = run.communicate(timeout=120)
        after = stored_leverage(venue.url, "binance-usdm")

    assert run.returncode == 3, stdout + stderr
    assert "Traceback" not in stderr
    assert after == before, stdout + stderr
    document = latest(tmp_path)
    assert (document["verdict"], document["complete"]) == ("incomplete", False)
    assert "the run was interrupted; what it changed was restored" in document["notes"]
