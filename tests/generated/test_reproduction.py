"""A failing example as a YAML case: it loads, and it says what the example sent and expected."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conformance.cases import parse_case
from conformance.checks import NOT_JSON, Observation
from conformance.generated.examples import Expect, RequestPlan, StepPlan, build_request, read_step
from conformance.generated.reproduction import case_yaml
from conformance.model import Encoding, Level, SignSpec, TimestampSpec

REJECTED = Observation(status=400, body_text='{"code":-4028}', body={"code": -4028, "msg": "x"})
ACCEPTED = Observation(status=200, body_text="{}", body={})
READ = Observation(status=200, body_text="[]", body=[], values={"leverage": 20})

TRICKY = [
    "020",
    "1e1",
    "0x14",
    "on",
    "no",
    "null",
    "",
    " 20",
    "20.5",
    "${market.max}",
    "a: b",
    "-1",
    "ünï",
    "\x00",
]


def reproduce(plans: list[StepPlan], observations: list[Observation], clause: str = "LEV-BOUNDS") -> str:
    return case_yaml(
        plans=plans,
        observations=observations,
        clause=clause,
        dialect="binance-usdm",
        description="rejects leverage 0",
        origin="a test",
        level_of={clause: Level.MUST},
    )


@pytest.mark.parametrize("text", TRICKY)
@pytest.mark.parametrize("encoding", ["query", "form", "json"])
def test_parameter_values_come_back_as_the_same_bytes(text: str, encoding: Encoding) -> None:
    plan = RequestPlan(
        "POST", "/fapi/v1/leverage", params={"symbol": "BTCUSDT", "leverage": text}, encoding=encoding
    )
    case = parse_case(reproduce([StepPlan("send it", request=plan)], [ACCEPTED]))
    request = case.steps[0].request
    assert request is not None
    loaded = RequestPlan(
        "POST",
        request.path,
        params={k: _unescaped(v) for k, v in request.params.items()},
        encoding=request.encoding,
    )
    assert build_request("http://v", loaded).content == build_request("http://v", plan).content
    assert str(build_request("http://v", loaded).url) == str(build_request("http://v", plan).url)


def _unescaped(value: Any) -> Any:
    """What the engine's template resolution makes of a loaded value (``$${`` is a literal ``${``)."""
    from conformance.expressions import resolve
    from conformance.scope import Scope

    return resolve(value, Scope(profile=None, markets={}, symbols=()))


def test_only_the_failing_clauses_expectations_are_written_with_their_levels() -> None:
    example = StepPlan(
        "set leverage 0",
        request=RequestPlan(
            "POST",
            "/fapi/v1/leverage",
            params={"symbol": "BTCUSDT", "leverage": "0"},
            encoding="form",
            sign=SignSpec(
                placement="query",
                timestamp=TimestampSpec(mode="edge", edge="stale", side="inside"),
                recv_window=30000,
            ),
        ),
        expects=(
            Expect("status", ["2xx", "3xx", "4xx"], "ERR-ENVELOPE", Level.MUST, gate=True),
            Expect("rejected", True, "LEV-BOUNDS", gate=True),
            Expect("code", -4028, "LEV-BOUNDS"),
            Expect("status", 400, "LEV-BOUNDS", Level.SHOULD),
        ),
    )
    before = read_step("BTCUSDT", id="before")
    after = read_step("BTCUSDT", (Expect("unchanged_since", "before", "PER-REJECT-NO-EFFECT"),))
    text = reproduce([before, example, after], [READ, REJECTED, READ])
    case = parse_case(text)
    assert case.clause == "LEV-BOUNDS"
    assert case.profiles == ("binance-usdm",)
    assert "generated" in case.tags
    assert [s.kind for s in case.steps] == ["request"]  # the bare reads change nothing: left out
    checks = {(e.check, json.dumps(e.argument), e.level) for e in case.steps[0].expect}
    assert checks == {("rejected", "true", None), ("code", "-4028", None), ("status", "400", Level.SHOULD)}
    sign = case.steps[0].sign
    assert (sign.placement, sign.recv_window, sign.timestamp.edge, sign.timestamp.side) == (
        "query",
        30000,
        "stale",
        "inside",
    )


def test_read_backs_a_later_step_compares_with_keep_their_id() -> None:
    example = StepPlan(
        "send it", request=RequestPlan("POST", "/fapi/v1/leverage", params={"symbol": "BTCUSDT"})
    )
    before = read_step("BTCUSDT", id="before")
    after = read_step("BTCUSDT", (Expect("unchanged_since", "before", "PER-REJECT-NO-EFFECT"),))
    case = parse_case(reproduce([before, example, after], [READ, REJECTED, READ], "PER-REJECT-NO-EFFECT"))
    assert [(s.kind, s.id) for s in case.steps] == [("read", "before"), ("request", None), ("read", None)]


def test_a_second_account_or_a_raw_body_is_written_as_a_case_says_it() -> None:
    raw = StepPlan(
        "a body that is no object",
        account="secondary",
        request=RequestPlan(
            "POST", "/fapi/v1/leverage", raw_body="\x00[1, 2]", content_type="application/json"
        ),
        expects=(Expect("rejected", True, "LEV-SYMBOL", gate=True),),
    )
    case = parse_case(reproduce([raw], [Observation(status=200, body_text="", body=NOT_JSON)], "LEV-SYMBOL"))
    assert case.requires == ("second-account",)
    request = case.steps[0].request
    assert request is not None
    assert (request.raw_body, request.content_type) == ("\x00[1, 2]", "application/json")
