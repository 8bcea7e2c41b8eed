"""The case loader: the model it builds, and the messages it gives (pinned by golden files).

Regenerate the golden messages after a deliberate change with ``UPDATE_GOLDEN=1 pytest tests/test_cases.py``
and review the diff.
"""

import os
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from conformance.cases import CaseFileError, case_schema, contract_clauses, load_case, load_cases, parse_case
from conformance.model import (
    Case,
    Expectation,
    Level,
    ParamSource,
    RequestSpec,
    SignSpec,
    SourceLocation,
    Step,
    TimestampSpec,
)
from conformance.yamlsource import Problem

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "loader"

FULL = """\
id: full-case
description: uses every feature of the format
clause: PER-REJECT-NO-EFFECT
level: SHOULD
profiles: [ztdx]
tags: [persistence, signature]
requires: [second-account, trading, margin]
parametrize:
  symbol: {from: symbols, where: "${market.min > 1}", limit: 2}
  encoding: {from: encodings, only: [form, json]}
  leverage: {min: "${market.min}", max+1: "${market.max + 1}"}
  text: ["20.5", abc, ""]
steps:
  - id: before
    read: position
    symbol: "${symbol}"
    account: secondary
  - name: change leverage with a wrong secret
    when: "${encoding != 'query'}"
    request:
      method: POST
      path: "${profile.paths.leverage}"
      params: {symbol: "${symbol}", leverage: "${leverage}"}
      encoding: "${encoding}"
      query: {extra: 1}
      headers: {X-Trace: "t-${symbol}"}
    sign:
      secret: wrong
      signature: upper
      tamper: {leverage: "${leverage + 1}"}
      placement: query
      timestamp: {edge: stale, side: inside}
      recv_window: 10000
      api_key: other-account
    capture: {echo: leverage}
    expect:
      rejected: true
      status: {is: [400, 401], level: SHOULD}
      code: -1022
      message: {matches: "^Signature", level: INFO}
      schema: schemas/error.schema.json#/envelope
      body:
        code: {type: integer}
        "[symbol=${symbol}].leverage": 5
        maxNotionalValue: {approx: "100", rel: 1e-9, level: MUST}
      values: {echo: {present: false}}
  - request:
      method: GET
      path: /fapi/v1/time
      raw_body: "x=1"
      content_type: text/plain
    sign: false
  - request: {method: GET, path: /fapi/v1/time}
    sign: {timestamp: omit}
  - request: {method: GET, path: /fapi/v1/time}
    sign: {timestamp: {offset_ms: -6000}}
  - request: {method: GET, path: /fapi/v1/time}
    sign: {timestamp: {value: abc}}
  - read: leverage
    symbol: "${symbol}"
    expect:
      unchanged_since: {is: before, level: INFO}
      values: {leverage: "${steps.before.values.leverage}"}
cleanup:
  - close_position: "${symbol}"
"""


def at(line: int, col: int) -> SourceLocation:
    return SourceLocation("full.yaml", line, col)


def test_a_case_with_every_feature_becomes_the_right_model() -> None:
    case = parse_case(FULL, file="full.yaml")
    assert case == Case(
        id="full-case",
        description="uses every feature of the format",
        clause="PER-REJECT-NO-EFFECT",
        location=at(1, 1),
        level=Level.SHOULD,
        profiles=("ztdx",),
        tags=("persistence", "signature"),
        requires=("second-account", "trading", "margin"),
        parametrize={
            "symbol": ParamSource(kind="symbols", where="${market.min > 1}", limit=2),
            "encoding": ParamSource(kind="encodings", only=("form", "json")),
            "leverage": ParamSource(
                kind="values", values=(("min", "${market.min}"), ("max+1", "${market.max + 1}"))
            ),
            "text": ParamSource(kind="values", values=(("", "20.5"), ("", "abc"), ("", ""))),
        },
        steps=(
            Step(
                kind="read",
                location=at(14, 5),
                id="before",
                read="position",
                symbol="${symbol}",
                account="secondary",
            ),
            Step(
                kind="request",
                location=at(18, 5),
                name="change leverage with a wrong secret",
                when="${encoding != 'query'}",
                request=RequestSpec(
                    method="POST",
                    path="${profile.paths.leverage}",
                    params={"symbol": "${symbol}", "leverage": "${leverage}"},
                    encoding="${encoding}",
                    query={"extra": 1},
                    headers={"X-Trace": "t-${symbol}"},
                ),
                sign=SignSpec(
                    secret="wrong",
                    signature="upper",
                    tamper={"leverage": "${leverage + 1}"},
                    placement="query",
                    timestamp=TimestampSpec(mode="edge", edge="stale", side="inside"),
                    recv_window=10000,
                    api_key="other-account",
                ),
                capture={"echo": "leverage"},
                expect=(
                    Expectation("rejected", True, None, at(37, 7)),
                    Expectation("status", [400, 401], Level.SHOULD, at(38, 7)),
                    Expectation("code", -1022, None, at(39, 7)),
                    Expectation("message", {"matches": "^Signature"}, Level.INFO, at(40, 7)),
                    Expectation("schema", "schemas/error.schema.json#/envelope", None, at(41, 7)),
                    Expectation("body", {"type": "integer"}, None, at(43, 9), path="code"),
                    Expectation("body", {"equals": 5}, None, at(44, 9), path="[symbol=${symbol}].leverage"),
                    Expectation(
                        "body", {"approx": "100", "rel": 1e-9}, Level.MUST, at(45, 9), path="maxNotionalValue"
                    ),
                    Expectation("values", {"present": False}, None, at(46, 16), path="echo"),
                ),
            ),
            Step(
                kind="request",
                location=at(47, 5),
                request=RequestSpec(
                    method="GET", path="/fapi/v1/time", raw_body="x=1", content_type="text/plain"
                ),
                sign=SignSpec(enabled=False),
            ),
            Step(
                kind="request",
                location=at(53, 5),
                request=RequestSpec(method="GET", path="/fapi/v1/time"),
                sign=SignSpec(timestamp=TimestampSpec(mode="omit")),
            ),
            Step(
                kind="request",
                location=at(55, 5),
                request=RequestSpec(method="GET", path="/fapi/v1/time"),
                sign=SignSpec(timestamp=TimestampSpec(offset_ms=-6000)),
            ),
            Step(
                kind="request",
                location=at(57, 5),
                request=RequestSpec(method="GET", path="/fapi/v1/time"),
                sign=SignSpec(timestamp=TimestampSpec(mode="literal", value="abc")),
            ),
            Step(
                kind="read",
                location=at(59, 5),
                read="leverage",
                symbol="${symbol}",
                expect=(
                    Expectation("unchanged_since", "before", Level.INFO, at(62, 7)),
                    Expectation(
                        "values",
                        {"equals": "${steps.before.values.leverage}"},
                        None,
                        at(63, 16),
                        path="leverage",
                    ),
                ),
            ),
        ),
        cleanup=(Step(kind="close_position", location=at(65, 5), symbol="${symbol}"),),
    )
    assert list(case.parametrize) == ["symbol", "encoding", "leverage", "text"]  # the order is kept


def test_the_example_of_the_case_format_document_loads() -> None:
    document = (ROOT / "docs" / "case-format.md").read_text(encoding="utf-8")
    example = re.search(r"```yaml\n(.*?)```", document, re.DOTALL)
    assert example is not None
    case = parse_case(example.group(1), file="docs/case-format.md")
    assert case.id == "auth-sig-wrong-secret"
    assert [step.kind for step in case.steps] == ["read", "request", "read"]


def test_scalars_follow_yaml_1_2() -> None:
    case = parse_case(
        """\
id: scalars
description: keeps text as text
clause: LEV-LENIENT
parametrize:
  v: [on, yes, 020, 0x14, +20, 1e1, 2024-01-01, "020", ~, .inf]
steps:
  - request: {method: POST, path: /fapi/v1/leverage, params: {leverage: "${v}"}}
""",
        file="scalars.yaml",
    )
    values = [value for _, value in case.parametrize["v"].values]
    assert values == ["on", "yes", 20, 20, 20, 10.0, "2024-01-01", "020", None, float("inf")]


def test_the_signed_payload_form_is_read() -> None:
    text = """\
id: decoded
description: signs the URL-decoded payload
clause: AUTH-SIG-PAYLOAD
steps:
  - request: {method: POST, path: /fapi/v1/leverage}
    sign: {payload: url-decoded}
  - request: {method: POST, path: /fapi/v1/leverage}
"""
    case = parse_case(text, file="decoded.yaml")
    assert [step.sign.payload for step in case.steps] == ["url-decoded", "raw"]
    with pytest.raises(CaseFileError, match="raw or url-decoded"):
        parse_case(text.replace("url-decoded", "decoded"), file="decoded.yaml")


def test_the_shipped_cases_load_with_unique_ids() -> None:
    cases = load_cases(ROOT / "cases")
    assert len(cases) >= 3
    assert len({case.id for case in cases}) == len(cases)
    clauses = contract_clauses()
    assert all(case.clause in clauses for case in cases)


def test_a_directory_is_loaded_in_path_order_with_both_suffixes(tmp_path: Path) -> None:
    body = "description: d\nclause: LEV-OK\nsteps:\n  - request: {method: GET, path: /x}\n"
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "one.yml").write_text("id: b-one\n" + body)
    (tmp_path / "a.yaml").write_text("id: a\n" + body)
    (tmp_path / "c.yaml").write_text("id: c\n" + body)
    (tmp_path / "notes.md").write_text("not a case")
    assert [case.id for case in load_cases(tmp_path)] == ["a", "b-one", "c"]


def test_locations_are_relative_to_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "x.yaml").write_text(
        "# a comment\nid: x\ndescription: d\nclause: LEV-OK\nsteps:\n  - request: {method: GET, path: /x}\n"
    )
    monkeypatch.chdir(tmp_path)
    case = load_case(tmp_path / "cases" / "x.yaml")
    assert str(case.location) == "cases/x.yaml:2:1"
    assert str(case.steps[0].location) == "cases/x.yaml:6:5"


def test_a_missing_file_is_a_case_file_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CaseFileError) as info:
        load_cases(tmp_path / "nope.yaml")
    assert str(info.value) == "nope.yaml: no such file or directory"


def test_every_problem_of_a_file_is_reported_with_its_location() -> None:
    with pytest.raises(CaseFileError) as info:
        load_case(GOLDEN / "many-problems.yaml")
    problems = info.value.problems
    assert len(problems) > 10
    assert problems == tuple(sorted(problems, key=_line_and_col))
    assert all(line > 0 and col > 0 for line, col in map(_line_and_col, problems))


def _line_and_col(problem: Problem) -> tuple[int, int]:
    assert problem.location is not None, problem
    return problem.location.line, problem.location.col


def test_the_schema_is_a_valid_draft_2020_12_schema_with_an_id() -> None:
    schema = case_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"]


# --------------------------------------------------------------------------------------------------
# Golden messages: every input under tests/golden/loader (a file, or a directory of files) fails to load
# with exactly the text of the .txt beside it.

GOLDEN_INPUTS = sorted(p for p in GOLDEN.iterdir() if p.suffix == ".yaml" or p.is_dir())


@pytest.mark.parametrize("source", GOLDEN_INPUTS, ids=lambda p: p.stem)
def test_loader_messages_match_the_golden_files(source: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    with pytest.raises(CaseFileError) as info:
        load_cases(source.relative_to(ROOT))
    rendered = info.value.render() + "\n"
    expected = source.with_suffix(".txt") if source.is_file() else source.parent / f"{source.name}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        expected.write_text(rendered, encoding="utf-8")
    assert expected.exists(), f"no golden file {expected.name}: run with UPDATE_GOLDEN=1 and review it"
    assert rendered == expected.read_text(encoding="utf-8")


def test_every_kind_of_mistake_has_a_golden_file() -> None:
    names = {p.stem for p in GOLDEN_INPUTS}
    assert {
        "wrong-type",
        "unknown-key",
        "missing-key",
        "bad-clause",
        "duplicate-id",
        "yaml-syntax",
        "duplicate-key",
        "bad-expression",
        "unknown-step",
        "two-kinds",
    } <= names


@pytest.mark.parametrize(
    ("source", "first"),
    [
        ("wrong-type.yaml", "wrong-type.yaml:11:15: 'steps[0].expect.status' must be"),
        ("unknown-key.yaml", "unknown-key.yaml:4:1: unknown key 'tag'"),
        ("missing-key.yaml", "missing-key.yaml:1:1: the case is missing the required key 'description'"),
        ("bad-clause.yaml", "bad-clause.yaml:3:9: unknown clause 'LEV-BOUND'"),
        ("duplicate-id", "duplicate-id/b.yaml:2:5: duplicate case id 'same-id'"),
        ("yaml-syntax.yaml", "yaml-syntax.yaml:9:11: YAML: expected ',' or '}'"),
        ("duplicate-key.yaml", "duplicate-key.yaml:13:7: duplicate key 'status'"),
        ("bad-expression.yaml", "bad-expression.yaml:10:48: invalid expression ${market.max +}"),
        ("unknown-step.yaml", "unknown-step.yaml:14:48: ${steps.befor.values.leverage}: 'steps.befor'"),
        ("two-kinds.yaml", "two-kinds.yaml:5:5: 'steps[0]' may have only one of"),
    ],
)
def test_the_first_problem_points_at_the_mistake(
    source: str, first: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    with pytest.raises(CaseFileError) as info:
        load_cases(Path("tests/golden/loader") / source)
    assert info.value.render().startswith("tests/golden/loader/" + first)


def test_a_loader_bug_still_reads_as_a_located_message(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(document: object) -> Case:
        raise KeyError("oops")

    monkeypatch.setattr("conformance.cases._build_case", broken)
    with pytest.raises(CaseFileError) as info:
        parse_case(FULL, file="full.yaml")
    assert str(info.value) == "full.yaml: the loader failed on this file (KeyError: 'oops'); please report it"
