"""The HTML report as text: self-contained, locked down, complete without JavaScript, derived only from the
results document. (test_browser.py opens it in a browser.)"""

from __future__ import annotations

import base64
import hashlib
import re
import shlex
from html.parser import HTMLParser
from importlib import resources
from typing import Any

import pytest

from conformance.report import html, view
from conformance.report.curl import curl_command, replay_command
from conformance.results import to_document

from ..sample_run import sample_run


@pytest.fixture
def document() -> dict[str, Any]:
    return to_document(sample_run())


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def test_the_page_is_one_file_that_fetches_nothing(document: dict[str, Any]) -> None:
    page = html.render(document)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "@import" not in page
    assert "url(" not in page
    assert page.count("<script") == 1
    assert page.count("<style") == 1


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


def test_a_content_security_policy_allows_only_the_reports_own_script_and_style(
    document: dict[str, Any],
) -> None:
    page = html.render(document)
    policy = next(
        attrs["content"] or ""
        for tag, attrs in _tags(page)
        if tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy"
    )
    rules = dict(rule.strip().split(" ", 1) for rule in policy.split(";"))
    assert rules["default-src"] == "'none'"
    script = re.search(r"<script>(.*?)</script>", page, re.S)
    style = re.search(r"<style>(.*?)</style>", page, re.S)
    assert script is not None
    assert style is not None
    assert rules["script-src"] == f"'sha256-{_sha256(script.group(1))}'"
    assert rules["style-src"] == f"'sha256-{_sha256(style.group(1))}'"


def test_no_element_has_an_event_handler_or_a_remote_reference(document: dict[str, Any]) -> None:
    for tag, attrs in _tags(html.render(document)):
        assert not [name for name in attrs if name.startswith("on")], tag
        for name in ("src", "href", "action"):
            assert not (attrs.get(name) or "").startswith(("http:", "https:", "//", "javascript:")), tag


def test_the_template_marks_nothing_but_its_own_assets_safe() -> None:
    template = (resources.files("conformance.report") / "templates" / "report.html.j2").read_text()
    assert re.findall(r"\|\s*safe", template) == ["|safe", "|safe"]
    assert "{{ css|safe }}" in template
    assert "{{ js|safe }}" in template


def test_failing_cases_open_passing_ones_collapsed(document: dict[str, Any]) -> None:
    page = html.render(document)
    opened = dict(re.findall(r'<details class="case o-(\w+)"[^>]*?( open)?>', page))
    assert opened == {"pass": "", "fail": " open", "warn": " open", "error": " open", "skip": ""}


def test_every_clause_of_the_contract_is_in_the_matrix(document: dict[str, Any]) -> None:
    page = html.render(document)
    rows = re.findall(r'<tr class="clause-row s-([\w-]+)[^"]*" id="clause-([A-Z-]+)"', page)
    assert [clause for _, clause in rows] == [c["id"] for c in document["contract"]["clauses"]]
    status = {clause: s for s, clause in rows}
    assert status["LEV-BOUNDS"] == "fail"
    assert status["LEV-OK"] == "pass"
    assert status["AUTH-KEY-MISSING"] == "not-run"
    assert "no case run" in page
    assert "not applicable to binance-usdm" in page  # LEV-STRING is ztdx only


def test_run_metadata_and_fact_sources_are_shown(document: dict[str, Any]) -> None:
    page = html.render(document)
    for text in (
        "sha256:00",
        "sha256:11",
        "0.1.0",
        "-1.2 ms",
        "2026-11-21T12:00:00Z",
        "1.2 s",
        "GET /fapi/v1/leverageBracket",
        "http://venue.test",
    ):
        assert text in page
    assert 'href="#source-1"' in page


def test_a_document_without_the_contract_still_renders(document: dict[str, Any]) -> None:
    del document["contract"]
    page = html.render(document)
    assert 'id="clause-LEV-BOUNDS"' in page
    assert "(not in the contract catalogue)" in page


def test_venue_text_is_escaped(document: dict[str, Any]) -> None:
    document["cases"][1]["message"] = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    document["cases"][1]["steps"][0]["response"]["headers"].append(["x-evil", "<b onmouseover=alert(3)>"])
    page = html.render(document)
    assert "<script>alert(1)" not in page
    assert "<img src=x" not in page
    assert "<b onmouseover" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in page


# --------------------------------------------------------------------------------------------------
# Commands that reproduce


def test_curl_sends_the_recorded_request_with_a_key_placeholder() -> None:
    request = {
        "method": "POST",
        "url": "http://venue.test/fapi/v1/leverage?symbol=BTCUSDT&timestamp=1&signature=ab",
        "headers": [
            ["host", "venue.test"],
            ["content-length", "11"],
            ["content-type", "application/x-www-form-urlencoded"],
            ["x-mbx-apikey", "…wxyz"],
        ],
        "body": "leverage=20",
        "signed_payload": "symbol=BTCUSDT&timestamp=1leverage=20",
    }
    command = curl_command(request)
    assert '-H "x-mbx-apikey: $CONFORMANCE_API_KEY"' in command
    assert "…wxyz" not in command
    words = shlex.split(command.replace("\\\n", " "))
    assert words[:4] == ["curl", "-sS", "-i", "-X"]
    assert words[4] == "POST"
    assert words[words.index("--data-raw") + 1] == "leverage=20"
    assert words[-1] == request["url"]
    assert "host: venue.test" not in command


def test_curl_quotes_hostile_text_for_the_shell() -> None:
    request = {
        "method": "GET",
        "url": "http://venue.test/x?a=$(touch pwned)&b=`id`",
        "headers": [["x-note", "'; rm -rf / #"]],
        "body": "",
        "signed_payload": None,
    }
    words = shlex.split(curl_command(request).replace("\\\n", " "))
    assert words == ["curl", "-sS", "-i", "-H", "x-note: '; rm -rf / #", request["url"]]


def test_the_replay_command_quotes_the_instance_id() -> None:
    assert replay_command("reports/r1", "lev[BTCUSDT-max+1]") == (
        "conformance replay reports/r1 'lev[BTCUSDT-max+1]'"
    )


def test_each_failing_step_has_a_curl_and_each_problem_case_a_replay(document: dict[str, Any]) -> None:
    views = {v.case["outcome"]: v for v in view.case_views(document)}
    assert views["fail"].steps[0].curl is not None
    assert (
        views["fail"].replay
        == "conformance replay reports/20261121-120000-binance-usdm-abcd 'case-fail[BTCUSDT]'"
    )
    assert views["pass"].steps[0].curl is None
    assert views["pass"].replay is None


# --------------------------------------------------------------------------------------------------
# Bodies


@pytest.mark.parametrize(
    "body",
    [
        '{"leverage":20,"maxNotionalValue":"1e1","symbol":"BTCUSDT","nested":{"a":[1,2.50,{}],"b":[]}}',
        '{"code": -1022, "msg": "Signature for this request is not valid. \\"quoted\\" , : { [ \\\\"}',
    ],
)
def test_json_bodies_are_reindented_without_changing_a_token(body: str) -> None:
    pretty = view.pretty_json(body)
    assert pretty is not None
    assert "\n" in pretty
    strip = re.compile(r"\s+")
    # Same tokens: only whitespace outside strings differs (both inputs have no spaces inside strings
    # that matter for this comparison once all whitespace is removed).
    assert strip.sub("", pretty) == strip.sub("", body)
    assert "2.50" in pretty or "-1022" in pretty


def test_short_or_non_json_bodies_are_shown_as_sent() -> None:
    assert view.pretty_json('{"a":1}') is None
    assert view.pretty_json("<html>" + "x" * 100) is None
    assert view.pretty_json('"' + "x" * 100 + '"') is None
