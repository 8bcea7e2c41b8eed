"""The exchange: changing leverage, filling MARKET orders, and reading positions back.

Each operation reads its parameters, asks the rulebook (`conformance.venue.rules`) in the contract's order
and then changes the store inside one transaction, so a rejected request never changes state
(PER-REJECT-NO-EFFECT) and concurrent orders on one position cannot interleave.

Positions are one-way (``positionSide`` BOTH) and margined per position: a fill locks ``notional /
leverage`` at the leverage the order used; a reduction releases margin in proportion to the quantity
closed. Accounts have unlimited balance; prices are the markets' fixed tickers, so nothing is ever
liquidated and unrealised PnL is zero.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from conformance.venue import errors
from conformance.venue.accounts import Account
from conformance.venue.markets import Market
from conformance.venue.params import MISSING, RequestData
from conformance.venue.rules import Rules
from conformance.venue.store import OrderRecord, Position, Store

CLIENT_ORDER_ID = r"^[\.A-Z\:/a-z0-9_-]{1,36}$"
_CLIENT_ORDER_ID = re.compile(CLIENT_ORDER_ID)
_QUANTITY = re.compile(r"[0-9]{1,20}(\.[0-9]{1,20})?")

Side = Literal["BUY", "SELL"]


@dataclass(frozen=True)
class LeverageChange:
    symbol: str
    leverage: int
    max_notional: Decimal


@dataclass(frozen=True)
class Order:
    order_id: int
    client_order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    reduce_only: bool
    leverage: int
    time: int


@dataclass(frozen=True)
class PositionView:
    """A position as read back: the stored leverage beside what the position holds."""

    position: Position
    leverage: int
    max_notional: Decimal
    mark_price: Decimal
    maint_margin: Decimal
    margin_asset: str


class Exchange:
    """The venue's account operations, over the rulebook and the store."""

    def __init__(self, rules: Rules, store: Store) -> None:
        self.rules = rules
        self.store = store

    def before_authentication(self, path: str, request: RequestData) -> None:
        """What the venue does with a signed request before it is authenticated: nothing
        (PER-REJECT-NO-EFFECT: a request that fails authentication changes no state)."""

    # -- POST /fapi/v1/leverage ---------------------------------------------------------------------

    def change_leverage(self, account: Account, request: RequestData) -> LeverageChange:
        """Business rules in the contract's order: leverage type (-1130), symbol (-1121), band (-4028)."""
        leverage = self.rules.parse_leverage(request)
        market = self.rules.market(request.text("symbol"))
        self.rules.check_leverage(leverage, market)
        user, symbol = account.api_key, market.symbol
        with self.store.transaction():
            position = self.store.position(user, symbol)
            if position.amount != 0:
                self.store.save_position(user, self.rules.position_after_leverage_change(position, leverage))
            self.save_leverage(user, symbol, leverage)
        return LeverageChange(symbol, leverage, self.rules.max_notional(market, leverage))

    def save_leverage(self, user: str, symbol: str, leverage: int) -> None:
        """PER-OVERWRITE: an accepted leverage replaces the stored one."""
        self.store.set_leverage(*self.rules.leverage_key(user, symbol), leverage)

    def leverage(self, user: str, market: Market) -> int:
        stored = self.store.leverage(*self.rules.leverage_key(user, market.symbol))
        return stored if stored is not None else self.rules.default_leverage(market)

    # -- POST /fapi/v1/order ------------------------------------------------------------------------

    def place_order(self, account: Account, request: RequestData, *, now: int) -> Order:
        """A MARKET order, filled at once at the ticker price, or rejected without any effect."""
        market = self.rules.market(request.text("symbol"))
        side = _side(request.text("side"))
        if request.text("type") != "MARKET":
            raise errors.invalid_order_type()
        quantity = _quantity(request.text("quantity"))
        reduce_only = _reduce_only(request.optional_text("reduceOnly"))
        if request.optional_text("positionSide") not in (None, "BOTH"):
            raise errors.position_side_mismatch()
        client_order_id = request.optional_text("newClientOrderId")
        if client_order_id is not None and not _CLIENT_ORDER_ID.fullmatch(client_order_id):
            raise errors.illegal_client_order_id(CLIENT_ORDER_ID)
        explicit = self._explicit_leverage(request, market)
        self.rules.check_quantity(quantity, market)
        notional = quantity * market.price
        self.rules.check_notional(notional, market, reduce_only=reduce_only)
        user = account.api_key
        change = quantity if side == "BUY" else -quantity
        with self.store.transaction():
            position = self.store.position(user, market.symbol)
            if reduce_only:
                self.rules.check_reduce_only(position, change)
            leverage = self.rules.order_leverage(self.leverage(user, market), explicit)
            filled = self._fill(position, change, market.price, leverage, now)
            if abs(filled.amount) > abs(position.amount):
                self.rules.check_position_limit(abs(filled.amount) * market.price, market, leverage)
            self.store.save_position(user, filled)
            record = OrderRecord(
                user, market.symbol, client_order_id, side, quantity, market.price, leverage, reduce_only, now
            )
            order_id = self.store.add_order(record)
        return Order(
            order_id=order_id,
            client_order_id=client_order_id or f"venue-{order_id}",
            symbol=market.symbol,
            side=side,
            quantity=quantity,
            price=market.price,
            reduce_only=reduce_only,
            leverage=leverage,
            time=now,
        )

    def _explicit_leverage(self, request: RequestData, market: Market) -> int | None:
        """ztdx orders may carry ``leverage`` (PER-ORDER-EXPLICIT); binance-usdm ignores the parameter."""
        if not self.rules.dialect.order_leverage or request.get("leverage") is MISSING:
            return None
        leverage = self.rules.parse_leverage(request)
        self.rules.check_leverage(leverage, market)
        return leverage

    def _fill(self, position: Position, change: Decimal, price: Decimal, leverage: int, now: int) -> Position:
        """The position after ``change`` (signed) fills at ``price``, margined at ``leverage``."""
        held = position.amount
        if held == 0 or (held > 0) == (change > 0):  # open or add: average the entry, lock more margin
            amount = held + change
            entry = (abs(held) * position.entry_price + abs(change) * price) / abs(amount)
            margin = position.margin + self.rules.fill_margin(abs(change) * price, leverage)
            return Position(position.symbol, amount, entry, margin, now)
        closed = min(abs(change), abs(held))
        remaining = abs(held) - closed
        if remaining > 0:  # reduce: release margin in proportion
            margin = position.margin * remaining / abs(held)
            return Position(position.symbol, held + change, position.entry_price, margin, now)
        opened = abs(change) - closed  # close, and open the other way with what is left
        if opened == 0:
            return Position(position.symbol, Decimal(0), Decimal(0), Decimal(0), now)
        flipped = Position(position.symbol, Decimal(0), Decimal(0), Decimal(0), now)
        return self._fill(flipped, opened if change > 0 else -opened, price, leverage, now)

    # -- GET positionRisk ---------------------------------------------------------------------------

    def positions(self, user: str, symbol: str | None) -> list[PositionView]:
        """Every symbol's position (flat ones too, carrying their leverage), or one symbol's."""
        markets = [self.rules.market(symbol)] if symbol is not None else list(self.rules.markets.values())
        views = []
        with self.store.transaction():
            for market in markets:
                leverage = self.leverage(user, market)
                position = self.store.position(user, market.symbol)
                view = PositionView(
                    position=position,
                    leverage=leverage,
                    max_notional=self.rules.max_notional(market, leverage),
                    mark_price=market.price,
                    maint_margin=market.maintenance_margin(position.amount * market.price),
                    margin_asset=market.quote_asset,
                )
                views.append(view)
        return views


def _side(text: str) -> Side:
    if text == "BUY":
        return "BUY"
    if text == "SELL":
        return "SELL"
    raise errors.invalid_side()


def _quantity(text: str) -> Decimal:
    if not _QUANTITY.fullmatch(text):
        raise errors.mandatory_missing("quantity")
    return Decimal(text)


def _reduce_only(text: str | None) -> bool:
    if text is None or text.lower() == "false":
        return False
    if text.lower() == "true":
        return True
    raise errors.invalid_parameter("reduceOnly")
