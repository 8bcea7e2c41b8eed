"""The JSON bodies the venue sends, shaped like Binance's (``docs/reference-venue.md``, "Wire format").

Pure functions from domain values to JSON-ready dicts. Decimals are sent as plain decimal text without
exponent (``"0.002"``, ``"250000"``); leverage brackets are numbers, as Binance sends them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from conformance.venue.dialects import Dialect
from conformance.venue.markets import Market, Markets
from conformance.venue.trading import LeverageChange, Order, PositionView

JSON = dict[str, Any]

_ONBOARD_DATE = 1_569_398_400_000  # 2019-09-25, when Binance listed BTCUSDT perpetual
_DELIVERY_DATE = 4_133_404_800_000  # 2100-12-25: a perpetual's nominal delivery date


def decimal_text(value: Decimal) -> str:
    """Plain decimal text, trailing zeros dropped: ``Decimal('6.50')`` -> ``"6.5"``, 5E+4 -> ``"50000"``."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _places(value: Decimal) -> int:
    return max(0, -int(value.normalize().as_tuple().exponent))


# -- market data ------------------------------------------------------------------------------------


def server_time(now: int) -> JSON:
    return {"serverTime": now}


def exchange_info(dialect: Dialect, markets: Markets, now: int) -> JSON:
    return {
        "timezone": "UTC",
        "serverTime": now,
        "futuresType": "U_MARGINED",
        "rateLimits": [],
        "exchangeFilters": [],
        "assets": [
            {"asset": asset, "marginAvailable": True, "autoAssetExchange": "0"}
            for asset in dict.fromkeys(market.quote_asset for market in markets.values())
        ],
        "symbols": [_symbol_info(dialect, market) for market in markets.values()],
    }


def _symbol_info(dialect: Dialect, market: Market) -> JSON:
    lot = market.lot_size
    lot_size = {
        "minQty": decimal_text(lot.min_qty),
        "maxQty": decimal_text(lot.max_qty),
        "stepSize": decimal_text(lot.step_size),
    }
    info: JSON = {
        "symbol": market.symbol,
        "pair": market.symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": _DELIVERY_DATE,
        "onboardDate": _ONBOARD_DATE,
        "status": "TRADING",
        "baseAsset": market.base_asset,
        "quoteAsset": market.quote_asset,
        "marginAsset": market.quote_asset,
        "pricePrecision": _places(market.tick_size),
        "quantityPrecision": _places(lot.step_size),
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "settlePlan": 0,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": decimal_text(market.tick_size),
                "maxPrice": decimal_text(market.price * 100),
                "tickSize": decimal_text(market.tick_size),
            },
            {"filterType": "LOT_SIZE", **lot_size},
            {"filterType": "MARKET_LOT_SIZE", **lot_size},
            {"filterType": "MIN_NOTIONAL", "notional": decimal_text(market.min_notional)},
        ],
        "orderTypes": ["MARKET"],
        "timeInForce": ["GTC"],
    }
    if dialect.exchange_info_max_leverage:
        info["maxLeverage"] = market.max_leverage
    return info


def ticker_price(market: Market, now: int) -> JSON:
    return {"symbol": market.symbol, "price": format(market.price, "f"), "time": now}


def leverage_brackets(market: Market) -> JSON:
    return {
        "symbol": market.symbol,
        "brackets": [
            {
                "bracket": bracket.bracket,
                "initialLeverage": bracket.initial_leverage,
                "notionalCap": _json_number(bracket.notional_cap),
                "notionalFloor": _json_number(bracket.notional_floor),
                "maintMarginRatio": float(bracket.maint_margin_ratio),
                "cum": float(bracket.cum),
            }
            for bracket in market.brackets
        ],
    }


# -- account ----------------------------------------------------------------------------------------


def leverage_change(change: LeverageChange) -> JSON:
    return {
        "leverage": change.leverage,
        "maxNotionalValue": decimal_text(change.max_notional),
        "symbol": change.symbol,
    }


def order(order: Order) -> JSON:
    quantity = decimal_text(order.quantity)
    return {
        "orderId": order.order_id,
        "symbol": order.symbol,
        "status": "FILLED",
        "clientOrderId": order.client_order_id,
        "price": "0",
        "avgPrice": format(order.price, "f"),
        "origQty": quantity,
        "executedQty": quantity,
        "cumQty": quantity,
        "cumQuote": decimal_text(order.quantity * order.price),
        "timeInForce": "GTC",
        "type": "MARKET",
        "reduceOnly": order.reduce_only,
        "closePosition": False,
        "side": order.side,
        "positionSide": "BOTH",
        "stopPrice": "0",
        "workingType": "CONTRACT_PRICE",
        "priceProtect": False,
        "origType": "MARKET",
        "priceMatch": "NONE",
        "selfTradePreventionMode": "NONE",
        "goodTillDate": 0,
        "updateTime": order.time,
    }


def position_v2(view: PositionView) -> JSON:
    """``GET /fapi/v2/positionRisk`` (binance-usdm) and ``/fapi/v1/positionRisk`` (ztdx)."""
    position = view.position
    notional = position.amount * view.mark_price
    return {
        "symbol": position.symbol,
        "positionAmt": decimal_text(position.amount),
        "entryPrice": decimal_text(position.entry_price),
        "breakEvenPrice": decimal_text(position.entry_price),
        "markPrice": decimal_text(view.mark_price),
        "unRealizedProfit": decimal_text(position.amount * (view.mark_price - position.entry_price)),
        "liquidationPrice": "0",
        "leverage": str(view.leverage),
        "maxNotionalValue": decimal_text(view.max_notional),
        "marginType": "isolated",
        "isolatedMargin": decimal_text(position.margin),
        "isAutoAddMargin": "false",
        "positionSide": "BOTH",
        "notional": decimal_text(notional),
        "isolatedWallet": decimal_text(position.margin),
        "updateTime": position.update_time,
    }


def position_v3(view: PositionView) -> JSON:
    """``GET /fapi/v3/positionRisk`` (binance-usdm, for public clients): no leverage, open positions only."""
    position = view.position
    notional = position.amount * view.mark_price
    margin = decimal_text(position.margin)
    return {
        "symbol": position.symbol,
        "positionSide": "BOTH",
        "positionAmt": decimal_text(position.amount),
        "entryPrice": decimal_text(position.entry_price),
        "breakEvenPrice": decimal_text(position.entry_price),
        "markPrice": decimal_text(view.mark_price),
        "unRealizedProfit": decimal_text(position.amount * (view.mark_price - position.entry_price)),
        "liquidationPrice": "0",
        "isolatedMargin": margin,
        "notional": decimal_text(notional),
        "marginAsset": view.margin_asset,
        "isolatedWallet": margin,
        "initialMargin": margin,
        "maintMargin": decimal_text(view.maint_margin),
        "positionInitialMargin": margin,
        "openOrderInitialMargin": "0",
        "adl": 0,
        "bidNotional": "0",
        "askNotional": "0",
        "updateTime": position.update_time,
    }
