"""Runs the report tests share (each made once per session) and the headless browser.

The browser is Debian's ``chromium`` driven by Playwright for Python; Playwright never downloads one here.
Without a browser the browser tests skip, unless ``CONFORMANCE_REQUIRE_BROWSER=1`` (CI), where they fail.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from conformance import artifacts, engine, results
from conformance.builtin import builtin_target, default_markets_file
from conformance.credentials import Credentials
from conformance.model import RunResult
from conformance.terminal import TerminalReporter

from .venues import KEYS, SECRETS, hostile_venue

BROWSER_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@dataclass(frozen=True)
class MadeRun:
    """A run as it leaves the harness: its directory (results.json, junit.xml, index.html) and what the
    terminal showed."""

    result: RunResult
    run_dir: Path
    document: dict[str, Any]
    terminal: str

    @property
    def html(self) -> Path:
        return self.run_dir / "index.html"


def make_run(config: engine.RunConfig, report_dir: Path) -> MadeRun:
    accounts = config.accounts.values()
    redactor = results.Redactor(
        secrets=[a.api_secret for a in accounts], api_keys=[a.api_key for a in accounts]
    )
    output = io.StringIO()
    reporter = TerminalReporter(Console(file=output, width=200), redactor, verbose=True)
    # In a thread of its own: Playwright's sync API keeps an event loop running in the main thread.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        result = pool.submit(asyncio.run, engine.run(config, on_event=reporter)).result()
    document = results.to_document(result, redactor)
    run_dir = artifacts.write_run(document, report_dir)
    reporter.summary(result, run_dir)
    return MadeRun(result, run_dir, document, output.getvalue())


@pytest.fixture(scope="session")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> MadeRun:
    """The shipped suite against a venue answering with script payloads and echoing credentials."""
    accounts = {
        "primary": Credentials(KEYS[0], SECRETS[0]),
        "secondary": Credentials(KEYS[1], SECRETS[1]),
    }
    with hostile_venue() as url:
        config = engine.RunConfig(
            target=url,
            accounts=accounts,
            markets_file=default_markets_file(),
            allow_trading=True,
        )
        return make_run(config, tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="session")
def nonconformant_run(tmp_path_factory: pytest.TempPathFactory) -> MadeRun:
    """The shipped suite against the reference venue with a band fault: some cases fail, most pass."""
    with builtin_target("binance-usdm", fault="band-accepts-zero") as venue:
        config = engine.RunConfig(
            target=venue.url,
            accounts=venue.accounts,
            markets_file=venue.markets_file,
            allow_trading=True,
            builtin=True,
        )
        return make_run(config, tmp_path_factory.mktemp("nonconformant"))


# --------------------------------------------------------------------------------------------------
# The browser


def chromium_path() -> str | None:
    """``CONFORMANCE_CHROMIUM``, else the first Chromium on PATH."""
    configured = os.environ.get("CONFORMANCE_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else None
    return next((path for name in BROWSER_NAMES if (path := shutil.which(name))), None)


def _unavailable(reason: str) -> None:
    if os.environ.get("CONFORMANCE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and CONFORMANCE_REQUIRE_BROWSER=1", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium (Playwright ``Browser``), shared by a module's tests. Not longer: while
    Playwright's sync API runs, the main thread has an event loop, and ``asyncio.run`` refuses to start."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install -e '.[test]')")
        raise  # unreachable: _unavailable skips or fails
    path = chromium_path()
    if path is None:
        _unavailable("no Chromium found: install Debian's chromium package or set CONFORMANCE_CHROMIUM")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=list(BROWSER_ARGS))
        try:
            yield launched
        finally:
            launched.close()
