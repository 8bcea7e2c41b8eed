"""The HTML report: one self-contained page rendered with Jinja2 from a results document.

Autoescaped throughout: venue data (messages, headers, bodies) is only ever text. The page's own CSS and
JavaScript are inlined from ``report.css`` and ``report.js`` and allowed by hash in a Content Security
Policy that forbids every other script, every inline event handler and every network fetch, so even a
payload that slipped past escaping could neither run nor phone home. Without JavaScript everything is
still there: cases collapse with ``<details>``, only the filters need the script.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

import jinja2

from conformance.report import view

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("conformance.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _asset(name: str) -> str:
    return resources.files("conformance.report").joinpath("templates", name).read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


@functools.cache
def _assets() -> tuple[str, str, str]:
    """(css, js, content security policy)."""
    css, js = _asset("report.css"), _asset("report.js")
    policy = "; ".join(
        [
            "default-src 'none'",
            f"style-src '{_sha256(css)}'",
            f"script-src '{_sha256(js)}'",
            "img-src data:",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )
    return css, js, policy


def duration(ms: float) -> str:
    """1234.5 -> '1.2 s'; 12.3 -> '12 ms'; 0.42 -> '0.4 ms'."""
    if ms >= 1000:
        return f"{ms / 1000:.1f} s"
    if ms >= 10:
        return f"{ms:.0f} ms"
    return f"{ms:.1f} ms"


def _values(values: Mapping[str, Any]) -> str:
    return json.dumps(values, indent=2, ensure_ascii=False, sort_keys=True)


_ENVIRONMENT.filters["duration"] = duration
_ENVIRONMENT.filters["json_values"] = _values


def render(document: Mapping[str, Any]) -> str:
    css, js, policy = _assets()
    return _ENVIRONMENT.get_template("report.html.j2").render(
        page=view.page(document),
        run=document,
        css=css,
        js=js,
        policy=policy,
        outcome_titles=view.OUTCOME_TITLES,
    )
