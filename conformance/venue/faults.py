"""Deliberately broken twins of the venue: each fault is one realistic defect and the clause it breaks.

A fault is a subclass of `Rules`, `Exchange` or `Answers` overriding one method, or a dialect with one
switch flipped (a ZTDX venue that copies a Binance behaviour where the two differ), so the defect is
exactly what is written here. A fault lists only the profiles where its clause is MUST or SHOULD: where a
clause is INFO (recvWindow's maximum, lowering leverage with a position on Binance) the behaviour is no
defect. ``level`` is the weight of what it breaks: MUST, or SHOULD for a fault that breaks only a SHOULD
(a SHOULD clause, or the SHOULD part of a MUST clause such as its error code): a conformance run against
it must warn on the clause and may still be conformant.

``create_app(..., fault="name")`` and ``conformance serve --fault NAME`` select one; the harness's tests
run each and expect the cases of its clause to fail, while the correct venue passes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any, Literal, TypeVar

from conformance.venue import errors
from conformance.venue.accounts import Account
from conformance.venue.answers import Answers
from conformance.venue.dialects import Dialect
from conformance.venue.errors import VenueError
from conformance.venue.markets import Market
from conformance.venue.params import MISSING, JsonNumber, ParamValue, RequestData
from conformance.venue.rules import DEFAULT_LEVERAGE, DEFAULT_RECV_WINDOW, Band, Rules
from conformance.venue.store import Position
from conformance.venue.trading import Exchange, LeverageChange, Order, PositionView

BOTH = frozenset({"binance-usdm", "ztdx"})
BINANCE = frozenset({"binance-usdm"})
ZTDX = frozenset({"ztdx"})


Level = Literal["MUST", "SHOULD"]


@dataclass(frozen=True)
class Fault:
    name: str
    clause: str  # the contract clause the defect breaks
    description: str  # what the broken venue does, in the present tense
    profiles: frozenset[str] = BOTH
    rules: type[Rules] = Rules
    exchange: type[Exchange] = Exchange
    dialect: Mapping[str, Any] = field(default_factory=dict)  # switches of the dialect it flips
    answers: type[Answers] = Answers
    level: Level = "MUST"  # SHOULD: it breaks only a SHOULD (a SHOULD clause, or a clause's SHOULD part)

    def apply_to(self, dialect: Dialect) -> Dialect:
        return replace(dialect, **self.dialect)


FAULTS: dict[str, Fault] = {}


def fault_named(name: str, profile: str) -> Fault:
    fault = FAULTS.get(name)
    if fault is None:
        raise ValueError(f"unknown fault {name!r} (see `conformance serve --list-faults`)")
    if profile not in fault.profiles:
        raise ValueError(f"fault {name!r} applies to {', '.join(sorted(fault.profiles))}, not {profile}")
    return fault


def _register(fault: Fault) -> None:
    assert fault.name not in FAULTS, f"two faults named {fault.name}"
    FAULTS[fault.name] = fault


Override = TypeVar("Override", type[Rules], type[Exchange], type[Answers])


def defect(
    name: str, clause: str, description: str, profiles: frozenset[str] = BOTH, *, level: Level = "MUST"
) -> Callable[[Override], Override]:
    """Register the decorated `Rules`, `Exchange` or `Answers` subclass as the fault ``name``."""

    def register(override: Override) -> Override:
        fault = Fault(name, clause, description, profiles, level=level)
        if issubclass(override, Rules):
            _register(replace(fault, rules=override))
        elif issubclass(override, Exchange):
            _register(replace(fault, exchange=override))
        else:
            _register(replace(fault, answers=override))
        return override

    return register


def _hmac(secret: str, payload: bytes) -> str:
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


# -- Request security -------------------------------------------------------------------------------


@defect("sig-query-only", "AUTH-SIG-PAYLOAD", "verifies the signature over the query string alone")
class QueryOnlySignature(Rules):
    def signature_payloads(self, request: RequestData) -> tuple[bytes, ...]:
        return (request.signed_query,)


@defect("sig-ampersand-separator", "AUTH-SIG-PAYLOAD", "joins query and body with '&' before verifying")
class AmpersandSeparator(Rules):
    def signature_payloads(self, request: RequestData) -> tuple[bytes, ...]:
        if request.signed_query and request.signed_body:
            return (request.signed_query + b"&" + request.signed_body,)
        return super().signature_payloads(request)


_register(
    Fault(
        "no-url-decoded-fallback",
        "AUTH-SIG-PAYLOAD",
        "does not retry a failed signature over the URL-decoded payload",
        ZTDX,
        dialect={"url_decoded_fallback": False},
    )
)


@defect("sig-any-account-secret", "AUTH-SIG-INVALID", "accepts a signature made with any account's secret")
class AnyAccountSecret(Rules):
    def signing_secrets(self, account: Account) -> tuple[str, ...]:
        return tuple(other.api_secret for other in self.accounts.values())


@defect(
    "sig-prefix-match", "AUTH-SIG-INVALID", "compares only the characters sent: a truncated signature passes"
)
class PrefixSignature(Rules):
    def signature_matches(self, signature: str, payload: bytes, secret: str) -> bool:
        return bool(signature) and _hmac(secret, payload).startswith(signature.lower())


@defect("sig-case-sensitive", "AUTH-SIG-CASE", "compares the hex signature case-sensitively", level="SHOULD")
class CaseSensitiveSignature(Rules):
    def signature_matches(self, signature: str, payload: bytes, secret: str) -> bool:
        return signature == _hmac(secret, payload)


@defect("key-unknown-as-first-account", "AUTH-KEY-UNKNOWN", "serves an unknown API key as the first account")
class UnknownKeyFallsBack(Rules):
    def account_for(self, api_key: str | None) -> Account:
        if api_key and api_key not in self.accounts:
            return next(iter(self.accounts.values()))
        return super().account_for(api_key)


@defect(
    "key-unknown-2014",
    "AUTH-KEY-UNKNOWN",
    "rejects an unknown API key with -2014 instead of -2015",
    level="SHOULD",
)
class UnknownKeyAsBadFormat(Rules):
    def account_for(self, api_key: str | None) -> Account:
        if api_key and api_key not in self.accounts:
            raise errors.api_key_missing()
        return super().account_for(api_key)


@defect(
    "key-missing-as-first-account",
    "AUTH-KEY-MISSING",
    "serves a request without API key header as the first account (a single-user default)",
)
class MissingKeyFallsBack(Rules):
    def account_for(self, api_key: str | None) -> Account:
        if not api_key:
            return next(iter(self.accounts.values()))
        return super().account_for(api_key)


@defect(
    "key-missing-2015",
    "AUTH-KEY-MISSING",
    "rejects a request without API key with -2015 instead of -2014",
    level="SHOULD",
)
class MissingKeyAsUnknown(Rules):
    def account_for(self, api_key: str | None) -> Account:
        if not api_key:
            raise errors.api_key_unknown()
        return super().account_for(api_key)


@defect(
    "body-over-query",
    "AUTH-PRECEDENCE",
    "takes the body's value of a parameter sent in both query and body",
    level="SHOULD",
)
class BodyWins(Rules):
    def merge_parameters(
        self, query: Mapping[str, str], body: Mapping[str, ParamValue]
    ) -> Mapping[str, ParamValue]:
        return {**query, **body}


@defect("sig-optional", "AUTH-SIG-MISSING", "verifies the signature only when one is sent")
class OptionalSignature(Rules):
    def read_signature(self, request: RequestData) -> str | None:
        return None if request.get("signature") is MISSING else super().read_signature(request)


@defect(
    "duplicate-across-locations",
    "AUTH-PRECEDENCE",
    "rejects a parameter sent in both query and body as a duplicate (-1101)",
    level="SHOULD",
)
class DuplicateAcrossLocations(Rules):
    def merge_parameters(
        self, query: Mapping[str, str], body: Mapping[str, ParamValue]
    ) -> Mapping[str, ParamValue]:
        if set(query) & set(body):
            raise errors.duplicate_parameter()
        return super().merge_parameters(query, body)


# -- Timing -----------------------------------------------------------------------------------------


@defect(
    "timestamp-missing-is-zero",
    "TIME-MISSING",
    "reads a missing timestamp as 0: -1021 instead of -1102",
    level="SHOULD",
)
class MissingTimestampIsZero(Rules):
    def parse_timestamp(self, request: RequestData) -> int:
        if request.get("timestamp") is MISSING:
            return 0
        return super().parse_timestamp(request)


@defect("no-future-check", "TIME-FUTURE", "accepts a timestamp from the future")
class NoFutureCheck(Rules):
    def check_timestamp(self, timestamp: int, recv_window: int, now: int) -> None:
        super().check_timestamp(min(timestamp, now), recv_window, now)


@defect("stale-check-in-seconds", "TIME-STALE", "compares the age in seconds with recvWindow in milliseconds")
class StaleCheckInSeconds(Rules):
    def check_timestamp(self, timestamp: int, recv_window: int, now: int) -> None:
        if timestamp <= now:
            timestamp = now - (now - timestamp) // 1000
        super().check_timestamp(timestamp, recv_window, now)


@defect("default-recv-window-60000", "TIME-STALE", "allows 60000 ms when recvWindow is absent, not 5000")
class LongDefaultRecvWindow(Rules):
    def parse_recv_window(self, request: RequestData) -> int:
        if request.get("recvWindow") in (MISSING, None):
            return 60_000
        return super().parse_recv_window(request)


@defect("recv-window-ignored", "TIME-WINDOW", "ignores an explicit recvWindow and always allows 5000 ms")
class RecvWindowIgnored(Rules):
    def check_timestamp(self, timestamp: int, recv_window: int, now: int) -> None:
        super().check_timestamp(timestamp, DEFAULT_RECV_WINDOW, now)


@defect("recv-window-unbounded", "TIME-RECVWINDOW-MAX", "accepts a recvWindow above 60000", ZTDX)
class RecvWindowUnbounded(Rules):
    def check_recv_window(self, recv_window: int) -> None:
        return None


_NO_TIMESTAMP = -1


@defect("timestamp-optional", "TIME-MISSING", "skips the timestamp window when no timestamp is sent")
class OptionalTimestamp(Rules):
    def parse_timestamp(self, request: RequestData) -> int:
        if request.get("timestamp") is MISSING:
            return _NO_TIMESTAMP
        return super().parse_timestamp(request)

    def check_timestamp(self, timestamp: int, recv_window: int, now: int) -> None:
        if timestamp != _NO_TIMESTAMP:
            super().check_timestamp(timestamp, recv_window, now)


@defect(
    "future-within-recv-window",
    "TIME-FUTURE",
    "treats recvWindow as symmetric: a timestamp up to recvWindow ahead is accepted",
)
class SymmetricWindow(Rules):
    def check_timestamp(self, timestamp: int, recv_window: int, now: int) -> None:
        if timestamp - now > recv_window:
            raise errors.timestamp_ahead()
        super().check_timestamp(min(timestamp, now), recv_window, now)


@defect(
    "recv-window-max-exclusive",
    "TIME-RECVWINDOW-MAX",
    "rejects recvWindow 60000 itself: the maximum is taken as exclusive",
    ZTDX,
)
class ExclusiveRecvWindowMax(Rules):
    def check_recv_window(self, recv_window: int) -> None:
        if recv_window >= errors.MAX_RECV_WINDOW:
            raise errors.recv_window_too_large()


# -- The leverage endpoint --------------------------------------------------------------------------


@defect("band-top-exclusive", "LEV-BOUNDS", "treats the top of the band as exclusive: the max is rejected")
class TopExclusive(Rules):
    def leverage_band(self, market: Market) -> Band:
        band = super().leverage_band(market)
        return Band(band.low, band.high - 1)


@defect("band-accepts-zero", "LEV-BOUNDS", "checks only the top of the band: 0 and negatives are accepted")
class NoLowerBound(Rules):
    def check_leverage(self, leverage: int, market: Market) -> None:
        super().check_leverage(max(leverage, self.leverage_band(market).low), market)


_register(
    Fault(
        "band-ignores-min-leverage",
        "LEV-BOUNDS",
        "starts the band at 1 as Binance does, ignoring the symbol's min_leverage",
        ZTDX,
        dialect={"band": "brackets"},
    )
)

_register(
    Fault(
        "out-of-band-message-without-max",
        "LEV-BOUNDS",
        "rejects out-of-band leverage with Binance's message, without 'Max: N'",
        ZTDX,
        dialect={"out_of_band_message": "Leverage {leverage} is not valid"},
        level="SHOULD",
    )
)


@defect("out-of-band-500", "ERR-ENVELOPE", "fails with an unhandled error (500) on an out-of-band leverage")
class OutOfBandCrashes(Rules):
    def check_leverage(self, leverage: int, market: Market) -> None:
        if leverage not in self.leverage_band(market):
            raise ValueError(f"leverage {leverage} out of range")


@defect("leverage-truncated", "LEV-NON-INTEGER", "parses leverage as a decimal and truncates it: 20.5 is 20")
class TruncatedLeverage(Rules):
    def parse_leverage(self, request: RequestData) -> int:
        value = request.require("leverage")
        try:
            number = Decimal(value) if isinstance(value, str) else None
        except InvalidOperation:
            number = None
        if number is not None and number.is_finite() and abs(number) < 10**9:
            return int(number)
        return super().parse_leverage(request)


@defect(
    "leverage-string-rejected", "LEV-STRING", 'accepts only JSON integers in a JSON body: "20" is -1130', ZTDX
)
class JsonStringRejected(Rules):
    def parse_leverage(self, request: RequestData) -> int:
        from_json = request.body_format == "json" and "leverage" not in request.query
        if from_json and isinstance(request.body.get("leverage"), str):
            raise errors.invalid_parameter("leverage")
        return super().parse_leverage(request)


_register(
    Fault(
        "json-body-ignored",
        "LEV-ENCODINGS",
        "does not read JSON bodies, as Binance does not",
        ZTDX,
        dialect={"body_encodings": frozenset({"form"})},
    )
)


@defect(
    "unknown-symbol-accepted", "LEV-SYMBOL", "falls back to the first market for a symbol it does not list"
)
class UnknownSymbolFallsBack(Rules):
    def market(self, symbol: str) -> Market:
        return self.markets.get(symbol) or next(iter(self.markets.values()))


@defect(
    "notional-bracket-one",
    "LEV-NOTIONAL",
    "reports bracket 1's notionalCap whatever the leverage",
    BINANCE,
    level="SHOULD",
)
class BracketOneNotional(Rules):
    def max_notional(self, market: Market, leverage: int) -> Decimal:
        return market.brackets[0].notional_cap


@defect(
    "notional-off-by-one-bracket",
    "LEV-NOTIONAL",
    "picks the last bracket whose initialLeverage exceeds the leverage (> instead of >=)",
    BINANCE,
    level="SHOULD",
)
class NotionalOffByOne(Rules):
    def max_notional(self, market: Market, leverage: int) -> Decimal:
        allowing = [b for b in market.brackets if b.initial_leverage > leverage]
        return (allowing[-1] if allowing else market.brackets[0]).notional_cap


_register(
    Fault(
        "notional-by-brackets",
        "LEV-NOTIONAL",
        "reports maxNotionalValue from the brackets, not the symbol's max_position_size_usd",
        ZTDX,
        dialect={"notional": "brackets"},
    )
)


@defect("echo-previous-leverage", "LEV-ECHO", "answers with the leverage stored before the change")
class EchoPreviousLeverage(Exchange):
    def change_leverage(self, account: Account, request: RequestData) -> LeverageChange:
        symbol = request.get("symbol")
        market = self.rules.markets.get(symbol) if isinstance(symbol, str) else None
        previous = self.leverage(account.api_key, market) if market is not None else None
        change = super().change_leverage(account, request)
        return replace(change, leverage=previous) if previous is not None else change


@defect(
    "leverage-int64-wrap",
    "LEV-NON-INTEGER",
    "reads leverage digits into a 64-bit integer that wraps around: 2^64 + 20 is 20",
)
class WrappingLeverage(Rules):
    def parse_leverage(self, request: RequestData) -> int:
        value = request.require("leverage")
        if isinstance(value, str) and re.fullmatch(r"[0-9]+", value):
            wrapped = int(value) % 2**64
            return wrapped - 2**64 if wrapped >= 2**63 else wrapped
        return super().parse_leverage(request)


_JS_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def _js_number(text: str) -> Decimal | None:
    """JavaScript's ``Number(text)`` for the forms a leverage might take (None: NaN)."""
    text = text.strip()
    if not text:
        return Decimal(0)
    if re.fullmatch(r"0[xX][0-9a-fA-F]+", text):
        return Decimal(int(text[2:], 16))
    return Decimal(text) if _JS_DECIMAL.fullmatch(text) else None


@defect(
    "leverage-js-number",
    "LEV-NON-INTEGER",
    "reads leverage as JavaScript's Number() and takes any whole result: 1e1 is 10, 0x14 is 20",
)
class JsNumberLeverage(Rules):
    def parse_leverage(self, request: RequestData) -> int:
        value = request.require("leverage")
        text = value.text if isinstance(value, JsonNumber) else value if isinstance(value, str) else None
        number = _js_number(text) if text is not None else None
        if number is not None and number == number.to_integral_value() and abs(number) < 2**53:
            return int(number)
        return super().parse_leverage(request)


@defect(
    "leverage-parse-500",
    "ERR-ENVELOPE",
    "fails with an unhandled error (500) on leverage text that int() cannot parse, such as 20.5",
)
class UncheckedLeverageParse(Rules):
    def parse_leverage(self, request: RequestData) -> int:
        value = request.require("leverage")
        if isinstance(value, str):
            return int(value)  # ValueError: the venue's 500
        return super().parse_leverage(request)


_register(
    Fault(
        "form-body-ignored",
        "LEV-ENCODINGS",
        "reads POST parameters from the query string only, ignoring the body",
        dialect={"body_encodings": frozenset()},
    )
)


@defect("max-notional-as-number", "LEV-OK", "writes maxNotionalValue as a JSON number, not decimal text")
class NumericMaxNotional(Answers):
    def leverage_change(self, change: LeverageChange) -> dict[str, Any]:
        cap = change.max_notional
        number = int(cap) if cap == cap.to_integral_value() else float(cap)
        return {**super().leverage_change(change), "maxNotionalValue": number}


@defect(
    "leverage-answer-wrapped",
    "LEV-OK",
    'wraps the leverage answer as {"code": 200, "msg": "success", "data": {...}}',
)
class WrappedLeverageAnswer(Answers):
    def leverage_change(self, change: LeverageChange) -> dict[str, Any]:
        return {"code": 200, "msg": "success", "data": super().leverage_change(change)}


# -- Responses and errors ---------------------------------------------------------------------------


@defect("errors-as-200", "ERR-ENVELOPE", "answers every rejection with HTTP 200, the envelope in the body")
class ErrorsAsOk(Answers):
    def rejection(self, error: VenueError) -> tuple[int, dict[str, Any]]:
        return 200, super().rejection(error)[1]


@defect("error-message-field", "ERR-ENVELOPE", "names the error text 'message' instead of 'msg'")
class MessageField(Answers):
    def rejection(self, error: VenueError) -> tuple[int, dict[str, Any]]:
        status, body = super().rejection(error)
        return status, {"code": body["code"], "message": body["msg"]}


# -- Persistence ------------------------------------------------------------------------------------


@defect("leverage-per-user", "PER-SYMBOL-ISOLATION", "stores one leverage per user, shared by all symbols")
class LeveragePerUser(Rules):
    def leverage_key(self, user: str, symbol: str) -> tuple[str, str]:
        return (user, "*")


@defect("leverage-per-symbol", "PER-USER-ISOLATION", "stores one leverage per symbol, shared by all users")
class LeveragePerSymbol(Rules):
    def leverage_key(self, user: str, symbol: str) -> tuple[str, str]:
        return ("*", symbol)


@defect("leverage-not-stored", "PER-READBACK", "answers 200 but never stores the leverage")
class LeverageNotStored(Exchange):
    def save_leverage(self, user: str, symbol: str, leverage: int) -> None:
        return None


@defect("first-write-wins", "PER-OVERWRITE", "stores a leverage only if none was stored before")
class FirstWriteWins(Exchange):
    def save_leverage(self, user: str, symbol: str, leverage: int) -> None:
        if self.store.leverage(*self.rules.leverage_key(user, symbol)) is None:
            super().save_leverage(user, symbol, leverage)


@defect(
    "clamp-before-reject",
    "PER-REJECT-NO-EFFECT",
    "stores an out-of-band leverage clamped into the band, then rejects",
)
class ClampBeforeReject(Exchange):
    def change_leverage(self, account: Account, request: RequestData) -> LeverageChange:
        try:
            return super().change_leverage(account, request)
        except VenueError as error:
            if error.code == -4028:
                market = self.rules.market(request.text("symbol"))
                band = self.rules.leverage_band(market)
                clamped = min(max(self.rules.parse_leverage(request), band.low), band.high)
                self.save_leverage(account.api_key, market.symbol, clamped)
            raise


@defect("order-default-leverage", "PER-ORDER-USES", "margins every order at leverage 20, whatever is stored")
class OrdersAtDefaultLeverage(Rules):
    def order_leverage(self, stored: int, explicit: int | None) -> int:
        return explicit if explicit is not None else DEFAULT_LEVERAGE


@defect("margin-rounded", "PER-ORDER-USES", "rounds each fill's margin down to cents")
class RoundedMargin(Rules):
    def fill_margin(self, notional: Decimal, leverage: int) -> Decimal:
        return super().fill_margin(notional, leverage).quantize(Decimal("0.01"), rounding=ROUND_DOWN)


@defect(
    "order-explicit-ignored",
    "PER-ORDER-EXPLICIT",
    "margins an order at the stored leverage, ignoring its own",
    ZTDX,
    level="SHOULD",
)
class ExplicitLeverageIgnored(Rules):
    def order_leverage(self, stored: int, explicit: int | None) -> int:
        return stored


@defect(
    "order-explicit-persisted",
    "PER-ORDER-EXPLICIT",
    "stores an order's own leverage as the symbol's",
    ZTDX,
    level="SHOULD",
)
class ExplicitLeveragePersisted(Exchange):
    def place_order(self, account: Account, request: RequestData, *, now: int) -> Order:
        order = super().place_order(account, request, now=now)
        if request.get("leverage") is not MISSING:
            self.save_leverage(account.api_key, order.symbol, order.leverage)
        return order


@defect(
    "remargin-on-leverage-change", "PER-NO-REMARGIN", "re-margins an open position at the new leverage", ZTDX
)
class RemarginOnChange(Rules):
    def position_after_leverage_change(self, position: Position, leverage: int) -> Position:
        return replace(position, margin=abs(position.amount) * position.entry_price / leverage)


@defect(
    "reject-lowering-with-position",
    "PER-NO-REMARGIN",
    "rejects lowering leverage while a position is open (-4161), as Binance does in isolated mode",
    ZTDX,
)
class NoLoweringWithPosition(Exchange):
    def change_leverage(self, account: Account, request: RequestData) -> LeverageChange:
        leverage = self.rules.parse_leverage(request)
        market = self.rules.market(request.text("symbol"))
        open_position = self.store.position(account.api_key, market.symbol).amount != 0
        if open_position and leverage < self.leverage(account.api_key, market):
            raise errors.leverage_reduction_rejected()
        return super().change_leverage(account, request)


@defect(
    "store-before-authentication",
    "PER-REJECT-NO-EFFECT",
    "stores an in-band leverage before checking the request's key, timestamp and signature",
)
class StoreBeforeAuthentication(Exchange):
    def before_authentication(self, path: str, request: RequestData) -> None:
        account = self.rules.accounts.get(request.api_key or "")
        symbol = request.get("symbol")
        if path != "/fapi/v1/leverage" or account is None or not isinstance(symbol, str):
            return
        try:
            market = self.rules.market(symbol)
            leverage = self.rules.parse_leverage(request)
            self.rules.check_leverage(leverage, market)
        except VenueError:
            return
        self.save_leverage(account.api_key, symbol, leverage)


@defect(
    "readback-default-when-flat",
    "PER-READBACK",
    "reads back the default leverage for a symbol without an open position",
)
class FlatReadbackDefault(Exchange):
    def positions(self, user: str, symbol: str | None) -> list[PositionView]:
        return [
            view
            if view.position.amount != 0
            else replace(view, leverage=self.rules.default_leverage(self.rules.market(view.position.symbol)))
            for view in super().positions(user, symbol)
        ]
