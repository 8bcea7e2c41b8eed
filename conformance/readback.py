"""Position read-back: what a venue says it stores for (user, symbol).

The profile names the path and the margin field; this module turns the read-back body into the values a
case compares (``leverage``, ``amount``, ``entry_price``, ``margin``) or says precisely why it cannot.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from conformance.checks import show


class ReadbackError(ValueError):
    """The read-back does not carry a usable position for the symbol."""


@dataclass(frozen=True)
class Position:
    symbol: str
    leverage: int
    amount: Decimal
    entry_price: Decimal
    margin: Decimal | None  # None when the profile has no margin observable

    def values(self) -> dict[str, Any]:
        return {
            "leverage": self.leverage,
            "amount": self.amount,
            "entry_price": self.entry_price,
            "margin": self.margin,
        }


def _decimal(entry: dict[str, Any], name: str) -> Decimal:
    raw = entry.get(name)
    if isinstance(raw, bool) or raw is None:
        raise ReadbackError(f"'{name}' is {show(raw)}, not a decimal")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise ReadbackError(f"'{name}' is {show(raw)}, not a decimal") from None
    if not value.is_finite():
        raise ReadbackError(f"'{name}' is {show(raw)}, not a finite decimal")
    return value


def _leverage(entry: dict[str, Any]) -> int:
    raw = entry.get("leverage")
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit() and len(raw) < 12:
        return int(raw)
    raise ReadbackError(f"'leverage' is {show(raw)}, not an integer")


def parse(body: Any, symbol: str, margin_field: str | None) -> Position:
    """The position of ``symbol`` in a read-back body (an array of positions, or one position)."""
    entries = body if isinstance(body, list) else [body]
    matching = [
        e
        for e in entries
        if isinstance(e, dict) and e.get("symbol") == symbol and e.get("positionSide", "BOTH") == "BOTH"
    ]
    if not matching:
        raise ReadbackError(f"no position entry for {symbol} in the read-back")
    entry = matching[0]
    return Position(
        symbol=symbol,
        leverage=_leverage(entry),
        amount=_decimal(entry, "positionAmt"),
        entry_price=_decimal(entry, "entryPrice"),
        margin=_decimal(entry, margin_field) if margin_field else None,
    )
