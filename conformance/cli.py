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

ENV_KEY = "CONFORMANCE_API_KEY"
ENV_SECRET = "CONFORMANCE_API_SECRET"
ENV_KEY_2 = "CONFORMANCE_API_KEY_2"
ENV_SECRET_2 = "CONFORMANCE_API_SECRET_2"


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
        click.echo(f"{fault.name:<32} {fault.clause:<21} {profiles:<19} {fault.description}")
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


def _accounts_from_environment() -> dict[str, Any]:
    from conformance.credentials import Credentials
    from conformance.session import PRIMARY, SECONDARY

    accounts: dict[str, Any] = {}
    for name, key_var, secret_var in ((PRIMARY, ENV_KEY, ENV_SECRET), (SECONDARY, ENV_KEY_2, ENV_SECRET_2)):
        key, secret = os.environ.get(key_var, ""), os.environ.get(secret_var, "")
        if bool(key) != bool(secret):
            missing = secret_var if key else key_var
            raise UserError(f"{missing} is not set (both {key_var} and {secret_var} are needed)")
        if key:
            accounts[name] = Credentials(key, secret)
    if PRIMARY not in accounts:
        raise UserError(f"--target needs credentials: set {ENV_KEY} and {ENV_SECRET}")
    return accounts


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


@contextlib.contextmanager
def _target(target: str | None, dialect: str, markets: Path | None) -> Iterator[tuple[str, Any, Path | None]]:
    """(url, accounts, markets file): the given target with credentials from the environment, or the
    built-in reference venue with its demo accounts."""
    if target is not None:
        yield target, _accounts_from_environment(), markets
        return
    from conformance.builtin import builtin_target

    with builtin_target(dialect, markets_file=markets) as builtin:
        yield builtin.url, builtin.accounts, builtin.markets_file


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
    from conformance.session import UnreachableTarget
    from conformance.terminal import TerminalReporter

    try:
        venue_profile = profiles.load_profile(profile)
    except profiles.ProfileError as error:
        raise UserError(error.render()) from None
    console = Console(highlight=False)
    with _target(target, venue_profile.dialect, markets) as (url, accounts, markets_file):
        config = engine.RunConfig(
            target=url,
            accounts=accounts,
            profile=profile,
            markets_file=markets_file,
            symbols=tuple(s.strip() for s in symbols.split(",") if s.strip()) if symbols else (),
            cases_path=cases_path,
            allow_trading=allow_trading if allow_trading is not None else target is None,
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
            click.echo("interrupted before the run could finish restoring the account", err=True)
            sys.exit(EXIT_INCOMPLETE)
    document = results.to_document(outcome, redactor)
    run_dir = artifacts.write_run(document, report_dir)
    reporter.summary(outcome, run_dir)
    sys.exit(
        {
            "conformant": EXIT_CONFORMANT,
            "nonconformant": EXIT_NONCONFORMANT,
            "incomplete": EXIT_INCOMPLETE,
        }[outcome.verdict.value]
    )
