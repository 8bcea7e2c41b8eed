"""The pytest plugin: YAML cases as pytest items, run through the same library calls as the CLI.

``pytest cases/ --profile ztdx`` (the built-in reference venue) or ``pytest cases/ --target URL --profile
NAME`` (credentials from ``CONFORMANCE_API_KEY``/``CONFORMANCE_API_SECRET``) collects every case file
under the given paths; each case instance is one item. The plugin is inert unless ``--target`` or
``--profile`` is given, so it never collects YAML in other projects' test runs. With ``--max-examples N``
(N > 0) the generated cases (:mod:`conformance.generated`) are collected too, as items under a
``generated`` node; unlike ``conformance run`` they are off by default here, since ``pytest`` on one case
file should run that file.

It only collects and adapts: :func:`conformance.engine.open_run` opens the run when the first case
file is collected, ``Run.plan`` expands each file, ``Run.plan_sources`` gives the generated instances,
``Run.protect`` snapshots the account once collection is done, ``Run.execute`` runs each item, and
``Run.finish`` restores the account at the end of the session (also after Ctrl-C). A ``fail`` or
``error`` outcome fails the item and shows the clause, expected and actual; ``skip`` skips it; a ``warn``
(a SHOULD breach) passes and is listed in the summary.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance import cases, engine, generated, junit, results
from conformance.model import CaseInstance, CaseResult, Outcome

_ACTIVE = pytest.StashKey["ConformanceSession"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "venue conformance (YAML cases)")
    group.addoption("--target", metavar="URL", help="Venue base URL (default: the built-in reference venue).")
    group.addoption("--profile", metavar="NAME|PATH", help="Venue profile: binance-usdm, ztdx or a file.")
    group.addoption("--markets", metavar="FILE", help="Markets file: leverage bands, brackets, limits.")
    group.addoption("--symbols", metavar="A,B", help="Symbols to exercise.")
    group.addoption(
        "--allow-trading",
        action="store_true",
        default=None,
        help="Let trading cases place orders (default: only against the built-in venue).",
    )
    group.addoption("--no-trading", dest="allow_trading", action="store_false", help="Never place orders.")
    group.addoption(
        "--max-examples",
        type=int,
        default=0,
        metavar="N",
        help="Collect the generated cases too, with N examples each (default 0: none).",
    )
    group.addoption("--seed", type=int, metavar="N", help="Seed of the generated cases (default: a new one).")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("target") is None and config.getoption("profile") is None:
        return
    if config.getoption("max_examples") < 0:
        raise pytest.UsageError("--max-examples must be 0 or more")
    session = ConformanceSession(config)
    config.stash[_ACTIVE] = session
    config.add_cleanup(session.close)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if _ACTIVE not in parent.config.stash or file_path.suffix not in (".yaml", ".yml"):
        return None
    collector: CaseFile = CaseFile.from_parent(parent, path=file_path)
    return collector


@pytest.hookimpl(tryfirst=True)  # before -k and -m deselect, so they apply to the generated items too
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if _ACTIVE not in config.stash or not config.getoption("max_examples"):
        return
    # collected through the hooks, as pytest collects a file: counted, and a failure is a collection error
    generated = GeneratedCases.from_parent(session, name="generated", nodeid="generated")
    config.hook.pytest_collectstart(collector=generated)
    report: pytest.CollectReport = config.hook.pytest_make_collect_report(collector=generated)
    config.hook.pytest_collectreport(report=report)
    items.extend(node for node in report.result if isinstance(node, pytest.Item))


def pytest_collection_finish(session: pytest.Session) -> None:
    if _ACTIVE in session.config.stash:
        session.config.stash[_ACTIVE].protect([i for i in session.items if isinstance(i, CaseItem)])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _ACTIVE in session.config.stash:
        session.config.stash[_ACTIVE].finish()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if _ACTIVE not in config.stash:
        return
    session = config.stash[_ACTIVE]
    if session.warnings:
        terminalreporter.section("conformance: SHOULD breaches (warn)")
        for result in session.warnings:
            terminalreporter.line(f"{result.id} {result.clause}: {result.message}")
    for note in session.notes:
        terminalreporter.line(f"conformance: {note}")


class ConformanceSession:
    """One run for the whole pytest session, on its own event loop."""

    def __init__(self, config: pytest.Config) -> None:
        self._config = config
        self._loop = asyncio.Runner()
        self._stack = contextlib.ExitStack()
        self._run: engine.Run | None = None
        self.warnings: list[CaseResult] = []
        self.notes: list[str] = []
        self.results: list[CaseResult] = []

    def run(self) -> engine.Run:
        """The run, opened on first use (connecting and measuring happen during collection)."""
        if self._run is None:
            self._run = self._open()
        return self._run

    def _open(self) -> engine.Run:
        from conformance import profiles
        from conformance.targets import open_target

        option = self._config.getoption
        profile_name = option("profile") or "binance-usdm"
        markets = Path(option("markets")) if option("markets") else None
        profile = profiles.load_profile(profile_name)
        target = self._stack.enter_context(open_target(option("target"), profile.dialect, markets))
        allow = option("allow_trading")
        max_examples = option("max_examples")
        config = engine.RunConfig(
            target=target.url,
            accounts=target.accounts,
            profile=profile_name,
            markets_file=target.markets_file,
            symbols=tuple(s for s in (option("symbols") or "").split(",") if s),
            allow_trading=target.builtin if allow is None else allow,
            builtin=target.builtin,
            sources=(generated.source(max_examples=max_examples, seed=option("seed")),)
            if max_examples
            else (),
        )
        return self._loop.run(engine.open_run(config))

    def protect(self, items: list[CaseItem]) -> None:
        if not items:
            return
        protected = self._loop.run(self.run().protect([item.instance for item in items]))
        for item, instance in zip(items, protected, strict=True):
            item.instance = instance

    def execute(self, instance: CaseInstance) -> CaseResult:
        result = self._loop.run(self.run().execute(instance))
        self.results.append(result)
        if result.outcome is Outcome.WARN:
            self.warnings.append(result)
        return result

    def finish(self) -> None:
        """Restore the account (once): at the end of the session, or at cleanup after an interruption."""
        run, self._run = self._run, None
        if run is not None:
            finished = self._loop.run(run.finish(self.results, complete=True))
            self.notes.extend(finished.notes)

    def close(self) -> None:
        try:
            self.finish()
        finally:
            self._loop.close()
            self._stack.close()


class CaseFile(pytest.File):
    """One YAML case file; its items are the case's instances for this run."""

    def collect(self) -> Iterator[pytest.Item]:
        session: ConformanceSession = self.config.stash[_ACTIVE]
        try:
            case = cases.load_case(self.path)
        except cases.CaseFileError as error:
            raise self.CollectError(error.render()) from None
        try:
            run = session.run()
        except Exception as error:  # a bad profile, target, markets file...
            raise self.CollectError(f"conformance: {error}") from None
        instances, errors = run.plan([case], with_sources=False)
        for instance in instances:
            yield CaseItem.from_parent(self, name=instance.id, instance=instance)
        for failed in errors:
            raise self.CollectError(failed.message)


class GeneratedCases(pytest.Collector):
    """The generated cases of the run, one item per generated instance."""

    def collect(self) -> list[pytest.Item]:
        session: ConformanceSession = self.config.stash[_ACTIVE]
        try:
            instances = session.run().plan_sources()
        except Exception as error:  # a bad profile, target, markets file...
            raise self.CollectError(f"conformance: {error}") from None
        return [CaseItem.from_parent(self, name=instance.id, instance=instance) for instance in instances]


class CaseFailed(Exception):
    def __init__(self, result: CaseResult) -> None:
        super().__init__(result.message)
        self.result = result


class CaseItem(pytest.Item):
    def __init__(self, *, instance: CaseInstance, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.instance = instance
        # -k selects by tag and clause too, as `conformance run -k` does
        self.extra_keyword_matches.update({*instance.case.tags, instance.case.clause, instance.case.origin})
        self.user_properties.append(("clause", instance.case.clause))
        self.user_properties.append(("level", str(instance.level)))

    def runtest(self) -> None:
        result = self.config.stash[_ACTIVE].execute(self.instance)
        self.user_properties.append(("outcome", str(result.outcome)))
        if result.outcome is Outcome.SKIP:
            pytest.skip(result.message)
        if result.outcome in (Outcome.FAIL, Outcome.ERROR):
            raise CaseFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if not isinstance(excinfo.value, CaseFailed):
            return str(super().repr_failure(excinfo))
        result = excinfo.value.result
        document = results.case_document(result)
        heading = (
            f"{result.clause} ({result.level}) {result.outcome.value.upper()}: {result.description}\n"
            f"{result.message}"
        )
        details = [
            f"  {f.level} {f.title}\n    expected: {f.expected}\n    actual:   {f.actual}"
            for f in result.failures
        ]
        return "\n".join([heading, *details, "", junit.transcript(document)])

    def reportinfo(self) -> tuple[Path, int | None, str]:
        location = self.instance.case.location
        path = self.path if isinstance(self.parent, CaseFile) else Path(location.file)  # a generator
        return path, location.line - 1, f"{self.instance.id} [{self.instance.case.clause}]"
