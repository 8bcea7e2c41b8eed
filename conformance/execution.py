"""Running one case instance: its steps in order, then its cleanup, then an outcome.

Each step resolves its templates, sends one signed request through the session, records what crossed the
wire, captures values and runs its expectations. A failed expectation is a :class:`Failure` at the
expectation's level; transport trouble is an error and stops the steps (cleanup still runs). The
outcome follows the levels: any MUST failure is ``fail``; otherwise an error is ``error``; otherwise a
SHOULD failure is ``warn``; INFO failures are observations recorded on a ``pass``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Protocol

import httpx

from conformance import fieldpath, readback, wire
from conformance.checks import NOT_JSON, CheckEnvironment, Mismatch, Observation, run_check
from conformance.credentials import Credentials
from conformance.expressions import ExpressionError, resolve
from conformance.model import (
    CaseInstance,
    CaseResult,
    Failure,
    Level,
    Outcome,
    Profile,
    RecordedRequest,
    RecordedResponse,
    SignSpec,
    Step,
    StepResult,
)
from conformance.scope import Scope, StepRecord


@dataclasses.dataclass(frozen=True)
class Exchange:
    """One request as sent and what came back (``response`` is None on transport trouble)."""

    request: httpx.Request
    response: httpx.Response | None
    elapsed_ms: float
    error: str | None = None


class Session(Protocol):
    """What running a case needs from the run: the venue connection, the profile and templates."""

    @property
    def profile(self) -> Profile: ...

    @property
    def base_url(self) -> str: ...

    @property
    def check_env(self) -> CheckEnvironment: ...

    def scope(self, instance: CaseInstance) -> Scope:
        """What the instance's ``${...}`` templates see before its first step."""
        ...

    def has_account(self, account: str) -> bool: ...

    @property
    def credentials(self) -> tuple[Credentials, ...]:
        """Every account of the run: their secrets are redacted from what is recorded."""
        ...

    async def send(self, request: httpx.Request, account: str, sign: SignSpec) -> Exchange: ...


class StepError(Exception):
    """A step could not be judged: a template, a request that cannot be built, transport trouble."""


_READ_SIGN = SignSpec()


# --------------------------------------------------------------------------------------------------
# Outcome


def failure_text(failure: Failure) -> str:
    return f"{failure.title}: expected {failure.expected}, got {failure.actual}"


def decide(failures: list[Failure], error: str | None, missing: str | None = None) -> tuple[Outcome, str]:
    """The outcome of a case from its failures (by level), a missing fact and an error, with a one-line
    message. A MUST failure stands whatever else happened; a case that needs a fact the run lacks is
    skipped rather than judged."""
    by_level = {level: [f for f in failures if f.level is level] for level in Level}
    must, should, info = by_level[Level.MUST], by_level[Level.SHOULD], by_level[Level.INFO]

    def message(chosen: list[Failure]) -> str:
        step = f"step {chosen[0].step + 1}: " if chosen[0].step is not None else ""
        extra = f" (and {len(chosen) - 1} more)" if len(chosen) > 1 else ""
        return step + failure_text(chosen[0]) + extra

    if must:
        return Outcome.FAIL, message(must)
    if missing is not None:
        return Outcome.SKIP, missing
    if error is not None:
        return Outcome.ERROR, error
    if should:
        return Outcome.WARN, message(should)
    if info:
        return Outcome.PASS, "observed: " + message(info)
    return Outcome.PASS, "as specified"


# --------------------------------------------------------------------------------------------------
# One case


@dataclasses.dataclass
class _CaseState:
    """What the steps of one case have established so far."""

    scope: Scope
    earlier: dict[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)


async def execute(instance: CaseInstance, session: Session) -> CaseResult:
    """Run one case instance to its result. Never raises for venue or case trouble."""
    case = instance.case
    started = time.perf_counter()
    base: dict[str, Any] = {
        "id": instance.id,
        "case_id": case.id,
        "description": case.description,
        "clause": case.clause,
        "level": instance.level,
        "source": str(case.location),
        "tags": case.tags,
        "params": instance.params,
        "origin": case.origin,
    }
    if instance.skip_reason is not None:
        return CaseResult(**base, outcome=Outcome.SKIP, message=instance.skip_reason)

    try:
        state = _CaseState(scope=session.scope(instance))
    except Exception as problem:  # a template of the case itself cannot be evaluated
        return CaseResult(**base, outcome=Outcome.ERROR, message=f"cannot prepare the case: {problem}")

    steps: list[StepResult] = []
    failures: list[Failure] = []
    error: str | None = None
    missing: str | None = None
    for index, step in enumerate(case.steps):
        result = await _run_step(index, step, instance, session, state, cleanup=False)
        steps.append(result)
        failures.extend(result.failures)
        if result.missing is not None:
            missing = f"step {index + 1} needs a fact the run does not have: {result.missing}"
            break
        if result.error is not None:
            error = f"step {index + 1}: {result.error}"
            break
    cleanup_errors: list[str] = []
    for offset, step in enumerate(case.cleanup):
        index = len(case.steps) + offset
        result = await _run_step(index, step, instance, session, state, cleanup=True)
        steps.append(result)
        if result.error is not None:
            cleanup_errors.append(f"cleanup step {index + 1}: {result.error}")
    if cleanup_errors and error is None:
        error = "; ".join(cleanup_errors)

    outcome, message = decide(failures, error, missing)
    return CaseResult(
        **base,
        outcome=outcome,
        message=message,
        steps=tuple(steps),
        failures=tuple(failures),
        duration_ms=(time.perf_counter() - started) * 1000,
    )


# --------------------------------------------------------------------------------------------------
# One step


def _step_name(step: Step, index: int) -> str:
    if step.name:
        return step.name
    if step.kind == "read":
        return f"read back {step.read}"
    if step.kind == "close_position":
        return "close the position"
    assert step.request is not None
    path = step.request.path if isinstance(step.request.path, str) else "?"
    return f"{step.request.method} {path}"


async def _run_step(
    index: int,
    step: Step,
    instance: CaseInstance,
    session: Session,
    state: _CaseState,
    *,
    cleanup: bool,
) -> StepResult:
    name = _step_name(step, index)
    record: dict[str, Any] = {"index": index, "name": name, "cleanup": cleanup}
    try:
        if step.when is not None and not resolve(step.when, state.scope):
            return StepResult(**record, request=None, response=None, skipped=True)
        account = str(resolve(step.account, state.scope))
        if not session.has_account(account):
            raise StepError(f"no credentials for the {account} account")
        if step.kind == "request":
            exchange = await _send_request(step, account, session, state)
        elif step.kind == "read":
            exchange = await _send_read(step, account, session, state)
        else:
            exchange = await _close_position(step, account, session, state)
    except StepError as problem:
        return StepResult(**record, request=None, response=None, error=str(problem))
    except ExpressionError as problem:
        if problem.unknown_fact:
            return StepResult(**record, request=None, response=None, missing=problem.message)
        return StepResult(**record, request=None, response=None, error=f"ExpressionError: {problem}")
    except Exception as problem:  # expression errors and the like: the case, not the venue
        return StepResult(**record, request=None, response=None, error=f"{type(problem).__name__}: {problem}")

    request = wire.record_request(exchange.request, *session.credentials)
    if exchange.response is None:
        return StepResult(**record, request=request, response=None, error=exchange.error)
    response = wire.record_response(exchange.response, exchange.elapsed_ms)
    return _judge(step, index, instance, session, state, record, request, response, exchange.response)


def _judge(
    step: Step,
    index: int,
    instance: CaseInstance,
    session: Session,
    state: _CaseState,
    record: dict[str, Any],
    request: RecordedRequest,
    response: RecordedResponse,
    raw: httpx.Response,
) -> StepResult:
    is_json, body = wire.parse_json(raw)
    body = body if is_json else NOT_JSON
    failures: list[Failure] = []
    values: dict[str, Any] = {}

    if step.kind == "read":
        symbol = str(resolve(step.symbol, state.scope))
        try:
            if not 200 <= response.status < 300:
                raise readback.ReadbackError(f"HTTP {response.status}")
            position = readback.parse(body, symbol, session.profile.margin_field)
        except readback.ReadbackError as problem:
            failures.append(
                Failure(
                    title="position read-back unusable",
                    expected=f"HTTP 200 with the position of {symbol}",
                    actual=f"{problem}: {response.body[:300]}",
                    level=Level.MUST,
                    clause=instance.case.clause,
                    step=index,
                )
            )
        else:
            values = position.values() if step.read == "position" else {"leverage": position.leverage}

    captures = {}
    for variable, path in step.capture.items():
        captured = fieldpath.select(body, path) if body is not NOT_JSON else fieldpath.MISSING
        captures[variable] = None if captured is fieldpath.MISSING else captured
    values.update(captures)
    state.scope = state.scope.with_captures(captures)

    observation = Observation(
        status=response.status,
        body_text=response.body,
        body=body,
        values=values,
        earlier=state.earlier,
    )
    for expectation in step.expect:
        level = expectation.level or instance.level
        try:
            argument = resolve(expectation.argument, state.scope)
            run_check(expectation.check, observation, argument, expectation.path, session.check_env)
        except Mismatch as mismatch:
            failures.append(
                Failure(
                    title=mismatch.title,
                    expected=mismatch.expected,
                    actual=mismatch.actual,
                    level=level,
                    clause=instance.case.clause,
                    step=index,
                )
            )
        except Exception as problem:
            unknown = (
                problem.message if isinstance(problem, ExpressionError) and problem.unknown_fact else None
            )
            where = f"{expectation.check!r} at {expectation.location}"
            return StepResult(
                **record,
                request=request,
                response=response,
                failures=tuple(failures),
                values=values,
                error=None if unknown else f"cannot evaluate {where}: {problem}",
                missing=unknown,
            )

    if step.id is not None:
        state.earlier[step.id] = values
        record_body = None if body is NOT_JSON else body
        state.scope = state.scope.with_step(step.id, StepRecord(response.status, record_body, values))
    return StepResult(**record, request=request, response=response, failures=tuple(failures), values=values)


# --------------------------------------------------------------------------------------------------
# Building and sending


def _resolved_sign(sign: SignSpec, scope: Scope) -> SignSpec:
    """The step's signing directives with their templates evaluated (the signer takes values)."""
    timestamp = dataclasses.replace(
        sign.timestamp,
        offset_ms=resolve(sign.timestamp.offset_ms, scope),
        value=resolve(sign.timestamp.value, scope),
    )
    return dataclasses.replace(
        sign,
        tamper={k: resolve(v, scope) for k, v in sign.tamper.items()},
        timestamp=timestamp,
        recv_window=resolve(sign.recv_window, scope),
    )


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise StepError(f"{what} must be a mapping, got {type(value).__name__}")
    return value


async def _send_request(step: Step, account: str, session: Session, state: _CaseState) -> Exchange:
    spec = step.request
    assert spec is not None
    ns = state.scope
    try:
        request = wire.build(
            base_url=session.base_url,
            method=str(resolve(spec.method, ns)),
            path=str(resolve(spec.path, ns)),
            params=_mapping(resolve(dict(spec.params), ns), "params"),
            encoding=str(resolve(spec.encoding, ns)),
            query=_mapping(resolve(dict(spec.query), ns), "query"),
            body=_mapping(resolve(dict(spec.body), ns), "body"),
            raw_body=None if spec.raw_body is None else str(resolve(spec.raw_body, ns)),
            content_type=None if spec.content_type is None else str(resolve(spec.content_type, ns)),
            headers=_mapping(resolve(dict(spec.headers), ns), "headers"),
        )
    except wire.RequestError as problem:
        raise StepError(str(problem)) from None
    return await session.send(request, account, _resolved_sign(step.sign, ns))


def read_request(session: Session, symbol: str) -> httpx.Request:
    return wire.build(
        base_url=session.base_url,
        method="GET",
        path=session.profile.paths["position"],
        params={"symbol": symbol},
    )


async def _send_read(step: Step, account: str, session: Session, state: _CaseState) -> Exchange:
    symbol = str(resolve(step.symbol, state.scope))
    return await session.send(read_request(session, symbol), account, _READ_SIGN)


async def _close_position(step: Step, account: str, session: Session, state: _CaseState) -> Exchange:
    symbol = str(resolve(step.symbol, state.scope))
    read = await session.send(read_request(session, symbol), account, _READ_SIGN)
    if read.response is None:
        return read
    position = read_position(read, symbol, session.profile)
    if position is None or position.amount == 0:
        return read
    order = close_order(session, symbol, position.amount)
    exchange = await session.send(order, account, _READ_SIGN)
    if exchange.response is not None and not exchange.response.is_success:
        return dataclasses.replace(
            exchange,
            error=f"could not close the {symbol} position: HTTP {exchange.response.status_code} "
            f"{exchange.response.text[:200]}",
            response=None,
        )
    return exchange


def read_position(exchange: Exchange, symbol: str, profile: Profile) -> readback.Position | None:
    if exchange.response is None or not exchange.response.is_success:
        return None
    is_json, body = wire.parse_json(exchange.response)
    if not is_json:
        return None
    try:
        return readback.parse(body, symbol, profile.margin_field)
    except readback.ReadbackError:
        return None


def close_order(session: Session, symbol: str, amount: Decimal) -> httpx.Request:
    """The reduce-only MARKET order that brings a position back to zero."""
    return wire.build(
        base_url=session.base_url,
        method="POST",
        path=session.profile.paths["order"],
        params={
            "symbol": symbol,
            "side": "SELL" if amount > 0 else "BUY",
            "type": "MARKET",
            "quantity": str(abs(amount)),
            "reduceOnly": "true",
        },
    )
