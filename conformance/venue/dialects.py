"""The two dialects the venue speaks: one column each of the contract's profile table.

Everything that differs between Binance USDⓈ-M Futures and ZTDX is a field of `Dialect`, so the rules
(`conformance.venue.rules`) read as one implementation with a few named switches, not as two venues.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Encoding = Literal["form", "json"]


@dataclass(frozen=True)
class Dialect:
    name: str
    title: str
    # Body encodings read for POST, besides the query string. A body of any other type is not read.
    body_encodings: frozenset[Encoding]
    # After the raw payload fails, try again with the URL-decoded payload (ZTDX's Auth page).
    url_decoded_fallback: bool
    # The future edge: Binance rejects timestamp >= serverTime + 1000, ZTDX only timestamp > it.
    future_edge_inclusive: bool
    # How `leverage` may be written: "text" (20) or also as a JSON integer / numeric string.
    leverage_forms: Literal["text", "json-or-text"]
    # The leverage band: 1 .. bracket 1's initialLeverage, or the symbol's [min_leverage, max_leverage].
    band: Literal["brackets", "limits"]
    # maxNotionalValue: from the brackets at that leverage, or the symbol's max_position_size_usd.
    notional: Literal["brackets", "max_position_size_usd"]
    # str.format template with `leverage` and `max`.
    out_of_band_message: str
    # Where positions are read back (the contract's path).
    position_path: str
    # Also serve Binance's GET /fapi/v3/positionRisk, which public clients (ccxt, the connector) call.
    position_risk_v3: bool
    # Orders may carry their own `leverage` (used for that order; the stored value is unchanged).
    order_leverage: bool
    # exchangeInfo lists `maxLeverage` per symbol.
    exchange_info_max_leverage: bool


BINANCE_USDM = Dialect(
    name="binance-usdm",
    title="Binance USDⓈ-M Futures",
    body_encodings=frozenset({"form"}),
    url_decoded_fallback=False,
    future_edge_inclusive=True,
    leverage_forms="text",
    band="brackets",
    notional="brackets",
    out_of_band_message="Leverage {leverage} is not valid",
    position_path="/fapi/v2/positionRisk",
    position_risk_v3=True,
    order_leverage=False,
    exchange_info_max_leverage=False,
)

ZTDX = Dialect(
    name="ztdx",
    title="ZTDX (Binance-compatible)",
    body_encodings=frozenset({"form", "json"}),
    url_decoded_fallback=True,
    future_edge_inclusive=False,
    leverage_forms="json-or-text",
    band="limits",
    notional="max_position_size_usd",
    out_of_band_message="Leverage {leverage} is not valid. Max: {max}",
    position_path="/fapi/v1/positionRisk",
    position_risk_v3=False,
    order_leverage=True,
    exchange_info_max_leverage=True,
)

DIALECTS: dict[str, Dialect] = {dialect.name: dialect for dialect in (BINANCE_USDM, ZTDX)}


def dialect_named(name: str) -> Dialect:
    try:
        return DIALECTS[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r} (expected one of: {', '.join(DIALECTS)})") from None
