"""Make ``docs/images/report-nonconformant.png``: the HTML report of a non-conformant run.

    python docs/make_screenshot.py [--fault leverage-not-stored] [--out docs/images/report-nonconformant.png]

Runs the shipped suite against the built-in reference venue serving a broken twin (``--fault``), writes
the run's reports to a temporary directory, opens ``index.html`` in headless Chromium (Debian's
``chromium``, driven by Playwright) with the filter set to problems only, and saves a screenshot.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
from pathlib import Path

from conformance import artifacts, engine, results
from conformance.builtin import builtin_target

HERE = Path(__file__).resolve().parent
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def make_report(fault: str, report_dir: Path) -> Path:
    with builtin_target("binance-usdm", fault=fault) as venue:
        config = engine.RunConfig(
            target=venue.url, accounts=venue.accounts, markets_file=venue.markets_file, allow_trading=True
        )
        run = asyncio.run(engine.run(config))
    accounts = venue.accounts.values()
    redactor = results.Redactor([a.api_secret for a in accounts], [a.api_key for a in accounts])
    return artifacts.write_run(results.to_document(run, redactor), report_dir) / "index.html"


def screenshot(page_path: Path, out: Path, *, width: int, height: int) -> None:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("no chromium on PATH (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=1)
        page.goto(page_path.as_uri())
        for outcome in ("pass", "skip", "not-run"):  # problems only
            page.uncheck(f"input[name=outcome][value={outcome}]")
        page.evaluate("window.scrollTo(0, 0)")
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fault", default="leverage-not-stored")
    parser.add_argument("--out", type=Path, default=HERE / "images" / "report-nonconformant.png")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=2000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        page = make_report(options.fault, Path(temporary))
        screenshot(page, options.out, width=options.width, height=options.height)
    print(f"wrote {options.out}")


if __name__ == "__main__":
    main()
