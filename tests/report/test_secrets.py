"""No secret in any output, keys masked to their last 4 characters, venue data escaped: checked on what
real runs leave behind (results.json, junit.xml, index.html, the terminal), against a venue that echoes
the caller's credentials and answers with script payloads, and through the CLI."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from conformance import cli, targets
from conformance.credentials import mask_key
from conformance.venue import DEMO_ACCOUNTS

from .conftest import MadeRun
from .venues import ATTRIBUTE, BREAKOUT, KEYS, SCRIPT, SECRETS

OUTPUTS = ("results.json", "junit.xml", "index.html")


def _outputs(made: MadeRun) -> dict[str, str]:
    texts = {name: (made.run_dir / name).read_text(encoding="utf-8") for name in OUTPUTS}
    texts["terminal"] = made.terminal
    return texts


def test_a_venue_echoing_credentials_leaves_no_secret_and_no_full_key(hostile_run: MadeRun) -> None:
    # The venue put the secret and the full key into headers and messages: they must be gone.
    for name, text in _outputs(hostile_run).items():
        for secret in SECRETS:
            assert secret not in text, f"a secret in {name}"
        for key in KEYS:
            assert key not in text, f"a full API key in {name}"
    assert mask_key(KEYS[0]) in (hostile_run.run_dir / "results.json").read_text(encoding="utf-8")
    assert "[redacted]" in (hostile_run.run_dir / "index.html").read_text(encoding="utf-8")


def test_recorded_api_keys_are_masked_to_their_last_4_characters(hostile_run: MadeRun) -> None:
    shown = {
        value
        for case in hostile_run.document["cases"]
        for step in case["steps"]
        if step["request"] is not None
        for name, value in step["request"]["headers"]
        if name.lower() == "x-mbx-apikey"
    }
    assert {mask_key(key) for key in KEYS} <= shown  # the accounts' keys, masked
    # ...and every other key sent (unknown-key cases send random ones) is masked the same way
    assert all(re.fullmatch(r"…[A-Za-z0-9]{0,4}", value) for value in shown), shown


def test_venue_payloads_are_escaped_in_the_html(hostile_run: MadeRun) -> None:
    page = hostile_run.html.read_text(encoding="utf-8")
    for payload in (SCRIPT, ATTRIBUTE, BREAKOUT, "<script>window.__pwned", "<img src=x", "<svg onload"):
        assert payload not in page
    assert "&lt;script&gt;window.__pwned" in page
    assert "&#34;&gt;&lt;img src=x onerror=" in page
    assert page.count("<script") == 1  # the report's own


def test_venue_payloads_survive_as_text_in_junit(hostile_run: MadeRun) -> None:
    root = ET.parse(hostile_run.run_dir / "junit.xml").getroot()
    bodies = " ".join(element.text or "" for element in root.iter("failure"))
    assert "<script>window.__pwned" in bodies  # text content of the element, escaped in the file


def test_a_cli_run_leaves_no_demo_secret_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in (targets.ENV_KEY, targets.ENV_SECRET, targets.ENV_KEY_2, targets.ENV_SECRET_2):
        monkeypatch.delenv(variable, raising=False)
    result = CliRunner().invoke(cli.main, ["run", "--report-dir", str(tmp_path), "-v"])
    assert result.exit_code == cli.EXIT_CONFORMANT, result.output
    run_dirs = [p for p in tmp_path.iterdir() if p.name != "latest"]
    assert len(run_dirs) == 1
    texts = {name: (run_dirs[0] / name).read_text(encoding="utf-8") for name in OUTPUTS}
    texts["terminal"] = result.output
    for name, text in texts.items():
        for account in DEMO_ACCOUNTS:
            assert account.api_secret not in text, f"a demo secret in {name}"
            assert account.api_key not in text, f"a full demo key in {name}"
    assert mask_key(DEMO_ACCOUNTS[0].api_key) in texts["results.json"]
    assert os.path.realpath(tmp_path / "latest") == str(run_dirs[0].resolve())
