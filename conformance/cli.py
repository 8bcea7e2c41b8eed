"""The command line: ``conformance serve | run | replay``. A thin shell over the library API.

Exit codes of ``run``: 0 conformant (no MUST failure, nothing errored); 1 non-conformant (a MUST failed);
2 bad invocation, profile, markets or case file; 3 incomplete (no MUST failure, but something errored, the
run was interrupted, or the target was unreachable).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from conformance import __version__

T = TypeVar("T")

EXIT_CONFORMANT = 0
EXIT_NONCONFORMANT = 1
EXIT_BAD_INPUT = 2
EXIT_INCOMPLETE = 3


class UserError(click.ClickException):
    """A mistake in the command line or a file it names: one line on stderr, exit status 2."""

    exit_code = EXIT_BAD_INPUT


class _OneLineUsageErrors(click.Command):
    """Reports a bad option as one ``Error: ...`` line, without the usage text."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:
            raise UserError(" ".join(error.format_message().split())) from None


@click.group()
@click.version_option(__version__, prog_name="conformance")
def main() -> None:
    """Conformance harness for Binance-compatible futures venue APIs."""


_FILE = click.Path(dir_okay=False, path_type=Path)


# --------------------------------------------------------------------------------------------------
# serve


def _list_faults(ctx: click.Context, _: click.Parameter, wanted: bool) -> None:
    if not wanted or ctx.resilient_parsing:
        return
    from conformance.venue.faults import FAULTS

    for fault in FAULTS.values():
        profiles = ", ".join(sorted(fault.profiles))
        click.echo(f"{fault.name:<32} {fault.clause:<21} {fault.level:<6} {profiles:<19} {fault.description}")
    ctx.exit()


@main.command(cls=_OneLineUsageErrors)
@click.option(
    "--profile",
    type=click.Choice(["binance-usdm", "ztdx"]),
    required=True,
    help="The dialect the venue speaks.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port to listen on; 0 picks a free one (the URL printed first shows it).",
)
@click.option(
    "--accounts", type=_FILE, help="YAML file of API keys and secrets (default: two demo accounts)."
)
@click.option("--markets", type=_FILE, help="YAML markets file (default: BTCUSDT, ETHUSDT, SOLUSDT).")
@click.option("--state", type=_FILE, help="SQLite file keeping leverage and positions across restarts.")
@click.option("--fault", metavar="NAME", help="Serve a deliberately broken twin (see --list-faults).")
@click.option(
    "--latency-ms",
    type=click.IntRange(0, 60000),
    default=0,
    show_default=True,
    help="Delay every request, as a remote venue would.",
)
@click.option(
    "--list-faults",
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=_list_faults,
    help="List the named faults and exit.",
)
def serve(**options: Any) -> None:
    """Run the built-in reference venue until Ctrl+C (SIGINT) or SIGTERM.

    Prints the URL it listens on as the first line of output.
    """
    from conformance.venue.config import ConfigError
    from conformance.venue.server import ServeOptions
    from conformance.venue.server import serve as serve_venue

    try:
        serve_venue(ServeOptions(**options), announce=click.echo)
    except ConfigError as error:
        raise UserError(str(error)) from None


# --------------------------------------------------------------------------------------------------
# run


def _run_interruptibly(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run the engine; the first Ctrl-C or SIGTERM cancels it (it restores the account and returns)."""

    async def main() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)
        try:
            return await coroutine
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)

    return asyncio.run(main())


@main.command(cls=_OneLineUsageErrors)
@click.option(
    "--target", metavar="URL", help="Base URL of the venue (default: the built-in reference venue)."
)
@click.option(
    "--profile", default="binance-usdm", show_default=True, metavar="NAME|PATH", help="Venue profile."
)
@click.option("--markets", type=_FILE, help="Markets file: leverage bands, brackets, limits per symbol.")
@click.option(
    "--symbols", metavar="A,B", help="Symbols to exercise (default: the markets file's, else discovered)."
)
@click.option(
    "--cases", "cases_path", type=click.Path(path_type=Path), help="Run these cases instead of the suite."
)
@click.option(
    "--allow-trading/--no-trading",
    default=None,
    help="Let trading cases place orders (default: on for the built-in venue, off for a --target).",
)
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reports"),
    show_default=True,
    help="Where run directories are written.",
)
@click.option("-k", "select", metavar="EXPR", help="Select cases by id, tag or clause (and/or/not).")
@click.option(
    "--workers", type=click.IntRange(min=1), default=4, show_default=True, help="Cases run at once."
)
@click.option(
    "--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True, help="Seconds per request."
)
@click.option(
    "--max-examples",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="Examples per generated case (schemathesis, mis-signed requests, state machine); 0 runs none.",
)
@click.option(
    "--seed", type=int, help="Seed of the generated cases (default: a new one, shown in the notes)."
)
@click.option("-v", "--verbose", is_flag=True, help="Show every case, not only the problems.")
def run(
    target: str | None,
    profile: str,
    markets: Path | None,
    symbols: str | None,
    cases_path: Path | None,
    allow_trading: bool | None,
    report_dir: Path,
    select: str | None,
    workers: int,
    timeout: float,
    max_examples: int,
    seed: int | None,
    verbose: bool,
) -> None:
    """Run the conformance suite against a venue and write the reports."""
    from conformance import artifacts, engine, generated, profiles, results
    from conformance.markets_file import MarketsFileError, load_markets_file
    from conformance.session import UnreachableTarget
    from conformance.targets import TargetError, open_target
    from conformance.terminal import TerminalReporter

    try:
        venue_profile = profiles.load_profile(profile)
        if markets is not None:
            load_markets_file(markets)  # before anything starts: a bad file is exit 2, not a traceback
    except (profiles.ProfileError, MarketsFileError) as error:
        raise UserError(error.render()) from None
    console = Console(highlight=False)
    with contextlib.ExitStack() as stack:
        try:
            venue = stack.enter_context(open_target(target, venue_profile.dialect, markets))
        except TargetError as error:
            raise UserError(str(error)) from None
        accounts = venue.accounts
        config = engine.RunConfig(
            target=venue.url,
            accounts=accounts,
            profile=profile,
            markets_file=venue.markets_file,
            builtin=venue.builtin,
            symbols=tuple(s.strip() for s in symbols.split(",") if s.strip()) if symbols else (),
            cases_path=cases_path,
            allow_trading=allow_trading if allow_trading is not None else venue.builtin,
            select=select,
            workers=workers,
            timeout_s=timeout,
            sources=(generated.source(max_examples=max_examples, seed=seed),) if max_examples else (),
        )
        redactor = results.Redactor(
            secrets=[c.api_secret for c in accounts.values()], api_keys=[c.api_key for c in accounts.values()]
        )
        reporter = TerminalReporter(console, redactor, verbose=verbose)
        try:
            outcome = _run_interruptibly(engine.run(config, on_event=reporter))
        except engine.ConfigurationError as error:
            raise UserError(str(error)) from None
        except UnreachableTarget as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(EXIT_INCOMPLETE)
        except asyncio.CancelledError:
            click.echo(
                "interrupted before the run finished (a second interruption stops the restoration: "
                "the account may not be as it was)",
                err=True,
            )
            sys.exit(EXIT_INCOMPLETE)
    document = results.to_document(outcome, redactor, profile=venue_profile)
    run_dir = artifacts.write_run(document, report_dir)
    reporter.summary(outcome, run_dir)
    sys.exit(
        {
            "conformant": EXIT_CONFORMANT,
            "nonconformant": EXIT_NONCONFORMANT,
            "incomplete": EXIT_INCOMPLETE,
        }[outcome.verdict.value]
    )


# --------------------------------------------------------------------------------------------------
# replay


@main.command(cls=_OneLineUsageErrors)
@click.argument("run_dir", metavar="RUN_DIR", type=click.Path(exists=True, path_type=Path))
@click.argument("case_id", metavar="CASE_ID")
@click.option("--target", metavar="URL", help="Send to this venue (default: the run's target).")
@click.option(
    "--builtin",
    is_flag=True,
    help="Replay on a fresh built-in reference venue (the default when the run's target was a loopback "
    "address and no credentials are set).",
)
@click.option("--fault", metavar="NAME", help="With the built-in venue: serve this broken twin.")
@click.option("--profile", metavar="NAME|PATH", help="Venue profile (default: the run's).")
@click.option("--markets", type=_FILE, help="Markets file (default: the run's, if it still exists).")
@click.option(
    "--cases",
    "cases_path",
    type=click.Path(path_type=Path),
    help="Where to find the case (default: the file the run recorded, else the shipped suite).",
)
@click.option(
    "--allow-trading/--no-trading",
    default=None,
    help="Let a trading case place orders (default: on for the built-in venue, off for a target).",
)
@click.option(
    "--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True, help="Seconds per request."
)
def replay(
    run_dir: Path,
    case_id: str,
    target: str | None,
    builtin: bool,
    fault: str | None,
    profile: str | None,
    markets: Path | None,
    cases_path: Path | None,
    allow_trading: bool | None,
    timeout: float,
) -> None:
    """Send one case of a finished run again, with a fresh timestamp and signature, and print the new
    outcome. Exit codes as for run.

    RUN_DIR is a run's report directory (or its results.json); CASE_ID an instance id such as
    'lev-bounds-reject[BTCUSDT-max+1]' (quote it), or a case id that ran once.
    """
    from conformance import engine, profiles, results
    from conformance import replay as replaying
    from conformance.session import UnreachableTarget

    document = _run_document(run_dir)
    try:
        recorded = replaying.recorded_case(document, case_id)
        wanted = replaying.definition(recorded, cases_path=cases_path)
    except replaying.ReplayError as error:
        raise UserError(str(error)) from None
    profile_ref = profile or document["profile"]
    try:
        venue_profile = profiles.load_profile(profile_ref)
    except profiles.ProfileError as error:
        raise UserError(error.render()) from None
    from conformance.targets import ENV_KEY

    recorded_builtin = document.get("builtin")
    if recorded_builtin is None:  # results written before the field existed: guess from the address
        recorded_builtin = replaying.is_loopback(document["target"]) and not os.environ.get(ENV_KEY)
    local = target is None and bool(recorded_builtin)
    venue = _ReplayVenue(target=target, builtin=builtin or local, fault=fault, dialect=venue_profile.dialect)
    with venue.open(document, markets) as (url, accounts, markets_file):
        config = engine.RunConfig(
            target=url,
            accounts=accounts,
            profile=profile_ref,
            markets_file=markets_file,
            symbols=tuple(facts["symbol"] for facts in document["market_facts"]),
            allow_trading=allow_trading if allow_trading is not None else venue.builtin,
            workers=1,
            timeout_s=timeout,
        )
        redactor = results.Redactor(
            secrets=[c.api_secret for c in accounts.values()], api_keys=[c.api_key for c in accounts.values()]
        )
        click.echo(f"replaying {recorded['id']} from run {document['run_id']} on {venue.describe(url)}")
        click.echo(f"case from {wanted.origin}")
        try:
            outcome = _run_interruptibly(replaying.replay(config, wanted))
        except (engine.ConfigurationError, replaying.ReplayError) as error:
            raise UserError(redactor.text(str(error))) from None
        except UnreachableTarget as error:
            click.echo(f"error: {redactor.text(str(error))}", err=True)
            sys.exit(EXIT_INCOMPLETE)
    replayed = results.to_document(outcome, redactor, profile=venue_profile)
    for line in replaying.outcome_lines(recorded, replayed):
        click.echo(line)
    code = _EXIT_CODES[outcome.verdict.value]
    click.echo(f"{outcome.verdict.value.upper()} (exit {code})")
    sys.exit(code)


def _run_document(run_dir: Path) -> dict[str, Any]:
    from conformance import results

    try:
        document = results.load(run_dir)
    except (OSError, ValueError) as error:
        raise UserError(f"{run_dir}: not a run directory with a readable results.json ({error})") from None
    if document.get("format") != results.FORMAT:
        raise UserError(f"{run_dir}: not a venue-conformance results document")
    return document


class _ReplayVenue:
    """Where replay sends: ``--target`` or the run's target with credentials from the environment, or a
    fresh built-in venue (optionally a broken twin) with its demo accounts."""

    def __init__(self, *, target: str | None, builtin: bool, fault: str | None, dialect: str) -> None:
        if builtin and target is not None:
            raise UserError("--builtin and --target exclude each other")
        if fault is not None and not builtin:
            raise UserError("--fault needs the built-in venue (--builtin)")
        if fault is not None:
            from conformance.venue.faults import fault_named

            try:
                fault_named(fault, dialect)
            except ValueError as error:
                raise UserError(str(error)) from None
        self.target, self.builtin, self.fault, self.dialect = target, builtin, fault, dialect

    def describe(self, url: str) -> str:
        if not self.builtin:
            return url
        return "a fresh built-in venue" + (f" with fault {self.fault}" if self.fault else "")

    @contextlib.contextmanager
    def open(self, document: dict[str, Any], markets: Path | None) -> Iterator[tuple[str, Any, Path | None]]:
        from conformance import replay as replaying
        from conformance.builtin import builtin_target, default_markets_file

        markets_file = markets or replaying.markets_file(document)
        if not self.builtin:
            from conformance.targets import TargetError, accounts_from_environment

            try:
                accounts = accounts_from_environment()
            except TargetError as error:
                raise UserError(str(error)) from None
            yield self.target or document["target"], accounts, markets_file
            return
        venue_markets = None if markets_file == default_markets_file() else markets_file
        from conformance.venue import ConfigError

        with contextlib.ExitStack() as stack:
            try:
                builtin = stack.enter_context(
                    builtin_target(self.dialect, markets_file=venue_markets, fault=self.fault)
                )
            except ConfigError as error:  # a markets file the venue cannot serve
                raise UserError(str(error)) from None
            yield builtin.url, builtin.accounts, builtin.markets_file


_EXIT_CODES = {
    "conformant": EXIT_CONFORMANT,
    "nonconformant": EXIT_NONCONFORMANT,
    "incomplete": EXIT_INCOMPLETE,
}
