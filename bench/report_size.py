"""How large the reports of a full-suite-sized run are, and how long they take to render.

    python bench/report_size.py [--cases 500] [--fault band-accepts-zero] [--repeat 5]
    python bench/report_size.py --results reports/latest/results.json [--browser]

Runs the shipped suite against the built-in reference venue (with a fault, so the report has failing,
open cases), then grows the results document to ``--cases`` cases by repeating the real ones under new
ids, and renders ``index.html`` and ``junit.xml`` from it. With ``--results`` it takes a finished run's
document instead (the whole `conformance run`, generated cases included) and keeps its size unless
``--cases`` is given. Prints bytes per file and the median render time; ``--browser`` also loads the page
in headless Chromium (Debian's ``chromium`` through Playwright) and prints the median time to the load
event. Nothing is asserted: these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import statistics
import time
from pathlib import Path
from typing import Any

from conformance import engine, junit, results
from conformance.builtin import builtin_target
from conformance.report import html


def real_document(fault: str | None) -> dict[str, Any]:
    with builtin_target("binance-usdm", fault=fault) as venue:
        config = engine.RunConfig(
            target=venue.url, accounts=venue.accounts, markets_file=venue.markets_file, allow_trading=True
        )
        run = asyncio.run(engine.run(config))
    accounts = venue.accounts.values()
    redactor = results.Redactor([a.api_secret for a in accounts], [a.api_key for a in accounts])
    return results.to_document(run, redactor)


def grown(document: dict[str, Any], size: int) -> dict[str, Any]:
    real = document["cases"]
    cases = []
    for number in range(size):
        case = copy.deepcopy(real[number % len(real)])
        if number >= len(real):
            case["id"] = f"{case['id']}#{number // len(real)}"
        cases.append(case)
    bigger = dict(document, cases=cases)
    bigger["summary"] = {"total": size} | {
        outcome: sum(1 for c in cases if c["outcome"] == outcome)
        for outcome in ("pass", "fail", "warn", "error", "skip")
    }
    return bigger


def timed(render: Any, document: dict[str, Any], repeat: int) -> tuple[str, float]:
    times = []
    text = ""
    for _ in range(repeat):
        started = time.perf_counter()
        text = render(document)
        times.append(time.perf_counter() - started)
    return text, statistics.median(times)


def browser_load_ms(page_text: str, repeat: int) -> float:
    """Median milliseconds from navigation to the load event of the page in headless Chromium."""
    import shutil
    import tempfile

    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        raise SystemExit("--browser needs Debian's chromium package")
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        path = Path(folder) / "index.html"
        path.write_text(page_text, encoding="utf-8")
        browser = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        times = []
        try:
            for _ in range(repeat):
                page = browser.new_page()
                started = time.perf_counter()
                page.goto(path.as_uri(), wait_until="load")
                times.append(time.perf_counter() - started)
                page.close()
        finally:
            browser.close()
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=None, help="grow the document to N cases (default 500)")
    parser.add_argument("--fault", default="band-accepts-zero")
    parser.add_argument("--results", help="a finished run's results.json instead of a fresh run")
    parser.add_argument("--browser", action="store_true", help="also time the page's load in Chromium")
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()

    if options.results:
        document = json.loads(Path(options.results).read_text(encoding="utf-8"))
    else:
        document = real_document(options.fault or None)
    real = len(document["cases"])
    size = options.cases or (real if options.results else 500)
    document = grown(document, size)
    results.validate(document)
    page, page_s = timed(html.render, document, options.repeat)
    xml, xml_s = timed(junit.to_xml, document, options.repeat)
    data = results.dumps(document)
    steps = sum(len(c["steps"]) for c in document["cases"])
    print(f"{size} cases ({real} real ones, repeated as needed), {steps} steps, {document['summary']}")
    median = f"(median of {options.repeat})"
    print(f"index.html    {len(page.encode()):>10,} bytes   rendered in {page_s * 1000:7.1f} ms {median}")
    print(f"junit.xml     {len(xml.encode()):>10,} bytes   rendered in {xml_s * 1000:7.1f} ms")
    print(f"results.json  {len(data.encode()):>10,} bytes")
    measured = {"html_bytes": len(page.encode()), "html_ms": round(page_s * 1000, 1)}
    if options.browser:
        load_ms = browser_load_ms(page, options.repeat)
        print(f"index.html loaded in Chromium in {load_ms:7.1f} ms {median}")
        measured["browser_load_ms"] = round(load_ms, 1)
    print(json.dumps(measured))


if __name__ == "__main__":
    main()
