"""The venue as a Starlette app: `create_app` wires accounts, markets, state and rules to the routes.

Every endpoint reads the request (`params`), admits it if it is signed (`auth`), asks the exchange
(`trading`) and renders the answer (`wire`). Errors travel as `VenueError` and leave as the
``{"code", "msg"}`` envelope; unknown paths are 404 / -5000, wrong methods 405 / -5001, and only a bug in
the venue itself is a 500 (-1000, without details).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conformance.venue import errors, wire
from conformance.venue.accounts import DEMO_ACCOUNTS, Account, Accounts
from conformance.venue.answers import Answers
from conformance.venue.auth import authenticate
from conformance.venue.dialects import Dialect, dialect_named
from conformance.venue.errors import VenueError
from conformance.venue.faults import fault_named
from conformance.venue.markets import Market, default_markets
from conformance.venue.params import RequestData, read_request
from conformance.venue.rules import Rules
from conformance.venue.store import Store
from conformance.venue.trading import Exchange

Clock = Callable[[], int]  # milliseconds since the epoch


def wall_clock() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class Venue:
    """One running venue: what the endpoints use, kept on ``app.state.venue``."""

    dialect: Dialect
    rules: Rules
    exchange: Exchange
    store: Store
    clock: Clock
    fault: str | None
    answers: Answers


def create_app(
    profile: str = "binance-usdm",
    *,
    accounts: Iterable[Account] | None = None,
    markets: Mapping[str, Market] | None = None,
    state_path: str | Path | None = None,
    clock: Clock | None = None,
    fault: str | None = None,
) -> Starlette:
    """The reference venue for ``profile`` (``"binance-usdm"`` or ``"ztdx"``), as an ASGI app.

    ``accounts`` default to the two demo accounts and ``markets`` to ``conformance/venue/markets.yaml``;
    ``state_path`` is the SQLite file that keeps leverage and positions (in memory when None); ``clock``
    returns the venue's time in milliseconds; ``fault`` names a deliberate defect
    (``conformance.venue.faults``). Raises ``ValueError`` for an unknown profile or fault and
    ``ConfigError`` for a state file it cannot use.
    """
    dialect = dialect_named(profile)
    rules_class, exchange_class, answers_class = Rules, Exchange, Answers
    if fault is not None:
        defect = fault_named(fault, dialect.name)
        dialect, rules_class, exchange_class = defect.apply_to(dialect), defect.rules, defect.exchange
        answers_class = defect.answers
    rules = rules_class(
        dialect,
        Accounts(DEMO_ACCOUNTS if accounts is None else accounts),
        dict(default_markets() if markets is None else markets),
    )
    store = Store(state_path)
    exchange = exchange_class(rules, store)
    venue = Venue(dialect, rules, exchange, store, clock or wall_clock, fault, answers_class())
    endpoints = Endpoints(venue)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        store.close()

    app = Starlette(
        routes=endpoints.routes(),
        exception_handlers={
            VenueError: _venue_error,
            HTTPException: _routing_error,
            Exception: _server_error,
        },
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False  # /fapi/v1/time/ is an unknown path, not a redirect
    app.state.venue = venue
    return app


class Endpoints:
    """The routes of one venue; each method is one endpoint."""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue
        self.dialect = venue.dialect
        self.rules = venue.rules
        self.exchange = venue.exchange

    def routes(self) -> list[Route]:
        routes = [
            Route("/fapi/v1/ping", self.ping, methods=["GET"]),
            Route("/fapi/v1/time", self.time, methods=["GET"]),
            Route("/fapi/v1/exchangeInfo", self.exchange_info, methods=["GET"]),
            Route("/fapi/v1/ticker/price", self.ticker_price, methods=["GET"]),
            Route("/fapi/v2/ticker/price", self.ticker_price, methods=["GET"]),  # the connector's
            Route("/fapi/v1/leverageBracket", self.leverage_bracket, methods=["GET"]),
            Route("/fapi/v1/leverage", self.change_leverage, methods=["POST"]),
            Route("/fapi/v1/order", self.new_order, methods=["POST"]),
            Route(self.dialect.position_path, self.position_risk, methods=["GET"]),
        ]
        if self.dialect.position_risk_v3:
            routes.append(Route("/fapi/v3/positionRisk", self.position_risk_v3, methods=["GET"]))
        return routes

    async def _read(self, request: Request) -> RequestData:
        return await read_request(request, self.dialect, merge=self.rules.merge_parameters)

    async def _admit(self, request: Request, *mandatory: str) -> tuple[Account, RequestData]:
        data = await self._read(request)
        self.exchange.before_authentication(request.url.path, data)
        account = authenticate(data, self.rules, mandatory=mandatory, now=self.venue.clock())
        return account, data

    # -- public -------------------------------------------------------------------------------------

    async def ping(self, request: Request) -> Response:
        await self._read(request)
        return JSONResponse({})

    async def time(self, request: Request) -> Response:
        await self._read(request)
        return JSONResponse(wire.server_time(self.venue.clock()))

    async def exchange_info(self, request: Request) -> Response:
        await self._read(request)
        return JSONResponse(wire.exchange_info(self.dialect, self.rules.markets, self.venue.clock()))

    async def ticker_price(self, request: Request) -> Response:
        data = await self._read(request)
        now = self.venue.clock()
        symbol = data.optional_text("symbol")
        if symbol is not None:
            return JSONResponse(wire.ticker_price(self.rules.market(symbol), now))
        return JSONResponse([wire.ticker_price(market, now) for market in self.rules.markets.values()])

    # -- signed -------------------------------------------------------------------------------------

    async def leverage_bracket(self, request: Request) -> Response:
        _, data = await self._admit(request)
        symbol = data.optional_text("symbol")
        if symbol is not None:
            return JSONResponse(wire.leverage_brackets(self.rules.market(symbol)))
        return JSONResponse([wire.leverage_brackets(market) for market in self.rules.markets.values()])

    async def change_leverage(self, request: Request) -> Response:
        account, data = await self._admit(request, "symbol", "leverage")
        return JSONResponse(self.venue.answers.leverage_change(self.exchange.change_leverage(account, data)))

    async def new_order(self, request: Request) -> Response:
        account, data = await self._admit(request, "symbol", "side", "type", "quantity")
        order = self.exchange.place_order(account, data, now=self.venue.clock())
        return JSONResponse(wire.order(order))

    async def position_risk(self, request: Request) -> Response:
        account, data = await self._admit(request)
        views = self.exchange.positions(account.api_key, data.optional_text("symbol"))
        return JSONResponse([wire.position_v2(view) for view in views])

    async def position_risk_v3(self, request: Request) -> Response:
        account, data = await self._admit(request)
        views = self.exchange.positions(account.api_key, data.optional_text("symbol"))
        return JSONResponse([wire.position_v3(view) for view in views if view.position.amount != 0])


# -- errors -----------------------------------------------------------------------------------------


def _envelope(request: Request, error: VenueError, headers: Mapping[str, str] | None = None) -> Response:
    status, body = request.app.state.venue.answers.rejection(error)
    return JSONResponse(body, status_code=status, headers=headers)


async def _venue_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, VenueError)
    return _envelope(request, exc)


async def _routing_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    path = request.scope["path"]
    if exc.status_code == 404:
        return _envelope(request, errors.path_not_found(path))
    if exc.status_code == 405:
        return _envelope(request, errors.method_not_allowed(request.method, path), exc.headers)
    return _envelope(request, VenueError(exc.status_code, -1000, exc.detail or "Request rejected."))


async def _server_error(request: Request, exc: Exception) -> Response:
    return _envelope(request, errors.internal_error())
