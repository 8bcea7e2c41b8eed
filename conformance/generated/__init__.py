"""Generated cases: the source the engine calls, beside the hand-written suite.

:class:`GeneratedSource` plans the generated instances of a run and executes them, returning the same
:class:`~conformance.model.CaseResult`\\ s as hand-written cases (origin ``generated``, tag ``generated``):

- :mod:`.openapi`: schemathesis's positive and negative examples of every operation of the profile's
  OpenAPI document, in every body encoding;
- :mod:`.security`: valid examples re-sent mis-signed, stale, early, without key... (the request security
  and timing clauses);
- :mod:`.boundaries`: the values around every symbol's band (and its brackets), from the market facts;
- :mod:`.stateful`: random sequences of leverage changes, rejected requests and read-backs over the run's
  symbols and accounts, against a model of the persistence rules.

Each instance runs at most ``max_examples`` examples (plus a bounded shrink), reproducibly from the run's
seed; a failing example is shrunk and reported as a YAML case (``CaseResult.reproduction``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from conformance.checks import CheckEnvironment
from conformance.execution import Session, decide
from conformance.generated import boundaries, openapi, security, stateful
from conformance.generated.context import Context, Generator
from conformance.generated.driver import Driver, ExampleRecord, Exploration, Unjudgeable
from conformance.generated.reproduction import case_yaml
from conformance.model import CaseInstance, CaseResult, Failure, Level, MarketFacts, Outcome, Profile

__all__ = ["DEFAULT_MAX_EXAMPLES", "GeneratedSource", "new_seed", "source"]

if TYPE_CHECKING:
    from conformance.engine import Run

DEFAULT_MAX_EXAMPLES = 10  # per generated instance; 0 turns generated cases off


def source(
    *, max_examples: int = DEFAULT_MAX_EXAMPLES, seed: int | None = None
) -> Callable[[Run], GeneratedSource]:
    """The generated cases as a source of a run: ``RunConfig(sources=(generated.source(seed=3),))``."""

    def for_run(run: Run) -> GeneratedSource:
        return GeneratedSource(
            run.profile,
            run.setup.markets,
            accounts=run.setup.accounts,
            allow_trading=run.setup.allow_trading,
            max_examples=max_examples,
            seed=seed,
            check_env=run.session.check_env,
        )

    return for_run


def new_seed() -> int:
    """A seed for a run that was given none (shown in the run's notes, to rerun with ``--seed``)."""
    return secrets.randbelow(2**31)


class GeneratedSource:
    """The generated instances of one run, and how to execute them."""

    def __init__(
        self,
        profile: Profile,
        markets: Mapping[str, MarketFacts] | Sequence[MarketFacts],
        *,
        accounts: tuple[str, ...] = ("primary",),
        allow_trading: bool = False,
        max_examples: int = DEFAULT_MAX_EXAMPLES,
        seed: int | None = None,
        check_env: CheckEnvironment,
    ) -> None:
        facts = dict(markets) if isinstance(markets, Mapping) else {f.symbol: f for f in markets}
        self.seed = new_seed() if seed is None else seed
        self.context = Context(
            profile=profile,
            markets=facts,
            accounts=accounts,
            allow_trading=allow_trading,
            max_examples=max_examples,
            seed=self.seed,
        )
        self._check_env = check_env
        self._generators: dict[str, Generator] = {}
        if max_examples > 0 and facts:
            for generator in _all_generators(self.context):
                self._generators[generator.instance.id] = generator
        self._one_property = asyncio.Lock()  # hypothesis runs one property at a time

    @property
    def note(self) -> str | None:
        return (
            f"generated cases: seed {self.seed}, at most {self.context.max_examples} examples each "
            f"(rerun with --seed {self.seed})"
        )

    def instances(self) -> list[CaseInstance]:
        return [generator.instance for generator in self._generators.values()]

    def owns(self, instance: CaseInstance) -> bool:
        return instance.id in self._generators

    async def execute(self, instance: CaseInstance, session: Session) -> CaseResult:
        """Run one generated instance to its result. Never raises for venue trouble."""
        generator = self._generators[instance.id]
        started = time.perf_counter()
        driver = Driver(session, asyncio.get_running_loop(), self.context.level, self._check_env)
        try:
            if generator.hypothesis:
                async with self._one_property:
                    exploration = await driver.run(lambda: generator.work(driver))
            else:
                exploration = await driver.run(lambda: generator.work(driver))
        except Unjudgeable as problem:
            exploration = Exploration(driver.examples, error=f"could not judge: {problem}")
        elapsed_ms = (time.perf_counter() - started) * 1000
        return self._result(instance, generator, exploration, driver, elapsed_ms)

    def _result(
        self,
        instance: CaseInstance,
        generator: Generator,
        exploration: Exploration,
        driver: Driver,
        duration_ms: float,
    ) -> CaseResult:
        case = instance.case
        worst: ExampleRecord | None = exploration.failing[0] if exploration.failing else None
        failures: list[Failure] = list(worst.failures) if worst is not None else []
        for other in exploration.failing[1:]:
            failures.extend(
                dataclasses.replace(f, title=f"another example ({other.description}): {f.title}", step=None)
                for f in other.judged_failures
            )
        outcome, message = decide(failures, exploration.error)
        counted = f"{exploration.examples} example{'s' if exploration.examples != 1 else ''}"
        if worst is not None and outcome is not Outcome.PASS:
            found = "shrunk to" if generator.hypothesis else "failing example"
            message = f"{message} — {found}: {worst.description} ({counted}, seed {self.seed})"
        elif outcome is Outcome.PASS and message == "as specified":
            message = f"{counted} as specified ({driver.requests} requests, seed {self.seed})"
        if exploration.flaky:
            message += "; flaky: the failure did not happen again when replayed"
        reproduction = None
        if worst is not None and worst.worst is not None:
            reproduction = self._reproduction(instance, generator, worst, worst.worst.clause)
        return CaseResult(
            id=instance.id,
            case_id=case.id,
            description=case.description,
            clause=case.clause,
            level=instance.level,
            outcome=outcome,
            message=message,
            source=str(case.location),
            tags=case.tags,
            params=instance.params,
            steps=tuple(worst.steps) if worst is not None else (),
            failures=tuple(failures),
            duration_ms=duration_ms,
            origin="generated",
            reproduction=reproduction,
        )

    def _reproduction(
        self, instance: CaseInstance, generator: Generator, record: ExampleRecord, clause: str
    ) -> str:
        levels: dict[str, Level | None] = {clause: self.context.level(clause)}
        notes = "".join(f"\n# Note: {note}" for note in dict.fromkeys(record.notes))
        how = "Shrunk from" if generator.hypothesis else "Found by"
        origin = (
            f"{how} {instance.id} in `conformance run --seed {self.seed} "
            f"--max-examples {self.context.max_examples}` (profile {self.context.profile.name}).{notes}"
        )
        return case_yaml(
            plans=record.plans,
            observations=record.observations,
            clause=clause,
            dialect=self.context.profile.dialect,
            description=_present_tense(record.description),
            origin=origin,
            level_of=levels,
        )


def _all_generators(context: Context) -> list[Generator]:
    return [
        *openapi.generators(context),
        *security.generators(context),
        *boundaries.generators(context),
        *stateful.generators(context),
    ]


def _present_tense(description: str) -> str:
    """``positive example: accepts leverage 20 for BTCUSDT`` -> ``accepts leverage 20 for BTCUSDT``."""
    text = description.split(": ", 1)[1] if ": " in description else description
    return text or "reproduces a generated example"
