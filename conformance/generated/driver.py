"""Running a generated property: hypothesis in a worker thread, every request through the run's session.

Hypothesis drives a test function synchronously and needs its verdict at once (to shrink), while the
engine's connection is an ``httpx.AsyncClient`` on the event loop. The property runs in a worker thread and
hands each request to the loop (:meth:`Driver.send`), so generated requests share the run's client (and an
in-process transport), its venue clock and the session's signer, which signs the exact bytes sent.

One call of the test function is one :class:`Example`: it runs
:class:`~conformance.generated.examples.StepPlan`\\ s, records each step as the engine records a
case's (secrets redacted by :mod:`conformance.wire`) and judges it with the checks of
:mod:`conformance.checks`. An example with a MUST or SHOULD failure raises :class:`ExampleFailed`, whose
type is named after its most severe (level, clause), so hypothesis shrinks each distinct failure on its
own. :meth:`Driver.explore` returns the shrunk examples.

Shrinking sends real requests (and schemathesis's draws are not cheap), so it is bounded: once a failure is
found, past ``max_examples`` plus a shrink budget of calls the property stops with the smallest failing
example of each kind found so far. Transport trouble or an
interrupted run raises :class:`Unjudgeable`, a ``BaseException`` hypothesis lets through at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from conformance import readback, wire
from conformance.checks import NOT_JSON, CheckEnvironment, Mismatch, Observation, run_check
from conformance.execution import Exchange, Session, read_request
from conformance.generated.examples import StepPlan, build_request
from conformance.model import Failure, Level, SignSpec, StepResult

SHRINK_FACTOR = 2  # once a failure is found, this many times max_examples more calls to shrink it...
SHRINK_MINIMUM = 20  # ...and at least this many
SEND_TIMEOUT_S = 120.0
_SEVERITY = {Level.MUST: 0, Level.SHOULD: 1, Level.INFO: 2}


class _Abort(KeyboardInterrupt):
    """Stops a property at once. Hypothesis lets only ``KeyboardInterrupt`` through without recording the
    call it interrupted: any other exception is cached as the outcome of its choices, and the next call
    sharing them reports "inconsistent data generation" instead."""


class Unjudgeable(_Abort):
    """The property cannot go on: transport trouble, or the run was interrupted. Not a verdict."""


class _ShrinkBudgetSpent(_Abort):
    """Shrinking has run as long as it may: stop with the smallest failing examples found so far."""


class ExampleFailed(Exception):
    """An example broke a MUST or SHOULD expectation; carries the example's record."""

    record: ExampleRecord

    def __init__(self, record: ExampleRecord) -> None:
        super().__init__(record.headline)
        self.record = record


_FAILURE_TYPES: dict[tuple[Level, str], type[ExampleFailed]] = {}
_FAILURE_TYPES_LOCK = threading.Lock()


def _failure_type(level: Level, clause: str) -> type[ExampleFailed]:
    """One exception class per (level, clause): hypothesis tells failures apart by their type."""
    with _FAILURE_TYPES_LOCK:
        key = (level, clause)
        if key not in _FAILURE_TYPES:
            name = f"{clause.replace('-', '_')}_{level.value}_Failed"
            _FAILURE_TYPES[key] = type(name, (ExampleFailed,), {})
        return _FAILURE_TYPES[key]


@dataclass
class ExampleRecord:
    """What one example sent and what it found."""

    description: str
    plans: list[StepPlan] = field(default_factory=list)
    steps: list[StepResult] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)  # what each step saw, for reproduction
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. schemathesis failures no case can express

    @property
    def judged_failures(self) -> list[Failure]:
        return [f for f in self.failures if f.level is not Level.INFO]

    @property
    def worst(self) -> Failure | None:
        judged = sorted(self.judged_failures, key=lambda f: _SEVERITY[f.level])
        return judged[0] if judged else None

    @property
    def headline(self) -> str:
        worst = self.worst
        if worst is None:
            return self.description
        return f"{worst.clause}: {worst.title} ({self.description})"


@dataclass(frozen=True)
class Exploration:
    """The outcome of one property: how many examples ran and the shrunk failing ones, worst first."""

    examples: int
    failing: tuple[ExampleRecord, ...] = ()
    flaky: bool = False  # a failure did not happen again when replayed
    error: str | None = None  # the harness could not judge (transport, a bug)


ClauseLevel = Callable[[str], Level | None]  # the level of a clause for the run's profile; None: n/a


@dataclass(frozen=True)
class StepOutcome:
    """A step as run: its record and what later steps (or the state machine) may read."""

    result: StepResult
    observation: Observation
    response: httpx.Response


class Example:
    """One example: runs steps in order and collects their records and failures."""

    def __init__(self, driver: Driver, description: str) -> None:
        self.driver = driver
        self.record = ExampleRecord(description)
        self._earlier: dict[str, Mapping[str, Any]] = {}

    def describe(self, description: str) -> None:
        self.record.description = description

    def run(self, plan: StepPlan) -> StepOutcome:
        """Send one step and judge it. Raises :class:`Unjudgeable` on transport trouble."""
        index = len(self.record.steps)
        self.record.plans.append(plan)
        if plan.request is not None:
            request = build_request(self.driver.session.base_url, plan.request)
            sign = plan.request.sign
        else:
            assert plan.read is not None
            request = read_request(self.driver.session, plan.read)
            sign = SignSpec()
        exchange = self.driver.send(request, plan.account, sign)
        recorded = wire.record_request(exchange.request, *self.driver.session.credentials)
        if exchange.response is None:
            raise Unjudgeable(f"{plan.name}: {exchange.error}")
        response = wire.record_response(exchange.response, exchange.elapsed_ms)
        is_json, body = wire.parse_json(exchange.response)
        values: dict[str, Any] = {}
        failures: list[Failure] = []
        if plan.read is not None:
            try:
                if not 200 <= response.status < 300:
                    raise readback.ReadbackError(f"HTTP {response.status}")
                position = readback.parse(body, plan.read, self.driver.session.profile.margin_field)
                values = position.values() if plan.reads == "position" else {"leverage": position.leverage}
            except readback.ReadbackError as problem:
                attributed = plan.expects[0].attribute(_EMPTY) if plan.expects else None
                clause = attributed[0] if attributed is not None else "PER-READBACK"
                failures.append(
                    Failure(
                        title="position read-back unusable",
                        expected=f"HTTP 200 with the position of {plan.read}",
                        actual=f"{problem}: {response.body[:300]}",
                        level=Level.MUST,
                        clause=clause,
                        step=index,
                    )
                )
        observation = Observation(
            status=response.status,
            body_text=response.body,
            body=body if is_json else NOT_JSON,
            values=values,
            earlier=dict(self._earlier),
        )
        if not failures:
            failures = self.driver.judge(plan, observation, index)
        if plan.id is not None:
            self._earlier[plan.id] = values
        result = StepResult(
            index=index,
            name=plan.name,
            request=recorded,
            response=response,
            failures=tuple(failures),
            values=values,
        )
        self.record.steps.append(result)
        self.record.observations.append(observation)
        self.record.failures.extend(failures)
        return StepOutcome(result, observation, exchange.response)

    def add_failures(self, failures: list[Failure]) -> None:
        """Failures found outside the expectations (schemathesis's checks), on a step already run."""
        self.record.failures.extend(failures)
        for failure in failures:
            if failure.step is not None:
                step = self.record.steps[failure.step]
                self.record.steps[failure.step] = _with_failure(step, failure)

    def conclude(self) -> None:
        worst = self.record.worst
        if worst is not None:
            kind = _failure_type(worst.level, worst.clause)
            self.driver.failed[kind] = self.record
            raise kind(self.record)


_EMPTY = Observation(status=None, body_text="", body=NOT_JSON)


def _with_failure(step: StepResult, failure: Failure) -> StepResult:
    return replace(step, failures=(*step.failures, failure))


class Driver:
    """One generated instance's link from its hypothesis thread to the run's session."""

    def __init__(
        self,
        session: Session,
        loop: asyncio.AbstractEventLoop,
        clause_level: ClauseLevel,
        check_env: CheckEnvironment,
    ) -> None:
        self.session = session
        self.loop = loop
        self.clause_level = clause_level
        self.check_env = check_env
        self.stop = threading.Event()
        self.examples = 0  # examples run
        self.calls = 0  # calls of the property, examples and shrink attempts
        self.requests = 0
        self.failed: dict[type[ExampleFailed], ExampleRecord] = {}  # the last failing example of each kind
        self.elapsed_s = 0.0

    # -- in the worker thread

    def send(self, request: Any, account: str, sign: SignSpec) -> Exchange:
        if self.stop.is_set():
            raise Unjudgeable("the run was interrupted")
        future: Future[Exchange] = asyncio.run_coroutine_threadsafe(
            self.session.send(request, account, sign), self.loop
        )
        try:
            exchange = future.result(timeout=SEND_TIMEOUT_S)
        except TimeoutError:
            future.cancel()
            raise Unjudgeable(f"no answer within {SEND_TIMEOUT_S:.0f} s") from None
        except Exception as problem:  # an in-process venue's own exception, a transport the session missed
            raise Unjudgeable(f"{type(problem).__name__}: {problem}") from None
        self.requests += 1
        if self.stop.is_set():
            raise Unjudgeable("the run was interrupted")
        return exchange

    def judge(self, plan: StepPlan, observation: Observation, index: int) -> list[Failure]:
        failures: list[Failure] = []
        for expect in plan.expects:
            attributed = expect.attribute(observation)
            if attributed is None:
                continue
            clause, level = attributed
            level = level if level is not None else self.clause_level(clause)
            if level is None:
                continue  # the clause does not apply to this dialect
            try:
                run_check(expect.check, observation, expect.argument, expect.path, self.check_env)
            except Mismatch as mismatch:
                failures.append(
                    Failure(mismatch.title, mismatch.expected, mismatch.actual, level, clause, index)
                )
                if expect.gate:
                    break
        return failures

    def begin(self, description: str, *, limit: int) -> Example:
        """A new example. Once a failure is found, at most ``limit`` calls in all: the property then stops
        with the failing examples shrunk so far (the last of each kind is the smallest: the shrinker only
        moves to a smaller failing example). Call it after every draw of the example."""
        from hypothesis.control import current_build_context

        if self.stop.is_set():
            raise Unjudgeable("the run was interrupted")
        self.calls += 1
        if self.failed and self.calls > limit and not current_build_context().is_final:
            raise _ShrinkBudgetSpent
        self.examples += 1
        return Example(self, description)

    def example(self, description: str) -> Example:
        """A new example outside hypothesis (boundary values are enumerated, not drawn)."""
        if self.stop.is_set():
            raise Unjudgeable("the run was interrupted")
        self.calls += 1
        self.examples += 1
        return Example(self, description)

    def explore(
        self,
        test: Callable[[], None],
        *,
        seed: int,
        max_examples: int,
        stateful_steps: int | None = None,
        machine: Any = None,
    ) -> Exploration:
        """Run a property (a ``@given`` test without settings, or a state machine class) to its outcome."""
        from hypothesis import HealthCheck, Phase, Verbosity, settings
        from hypothesis import seed as fix_seed
        from hypothesis.errors import FlakyFailure

        stateful: dict[str, Any] = {} if stateful_steps is None else {"stateful_step_count": stateful_steps}
        options = settings(
            max_examples=max_examples,
            database=None,
            deadline=None,
            derandomize=False,
            phases=(Phase.explicit, Phase.generate, Phase.shrink),
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=True,
            print_blob=False,
            verbosity=Verbosity.quiet,
            **stateful,
        )
        flaky = False
        try:
            if machine is not None:
                from hypothesis.stateful import run_state_machine_as_test

                factory: Any = fix_seed(seed)(machine)
                run_state_machine_as_test(factory, settings=options)
            else:
                fix_seed(seed)(options(test))()
        except _ShrinkBudgetSpent:
            return Exploration(self.examples, by_severity(self.failed.values()))
        except ExampleFailed as failed:
            return Exploration(self.examples, (failed.record,))
        except FlakyFailure as group:
            flaky = True
            found = _records(group)
            if found:
                return Exploration(self.examples, found, flaky=flaky)
            return Exploration(self.examples, error=f"flaky: {group}")
        except BaseExceptionGroup as group:
            found = _records(group)
            others = [e for e in _leaves(group) if not isinstance(e, ExampleFailed)]
            if any(isinstance(e, Unjudgeable) for e in others):
                raise next(e for e in others if isinstance(e, Unjudgeable)) from None
            if found:
                return Exploration(self.examples, found)
            return Exploration(self.examples, error=f"{type(group).__name__}: {group}")
        except Unjudgeable:
            raise
        except Exception as problem:  # a bug of a generator, surfaced by hypothesis after shrinking
            return Exploration(self.examples, error=f"{type(problem).__name__}: {problem}")
        return Exploration(self.examples)

    # -- on the event loop

    async def run(self, work: Callable[[], Exploration]) -> Exploration:
        """Run ``work`` in a worker thread; if the run is cancelled, stop it and wait for it to stop."""
        started = time.perf_counter()
        future = self.loop.run_in_executor(None, work)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            self.stop.set()
            with contextlib.suppress(BaseException):  # the thread only needs to have stopped
                await asyncio.wait_for(asyncio.shield(future), timeout=SEND_TIMEOUT_S)
            raise
        finally:
            self.elapsed_s = time.perf_counter() - started


def shrink_limit(max_examples: int) -> int:
    """How many examples a property may run in all, shrinking included."""
    return max_examples + max(SHRINK_MINIMUM, SHRINK_FACTOR * max_examples)


def _leaves(group: BaseExceptionGroup[Any]) -> list[BaseException]:
    found: list[BaseException] = []
    for exception in group.exceptions:
        if isinstance(exception, BaseExceptionGroup):
            found.extend(_leaves(exception))
        else:
            found.append(exception)
    return found


def _records(group: BaseExceptionGroup[Any]) -> tuple[ExampleRecord, ...]:
    return by_severity(e.record for e in _leaves(group) if isinstance(e, ExampleFailed))


def by_severity(records: Iterable[ExampleRecord]) -> tuple[ExampleRecord, ...]:
    return tuple(sorted(records, key=lambda r: _SEVERITY[r.worst.level] if r.worst is not None else 3))
