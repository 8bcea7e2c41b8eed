"""Installed, not only checked out: the wheel carries specs/ and cases/, and `conformance run` works from
any directory after a non-editable install into a fresh virtualenv."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("venue_conformance-*.whl")
    return built


def test_the_wheel_ships_the_specs_the_cases_and_the_venue_markets(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "conformance/_data/specs/contract.yaml" in names
    assert "conformance/_data/specs/schemas/case.schema.json" in names
    assert "conformance/_data/specs/openapi/ztdx.yaml" in names
    assert "conformance/_data/specs/profiles/binance-usdm.yaml" in names
    assert any(n.startswith("conformance/_data/cases/") and n.endswith(".yaml") for n in names)
    assert "conformance/venue/markets.yaml" in names
    assert "conformance/report/templates/report.html.j2" in names
    assert "conformance/py.typed" in names


def test_an_installed_harness_runs_from_any_directory(wheel: Path, tmp_path: Path) -> None:
    # A fresh virtualenv; its dependencies are borrowed from this one (a .pth line: no download), but not
    # this checkout, whose editable install is not visible from there.
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    where = subprocess.run(
        [str(python), "-c", "import conformance.resources as r; print(r.specs_dir()); print(r.cases_dir())"],
        check=True,
        capture_output=True,
        text=True,
        cwd=elsewhere,
    ).stdout.split()
    assert all(Path(site) in Path(path).parents for path in where), where

    done = subprocess.run(
        [str(env_dir / "bin" / "conformance"), "run", "--profile", "ztdx", "-k", "PER-READBACK"],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads((elsewhere / "reports" / "latest" / "results.json").read_text())
    assert document["verdict"] == "conformant"
    assert document["cases"]
