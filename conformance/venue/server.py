"""Serving the venue over HTTP with uvicorn: in the foreground (`serve`) or in a background thread
(`running_venue`).

Both bind and listen on the socket themselves before uvicorn starts, so the URL they report (with the real
port when port 0 asked for a free one) accepts connections as soon as it is known: nobody has to poll.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from conformance.venue.accounts import DEMO_ACCOUNTS, Account, load_accounts
from conformance.venue.app import Clock, create_app
from conformance.venue.config import ConfigError
from conformance.venue.markets import Market, Markets, default_markets, load_markets

_STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ServeOptions:
    """What ``conformance serve`` was asked for; files are loaded by `serve`."""

    profile: str
    host: str = "127.0.0.1"
    port: int = 0
    accounts: Path | None = None
    markets: Path | None = None
    state: Path | None = None
    fault: str | None = None
    latency_ms: int = 0


class Latency:
    """Simulated network distance: each HTTP request waits ``latency_ms`` before the venue sees it.

    Lets a loopback venue behave like a remote one (for benchmarks of a latency-bound harness, and for
    tests that need time to interrupt a run).
    """

    def __init__(self, app: ASGIApp, latency_ms: int) -> None:
        self.app = app
        self.delay_s = latency_ms / 1000

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await asyncio.sleep(self.delay_s)
        await self.app(scope, receive, send)


def serve(options: ServeOptions, announce: Callable[[str], None]) -> None:
    """Serve until SIGINT or SIGTERM. ``announce`` gets the banner: the URL first, then one line each.

    Raises `ConfigError` (before listening) for files, options or an address it cannot use.
    """
    accounts = load_accounts(options.accounts) if options.accounts else DEMO_ACCOUNTS
    markets = load_markets(options.markets) if options.markets else default_markets()
    app = _app(
        options.profile,
        accounts=accounts,
        markets=markets,
        state_path=options.state,
        clock=None,
        fault=options.fault,
    )
    sock = listen(options.host, options.port)
    server = _server(app, options.latency_ms)

    def stop(signum: int, frame: FrameType | None) -> None:
        server.should_exit = True

    # uvicorn installs its own handlers while it runs and re-raises the signal after shutting down; ours
    # make that re-raise a no-op (a clean exit 0) and cover a signal that arrives before uvicorn starts.
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for line in banner(url_of(sock), options, accounts, markets):
            announce(line)
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()


def banner(url: str, options: ServeOptions, accounts: tuple[Account, ...], markets: Markets) -> list[str]:
    lines = [
        url,
        f"reference venue, profile {options.profile}"
        + (f", FAULT {options.fault}" if options.fault else "")
        + (f", {options.latency_ms} ms simulated latency" if options.latency_ms else "")
        + f"; symbols {', '.join(markets)}; state {options.state or 'in memory'}",
    ]
    if accounts == DEMO_ACCOUNTS:
        lines.append("DEMO CREDENTIALS (public, built in; use --accounts FILE for your own):")
        lines += [
            f"  account {n}: api_key {a.api_key}  api_secret {a.api_secret}"
            for n, a in enumerate(accounts, start=1)
        ]
    else:
        lines.append(f"{len(accounts)} account{'s' if len(accounts) != 1 else ''} from {options.accounts}")
    lines.append("Press Ctrl+C to stop.")
    return lines


@contextmanager
def running_venue(
    profile: str = "binance-usdm",
    *,
    host: str = "127.0.0.1",
    accounts: Iterable[Account] | None = None,
    markets: Mapping[str, Market] | None = None,
    state_path: str | Path | None = None,
    clock: Clock | None = None,
    fault: str | None = None,
    latency_ms: int = 0,
) -> Iterator[str]:
    """Serve a venue on a free port of ``host`` in a background thread; yields its base URL.

    The arguments are `create_app`'s, and ``latency_ms`` delays every request (see `Latency`). The server
    stops (and the state file is closed) on leaving.
    """
    app = _app(profile, accounts=accounts, markets=markets, state_path=state_path, clock=clock, fault=fault)
    sock = listen(host, 0)
    server = _server(app, latency_ms)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="venue", daemon=True)
    thread.start()
    try:
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join(_STOP_TIMEOUT_S)
        sock.close()


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket listening on ``host:port``; port 0 picks a free one."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, UnicodeError) as error:
        raise ConfigError(f"cannot listen on {host}:{port}: {_reason(error)}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as error:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {_reason(error)}") from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _app(
    profile: str,
    *,
    accounts: Iterable[Account] | None,
    markets: Mapping[str, Market] | None,
    state_path: str | Path | None,
    clock: Clock | None,
    fault: str | None,
) -> Starlette:
    try:
        return create_app(
            profile, accounts=accounts, markets=markets, state_path=state_path, clock=clock, fault=fault
        )
    except ValueError as error:  # unknown profile or fault
        raise ConfigError(str(error)) from None


# How long an idle client connection stays open: longer than uvicorn's 5 s, like most front ends (nginx 75 s),
# so a client whose own idle expiry is 5 s does not race the server's close.
KEEP_ALIVE_S = 30


def _server(app: Starlette, latency_ms: int = 0) -> uvicorn.Server:
    served: ASGIApp = Latency(app, latency_ms) if latency_ms > 0 else app
    config = uvicorn.Config(
        served,
        log_level="warning",
        access_log=False,
        lifespan="on",
        loop="asyncio",
        timeout_keep_alive=KEEP_ALIVE_S,
    )
    return uvicorn.Server(config)


def _reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or str(error) or type(error).__name__
