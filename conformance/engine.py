"""The library API: one conformance run against one venue.

``await run(config, on_event)`` is what the CLI calls. The steps are public for the pytest plugin, which
collects and runs cases one by one through the same calls:

1. :func:`open_run` loads the profile, connects, measures the venue clock and gathers market facts;
2. :meth:`Run.plan` expands cases into instances (``-k`` selects);
3. :meth:`Run.protect` records the state of everything the instances touch, and skips trading cases on
   symbols where the account already holds a position;
4. :meth:`Run.execute` runs one instance (what the scheduler does concurrently);
5. :meth:`Run.finish` restores the account, closes the connection and returns the frozen result.

Configuration problems raise :class:`ConfigurationError` (exit 2); a target that cannot be reached
raises :class:`~conformance.session.UnreachableTarget` (exit 3). Everything the venue does wrong becomes
a case outcome, never an exception.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from conformance import __version__, cases, events, facts, markets, planning, profiles, scheduler, specs
from conformance.checks import CheckEnvironment
from conformance.clock import ClockError, measure_clock
from conformance.credentials import Credentials
from conformance.events import Listener
from conformance.execution import execute
from conformance.guard import Guard
from conformance.markets_file import MarketsFileError, load_markets_file
from conformance.model import Case, CaseInstance, CaseResult, Level, Outcome, Profile, RunResult, verdict_of
from conformance.resources import cases_dir
from conformance.session import PRIMARY, SECONDARY, UnreachableTarget, VenueSession

DEFAULT_WORKERS = 4
DEFAULT_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 3.0
# Drop an idle connection well before a server would: httpx's default (5 s) equals uvicorn's and Node's
# keep-alive timeout, so a request sent on a connection the server is closing at that moment fails with
# "Server disconnected without sending a response" (seen against the built-in venue). Gunicorn closes at 2 s.
KEEPALIVE_EXPIRY_S = 1.5


class ConfigurationError(Exception):
    """A bad invocation, profile, markets or case file: nothing was (or will be) sent."""


@dataclass(frozen=True)
class RunConfig:
    target: str  # base URL of the venue
    accounts: Mapping[str, Credentials]  # "primary" (required) and optionally "secondary"
    profile: str | Path = "binance-usdm"  # a built-in name or a profile file
    markets_file: Path | None = None
    symbols: tuple[str, ...] = ()  # empty: every symbol of the markets file, else the discovered ones
    cases_path: Path | None = None  # None: the shipped suite
    allow_trading: bool = False
    select: str | None = None  # -k
    workers: int = DEFAULT_WORKERS
    timeout_s: float = DEFAULT_TIMEOUT_S
    transport: httpx.AsyncBaseTransport | None = None  # an in-process venue (tests, benchmarks)
    builtin: bool = False  # the target is the built-in reference venue (recorded in the results)
    # where instances come from besides the case files: conformance.generated.source(...) (the CLI's default)
    sources: tuple[SourceFactory, ...] = ()


class CaseSource(Protocol):
    """Instances from elsewhere than case files (the generated ones): planned and run with the suite's."""

    def instances(self) -> Sequence[CaseInstance]: ...

    def owns(self, instance: CaseInstance) -> bool: ...

    async def execute(self, instance: CaseInstance, session: VenueSession) -> CaseResult: ...

    @property
    def note(self) -> str | None:
        """A remark for the run's notes when some of its instances run (the generated cases' seed)."""
        ...


SourceFactory = Callable[["Run"], CaseSource]  # called once the run knows its profile, facts and accounts


def _schema_validator(value: Any, schema: str) -> None:
    try:
        specs.validate_value(schema, value)
    except specs.SchemaMismatch as mismatch:
        raise ValueError(str(mismatch)) from None


def tree_hash(path: Path) -> str:
    """A stable hash of the YAML files under a directory (or of one file): which cases ran."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml"))
    for file in files:
        digest.update(file.relative_to(path.parent if path.is_file() else path).as_posix().encode())
        digest.update(b"\0")
        digest.update(file.read_bytes())
    return "sha256:" + digest.hexdigest()


def load_suite(config: RunConfig) -> list[Case]:
    path = config.cases_path if config.cases_path is not None else cases_dir()
    if not path.exists():
        raise ConfigurationError(f"--cases: {path} does not exist")
    try:
        return cases.load_cases(path)
    except cases.CaseFileError as error:
        raise ConfigurationError(error.render()) from None


def _load_profile(config: RunConfig) -> Profile:
    try:
        return profiles.load_profile(config.profile)
    except profiles.ProfileError as error:
        raise ConfigurationError(error.render()) from None


class Run:
    """One run in progress against one venue (see the module docstring for the order of calls)."""

    def __init__(
        self,
        config: RunConfig,
        session: VenueSession,
        report: markets.MarketsReport,
        setup: planning.RunSetup,
    ) -> None:
        self.config = config
        self.session = session
        self.markets = report
        self.setup = setup
        self.guard = Guard(session)
        self.notes: list[str] = []
        self.started_at = dt.datetime.now(dt.UTC)
        self._started = time.perf_counter()
        self.cases_hash = ""  # of the case files the run loaded
        self.sources = [make(self) for make in config.sources]

    @property
    def profile(self) -> Profile:
        return self.session.profile

    # -- planning

    def plan(
        self, suite: Sequence[Case], *, with_sources: bool = True
    ) -> tuple[list[CaseInstance], list[CaseResult]]:
        """The instances to run (the suite's, then the sources' unless ``with_sources`` is false), and an
        error result for each case that could not be expanded."""
        try:
            planned = planning.plan(suite, self.setup, select=self.config.select)
        except planning.SelectionError as error:
            raise ConfigurationError(str(error)) from None
        sourced = self.plan_sources() if with_sources else []
        errors = [
            CaseResult(
                id=problem.case.id,
                case_id=problem.case.id,
                description=problem.case.description,
                clause=problem.case.clause,
                level=problem.case.level or Level.MUST,
                outcome=Outcome.ERROR,
                message=f"cannot expand the case: {problem.message}",
                source=str(problem.case.location),
                tags=problem.case.tags,
            )
            for problem in planned.errors
        ]
        return [*planned.instances, *sourced], errors

    def plan_sources(self) -> list[CaseInstance]:
        """The instances of the run's sources (the generated cases), selected by ``-k``; call it once."""
        try:
            sourced = [instance for source in self.sources for instance in source.instances()]
            if self.config.select:
                sourced = planning.select(sourced, self.config.select)
        except planning.SelectionError as error:
            raise ConfigurationError(str(error)) from None
        for source in self.sources:
            if source.note and any(source.owns(instance) for instance in sourced):
                self.notes.append(source.note)
        return sourced

    async def protect(self, instances: Sequence[CaseInstance]) -> list[CaseInstance]:
        """Snapshot what the instances touch; trading instances on symbols already traded are skipped."""
        touches = [t for instance in instances if instance.skip_reason is None for t in instance.touches]
        self.notes.extend(await self.guard.snapshot(touches, self.setup.symbols))
        return [self._trading_check(instance) for instance in instances]

    def _trading_check(self, instance: CaseInstance) -> CaseInstance:
        if "trading" not in instance.case.requires or instance.skip_reason is not None:
            return instance
        for touch in sorted(instance.touches, key=lambda t: (t.account, t.symbol or "")):
            if touch.symbol is None or touch.symbol not in self.setup.symbols:
                continue
            flat = self.guard.flat_at_start(touch.account, touch.symbol)
            if flat is None:
                reason = f"the {touch.account} {touch.symbol} position could not be read at the start"
                return dataclasses.replace(instance, skip_reason=reason)
            if not flat:
                reason = (
                    f"the {touch.account} account held a {touch.symbol} position at the start: "
                    "trading cases run only on symbols without one"
                )
                return dataclasses.replace(instance, skip_reason=reason)
        return instance

    # -- running

    async def execute(self, instance: CaseInstance) -> CaseResult:
        if self.session.unreachable and instance.skip_reason is None:
            return CaseResult(
                id=instance.id,
                case_id=instance.case.id,
                description=instance.case.description,
                clause=instance.case.clause,
                level=instance.level,
                outcome=Outcome.ERROR,
                message="not run: the target stopped answering",
                source=str(instance.case.location),
                tags=instance.case.tags,
                params=instance.params,
                origin=instance.case.origin,
            )
        for source in self.sources:
            if source.owns(instance):
                return await source.execute(instance, self.session)
        return await execute(instance, self.session)

    async def finish(self, results: Iterable[CaseResult], *, complete: bool) -> RunResult:
        """Restore the account, close the connection, and freeze the result."""
        try:
            restored = await self.guard.restore()
        finally:
            await self.session.aclose()
        self.notes.extend(restored)
        if self.session.unreachable:
            complete = False
            self.notes.append("the target stopped answering during the run")
        restore_failed = any(note.startswith("RESTORE FAILED") for note in restored)
        case_results = tuple(results)
        outcomes = [case.outcome for case in case_results]
        verdict = verdict_of(outcomes, complete=complete and not restore_failed)
        return RunResult(
            run_id=f"{self.started_at:%Y%m%d-%H%M%S}-{self.profile.name}-{secrets.token_hex(2)}",
            verdict=verdict,
            profile=self.profile.name,
            dialect=self.profile.dialect,
            target=self.config.target,
            clock_offset_ms=self.session.clock.offset_ms,
            round_trip_ms=self.session.clock.round_trip_ms,
            started_at=self.started_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
            duration_ms=(time.perf_counter() - self._started) * 1000,
            harness_version=__version__,
            specs_hash=specs.specs_hash(),
            cases_hash=self.cases_hash,
            cases=case_results,
            market_facts=self.markets.facts,
            disagreements=self.markets.disagreements,
            complete=complete,
            builtin=self.config.builtin,
            notes=tuple(self.notes),
        )


async def open_run(config: RunConfig) -> Run:
    """Connect to the target and establish the run's clock, facts and setup."""
    if PRIMARY not in config.accounts:
        raise ConfigurationError("no credentials: set CONFORMANCE_API_KEY and CONFORMANCE_API_SECRET")
    if config.workers < 1:
        raise ConfigurationError("--workers must be at least 1")
    profile = _load_profile(config)
    markets_file = None
    if config.markets_file is not None:
        try:
            markets_file = load_markets_file(config.markets_file)
        except MarketsFileError as error:
            raise ConfigurationError(error.render()) from None
        except OSError as error:
            raise ConfigurationError(f"--markets: {error}") from None

    timeout = httpx.Timeout(config.timeout_s, connect=min(CONNECT_TIMEOUT_S, config.timeout_s))
    base_url = config.target.rstrip("/")
    client = httpx.AsyncClient(
        base_url=base_url,
        transport=config.transport,
        timeout=timeout,
        limits=httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY_S),
        follow_redirects=False,
    )
    try:
        try:
            clock = await measure_clock(client, base_url + profile.paths["time"])
        except ClockError as error:
            raise UnreachableTarget(f"{error.target} {error.reason}") from None
        setup_holder: dict[str, planning.RunSetup] = {}
        session = VenueSession(
            client=client,
            base_url=base_url,
            profile=profile,
            accounts=config.accounts,
            clock=clock,
            check_env=CheckEnvironment(validate_schema=_schema_validator),
            scope_builder=lambda instance: planning.scope_for(instance, setup_holder["setup"]),
        )
        try:
            report = await markets.gather_market_facts(
                client,
                profile,
                auth=session.signer(PRIMARY),
                markets_file=markets_file,
                symbols=config.symbols or None,
            )
        except markets.MarketFactsError as error:
            raise ConfigurationError(f"market facts: {error}") from None
        by_symbol = {f.symbol: f for f in report.facts}
        setup = planning.RunSetup(
            profile=profile,
            markets=by_symbol,
            symbols=tuple(by_symbol),
            second_account=SECONDARY in config.accounts,
            allow_trading=config.allow_trading,
        )
        setup_holder["setup"] = setup
    except BaseException:
        await client.aclose()
        raise
    current = Run(config, session, report, setup)
    current.notes.extend(f"market facts: {where} {problem}" for where, problem in report.problems.items())
    unknown = [f.symbol for f in report.facts if f.sources.get("min_leverage") == facts.ASSUMED]
    if unknown:
        current.notes.append(
            f"market facts: the minimum leverage of {', '.join(unknown)} is not published by the venue; "
            "cases that need it are skipped (give a markets file with --markets)"
        )
    return current


async def run(
    config: RunConfig,
    on_event: Listener = events.ignore,
    *,
    suite: Sequence[Case] | None = None,
) -> RunResult:
    """A whole run. Cancelling it (Ctrl-C, SIGTERM) still restores the account and returns an incomplete
    result with what finished."""
    cases_loaded = list(suite) if suite is not None else load_suite(config)
    current = await open_run(config)
    current.cases_hash = tree_hash(config.cases_path or cases_dir())
    finished: dict[str, CaseResult] = {}
    started: set[str] = set()
    complete = True
    instances: list[CaseInstance] = []
    try:
        instances, plan_errors = current.plan(cases_loaded)
        instances = await current.protect(instances)
        for error in plan_errors:
            finished[error.id] = error
        on_event(
            events.RunStarted(
                target=config.target,
                profile=current.profile.name,
                clock_offset_ms=current.session.clock.offset_ms,
                round_trip_ms=current.session.clock.round_trip_ms,
                facts=current.markets.facts,
                planned=len(instances) + len(plan_errors),
            )
        )
        for error in plan_errors:
            on_event(events.CaseFinished(error))

        async def run_one(instance: CaseInstance) -> CaseResult:
            started.add(instance.id)
            on_event(events.CaseStarted(instance))
            result = await current.execute(instance)
            finished[instance.id] = result
            on_event(events.CaseFinished(result))
            return result

        jobs = [
            scheduler.Job(
                item=instance,
                keys=frozenset(instance.touches),
                writes=instance.writes,
            )
            for instance in instances
        ]
        await scheduler.run_all(jobs, run_one, workers=config.workers)
    except asyncio.CancelledError:
        complete = False
        current.notes.append("the run was interrupted; what it changed was restored")
        on_event(events.Notice("interrupted: restoring the account..."))
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
    ordered = [finished.get(i.id) or _not_run(i, running=i.id in started) for i in instances]
    ordered = [r for r in finished.values() if r.id not in {i.id for i in instances}] + ordered
    result = await _restoring(current.finish(ordered, complete=complete), on_event)
    on_event(events.RunFinished(result))
    return result


async def _restoring(finishing: Awaitable[RunResult], on_event: Listener) -> RunResult:
    """Finish the run (restore the account) even if interrupted once; a second interruption abandons it."""
    task = asyncio.ensure_future(finishing)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        on_event(events.Notice("restoring the account before stopping (interrupt again to abandon)"))
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()
        return await task  # a second cancellation cancels the restoration too


def _not_run(instance: CaseInstance, *, running: bool) -> CaseResult:
    """An instance the interruption stopped: an error if it had started, else a skip."""
    return CaseResult(
        id=instance.id,
        case_id=instance.case.id,
        description=instance.case.description,
        clause=instance.case.clause,
        level=instance.level,
        outcome=Outcome.ERROR if running else Outcome.SKIP,
        message="interrupted while running" if running else "not run: the run was interrupted",
        source=str(instance.case.location),
        tags=instance.case.tags,
        params=instance.params,
        origin=instance.case.origin,
    )
