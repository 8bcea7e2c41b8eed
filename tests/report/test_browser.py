"""The HTML report in a real browser (headless Chromium): it renders, the filters change what is visible,
failing cases are open, it works without JavaScript, it fetches nothing, and a report made from a venue
answering with script payloads shows them as text and runs none of them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conformance.contract import load_contract

from .conftest import MadeRun
from .venues import HEADER_PAYLOAD, SCRIPT

SHOWN = (json.dumps(SCRIPT)[1:-1], HEADER_PAYLOAD)  # as in a JSON body, and as in a header


@dataclass
class Opened:
    """A report open in a browser tab, and everything the tab did."""

    page: Any
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def visible(self, selector: str) -> int:
        return int(
            self.page.evaluate(
                "(s) => Array.from(document.querySelectorAll(s)).filter(e => e.checkVisibility()).length",
                selector,
            )
        )


Open = Callable[..., Opened]


@pytest.fixture
def open_report(browser: Any) -> Iterator[Open]:
    contexts: list[Any] = []

    def open_(path: Path, *, javascript: bool = True) -> Opened:
        context = browser.new_context(java_script_enabled=javascript, viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        opened = Opened(page)
        page.on("request", lambda request: opened.requests.append(request.url))
        page.on("pageerror", lambda error: opened.errors.append(str(error)))
        page.on("console", lambda m: opened.errors.append(m.text) if m.type == "error" else None)

        def dialog(d: Any) -> None:
            opened.dialogs.append(d.message)
            d.dismiss()

        page.on("dialog", dialog)
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        return opened

    yield open_
    for context in contexts:
        context.close()


def test_the_report_renders_with_everything_inline(open_report: Open, nonconformant_run: MadeRun) -> None:
    opened = open_report(nonconformant_run.html)
    page = opened.page
    assert page.title().startswith("Non-conformant")
    assert page.locator(".verdict-word").inner_text() == "Non-conformant"
    summary = nonconformant_run.document["summary"]
    assert page.locator("[data-count=fail] b").inner_text() == str(summary["fail"])
    # Every clause of the contract is a row of the matrix, also those no case checked.
    assert page.locator("tr.clause-row").count() == len(load_contract())
    assert page.locator("tr.clause-row[data-status=not-run]").count() > 0
    assert page.locator("details.case").count() == summary["total"]
    assert opened.requests == [nonconformant_run.html.as_uri()]  # nothing fetched but the file itself
    assert opened.errors == []


def test_failing_cases_are_open_and_passing_ones_collapsed(
    open_report: Open, nonconformant_run: MadeRun
) -> None:
    page = open_report(nonconformant_run.html).page
    failing = page.locator("details.case[data-outcome=fail]")
    passing = page.locator("details.case[data-outcome=pass]")
    assert failing.count() > 0
    assert passing.count() > 0
    assert all(failing.nth(i).get_attribute("open") is not None for i in range(failing.count()))
    assert all(passing.nth(i).get_attribute("open") is None for i in range(passing.count()))
    first = failing.first
    assert first.locator("table.failures").is_visible()
    assert "curl" in first.locator("pre.command").first.inner_text()
    assert "$CONFORMANCE_API_KEY" in first.locator("pre.command").first.inner_text()
    # Opened from disk, the replay command names the directory the report is in.
    replay = first.locator("pre.replay-command").inner_text()
    assert replay.startswith(f"conformance replay {nonconformant_run.run_dir} '")


def test_a_matrix_square_opens_its_case(open_report: Open, nonconformant_run: MadeRun) -> None:
    page = open_report(nonconformant_run.html).page
    cell = page.locator("a.cell[data-outcome=pass]").first
    anchor = (cell.get_attribute("href") or "")[1:]
    assert page.locator(f"#{anchor}").get_attribute("open") is None
    cell.click()
    page.wait_for_function("(id) => document.getElementById(id).open", arg=anchor)


def test_filters_change_what_is_visible(open_report: Open, nonconformant_run: MadeRun) -> None:
    opened = open_report(nonconformant_run.html)
    page = opened.page
    summary = nonconformant_run.document["summary"]
    total = summary["total"]
    assert opened.visible("details.case") == total
    assert page.locator("#shown").inner_text() == f"{total} of {total} cases shown"

    page.uncheck("input[name=outcome][value=pass]")
    assert opened.visible("details.case") == total - summary["pass"]
    assert opened.visible("details.case[data-outcome=pass]") == 0
    assert page.locator("#shown").inner_text() == f"{total - summary['pass']} of {total} cases shown"

    page.uncheck("input[name=outcome][value=not-run]")  # clauses without a case leave the matrix
    assert opened.visible("tr.clause-row[data-status=not-run]") == 0
    failing = next(c for c in nonconformant_run.document["cases"] if c["outcome"] == "fail")
    assert opened.visible(f"tr.clause-row[data-clause={failing['clause']}]") == 1

    page.click("#reset-filters")
    assert opened.visible("details.case") == total

    page.select_option("select[name=family]", "persistence")
    persistence = [c for c in nonconformant_run.document["cases"] if c["clause"].startswith("PER-")]
    assert opened.visible("details.case") == len(persistence)
    assert opened.visible("tr.clause-row[data-family=security]") == 0

    page.click("#reset-filters")
    page.select_option("select[name=level]", "INFO")
    info = [c for c in nonconformant_run.document["cases"] if c["level"] == "INFO"]
    assert info, "the suite has INFO cases (LEV-LENIENT)"
    assert opened.visible("details.case") == len(info)
    assert opened.visible("details.case[data-level=MUST]") == 0

    page.click("#reset-filters")
    page.fill("input[name=q]", "text that no case contains")
    assert opened.visible("details.case") == 0
    assert page.locator("#no-match").is_visible()

    page.click("#reset-filters")
    wanted = next(c["id"] for c in nonconformant_run.document["cases"] if c["outcome"] == "fail")
    page.fill("input[name=q]", wanted)
    assert opened.visible("details.case") == 1
    assert page.locator("details.case:visible .case-id").inner_text() == wanted
    page.fill("input[name=q]", "-4028")  # the text search reads bodies too
    assert opened.visible("details.case") >= 1
    assert opened.errors == []


def test_without_javascript_everything_is_there(open_report: Open, nonconformant_run: MadeRun) -> None:
    opened = open_report(nonconformant_run.html, javascript=False)
    page = opened.page
    assert not page.locator("#filters").is_visible()
    assert page.locator("noscript").count() == 1
    total = nonconformant_run.document["summary"]["total"]
    assert opened.visible("details.case") == total
    assert page.locator("details.case[data-outcome=fail][open]").count() > 0
    assert opened.visible("tr.clause-row") == len(load_contract())


def test_a_hostile_venue_payload_is_shown_as_text_and_never_runs(
    open_report: Open, hostile_run: MadeRun
) -> None:
    opened = open_report(hostile_run.html)
    page = opened.page
    page.click("#open-all")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert opened.dialogs == []
    assert page.locator("script").count() == 1  # the report's own
    assert page.locator("img, svg, iframe, object, embed").count() == 0
    assert page.locator("details.case[data-outcome=fail][open]").count() > 0
    # The payloads are on the page, as text.
    for text in SHOWN:
        assert page.evaluate("(t) => document.body.textContent.includes(t)", text)
    assert opened.requests == [hostile_run.html.as_uri()]


def test_escaping_alone_keeps_the_payload_inert(
    open_report: Open, hostile_run: MadeRun, tmp_path: Path
) -> None:
    """The Content Security Policy is a second wall; without it the page must be just as inert."""
    html = hostile_run.html.read_text(encoding="utf-8")
    start = html.index('<meta http-equiv="Content-Security-Policy"')
    without_policy = html[:start] + html[html.index(">", start) + 1 :]
    path = tmp_path / "index.html"
    path.write_text(without_policy, encoding="utf-8")
    opened = open_report(path)
    opened.page.click("#open-all")
    assert opened.page.evaluate("typeof window.__pwned") == "undefined"
    assert opened.dialogs == []
    assert opened.page.locator("img, svg").count() == 0
    for text in SHOWN:
        assert opened.page.evaluate("(t) => document.body.textContent.includes(t)", text)
