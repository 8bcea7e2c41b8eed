"""Terminal output: progress while the run goes, each problem as it happens, a summary by clause at the end.

A listener of engine events (it never calls the engine). Everything shown passes through the redactor.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from conformance.events import CaseFinished, Event, Notice, RunFinished, RunStarted
from conformance.model import CaseResult, Outcome, RunResult, Verdict
from conformance.results import Redactor

_STYLE = {
    Outcome.PASS: "green",
    Outcome.FAIL: "bold red",
    Outcome.WARN: "yellow",
    Outcome.ERROR: "magenta",
    Outcome.SKIP: "dim",
}
_MARK = {Outcome.PASS: "✓", Outcome.FAIL: "✗", Outcome.WARN: "!", Outcome.ERROR: "E", Outcome.SKIP: "-"}
_VERDICT_STYLE = {
    Verdict.CONFORMANT: "bold green",
    Verdict.NONCONFORMANT: "bold red",
    Verdict.INCOMPLETE: "bold yellow",
}


class TerminalReporter:
    def __init__(self, console: Console, redactor: Redactor, *, verbose: bool = False) -> None:
        self._console = console
        self._redact = redactor.text
        self._verbose = verbose
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._started(event)
        elif isinstance(event, CaseFinished):
            self._finished(event.result)
        elif isinstance(event, Notice):
            self._print(f"[cyan]note[/] {escape(self._redact(event.text))}")
        elif isinstance(event, RunFinished):
            self._stop_progress()

    def _print(self, text: str) -> None:
        console = self._progress.console if self._progress is not None else self._console
        console.print(text, highlight=False)

    def _started(self, event: RunStarted) -> None:
        symbols = ", ".join(f.symbol for f in event.facts) or "none"
        self._print(
            f"[bold]{escape(event.profile)}[/] at {escape(event.target)} · "
            f"clock offset {event.clock_offset_ms:+.1f} ms (round trip {event.round_trip_ms:.1f} ms) · "
            f"symbols {escape(symbols)}"
        )
        self._progress = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self._console,
            transient=True,
            disable=not self._console.is_terminal,
        )
        self._progress.start()
        self._task = self._progress.add_task("cases", total=event.planned)

    def _finished(self, result: CaseResult) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)
        if result.outcome in (Outcome.PASS, Outcome.SKIP) and not self._verbose:
            return
        style = _STYLE[result.outcome]
        self._print(
            f"[{style}]{_MARK[result.outcome]} {result.outcome:<5}[/] {escape(result.id)} "
            f"[dim]{escape(result.clause)}[/] {escape(self._redact(result.message))}"
        )

    def _stop_progress(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def summary(self, run: RunResult, run_dir: Path | None) -> None:
        """The table by clause, the verdict and where the reports are."""
        self._stop_progress()
        by_clause: dict[str, Counter[Outcome]] = defaultdict(Counter)
        levels: dict[str, str] = {}
        for case in run.cases:
            by_clause[case.clause][case.outcome] += 1
            levels.setdefault(case.clause, str(case.level))
        table = Table(title="Outcomes by clause", show_edge=False, header_style="bold")
        table.add_column("clause")
        table.add_column("level")
        for outcome in Outcome:
            table.add_column(str(outcome), justify="right", style=_STYLE[outcome])
        for clause in sorted(by_clause):
            counts = by_clause[clause]
            table.add_row(clause, levels[clause], *(str(counts[o] or "") for o in Outcome))
        self._console.print(table)
        for d in run.disagreements:
            self._print(
                f"[yellow]market facts disagree[/] {escape(d.symbol)} {escape(d.fact)}: "
                f"file {escape(d.file_value)}, venue {escape(d.venue_value)} ({escape(d.source)})"
            )
        for note in run.notes:
            self._print(f"[cyan]note[/] {escape(self._redact(note))}")
        totals = Counter(case.outcome for case in run.cases)
        counted = " · ".join(f"{totals[o]} {o}" for o in Outcome)
        self._console.print(
            f"[{_VERDICT_STYLE[run.verdict]}]{run.verdict.value.upper()}[/] {counted} "
            f"in {run.duration_ms / 1000:.1f} s",
            highlight=False,
        )
        if run_dir is not None:
            self._console.print(f"report: {escape(str(run_dir / 'index.html'))}", highlight=False)
