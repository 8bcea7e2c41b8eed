"""The files a run leaves behind: ``<report-dir>/<run-id>/{results.json,junit.xml,index.html}`` and
``<report-dir>/latest`` pointing at the newest run.

Every file is made from the same redacted results document, which is validated against
``specs/schemas/results.schema.json`` before anything is written.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conformance import junit, results
from conformance.report import html


def write_run(document: Mapping[str, Any], report_dir: Path) -> Path:
    """Write a run's files and point ``latest`` at it; returns the run directory."""
    results.validate(document)
    run_dir = report_dir / str(document["run_id"])
    run_dir.mkdir(parents=True, exist_ok=False)
    (run_dir / "results.json").write_text(results.dumps(document), encoding="utf-8")
    (run_dir / "junit.xml").write_text(junit.to_xml(document), encoding="utf-8")
    (run_dir / "index.html").write_text(html.render(document), encoding="utf-8")
    _point_latest(report_dir, run_dir)
    return run_dir


def _point_latest(report_dir: Path, run_dir: Path) -> None:
    latest = report_dir / "latest"
    temporary = report_dir / f".latest-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    try:
        temporary.symlink_to(run_dir.name, target_is_directory=True)
        if latest.is_dir() and not latest.is_symlink():
            shutil.rmtree(latest)
        temporary.replace(latest)  # atomic: readers see the old run or the new one
    except OSError:  # no symlinks here (some Windows setups): keep a copy instead
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        if latest.is_symlink():
            latest.unlink()
        elif latest.exists():
            shutil.rmtree(latest)
        shutil.copytree(run_dir, latest)
