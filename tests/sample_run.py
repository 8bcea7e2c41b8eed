"""A small but complete RunResult for the reporters' tests: one case of each outcome."""

from __future__ import annotations

from decimal import Decimal

from conformance.model import (
    Bracket,
    CaseResult,
    Failure,
    Level,
    MarketFacts,
    Outcome,
    RecordedRequest,
    RecordedResponse,
    RunResult,
    StepResult,
    Verdict,
)

API_KEY = "demoKey0000000000000000000000000000000000000000000000000000000wxyz"
SECRET = "demoSecret111111111111111111111111111111111111111111111111111111"


def _step(status: int, body: str, failures: tuple[Failure, ...] = ()) -> StepResult:
    return StepResult(
        index=0,
        name="POST /fapi/v1/leverage",
        request=RecordedRequest(
            method="POST",
            url="http://venue.test/fapi/v1/leverage?symbol=BTCUSDT&leverage=200&timestamp=1&signature=ab",
            headers=(("X-MBX-APIKEY", "****wxyz"),),
            body="",
            signed_payload="symbol=BTCUSDT&leverage=200&timestamp=1",
        ),
        response=RecordedResponse(
            status=status, headers=(("content-type", "application/json"),), body=body, elapsed_ms=1.5
        ),
        failures=failures,
    )


def sample_run(*, message: str = "Leverage 200 is not valid") -> RunResult:
    failure = Failure(
        "request accepted, expected a rejection", "rejected", "HTTP 200", Level.MUST, "LEV-BOUNDS", 0
    )
    warning = Failure("unexpected error code", "-2015", "-1022", Level.SHOULD, "AUTH-KEY-UNKNOWN", 0)

    def case(
        outcome: Outcome,
        clause: str,
        msg: str,
        failures: tuple[Failure, ...] = (),
        steps: tuple[StepResult, ...] = (),
    ) -> CaseResult:
        return CaseResult(
            id=f"case-{outcome}[BTCUSDT]",
            case_id=f"case-{outcome}",
            description=f"does the {outcome} thing",
            clause=clause,
            level=Level.MUST,
            outcome=outcome,
            message=msg,
            source="cases/x.yaml:1:1",
            tags=("t",),
            params={"symbol": "BTCUSDT", "cap": Decimal("1.5")},
            failures=failures,
            steps=steps,
        )

    cases = (
        case(Outcome.PASS, "LEV-OK", "as specified", steps=(_step(200, '{"leverage": 20}'),)),
        case(
            Outcome.FAIL,
            "LEV-BOUNDS",
            "step 1: accepted",
            (failure,),
            steps=(_step(200, '{"leverage": 200}', (failure,)),),
        ),
        case(
            Outcome.WARN,
            "AUTH-KEY-UNKNOWN",
            "code",
            (warning,),
            steps=(_step(401, f'{{"code": -1022, "msg": "{message}"}}'),),
        ),
        case(Outcome.ERROR, "TIME-STALE", "step 1: connection: refused"),
        case(Outcome.SKIP, "PER-USER-ISOLATION", "no second account"),
    )
    return RunResult(
        run_id="20261121-120000-binance-usdm-abcd",
        verdict=Verdict.NONCONFORMANT,
        profile="binance-usdm",
        dialect="binance-usdm",
        target="http://venue.test",
        clock_offset_ms=-1.25,
        round_trip_ms=0.8,
        started_at="2026-11-21T12:00:00Z",
        duration_ms=1234.5,
        harness_version="0.1.0",
        specs_hash="sha256:00",
        cases_hash="sha256:11",
        cases=cases,
        market_facts=(
            MarketFacts(
                symbol="BTCUSDT",
                min_leverage=1,
                max_leverage=125,
                brackets=(Bracket(1, 125, Decimal(50000)),),
                price=Decimal("65000.00"),
                sources={"max_leverage": "GET /fapi/v1/leverageBracket"},
            ),
        ),
        notes=(f"restored BTCUSDT leverage for key {API_KEY}",),
    )
