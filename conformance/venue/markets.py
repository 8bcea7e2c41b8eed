"""Market facts: what the venue knows about each symbol, and the markets file they come from.

The file format is the contract's (``specs/venue-contract.md``, "Market facts the cases need")::

    symbols:
      BTCUSDT:
        min_leverage: 1                      # ztdx band: [min_leverage, max_leverage]
        max_leverage: 125
        max_position_size_usd: "10000000"    # ztdx maxNotionalValue
        brackets:                            # binance-usdm band and maxNotionalValue, bracket 1 first
          - {bracket: 1, initialLeverage: 125, notionalCap: 50000}
        price: "65000.00"                    # optional: the ticker, at which MARKET orders fill
        filters:                             # optional: as GET /fapi/v1/exchangeInfo names them
          LOT_SIZE: {minQty: "0.001", maxQty: "1000", stepSize: "0.001"}
          MIN_NOTIONAL: {notional: "100"}

A bracket may also give ``notionalFloor`` (default: the previous bracket's cap), ``maintMarginRatio``
(default ``1 / (2 * initialLeverage)`` to 4 places) and ``cum`` (default: Binance's maintenance
amount formula).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from pathlib import Path

from conformance.venue.config import Node, load_document, parse_document

DEFAULT_PRICE = Decimal("100.00")
_QUOTE_ASSETS = ("USDT", "USDC", "FDUSD", "BUSD", "USD")
_SYMBOL = re.compile(r"[A-Z0-9]{2,32}")

_SYMBOL_KEYS = frozenset(
    {"min_leverage", "max_leverage", "max_position_size_usd", "brackets", "price", "filters"}
)
_BRACKET_KEYS = frozenset(
    {"bracket", "initialLeverage", "notionalCap", "notionalFloor", "maintMarginRatio", "cum"}
)


@dataclass(frozen=True)
class Bracket:
    """One notional bracket, as ``GET /fapi/v1/leverageBracket`` serves it."""

    bracket: int
    initial_leverage: int
    notional_cap: Decimal
    notional_floor: Decimal
    maint_margin_ratio: Decimal
    cum: Decimal


@dataclass(frozen=True)
class LotSize:
    min_qty: Decimal
    max_qty: Decimal
    step_size: Decimal


DEFAULT_LOT_SIZE = LotSize(Decimal("0.001"), Decimal("1000000"), Decimal("0.001"))
DEFAULT_MIN_NOTIONAL = Decimal("5")


@dataclass(frozen=True)
class Market:
    symbol: str
    min_leverage: int
    max_leverage: int
    max_position_size_usd: Decimal
    brackets: tuple[Bracket, ...]  # bracket 1 first; never empty
    price: Decimal = DEFAULT_PRICE
    lot_size: LotSize = DEFAULT_LOT_SIZE
    min_notional: Decimal = DEFAULT_MIN_NOTIONAL

    @property
    def quote_asset(self) -> str:
        return next((q for q in _QUOTE_ASSETS if self.symbol.endswith(q) and self.symbol != q), "USDT")

    @property
    def base_asset(self) -> str:
        return self.symbol.removesuffix(self.quote_asset) or self.symbol

    def maintenance_margin(self, notional: Decimal) -> Decimal:
        """Binance's ``notional * maintMarginRatio - cum``, in the bracket the notional falls in."""
        size = abs(notional)
        bracket = next((b for b in self.brackets if size <= b.notional_cap), self.brackets[-1])
        return max(size * bracket.maint_margin_ratio - bracket.cum, Decimal(0))

    @property
    def tick_size(self) -> Decimal:
        """The price's last written digit: ``65000.00`` ticks by ``0.01``."""
        return Decimal(1).scaleb(min(int(self.price.as_tuple().exponent), 0))


Markets = dict[str, Market]  # by symbol, in the order of the file


def default_markets() -> Markets:
    """The markets of ``conformance/venue/markets.yaml`` (the defaults of ``docs/reference-venue.md``)."""
    text = resources.files("conformance.venue").joinpath("markets.yaml").read_text(encoding="utf-8")
    return parse_markets(parse_document(text, "conformance/venue/markets.yaml"))


def load_markets(path: str | Path) -> Markets:
    """Read a markets file; every mistake is a one-line `ConfigError` pointing at ``file:line:col``."""
    return parse_markets(load_document(path))


def parse_markets(document: Node) -> Markets:
    symbols = document.mapping(allowed=frozenset({"symbols"})).required("symbols")
    markets: Markets = {}
    for symbol, node in symbols.mapping().items():
        if not _SYMBOL.fullmatch(symbol):
            raise node.error("a symbol is 2-32 upper-case letters and digits, such as BTCUSDT")
        markets[symbol] = _market(symbol, node)
    if not markets:
        raise symbols.error("expected at least one symbol")
    return markets


def _market(symbol: str, node: Node) -> Market:
    fields = node.mapping(allowed=_SYMBOL_KEYS)
    min_leverage = fields.required("min_leverage").integer(minimum=1)
    max_node = fields.required("max_leverage")
    max_leverage = max_node.integer(minimum=1)
    if max_leverage < min_leverage:
        raise max_node.error(f"max_leverage {max_leverage} is below min_leverage {min_leverage}")
    price = fields.optional("price")
    lot_size, min_notional = _filters(fields.optional("filters"))
    return Market(
        symbol=symbol,
        min_leverage=min_leverage,
        max_leverage=max_leverage,
        max_position_size_usd=fields.required("max_position_size_usd").decimal(),
        brackets=_brackets(fields.required("brackets")),
        price=price.decimal() if price is not None else DEFAULT_PRICE,
        lot_size=lot_size,
        min_notional=min_notional,
    )


def _brackets(node: Node) -> tuple[Bracket, ...]:
    items = node.sequence()
    if not items:
        raise node.error("expected at least one bracket")
    brackets: list[Bracket] = []
    for number, item in enumerate(items, start=1):
        fields = item.mapping(allowed=_BRACKET_KEYS)
        bracket_node = fields.required("bracket")
        if bracket_node.integer(minimum=1) != number:
            raise bracket_node.error(f"brackets are numbered 1, 2, 3... in order: expected {number}")
        leverage_node = fields.required("initialLeverage")
        leverage = leverage_node.integer(minimum=1)
        cap_node = fields.required("notionalCap")
        cap = cap_node.decimal()
        previous = brackets[-1] if brackets else None
        if previous is not None and leverage > previous.initial_leverage:
            raise leverage_node.error("initialLeverage must not increase from one bracket to the next")
        if previous is not None and cap <= previous.notional_cap:
            raise cap_node.error("notionalCap must increase from one bracket to the next")
        floor_node = fields.optional("notionalFloor")
        floor = floor_node.decimal(positive=False) if floor_node else _floor(previous)
        ratio_node = fields.optional("maintMarginRatio")
        ratio = ratio_node.decimal() if ratio_node else _default_ratio(leverage)
        cum_node = fields.optional("cum")
        cum = cum_node.decimal(positive=False) if cum_node else _cum(previous, floor, ratio)
        brackets.append(Bracket(number, leverage, cap, floor, ratio, cum))
    return tuple(brackets)


def _default_ratio(initial_leverage: int) -> Decimal:
    """Half the initial margin rate, to 4 places: 125x -> 0.004, 100x -> 0.005 (Binance's BTCUSDT)."""
    return (Decimal(1) / (2 * initial_leverage)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def _floor(previous: Bracket | None) -> Decimal:
    return previous.notional_cap if previous is not None else Decimal(0)


def _cum(previous: Bracket | None, floor: Decimal, ratio: Decimal) -> Decimal:
    """Binance's maintenance amount: ``cum[n] = cum[n-1] + floor[n] * (mmr[n] - mmr[n-1])``."""
    if previous is None:
        return Decimal(0)
    return previous.cum + floor * (ratio - previous.maint_margin_ratio)


def _filters(node: Node | None) -> tuple[LotSize, Decimal]:
    if node is None:
        return DEFAULT_LOT_SIZE, DEFAULT_MIN_NOTIONAL
    fields = node.mapping(allowed=frozenset({"LOT_SIZE", "MIN_NOTIONAL"}))
    lot_size = DEFAULT_LOT_SIZE
    if (lot_node := fields.optional("LOT_SIZE")) is not None:
        lot = lot_node.mapping(allowed=frozenset({"minQty", "maxQty", "stepSize"}))
        min_qty = lot.required("minQty").decimal()
        max_node = lot.optional("maxQty")
        max_qty = max_node.decimal() if max_node is not None else DEFAULT_LOT_SIZE.max_qty
        if max_qty < min_qty:
            raise (max_node or lot_node).error(f"maxQty {max_qty} is below minQty {min_qty}")
        lot_size = LotSize(min_qty, max_qty, lot.required("stepSize").decimal())
    min_notional = DEFAULT_MIN_NOTIONAL
    if (notional_node := fields.optional("MIN_NOTIONAL")) is not None:
        notional = notional_node.mapping(allowed=frozenset({"notional"}))
        min_notional = notional.required("notional").decimal(positive=False)
    return lot_size, min_notional
