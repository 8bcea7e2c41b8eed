"""Facts arithmetic: the values cases derive from one symbol's :class:`~conformance.model.MarketFacts`.

Pure functions, no I/O: the profile's ``maxNotionalValue`` rule, the smallest order the filters allow, the
middle of the leverage band. ``None`` means the facts cannot say.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from typing import Literal

from conformance.model import MarketFacts

NotionalRule = Literal["brackets", "max_position_size_usd"]
ASSUMED = "assumed"  # the source of a fact nobody gave: cases must not be judged on it


class MissingFactError(ValueError):
    """A fact a case needs is not known for the symbol: the case is skipped, never judged on a guess."""


def known_min_leverage(facts: MarketFacts) -> int:
    """The bottom of the band, unless it was only assumed (ztdx publishes none: it comes from a file)."""
    if facts.sources.get("min_leverage") == ASSUMED:
        raise MissingFactError(
            f"the minimum leverage of {facts.symbol} is not known (the venue does not publish it): "
            "give it in a markets file (--markets)"
        )
    return facts.min_leverage


def leverage_mid(facts: MarketFacts) -> int:
    """The middle of the band, ``(min + max) // 2``."""
    return (known_min_leverage(facts) + facts.max_leverage) // 2


def notional_cap(facts: MarketFacts, leverage: int, notional_rule: NotionalRule) -> Decimal | None:
    """The ``maxNotionalValue`` the venue should report at ``leverage``; None when the facts cannot say.

    ``brackets`` (binance-usdm): the ``notionalCap`` of the highest-numbered bracket whose
    ``initialLeverage >= leverage``. ``max_position_size_usd`` (ztdx): the symbol's limit, whatever the
    leverage.
    """
    if notional_rule == "max_position_size_usd":
        return facts.max_position_size_usd
    eligible = [b for b in facts.brackets if b.initial_leverage >= leverage]
    if not eligible:
        return None
    return max(eligible, key=lambda b: b.bracket).notional_cap


def smallest_order_qty(facts: MarketFacts) -> Decimal | None:
    """The smallest quantity that ``LOT_SIZE`` and ``MIN_NOTIONAL`` allow at the symbol's price.

    ``minQty`` plus as many ``stepSize`` steps as ``MIN_NOTIONAL`` needs, so that
    ``(qty - minQty) % stepSize == 0`` as LOT_SIZE demands; with ``minQty`` a multiple of the step (the
    usual case) this is ``max(minQty, ceil(min_notional / price / step) x step)``. The result carries the
    step's precision (``0.002``, not ``0.0020000``). None when a needed fact is missing.
    """
    if facts.min_qty is None:
        return None
    if facts.min_notional is None or facts.min_notional <= 0:
        return facts.min_qty
    if facts.price is None or facts.price <= 0 or facts.step_size is None or facts.step_size <= 0:
        return None
    step = facts.step_size
    short = facts.min_notional / facts.price - facts.min_qty
    steps = (short / step).to_integral_value(rounding=ROUND_CEILING) if short > 0 else Decimal(0)
    qty = facts.min_qty + steps * step
    exponent = min(_exponent(step.normalize()), _exponent(facts.min_qty.normalize()), 0)
    return qty.quantize(Decimal(1).scaleb(exponent))


def _exponent(number: Decimal) -> int:
    exponent = number.as_tuple().exponent
    return exponent if isinstance(exponent, int) else 0
