"""A tiny signed client for the venue's tests, independent of the harness's signer.

It builds the exact query and body bytes, signs ``query + body`` with HMAC-SHA256 and sends them through
the ASGI app. Every way of mis-signing a request is a keyword of `VenueClient.send`, so a test reads as
the request it makes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import urlencode

import httpx
from starlette.applications import Starlette
from starlette.types import Message, Scope

from conformance.venue import Account

Encoding = Literal["query", "form", "json"]
OpenVenue = Callable[..., Awaitable["VenueClient"]]  # the open_venue fixture: (profile, **create_app options)
OMIT: Any = object()  # a timestamp or signature that is not sent at all

START_MS = 1_750_000_000_000


def hmac_hex(secret: str, payload: bytes) -> str:
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


@dataclass
class FixedClock:
    """The venue's clock in tests: stands still unless a test moves it."""

    now: int = START_MS

    def __call__(self) -> int:
        return self.now


def form(params: Mapping[str, object]) -> str:
    return urlencode([(name, str(value)) for name, value in params.items()])


@dataclass
class VenueClient:
    http: httpx.AsyncClient
    account: Account
    clock: FixedClock
    profile: str
    other: Account | None = None  # another account of the venue, for isolation and wrong-secret tests
    app: Starlette | None = None

    def close(self) -> None:
        """Stop the venue as a shutdown would: its state file is closed."""
        assert self.app is not None
        self.app.state.venue.store.close()

    async def send(
        self,
        method: str,
        path: str,
        params: Mapping[str, object] | None = None,
        *,
        encoding: Encoding = "query",
        query: Mapping[str, object] | None = None,
        timestamp: object = None,
        recv_window: int | None = None,
        secret: str | None = None,
        signature: object = None,
        signature_in: Literal["query", "body"] | None = None,
        api_key: str | None = None,
        tamper: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """A signed request: ``params`` go where ``encoding`` says, the signing parameters last.

        ``timestamp`` defaults to the venue's clock; ``signature`` (text) replaces the computed one;
        ``OMIT`` leaves either out. ``tamper`` rewrites query parameters after signing.
        """
        params = dict(params or {})
        query_params: dict[str, object] = dict(query or {})
        body_params: dict[str, object] = {}
        if encoding == "query":
            query_params.update(params)
        else:
            body_params.update(params)
        signing: dict[str, object] = {}
        if recv_window is not None:
            signing["recvWindow"] = recv_window
        if timestamp is not OMIT:
            signing["timestamp"] = self.clock.now if timestamp is None else timestamp
        signing_place = signature_in or ("body" if encoding == "form" else "query")
        (body_params if signing_place == "body" else query_params).update(signing)

        query_text = form(query_params)
        if encoding == "json":
            body = json.dumps(body_params, separators=(",", ":")) if body_params else ""
        else:
            body = form(body_params)
        computed = hmac_hex(secret or self.account.api_secret, (query_text + body).encode())
        sent_signature = computed if signature is None else signature
        if sent_signature is not OMIT:
            pair = urlencode({"signature": sent_signature})
            if signing_place == "body" and encoding == "form":
                body = f"{body}&{pair}" if body else pair
            else:
                query_text = f"{query_text}&{pair}" if query_text else pair
        if tamper:
            query_text = form({**dict(_pairs(query_text)), **tamper})

        request_headers = {"X-MBX-APIKEY": self.account.api_key if api_key is None else api_key}
        if api_key is OMIT:
            del request_headers["X-MBX-APIKEY"]
        if body:
            request_headers["Content-Type"] = (
                "application/json" if encoding == "json" else "application/x-www-form-urlencoded"
            )
        request_headers.update(headers or {})
        url = f"{path}?{query_text}" if query_text else path
        return await self.http.request(method, url, content=body.encode(), headers=request_headers)

    async def raw(
        self,
        method: str,
        path: str,
        query: str = "",
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Exactly these bytes, with the account's key unless ``headers`` say otherwise."""
        url = f"{path}?{query}" if query else path
        request_headers = {"X-MBX-APIKEY": self.account.api_key, **(headers or {})}
        return await self.http.request(method, url, content=body, headers=request_headers)

    def sign(self, payload: str | bytes) -> str:
        return hmac_hex(self.account.api_secret, payload if isinstance(payload, bytes) else payload.encode())

    # -- the operations tests repeat ----------------------------------------------------------------

    @property
    def position_path(self) -> str:
        return "/fapi/v2/positionRisk" if self.profile == "binance-usdm" else "/fapi/v1/positionRisk"

    async def set_leverage(self, symbol: str, leverage: object, **options: Any) -> httpx.Response:
        return await self.send(
            "POST", "/fapi/v1/leverage", {"symbol": symbol, "leverage": leverage}, **options
        )

    async def order(self, symbol: str, side: str, quantity: str, **extra: object) -> httpx.Response:
        params = {"symbol": symbol, "side": side, "type": "MARKET", "quantity": quantity, **extra}
        return await self.send("POST", "/fapi/v1/order", params)

    async def position(self, symbol: str) -> dict[str, Any]:
        response = await self.send("GET", self.position_path, {"symbol": symbol})
        assert response.status_code == 200, response.text
        (position,) = response.json()
        assert position["symbol"] == symbol
        return dict(position)

    async def leverage(self, symbol: str) -> int:
        return int((await self.position(symbol))["leverage"])

    async def margin(self, symbol: str) -> Decimal:
        return Decimal((await self.position(symbol))["isolatedMargin"])


def _pairs(query: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(query, keep_blank_values=True)


def envelope(response: httpx.Response | RawResponse) -> tuple[int, int, str]:
    """(status, code, msg) of a rejection, after checking it is the contract's envelope."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "msg"}, body
    assert isinstance(body["code"], int), body
    assert body["code"] < 0, body
    assert isinstance(body["msg"], str), body
    assert body["msg"], body
    return response.status_code, body["code"], body["msg"]


@dataclass(frozen=True)
class RawResponse:
    status_code: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


async def asgi_request(
    app: Starlette, method: str, path: str, *, query: bytes, body: bytes, headers: list[tuple[bytes, bytes]]
) -> RawResponse:
    """Send bytes no HTTP client would (NUL in the query, non-Latin-1 headers) straight to the ASGI app."""
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"venue"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("venue", 80),
    }
    sent = False
    messages: list[Message] = []

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        messages.append(message)

    await app(scope, receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    response_headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in start["headers"]}
    return RawResponse(start["status"], response_headers, content)
