"""Each check holds on a conforming observation and raises a Mismatch on a breaking one."""

from decimal import Decimal
from typing import Any

import pytest

from conformance.checks import (
    NOT_JSON,
    CheckEnvironment,
    Mismatch,
    Observation,
    match_value,
    run_check,
)


def _never_called(value: Any, ref: str) -> None:
    raise AssertionError("no schema expected")


ENV = CheckEnvironment(validate_schema=_never_called)


def obs(status: int | None, body: Any, **values: Any) -> Observation:
    text = "" if body is NOT_JSON else str(body)
    return Observation(status=status, body_text=text, body=body, values=values)


ERROR = obs(400, {"code": -1022, "msg": "Signature for this request is not valid."})
OK = obs(200, {"leverage": 20, "maxNotionalValue": "250000", "symbol": "BTCUSDT"})


@pytest.mark.parametrize(
    ("name", "observation", "argument", "path"),
    [
        ("status", ERROR, 400, None),
        ("status", ERROR, [400, 401], None),
        ("status", ERROR, "4xx", None),
        ("status", ERROR, {"is": 400}, None),
        ("accepted", OK, True, None),
        ("accepted", ERROR, False, None),
        ("rejected", ERROR, True, None),
        ("code", ERROR, -1022, None),
        ("code", ERROR, [-1102, -1022], None),
        ("message", ERROR, "Signature for this request is not valid.", None),
        ("message", ERROR, {"equals": "Signature for this request is not valid."}, None),
        ("message", ERROR, {"matches": "^Signature"}, None),
        ("body", OK, 20, "leverage"),
        ("body", OK, {"decimal": "250000.0000"}, "maxNotionalValue"),
        ("body", OK, {"type": "integer"}, "leverage"),
        ("body", OK, {"present": False}, "nothing"),
        ("body", OK, {"one_of": ["BTCUSDT", "ETHUSDT"]}, "symbol"),
        ("values", obs(200, {}, leverage=20), 20, "leverage"),
    ],
)
def test_holds(name: str, observation: Observation, argument: Any, path: str | None) -> None:
    run_check(name, observation, argument, path, ENV)


@pytest.mark.parametrize(
    ("name", "observation", "argument", "path", "title"),
    [
        ("status", ERROR, 200, None, "unexpected HTTP status"),
        ("status", obs(None, NOT_JSON), 200, None, "unexpected HTTP status"),
        ("accepted", ERROR, True, None, "request rejected"),
        ("rejected", OK, True, None, "request accepted, expected a rejection"),
        ("rejected", obs(500, {"code": -1000, "msg": "x"}), True, None, "rejection is not a 4xx"),
        ("rejected", obs(400, NOT_JSON), True, None, "not JSON"),
        ("rejected", obs(400, {"code": 1022, "msg": "x"}), True, None, "not negative"),
        ("rejected", obs(400, {"code": "-1022", "msg": "x"}), True, None, "not an integer"),
        ("rejected", obs(400, {"code": -1022, "msg": ""}), True, None, "non-empty string"),
        ("rejected", obs(400, {"code": -1022}), True, None, "no 'msg'"),
        ("rejected", obs(400, []), True, None, "not a JSON object"),
        ("code", ERROR, -4028, None, "unexpected error code"),
        ("code", OK, -4028, None, "unexpected error code"),
        ("message", ERROR, "other", None, "unexpected error message"),
        ("message", ERROR, {"equals": "other"}, None, "unexpected error message"),
        ("message", ERROR, {"matches": "^Leverage"}, None, "unexpected error message"),
        ("body", OK, "20", "leverage", "differs"),
        ("body", obs(200, {"leverage": 20.0}), 20, "leverage", "differs"),
        ("body", obs(200, {"flag": True}), 1, "flag", "differs"),
        ("body", OK, {"decimal": "50000"}, "maxNotionalValue", "as a decimal"),
        ("body", OK, {"type": "string"}, "leverage", "wrong type"),
        ("body", OK, {"present": True}, "nothing", "absent"),
        ("body", OK, {"not_equals": 20}, "leverage", "should differ"),
        ("body", OK, {"one_of": ["ETHUSDT"]}, "symbol", "none of the allowed"),
        ("body", OK, {"matches": "^ETH"}, "symbol", "does not match"),
        ("values", obs(200, {}, leverage=21), 20, "leverage", "differs"),
        ("nonexistent", OK, True, None, "unknown check"),
    ],
)
def test_fails(name: str, observation: Observation, argument: Any, path: str | None, title: str) -> None:
    with pytest.raises(Mismatch) as raised:
        run_check(name, observation, argument, path, ENV)
    assert title in raised.value.title


def test_unchanged_since_compares_every_shared_value() -> None:
    earlier = {"before": {"leverage": 20, "margin": Decimal("3.25")}}
    same = Observation(200, "", {}, values={"leverage": 20, "margin": Decimal("3.2500")}, earlier=earlier)
    run_check("unchanged_since", same, "before", None, ENV)
    changed = Observation(200, "", {}, values={"leverage": 21, "margin": Decimal("3.25")}, earlier=earlier)
    with pytest.raises(Mismatch) as raised:
        run_check("unchanged_since", changed, "before", None, ENV)
    assert raised.value.actual == "leverage: 20 -> 21"


def test_unchanged_since_can_name_the_values_it_compares() -> None:
    earlier = {"open": {"leverage": 20, "entry_price": Decimal(65000)}}
    lowered = Observation(
        200, "", {}, values={"leverage": 10, "entry_price": Decimal(65000)}, earlier=earlier
    )
    run_check("unchanged_since", lowered, {"step": "open", "values": ["entry_price"]}, None, ENV)
    with pytest.raises(Mismatch):
        run_check("unchanged_since", lowered, {"step": "open"}, None, ENV)


def test_unchanged_since_an_unknown_step_is_a_mismatch() -> None:
    with pytest.raises(Mismatch, match="no recorded values"):
        run_check("unchanged_since", OK, "nope", None, ENV)


def test_approx_uses_a_relative_tolerance() -> None:
    match_value("margin", "3.2500000001", {"approx": Decimal("3.25"), "rel": "1e-9"})
    with pytest.raises(Mismatch, match="relative tolerance"):
        match_value("margin", "3.2501", {"approx": "3.25", "rel": "1e-9"})


def test_a_decimal_expected_value_compares_as_a_decimal() -> None:
    match_value("cap", "10000000.00", Decimal(10000000))


def test_schema_failures_carry_the_validator_message() -> None:
    def invalid(value: Any, ref: str) -> None:
        raise ValueError("leverage: '20' is not of type 'integer'")

    env = CheckEnvironment(validate_schema=invalid)
    with pytest.raises(Mismatch) as raised:
        run_check("schema", OK, "schemas/leverage-response.schema.json", None, env)
    assert "not of type" in raised.value.actual
    with pytest.raises(Mismatch, match="not JSON"):
        run_check("schema", obs(200, NOT_JSON), "schemas/x.json", None, env)
