import xml.etree.ElementTree as ET

from conformance.junit import to_xml
from conformance.results import to_document

from ..sample_run import sample_run
from .conftest import MadeRun


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


def test_a_generated_failure_carries_its_reproduction_case() -> None:
    document = to_document(sample_run())
    [failed] = [case for case in document["cases"] if case["outcome"] == "fail"]
    failed["reproduction"] = "id: gen-leverage-zero\nclause: LEV-BOUNDS\n"
    root = ET.fromstring(to_xml(document))
    [text] = [f.text or "" for f in root.iter("failure")]
    assert "reproduction (the shrunk failing example as a case file" in text
    assert "\n  id: gen-leverage-zero\n  clause: LEV-BOUNDS" in text


def test_control_characters_from_the_venue_do_not_break_the_xml() -> None:
    document = to_document(sample_run(message="bad \x00\x1b byte"))
    ET.fromstring(to_xml(document))


# --------------------------------------------------------------------------------------------------
# The shape CI tools read (the Ant/Jenkins JUnit schema, with pytest's properties on test cases)

_SUITE_ATTRIBUTES = {"name", "tests", "failures", "errors", "skipped", "time", "timestamp"}
_CASE_ATTRIBUTES = {"name", "classname", "time", "file", "line"}
_CASE_CHILDREN = {"properties", "failure", "error", "skipped", "system-out", "system-err"}


def _numbers(element: ET.Element, *names: str) -> None:
    for name in names:
        value = element.get(name)
        assert value is not None, f"{element.tag} lacks {name}"
        float(value)


def _check_shape(root: ET.Element) -> None:
    assert root.tag == "testsuites"
    _numbers(root, "tests", "failures", "errors", "skipped", "time")
    for suite in root:
        assert suite.tag == "testsuite"
        assert set(suite.attrib) == _SUITE_ATTRIBUTES
        _numbers(suite, "tests", "failures", "errors", "skipped", "time")
        assert [child.tag for child in suite][:1] == ["properties"]
        for prop in suite.findall("properties/*"):
            assert prop.tag == "property"
            assert set(prop.attrib) == {"name", "value"}
        cases = suite.findall("testcase")
        assert len(cases) == int(suite.get("tests", ""))
        outcomes = {"failure": 0, "error": 0, "skipped": 0}
        for case in cases:
            assert {"name", "classname", "time"} <= set(case.attrib) <= _CASE_ATTRIBUTES
            _numbers(case, "time")
            tags = [child.tag for child in case]
            assert set(tags) <= _CASE_CHILDREN
            assert len([t for t in tags if t in outcomes]) <= 1
            for tag in tags:
                if tag in outcomes:
                    outcomes[tag] += 1
                    child = case.find(tag)
                    assert child is not None
                    assert set(child.attrib) <= {"message", "type"}
        assert outcomes == {
            "failure": int(suite.get("failures", "")),
            "error": int(suite.get("errors", "")),
            "skipped": int(suite.get("skipped", "")),
        }
    assert root.get("tests") == root[0].get("tests")


def test_the_sample_has_the_shape_ci_tools_read() -> None:
    _check_shape(ET.fromstring(to_xml(to_document(sample_run()))))


def test_a_real_run_has_the_shape_ci_tools_read(nonconformant_run: MadeRun) -> None:
    root = ET.parse(nonconformant_run.run_dir / "junit.xml").getroot()
    _check_shape(root)
    failed = [case for case in root.iter("testcase") if case.find("failure") is not None]
    assert len(failed) == nonconformant_run.document["summary"]["fail"]
    body = failed[0].findtext("failure") or ""
    assert "expected:" in body
    assert "actual:" in body
    assert "signed: " in body
    assert "< HTTP 200" in body


def test_cases_carry_description_source_line_and_run_properties() -> None:
    root = ET.fromstring(to_xml(to_document(sample_run())))
    case = next(root.iter("testcase"))
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["description"] == "does the pass thing"
    assert props["origin"] == "hand-written"
    assert case.get("file") == "cases/x.yaml"
    assert case.get("line") == "1"
    suite_props = {p.get("name"): p.get("value") for p in root.findall("testsuite/properties/property")}
    assert suite_props["verdict"] == "nonconformant"
    assert suite_props["complete"] == "true"
    assert suite_props["specs_hash"] == "sha256:00"
