"""The command line: ``conformance serve | run | replay``. A thin shell over the library API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from conformance import __version__


class UserError(click.ClickException):
    """A mistake in the command line or a file it names: one line on stderr, exit status 2."""

    exit_code = 2


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
