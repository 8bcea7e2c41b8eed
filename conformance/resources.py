"""Where the shipped data lives: ``specs/`` and ``cases/``.

In a checkout (or an editable install) they sit at the project root, beside the package; in a wheel they
are copied into ``conformance/_data/``. Everything that reads them asks here.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    installed = _PACKAGE / "_data" / name
    if installed.is_dir():
        return installed
    checkout = _PACKAGE.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"the {name}/ directory ships with venue-conformance but was not found")


def specs_dir() -> Path:
    return _data_dir("specs")


def cases_dir() -> Path:
    return _data_dir("cases")
