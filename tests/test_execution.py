"""Executing one case instance against a scripted venue: outcomes by level, errors, cleanup."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from conformance.checks import CheckEnvironment
from conformance.execution import Exchange, execute
from conformance.model import (
    Case,
    CaseInstance,
    Expectation,
    Level,
    Outcome,
    Profile,
    RequestSpec,
    SignSpec,
    SourceLocation,
    Step,
    Touch,
)
from conformance.scope import Scope

HERE = SourceLocation("cases/test.yaml", 1, 1)
PROFILE = Profile(
    name="binance-usdm",
    dialect="binance-usdm",
    title="t",
    openapi="openapi/binance-usdm.yaml",
    encodings=("query", "form"),
    url_decoded_fallback=False,
    paths={"position": "/fapi/v2/positionRisk", "order": "/fapi/v1/order", "leverage": "/fapi/v1/leverage"},
    band_source="brackets",
    notional_rule="brackets",
    margin_field="isolatedMargin",
    margin_missing_reason=None,
    messages={},
    recv_window_max=None,
    clause_levels={},
    source="test",
)

Handler = Callable[[httpx.Request], httpx.Response]


class FakeSession:
    """A session whose venue is a function."""

    def __init__(self, handler: Handler) -> None:
        self.sent: list[httpx.Request] = []
        self._handler = handler

    profile = PROFILE
    credentials = ()
    base_url = "http://venue.test"
    check_env = CheckEnvironment(validate_schema=lambda value, ref: None)

    def scope(self, instance: CaseInstance) -> Scope:
        return Scope(profile=PROFILE, params=instance.params)

    def has_account(self, account: str) -> bool:
        return account == "primary"

    async def send(self, request: httpx.Request, account: str, sign: SignSpec) -> Exchange:
        self.sent.append(request)
        try:
            response = self._handler(request)
        except httpx.TransportError as error:
            return Exchange(request=request, response=None, elapsed_ms=1.0, error=f"connection: {error}")
        return Exchange(request=request, response=response, elapsed_ms=1.0)


def expect(check: str, argument: Any, level: Level | None = None, path: str | None = None) -> Expectation:
    return Expectation(check=check, argument=argument, level=level, location=HERE, path=path)


def post(*expectations: Expectation, **kwargs: Any) -> Step:
    request = RequestSpec(
        method="POST", path="/fapi/v1/leverage", params={"symbol": "${symbol}", "leverage": 5}
    )
    return Step(kind="request", location=HERE, request=request, expect=expectations, **kwargs)


def read(*expectations: Expectation, step_id: str | None = None) -> Step:
    return Step(
        kind="read", location=HERE, read="leverage", symbol="${symbol}", id=step_id, expect=expectations
    )


def instance(*steps: Step, level: Level = Level.MUST, cleanup: tuple[Step, ...] = ()) -> CaseInstance:
    case = Case(
        id="c", description="d", clause="AUTH-SIG-INVALID", location=HERE, steps=steps, cleanup=cleanup
    )
    return CaseInstance(
        case=case,
        id="c[BTCUSDT]",
        params={"symbol": "BTCUSDT"},
        level=level,
        touches=frozenset({Touch("primary", "BTCUSDT")}),
        writes=True,
    )


def reply(status: int, body: Any) -> Handler:
    return lambda request: httpx.Response(status, content=json.dumps(body).encode())


REJECT = {"code": -1022, "msg": "Signature for this request is not valid."}


def run(inst: CaseInstance, session: FakeSession) -> Any:
    return asyncio.run(execute(inst, session))


def test_a_met_expectation_passes() -> None:
    result = run(
        instance(post(expect("rejected", True), expect("code", -1022))), FakeSession(reply(400, REJECT))
    )
    assert result.outcome is Outcome.PASS
    assert result.steps[0].request.method == "POST"
    assert result.steps[0].response.status == 400


def test_a_broken_must_fails_with_the_clause_and_step() -> None:
    ok = {"leverage": 5, "maxNotionalValue": "1", "symbol": "BTCUSDT"}
    result = run(instance(post(expect("rejected", True))), FakeSession(reply(200, ok)))
    assert result.outcome is Outcome.FAIL
    assert result.failures[0].clause == "AUTH-SIG-INVALID"
    assert result.failures[0].step == 0
    assert result.message.startswith("step 1: request accepted, expected a rejection")


def test_a_broken_should_warns() -> None:
    steps = post(expect("rejected", True), expect("code", -2015, level=Level.SHOULD))
    result = run(instance(steps), FakeSession(reply(400, REJECT)))
    assert result.outcome is Outcome.WARN
    assert result.failures[0].level is Level.SHOULD


def test_info_cases_pass_with_the_observation() -> None:
    result = run(instance(post(expect("accepted", True)), level=Level.INFO), FakeSession(reply(400, REJECT)))
    assert result.outcome is Outcome.PASS
    assert result.message.startswith("observed: step 1: request rejected")


def test_transport_trouble_is_an_error_and_stops_the_steps_but_not_the_cleanup() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/fapi/v1/leverage":
            raise httpx.ConnectError("refused")
        return httpx.Response(
            200,
            json=[
                {
                    "symbol": "BTCUSDT",
                    "leverage": "5",
                    "positionAmt": "0",
                    "entryPrice": "0",
                    "isolatedMargin": "0",
                }
            ],
        )

    session = FakeSession(handler)
    result = run(instance(post(), read(), cleanup=(read(),)), session)
    assert result.outcome is Outcome.ERROR
    assert "connection" in result.message
    assert [s.cleanup for s in result.steps] == [False, True]
    assert len(session.sent) == 2


def test_a_must_failure_outweighs_a_later_error() -> None:
    calls: Iterator[httpx.Response | Exception] = iter(
        [httpx.Response(200, json={}), httpx.ConnectError("down")]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        item = next(calls)
        if isinstance(item, Exception):
            raise item
        return item

    result = run(instance(post(expect("rejected", True)), post()), FakeSession(handler))
    assert result.outcome is Outcome.FAIL


def test_garbage_read_back_is_a_failure_not_a_crash() -> None:
    result = run(instance(read()), FakeSession(lambda r: httpx.Response(200, content=b"<html>oops")))
    assert result.outcome is Outcome.FAIL
    assert result.failures[0].title == "position read-back unusable"


def test_unchanged_since_sees_a_changed_read_back() -> None:
    levels = iter(["7", "9"])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/fapi/v1/leverage":
            return httpx.Response(400, json=REJECT)
        position = {
            "symbol": "BTCUSDT",
            "leverage": next(levels),
            "positionAmt": "0",
            "entryPrice": "0",
            "isolatedMargin": "0",
        }
        return httpx.Response(200, json=[position])

    steps = (
        read(step_id="before"),
        post(expect("rejected", True)),
        read(expect("unchanged_since", "before")),
    )
    result = run(instance(*steps), FakeSession(handler))
    assert result.outcome is Outcome.FAIL
    assert result.failures[0].actual == "leverage: 7 -> 9"


def test_a_false_condition_skips_the_step() -> None:
    session = FakeSession(reply(400, REJECT))
    result = run(instance(post(when=False)), session)
    assert result.outcome is Outcome.PASS
    assert result.steps[0].skipped
    assert session.sent == []


def test_a_skipped_instance_sends_nothing() -> None:
    session = FakeSession(reply(400, REJECT))
    skipped = instance(post())
    skipped = CaseInstance(**{**skipped.__dict__, "skip_reason": "no second account"})
    result = run(skipped, session)
    assert (result.outcome, result.message) == (Outcome.SKIP, "no second account")
    assert session.sent == []


def test_an_unknown_account_is_an_error() -> None:
    result = run(instance(post(account="secondary")), FakeSession(reply(400, REJECT)))
    assert result.outcome is Outcome.ERROR
    assert "no credentials for the secondary account" in result.message


def test_captures_feed_later_templates() -> None:
    bodies = iter([{"leverage": 12}, REJECT])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=next(bodies))

    first = Step(
        kind="request",
        location=HERE,
        request=RequestSpec(method="GET", path="/x"),
        capture={"lev": "leverage"},
    )
    second = Step(
        kind="request",
        location=HERE,
        request=RequestSpec(method="POST", path="/fapi/v1/leverage", params={"leverage": "${lev}"}),
    )
    session = FakeSession(handler)
    run(instance(first, second), session)
    assert session.sent[1].url.params["leverage"] == "12"


def test_a_step_that_needs_an_unknown_fact_skips_the_case() -> None:
    from conformance.model import MarketFacts

    unknown = MarketFacts("BTCUSDT", 1, 125, sources={"min_leverage": "assumed"})

    class NoMinimum(FakeSession):
        def scope(self, instance: CaseInstance) -> Scope:
            return Scope(profile=PROFILE, markets={"BTCUSDT": unknown}, params=instance.params)

    session = NoMinimum(reply(200, {}))
    step = Step(
        kind="request",
        location=HERE,
        request=RequestSpec(
            method="POST", path="/fapi/v1/leverage", params={"leverage": "${market.min - 1}"}
        ),
    )
    result = run(instance(step, cleanup=(read(),)), session)
    assert result.outcome is Outcome.SKIP
    assert result.message.startswith(
        "step 1 needs a fact the run does not have: the minimum leverage of BTCUSDT"
    )
    assert [s.cleanup for s in result.steps] == [False, True]  # cleanup still runs


def test_a_must_failure_stands_even_if_a_later_step_lacks_a_fact() -> None:
    from conformance.model import MarketFacts

    unknown = MarketFacts("BTCUSDT", 1, 125, sources={"min_leverage": "assumed"})

    class NoMinimum(FakeSession):
        def scope(self, instance: CaseInstance) -> Scope:
            return Scope(profile=PROFILE, markets={"BTCUSDT": unknown}, params=instance.params)

    later = Step(
        kind="request",
        location=HERE,
        request=RequestSpec(method="POST", path="/fapi/v1/leverage", params={"leverage": "${market.min}"}),
    )
    result = run(instance(post(expect("rejected", True)), later), NoMinimum(reply(200, {})))
    assert result.outcome is Outcome.FAIL
