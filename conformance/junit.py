"""JUnit XML from a results document: one ``testcase`` per case instance.

CI systems read this. ``fail`` becomes ``<failure>``, ``error`` becomes ``<error>``, ``skip`` becomes
``<skipped>``; a ``warn`` passes (a SHOULD breach does not fail a build) but says so in ``system-out``
and in its ``outcome`` property. The clause, level and outcome are properties; the failure body holds
expected vs actual and the transcript of every step.
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


def to_xml(document: Mapping[str, Any]) -> str:
    cases = document["cases"]
    summary = document["summary"]
    suites = ET.Element("testsuites", name="venue-conformance")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=f"venue-conformance {document['profile']}",
        tests=str(summary["total"]),
        failures=str(summary["fail"]),
        errors=str(summary["error"]),
        skipped=str(summary["skip"]),
        time=f"{document['duration_ms'] / 1000:.3f}",
        timestamp=document["started_at"],
    )
    properties = ET.SubElement(suite, "properties")
    for name in ("run_id", "verdict", "profile", "target", "clock_offset_ms", "harness_version"):
        ET.SubElement(properties, "property", name=name, value=_clean(str(document[name])))

    for case in cases:
        element = ET.SubElement(
            suite,
            "testcase",
            name=_clean(case["id"]),
            classname=f"{document['profile']}.{case['clause']}",
            time=f"{case['duration_ms'] / 1000:.3f}",
            file=_clean(case["source"].rsplit(":", 2)[0]),
        )
        props = ET.SubElement(element, "properties")
        for name in ("clause", "level", "outcome", "origin"):
            ET.SubElement(props, "property", name=name, value=case[name])
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
