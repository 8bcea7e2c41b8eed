"""What ``${...}`` expressions see: the scope of one case instance, and the market facts arithmetic.

``market`` is a read-only view of one symbol's :class:`model.MarketFacts` with the derived values cases need
(``mid``, ``min_qty``, ``notional_cap(L)``); ``profile`` a view of the profile with ``message(...)``;
``steps.<id>`` the :class:`StepRecord` of an earlier step. The arithmetic is :mod:`conformance.facts`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from conformance import facts
from conformance.facts import MissingFactError, NotionalRule
from conformance.model import Bracket, MarketFacts, Profile

__all__ = [
    "MarketView",
    "MissingFactError",
    "ProfileView",
    "Scope",
    "StepRecord",
]


# --------------------------------------------------------------------------------------------------
# Facts arithmetic


# --------------------------------------------------------------------------------------------------
# What expressions see


class MarketView:
    """``market``: the facts of one symbol, read-only, with the derived values cases need."""

    __slots__ = ("_facts", "_rule")

    def __init__(self, market: MarketFacts, rule: NotionalRule) -> None:
        self._facts = market
        self._rule = rule

    def __repr__(self) -> str:
        return f"<market {self._facts.symbol}>"

    @property
    def symbol(self) -> str:
        return self._facts.symbol

    @property
    def min(self) -> int:
        return facts.known_min_leverage(self._facts)

    @property
    def max(self) -> int:
        return self._facts.max_leverage

    @property
    def mid(self) -> int:
        return facts.leverage_mid(self._facts)

    @property
    def price(self) -> Decimal:
        if self._facts.price is None:
            raise MissingFactError(f"no price is known for {self._facts.symbol}")
        return self._facts.price

    @property
    def min_qty(self) -> Decimal:
        qty = facts.smallest_order_qty(self._facts)
        if qty is None:
            raise MissingFactError(f"the order filters or price of {self._facts.symbol} are not known")
        return qty

    @property
    def step_size(self) -> Decimal | None:
        return self._facts.step_size

    @property
    def min_notional(self) -> Decimal | None:
        return self._facts.min_notional

    @property
    def max_position_size_usd(self) -> Decimal | None:
        return self._facts.max_position_size_usd

    @property
    def brackets(self) -> tuple[Bracket, ...]:
        return self._facts.brackets

    def notional_cap(self, leverage: int) -> Decimal:
        cap = facts.notional_cap(self._facts, leverage, self._rule)
        if cap is None:
            known = (
                "no max_position_size_usd"
                if self._rule == "max_position_size_usd"
                else "no bracket allows it"
            )
            raise MissingFactError(f"{self._facts.symbol} at leverage {leverage}: {known}")
        return cap


class ProfileView:
    """``profile``: the dialect-specific facts cases may use, and its message templates."""

    __slots__ = ("_profile",)

    def __init__(self, profile: Profile) -> None:
        self._profile = profile

    def __repr__(self) -> str:
        return f"<profile {self._profile.name}>"

    @property
    def name(self) -> str:
        return self._profile.name

    @property
    def dialect(self) -> str:
        return self._profile.dialect

    @property
    def title(self) -> str:
        return self._profile.title

    @property
    def paths(self) -> Mapping[str, str]:
        return self._profile.paths

    @property
    def encodings(self) -> tuple[str, ...]:
        return self._profile.encodings

    @property
    def recv_window_max(self) -> int | None:
        return self._profile.recv_window_max

    @property
    def margin_field(self) -> str | None:
        return self._profile.margin_field

    def message(self, name: str, **values: Any) -> str:
        template = self._profile.messages.get(name)
        if template is None:
            known = ", ".join(sorted(self._profile.messages)) or "none"
            raise LookupError(f"profile {self._profile.name} has no message {name!r} (it has: {known})")
        return template.format(**values)


@dataclass(frozen=True)
class StepRecord:
    """``steps.<id>``: what an earlier step observed."""

    status: int | None
    body: Any = None  # parsed JSON, or None
    values: Mapping[str, Any] = field(default_factory=dict)  # read-back values and captures


@dataclass(frozen=True, eq=False)
class Scope:
    """The names expressions of one case instance see.

    The planner builds it from the run (profile, facts, symbols) and an instance's parameters; the
    engine adds each step's record (:meth:`with_step`) and captures (:meth:`with_captures`) as it goes.
    ``market`` is the facts of the parameter ``symbol``, when there is one and its facts are known.
    """

    profile: Profile | None = None
    markets: Mapping[str, MarketFacts] = field(default_factory=dict)
    symbols: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    steps: Mapping[str, StepRecord] = field(default_factory=dict)
    captures: Mapping[str, Any] = field(default_factory=dict)

    def bind(self, **params: Any) -> Scope:
        return replace(self, params={**self.params, **params})

    def with_step(self, step_id: str, record: StepRecord) -> Scope:
        return replace(self, steps={**self.steps, step_id: record})

    def with_captures(self, values: Mapping[str, Any]) -> Scope:
        return replace(self, captures={**self.captures, **values})

    @functools.cached_property
    def namespace(self) -> Mapping[str, Any]:
        rule: NotionalRule = self.profile.notional_rule if self.profile is not None else "brackets"
        markets = {symbol: MarketView(facts, rule) for symbol, facts in self.markets.items()}
        names: dict[str, Any] = {"markets": markets, "symbols": list(self.symbols), "steps": self.steps}
        if self.profile is not None:
            names["profile"] = ProfileView(self.profile)
        symbol = self.params.get("symbol")
        if isinstance(symbol, str) and symbol in markets:
            names["market"] = markets[symbol]
        names.update(self.captures)
        names.update(self.params)
        return names
