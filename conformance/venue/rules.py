"""The venue's rulebook: every judgement it makes, one method per rule, each naming its contract clause.

`auth.authenticate` and `trading.Exchange` only put these calls in order; what is accepted, rejected,
stored or charged is decided here, from the request's values and the dialect's switches. A deliberately
broken twin of the venue (``conformance.venue.faults``) is a subclass overriding one method, so every
defect is one small, named difference from this file.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from conformance.venue import errors
from conformance.venue.accounts import Account, Accounts
from conformance.venue.dialects import Dialect
from conformance.venue.markets import Market, Markets
from conformance.venue.params import MISSING, JsonNumber, ParamValue, RequestData, url_decoded
from conformance.venue.store import Position

DEFAULT_LEVERAGE = 20
DEFAULT_RECV_WINDOW = 5_000
FUTURE_TOLERANCE_MS = 1_000

_HEX_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")
_MILLISECONDS = re.compile(r"[0-9]{1,19}")  # a timestamp or recvWindow: fits in a signed 64-bit integer
_INTEGER_TEXT = re.compile(r"-?[0-9]{1,9}")  # a leverage: a leading '-' reaches the band check (-4028)


@dataclass(frozen=True)
class Band:
    """The accepted leverages of a symbol, both ends included."""

    low: int
    high: int

    def __contains__(self, leverage: int) -> bool:
        return self.low <= leverage <= self.high


class Rules:
    """The rules of one venue: its dialect's switches, its accounts and its markets."""

    def __init__(self, dialect: Dialect, accounts: Accounts, markets: Markets) -> None:
        self.dialect = dialect
        self.accounts = accounts
        self.markets = markets

    # -- Request security ---------------------------------------------------------------------------

    def account_for(self, api_key: str | None) -> Account:
        """AUTH-KEY-MISSING (-2014) and AUTH-KEY-UNKNOWN (-2015)."""
        if not api_key:
            raise errors.api_key_missing()
        account = self.accounts.get(api_key)
        if account is None:
            raise errors.api_key_unknown()
        return account

    def merge_parameters(
        self, query: Mapping[str, str], body: Mapping[str, ParamValue]
    ) -> Mapping[str, ParamValue]:
        """AUTH-PRECEDENCE: a parameter in both the query and the body takes the query's value."""
        return {**body, **query}

    def read_signature(self, request: RequestData) -> str | None:
        """AUTH-SIG-MISSING: a missing or empty signature is -1102 (None would mean: not verified)."""
        return request.text("signature")

    def signature_payloads(self, request: RequestData) -> tuple[bytes, ...]:
        """AUTH-SIG-PAYLOAD: query + body as received, without the signature; ztdx also URL-decoded."""
        payload = request.signed_payload
        if self.dialect.url_decoded_fallback:
            return (payload, url_decoded(payload))
        return (payload,)

    def signing_secrets(self, account: Account) -> tuple[str, ...]:
        """AUTH-SIG-INVALID: only the key's own secret signs its requests."""
        return (account.api_secret,)

    def signature_matches(self, signature: str, payload: bytes, secret: str) -> bool:
        """AUTH-SIG-INVALID, AUTH-SIG-CASE: HMAC-SHA256 of the payload, hex in either case."""
        if not _HEX_SIGNATURE.fullmatch(signature):
            return False
        expected = hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature.lower())

    # -- Timing -------------------------------------------------------------------------------------

    def parse_timestamp(self, request: RequestData) -> int:
        """TIME-MISSING: a missing or malformed timestamp is -1102."""
        return _milliseconds(request, "timestamp")

    def parse_recv_window(self, request: RequestData) -> int:
        """An absent recvWindow is 5000; a malformed or zero one is -1102."""
        if request.get("recvWindow") in (MISSING, None):  # absent, or JSON null
            return DEFAULT_RECV_WINDOW
        recv_window = _milliseconds(request, "recvWindow")
        if recv_window == 0:
            raise errors.mandatory_missing("recvWindow")
        return recv_window

    def check_recv_window(self, recv_window: int) -> None:
        """TIME-RECVWINDOW-MAX: above 60000 is -1131 (ztdx documents it; Binance's General Info too)."""
        if recv_window > errors.MAX_RECV_WINDOW:
            raise errors.recv_window_too_large()

    def check_timestamp(self, timestamp: int, recv_window: int, now: int) -> None:
        """TIME-STALE, TIME-FUTURE, TIME-WINDOW, against the venue's own clock."""
        if now - timestamp > recv_window:
            raise errors.timestamp_stale()
        edge = now + FUTURE_TOLERANCE_MS
        if timestamp > edge or (self.dialect.future_edge_inclusive and timestamp == edge):
            raise errors.timestamp_ahead()

    # -- The leverage endpoint ----------------------------------------------------------------------

    def market(self, symbol: str) -> Market:
        """LEV-SYMBOL: an unknown symbol is -1121."""
        market = self.markets.get(symbol)
        if market is None:
            raise errors.invalid_symbol()
        return market

    def parse_leverage(self, request: RequestData) -> int:
        """LEV-NON-INTEGER, LEV-STRING: decimal integer text; ztdx also a JSON integer. Else -1130."""
        value = request.require("leverage")
        json_integers = self.dialect.leverage_forms == "json-or-text"
        if isinstance(value, JsonNumber) and value.is_integer and json_integers:
            text = value.text
        elif isinstance(value, str):
            text = value
        else:  # a boolean, a JSON fraction or exponent, a list, an object
            raise errors.invalid_parameter("leverage")
        if not _INTEGER_TEXT.fullmatch(text):  # 20.5, abc, 1e1, 0x14, +20, ' 20', 10 digits or more
            raise errors.invalid_parameter("leverage")
        return int(text)

    def leverage_band(self, market: Market) -> Band:
        if self.dialect.band == "brackets":
            return Band(1, market.brackets[0].initial_leverage)
        return Band(market.min_leverage, market.max_leverage)

    def check_leverage(self, leverage: int, market: Market) -> None:
        """LEV-BOUNDS: outside the band is -4028, with the dialect's message."""
        band = self.leverage_band(market)
        if leverage not in band:
            message = self.dialect.out_of_band_message.format(leverage=leverage, max=band.high)
            raise errors.leverage_out_of_band(message)

    def max_notional(self, market: Market, leverage: int) -> Decimal:
        """LEV-NOTIONAL: the cap of the highest-numbered bracket allowing ``leverage``; ztdx a constant."""
        if self.dialect.notional == "max_position_size_usd":
            return market.max_position_size_usd
        allowing = [b for b in market.brackets if b.initial_leverage >= leverage]
        return (allowing[-1] if allowing else market.brackets[0]).notional_cap

    # -- Persistence --------------------------------------------------------------------------------

    def leverage_key(self, user: str, symbol: str) -> tuple[str, str]:
        """PER-SYMBOL-ISOLATION, PER-USER-ISOLATION: leverage is stored per (user, symbol)."""
        return (user, symbol)

    def default_leverage(self, market: Market) -> int:
        """The leverage of a (user, symbol) never set: 20, within the band."""
        band = self.leverage_band(market)
        return min(max(DEFAULT_LEVERAGE, band.low), band.high)

    # -- Orders -------------------------------------------------------------------------------------

    def order_leverage(self, stored: int, explicit: int | None) -> int:
        """PER-ORDER-USES, PER-ORDER-EXPLICIT: the order's own leverage (ztdx), else the stored one."""
        return explicit if explicit is not None else stored

    def check_quantity(self, quantity: Decimal, market: Market) -> None:
        """LOT_SIZE: positive, within [minQty, maxQty], a multiple of stepSize."""
        lot = market.lot_size
        if quantity <= 0:
            raise errors.quantity_not_positive()
        if quantity < lot.min_qty:
            raise errors.quantity_below_minimum()
        if quantity > lot.max_qty:
            raise errors.quantity_above_maximum()
        if quantity % lot.step_size != 0:
            raise errors.quantity_precision()

    def check_notional(self, notional: Decimal, market: Market, *, reduce_only: bool) -> None:
        """MIN_NOTIONAL, unless the order is reduce-only."""
        if not reduce_only and notional < market.min_notional:
            raise errors.notional_too_small(market.min_notional)

    def check_reduce_only(self, position: Position, change: Decimal) -> None:
        """A reduce-only order must shrink the position, by at most its size."""
        held = position.amount
        if held == 0 or (held > 0) == (change > 0) or abs(change) > abs(held):
            raise errors.reduce_only_rejected()

    def check_position_limit(self, notional: Decimal, market: Market, leverage: int) -> None:
        """An order may not grow a position beyond maxNotionalValue at the leverage it uses."""
        if notional > self.max_notional(market, leverage):
            raise errors.position_limit_exceeded()

    def fill_margin(self, notional: Decimal, leverage: int) -> Decimal:
        """PER-ORDER-USES: a fill locks ``notional / leverage``, at full decimal precision."""
        return notional / leverage

    def position_after_leverage_change(self, position: Position, leverage: int) -> Position:
        """PER-NO-REMARGIN: changing the leverage leaves an open position's entry price and margin alone."""
        return position


def _milliseconds(request: RequestData, name: str) -> int:
    text = request.text(name)
    if not _MILLISECONDS.fullmatch(text):
        raise errors.mandatory_missing(name)
    return int(text)
