"""How large the reports of a full-suite-sized run are, and how long they take to render.

    python bench/report_size.py [--cases 500] [--fault band-accepts-zero] [--repeat 5]

Runs the shipped suite against the built-in reference venue (with a fault, so the report has failing,
open cases), then grows the results document to ``--cases`` cases by repeating the real ones under new
ids, and renders ``index.html`` and ``junit.xml`` from it. Prints bytes per file and the median render time.
Nothing is asserted: these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import statistics
import time
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--fault", default="band-accepts-zero")
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()

    document = real_document(options.fault or None)
    real = len(document["cases"])
    document = grown(document, options.cases)
    results.validate(document)
    page, page_s = timed(html.render, document, options.repeat)
    xml, xml_s = timed(junit.to_xml, document, options.repeat)
    data = results.dumps(document)
    steps = sum(len(c["steps"]) for c in document["cases"])
    print(f"{options.cases} cases ({real} real ones repeated), {steps} steps, {document['summary']}")
    median = f"(median of {options.repeat})"
    print(f"index.html    {len(page.encode()):>10,} bytes   rendered in {page_s * 1000:7.1f} ms {median}")
    print(f"junit.xml     {len(xml.encode()):>10,} bytes   rendered in {xml_s * 1000:7.1f} ms")
    print(f"results.json  {len(data.encode()):>10,} bytes")
    print(json.dumps({"html_bytes": len(page.encode()), "html_ms": round(page_s * 1000, 1)}))


if __name__ == "__main__":
    main()
