"""JUnit XML from a results document: one ``testcase`` per case instance.

CI systems read this (the common Ant/Jenkins shape: ``testsuites > testsuite > testcase``, with
``properties`` on the suite and on each case, as pytest writes them). ``fail`` becomes ``<failure>``,
``error`` becomes ``<error>``, ``skip`` becomes ``<skipped>``; a ``warn`` passes (a SHOULD breach does
not fail a build) but says so in ``system-out`` and in its ``outcome`` property. The clause, level,
outcome, origin and description are properties; the failure body holds expected vs actual and the
transcript of every step.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

# XML 1.0 cannot carry most control characters; venue bodies may hold anything.
_INVALID_XML = {c: None for c in range(32) if c not in (9, 10, 13)}


def _clean(text: str) -> str:
    return text.translate(_INVALID_XML)


def transcript(case: Mapping[str, Any]) -> str:
    """The steps of a case as plain text: what was sent, what came back, what did not hold."""
    lines: list[str] = []
    for step in case["steps"]:
        title = f"step {step['index'] + 1}: {step['name']}"
        if step["cleanup"]:
            title += " (cleanup)"
        lines.append(title)
        if step["skipped"]:
            lines.append("  (skipped: its condition was false)")
            continue
        request = step["request"]
        if request is not None:
            lines.append(f"  > {request['method']} {request['url']}")
            lines.extend(f"  > {name}: {value}" for name, value in request["headers"])
            if request["body"]:
                lines.append(f"  > {request['body']}")
            if request["signed_payload"] is not None:
                lines.append(f"  signed: {request['signed_payload']}")
        response = step["response"]
        if response is not None:
            lines.append(f"  < HTTP {response['status']} ({response['elapsed_ms']:.1f} ms)")
            if response["body"]:
                lines.append(f"  < {response['body']}")
        if step["error"]:
            lines.append(f"  error: {step['error']}")
        lines.extend(
            f"  {f['level']} {f['title']}: expected {f['expected']}, got {f['actual']}"
            for f in step["failures"]
        )
    if case.get("reproduction"):
        lines.append(
            "reproduction (the shrunk failing example as a case file; `conformance replay` re-sends it):"
        )
        lines.extend(f"  {line}" for line in case["reproduction"].splitlines())
    return "\n".join(lines)


def _failure_text(case: Mapping[str, Any]) -> str:
    parts = [f"{case['clause']} ({case['level']}): {case['message']}"]
    parts.extend(
        f"- {f['level']} {f['title']}\n  expected: {f['expected']}\n  actual:   {f['actual']}"
        for f in case["failures"]
    )
    parts.append("")
    parts.append(transcript(case))
    return "\n".join(parts)


_RUN_PROPERTIES = (
    "run_id",
    "verdict",
    "complete",
    "profile",
    "dialect",
    "target",
    "clock_offset_ms",
    "harness_version",
    "specs_hash",
    "cases_hash",
)


def _location(source: str) -> tuple[str, str | None]:
    """``cases/x.yaml:3:1`` -> (``cases/x.yaml``, ``"3"``); anything else as the file, no line."""
    parts = source.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        return parts[0], parts[1]
    return source, None


def to_xml(document: Mapping[str, Any]) -> str:
    cases = document["cases"]
    summary = document["summary"]
    counts = {
        "tests": str(summary["total"]),
        "failures": str(summary["fail"]),
        "errors": str(summary["error"]),
        "skipped": str(summary["skip"]),
        "time": f"{document['duration_ms'] / 1000:.3f}",
    }
    suites = ET.Element("testsuites", {"name": "venue-conformance", **counts})
    suite = ET.SubElement(
        suites,
        "testsuite",
        {
            "name": _clean(f"venue-conformance {document['profile']}"),
            "timestamp": document["started_at"],
            **counts,
        },
    )
    properties = ET.SubElement(suite, "properties")
    for name in _RUN_PROPERTIES:
        value = document[name]
        text = str(value).lower() if isinstance(value, bool) else str(value)
        ET.SubElement(properties, "property", name=name, value=_clean(text))

    for case in cases:
        file, line = _location(case["source"])
        element = ET.SubElement(
            suite,
            "testcase",
            name=_clean(case["id"]),
            classname=_clean(f"{document['profile']}.{case['clause']}"),
            time=f"{case['duration_ms'] / 1000:.3f}",
            file=_clean(file),
        )
        if line is not None:
            element.set("line", line)
        props = ET.SubElement(element, "properties")
        for name in ("clause", "level", "outcome", "origin", "description"):
            ET.SubElement(props, "property", name=name, value=_clean(case[name]))
        outcome = case["outcome"]
        message = _clean(f"{case['clause']}: {case['message']}")
        if outcome == "fail":
            ET.SubElement(element, "failure", message=message, type=case["clause"]).text = _clean(
                _failure_text(case)
            )
        elif outcome == "error":
            ET.SubElement(element, "error", message=message, type="error").text = _clean(_failure_text(case))
        elif outcome == "skip":
            ET.SubElement(element, "skipped", message=message)
        elif outcome == "warn":
            ET.SubElement(element, "system-out").text = _clean("WARN (SHOULD) " + _failure_text(case))
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
