"""The HTML report: one self-contained, autoescaped page rendered with Jinja2 from a results document."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("conformance.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(document: Mapping[str, Any]) -> str:
    return _ENVIRONMENT.get_template("report.html.j2").render(run=document)
