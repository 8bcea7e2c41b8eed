import xml.etree.ElementTree as ET

from conformance.junit import to_xml
from conformance.results import to_document

from ..sample_run import sample_run


def _cases() -> dict[str, ET.Element]:
    root = ET.fromstring(to_xml(to_document(sample_run())))
    return {element.get("name", ""): element for element in root.iter("testcase")}


def test_one_testcase_per_case_with_clause_and_level_properties() -> None:
    cases = _cases()
    assert len(cases) == 5
    props = {p.get("name"): p.get("value") for p in cases["case-fail[BTCUSDT]"].iter("property")}
    assert props["clause"] == "LEV-BOUNDS"
    assert props["level"] == "MUST"
    assert props["outcome"] == "fail"


def test_outcomes_map_to_junit_elements() -> None:
    cases = _cases()
    assert cases["case-fail[BTCUSDT]"].find("failure") is not None
    assert cases["case-error[BTCUSDT]"].find("error") is not None
    assert cases["case-skip[BTCUSDT]"].find("skipped") is not None
    assert cases["case-pass[BTCUSDT]"].find("failure") is None
    warn = cases["case-warn[BTCUSDT]"]
    assert warn.find("failure") is None
    assert "WARN (SHOULD)" in (warn.findtext("system-out") or "")


def test_the_failure_body_holds_expected_actual_and_the_transcript() -> None:
    failure = _cases()["case-fail[BTCUSDT]"].find("failure")
    assert failure is not None
    text = failure.text or ""
    assert "expected: rejected" in text
    assert "> POST http://venue.test/fapi/v1/leverage" in text
    assert "signed: symbol=BTCUSDT&leverage=200&timestamp=1" in text
    assert "< HTTP 200" in text


def test_control_characters_from_the_venue_do_not_break_the_xml() -> None:
    document = to_document(sample_run(message="bad \x00\x1b byte"))
    ET.fromstring(to_xml(document))
