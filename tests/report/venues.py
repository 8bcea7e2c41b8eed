"""Venues the report tests run against: the reference venue made hostile, served on a loopback port.

:class:`HostileVenue` wraps the reference venue and answers like a venue an attacker controls: script and
markup payloads in every error ``msg``, in a response header and in success bodies, and the caller's own
API key and secret echoed back. Every report made from such a run must show the payloads as text, run
none of them, and carry neither the secret nor the full key.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conformance.venue import DEMO_ACCOUNTS, create_app
from conformance.venue.server import listen, url_of

# Each payload sets window.__pwned and calls alert() if it ever runs.
SCRIPT = '<script>window.__pwned=(window.__pwned||0)+1;alert("script ran")</script>'
ATTRIBUTE = '"><img src=x onerror="window.__pwned=(window.__pwned||0)+1;alert(\'onerror ran\')">'
BREAKOUT = "</pre></details></code><svg onload=\"window.__pwned=1;alert('svg ran')\">"
PAYLOAD = SCRIPT + ATTRIBUTE + BREAKOUT
HEADER_PAYLOAD = ATTRIBUTE  # a header value cannot hold every character; this one it can

SECRETS = tuple(account.api_secret for account in DEMO_ACCOUNTS)
KEYS = tuple(account.api_key for account in DEMO_ACCOUNTS)


class HostileVenue:
    """ASGI middleware: the wrapped venue's answers, with payloads and the caller's credentials added."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def rewrite(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = _body(scope["path"], start["status"], b"".join(chunks))
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers += [
                (b"content-length", str(len(body)).encode()),
                (b"x-venue-note", HEADER_PAYLOAD.encode("latin-1")),
                (b"x-echo-credentials", f"{KEYS[0]} {SECRETS[0]}".encode()),
            ]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, rewrite)


def _body(path: str, status: int, body: bytes) -> bytes:
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if not isinstance(data, dict):
        return body
    if status >= 400 and "msg" in data:
        data["msg"] = f"{PAYLOAD} {data['msg']} (your secret is {SECRETS[0]}, your key {KEYS[0]})"
    elif path.endswith("/leverage"):
        data["note"] = PAYLOAD
    return json.dumps(data).encode()


@contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    """Serve an ASGI app on a free loopback port in a background thread; yields its base URL."""
    sock = listen("127.0.0.1", 0)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", loop="asyncio")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@contextmanager
def hostile_venue(profile: str = "binance-usdm", fault: str | None = "band-accepts-zero") -> Iterator[str]:
    """The hostile venue; by default also broken (``fault``), so that failing cases show the payloads in
    their expected-vs-actual."""
    with serving(HostileVenue(create_app(profile, fault=fault))) as url:
        yield url
