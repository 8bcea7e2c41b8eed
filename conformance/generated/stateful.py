"""The persistence rules as a model: random sequences of changes, rejections and read-backs.

A hypothesis :class:`~hypothesis.stateful.RuleBasedStateMachine` keeps a model of what the venue must
store per (account, symbol) and drives the venue with random sequences over the run's symbols and accounts:

- set an in-band leverage (any encoding): accepted, and the model takes the value;
- send a change the venue must reject (below or above the band, a fraction, a wrong secret): the model
  keeps its value;
- read back a leverage: it must equal the model's;
- with trading allowed and a margin observable, open the smallest position the filters allow (on ztdx
  sometimes with the order's own leverage) and close it: its margin must be ``notional / L`` at the
  stored leverage, or the order's own (PER-ORDER-USES, PER-ORDER-EXPLICIT); sometimes lower the leverage
  while it is open: accepted, and the position's margin and entry price do not change (PER-NO-REMARGIN).

Each sequence starts by setting every (account, symbol) to a value of its own and reading it back, so it
does not depend on what ran before (hypothesis replays and shrinks sequences). A read-back that disagrees
with the model is attributed to the persistence clause that explains the value shown: another symbol's value
(PER-SYMBOL-ISOLATION), the other account's (PER-USER-ISOLATION), an order's own leverage
(PER-ORDER-EXPLICIT), a rejected request since the last change (PER-REJECT-NO-EFFECT), an earlier value of
the same key (PER-OVERWRITE), else PER-READBACK. Hypothesis shrinks a failing sequence to a short one,
which is reported as a case with these steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from conformance.checks import Observation
from conformance.facts import smallest_order_qty
from conformance.generated.context import Context, Generator, generated_case, module_source
from conformance.generated.driver import Driver, Example, Exploration, StepOutcome, shrink_limit
from conformance.generated.examples import (
    Expect,
    RequestPlan,
    StepPlan,
    accepted,
    expect_rejected,
    read_step,
)
from conformance.generated.oracle import judged_band, leverage_verdict
from conformance.model import CaseInstance, Encoding, Level, SignSpec
from conformance.specs import openapi_document

STEPS_PER_SEQUENCE: Final = 12
MARGIN_TOLERANCE: Final = 1e-9

Key = tuple[str, str]  # (account, symbol)


@dataclass(frozen=True)
class Event:
    kind: str  # write | rejected | order-explicit
    account: str
    symbol: str
    value: int | None

    @property
    def key(self) -> Key:
        return (self.account, self.symbol)


def _start_value(context: Context, symbol: str, offset: int) -> int:
    """Where a sequence starts (account ``offset``, ``symbol``): inside the band, off its edges, and
    different for each account where the band allows."""
    low, high = judged_band(context.markets[symbol])
    value = (low + high) // 2 + offset
    return value if low < value < high else low


def divergence(history: list[Event], key: Key) -> Callable[[Observation], tuple[str, Level | None]]:
    """The persistence clause a read-back of ``key`` breaks, given what it shows and what came before."""
    events = list(history)

    def clause(observation: Observation) -> tuple[str, Level | None]:
        observed = observation.values.get("leverage")
        account, symbol = key
        last = max((i for i, e in enumerate(events) if e.kind == "write" and e.key == key), default=-1)
        since = events[last + 1 :]
        for event in reversed(since):
            if event.value != observed or (event.key == key and event.kind == "write"):
                continue
            if event.kind == "write" and event.account == account:
                return "PER-SYMBOL-ISOLATION", None
            if event.kind == "write" and event.symbol == symbol:
                return "PER-USER-ISOLATION", None
            if event.kind == "order-explicit" and event.key == key:
                return "PER-ORDER-EXPLICIT", None
        if any(e.kind == "rejected" and e.key == key for e in since):
            return "PER-REJECT-NO-EFFECT", None
        written = [e.value for e in events if e.kind == "write" and e.key == key]
        if observed in written[:-1]:
            return "PER-OVERWRITE", None
        return "PER-READBACK", None

    return clause


def machine(driver: Driver, context: Context, *, limit: int) -> type[Any]:
    """The state machine class of one run (hypothesis builds one instance per sequence)."""
    from hypothesis import strategies as st
    from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

    profile, markets = context.profile, context.markets
    path, order_path = profile.paths["leverage"], profile.paths["order"]
    accounts = st.sampled_from(context.accounts)
    symbols = st.sampled_from(context.symbols)
    encodings = st.sampled_from(profile.encodings)
    trading = context.allow_trading and profile.margin_field is not None
    explicit_orders = _order_takes_leverage(context)

    class Persistence(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.example: Example = driver.begin(
                "keeps each accepted leverage per account and symbol through a generated sequence",
                limit=limit,
            )
            self.model: dict[Key, int | None] = {}
            self.history: list[Event] = []

        def _run(self, plan: StepPlan) -> StepOutcome:
            outcome = self.example.run(plan)
            self.example.conclude()  # the sequence stops at its first failure
            return outcome

        @initialize()
        def known_start(self) -> None:
            """Every (account, symbol) set to a value of its own, then read back: each sequence starts
            from the same state, so hypothesis can replay and shrink it."""
            for offset, account in enumerate(context.accounts):
                for symbol in context.symbols:
                    value = _start_value(context, symbol, offset)
                    request = RequestPlan("POST", path, params={"symbol": symbol, "leverage": value})
                    started = (Expect("accepted", True, "LEV-OK", gate=True),)
                    step = StepPlan(f"start {account} {symbol} at {value}", account, request, expects=started)
                    if accepted(self._run(step).observation):
                        self.model[(account, symbol)] = value
                        self.history.append(Event("write", account, symbol, value))
            for account in context.accounts:
                for symbol in context.symbols:
                    self.read_back(account, symbol)

        @rule(account=accounts, symbol=symbols, position=st.integers(0, 10_000), encoding=encodings)
        def set_leverage(self, account: str, symbol: str, position: int, encoding: Encoding) -> None:
            facts = markets[symbol]
            low, high = judged_band(facts)
            value = low + position % (high - low + 1)
            sent: Any = value if encoding == "json" else str(value)
            verdict = leverage_verdict(profile, markets, symbol=symbol, leverage=sent, encoding=encoding)
            request = RequestPlan(
                "POST", path, params={"symbol": symbol, "leverage": sent}, encoding=encoding
            )
            step = StepPlan(f"set {account} {symbol} to {value}", account, request, expects=verdict.request)
            if accepted(self._run(step).observation):
                self.model[(account, symbol)] = value
                self.history.append(Event("write", account, symbol, value))

        @rule(
            account=accounts,
            symbol=symbols,
            kind=st.sampled_from(("below", "above", "fraction", "wrong secret")),
            distance=st.integers(0, 1_000),
        )
        def rejected_change(self, account: str, symbol: str, kind: str, distance: int) -> None:
            facts = markets[symbol]
            low, high = judged_band(facts)
            sign = SignSpec()
            if kind == "below":
                value: Any = str(facts.min_leverage - 1 - distance)
            elif kind == "above":
                value = str(high + 1 + distance)
            elif kind == "fraction":
                value = f"{low + distance % (high - low + 1)}.5"
            else:
                value, sign = str(low + distance % (high - low + 1)), SignSpec(secret="wrong")
            if kind == "wrong secret":
                expects: tuple[Expect, ...] = (
                    expect_rejected("AUTH-SIG-INVALID"),
                    Expect("status", 400, "AUTH-SIG-INVALID"),
                    Expect("code", -1022, "AUTH-SIG-INVALID"),
                )
            else:
                expects = leverage_verdict(
                    profile, markets, symbol=symbol, leverage=value, encoding="query"
                ).request
            request = RequestPlan("POST", path, params={"symbol": symbol, "leverage": value}, sign=sign)
            self._run(
                StepPlan(
                    f"send {account} {symbol} a change to reject ({kind}: {value})",
                    account,
                    request,
                    expects=expects,
                )
            )
            self.history.append(Event("rejected", account, symbol, None))

        @rule(account=accounts, symbol=symbols)
        def read_back(self, account: str, symbol: str) -> None:
            key = (account, symbol)
            expected = self.model.get(key)
            if expected is None:
                return  # its first read-back was unusable (already a failure)
            attribution = divergence(self.history, key)
            expect = Expect("values", {"equals": expected}, attribution, path="leverage")
            self._run(read_step(symbol, (expect,), account=account))

        if trading:

            @rule(
                account=accounts, symbol=symbols, own=st.none() | st.integers(0, 10_000), lower=st.booleans()
            )
            def trade(self, account: str, symbol: str, own: int | None, lower: bool) -> None:
                self._trade(account, symbol, own if explicit_orders else None, lower)

        def _lower(self, account: str, symbol: str, value: int, opened: StepOutcome) -> None:
            """Lower the leverage with the position open: accepted, and the position is not re-margined."""
            lowered = self.example.run(
                StepPlan(
                    f"lower {account} {symbol} to {value} with the position open",
                    account,
                    RequestPlan("POST", path, params={"symbol": symbol, "leverage": value}),
                    expects=(Expect("accepted", True, "PER-NO-REMARGIN", gate=True),),
                )
            )
            if not accepted(lowered.observation):
                return
            self.model[(account, symbol)] = value
            self.history.append(Event("write", account, symbol, value))
            kept = opened.observation.values
            expects = tuple(
                Expect("values", {"decimal": str(kept[name])}, "PER-NO-REMARGIN", path=name)
                for name in ("margin", "entry_price")
                if kept.get(name) is not None
            )
            self.example.run(
                StepPlan(
                    f"read the {account} {symbol} position",
                    account,
                    read=symbol,
                    reads="position",
                    expects=expects,
                )
            )

        def _trade(self, account: str, symbol: str, own: int | None, lower: bool) -> None:
            facts = markets[symbol]
            quantity = smallest_order_qty(facts)
            stored = self.model.get((account, symbol))
            if quantity is None or stored is None:
                return
            agrees = Expect(
                "values", {"equals": stored}, divergence(self.history, (account, symbol)), path="leverage"
            )
            before = self._run(
                StepPlan(
                    f"read the {account} {symbol} position",
                    account,
                    read=symbol,
                    reads="position",
                    expects=(agrees,),
                )
            )
            if before.observation.values.get("amount") != 0:
                return  # the account already holds a position here: not ours to trade
            leverage = stored
            params: dict[str, Any] = {
                "symbol": symbol,
                "side": "BUY",
                "type": "MARKET",
                "quantity": str(quantity),
            }
            clause = "PER-ORDER-USES"
            if own is not None:
                low, high = judged_band(facts)
                leverage = low + own % (high - low + 1)
                params["leverage"] = str(leverage)
                clause = "PER-ORDER-EXPLICIT"
            order = self._run(
                StepPlan(
                    f"open a {quantity} {symbol} position"
                    + (f" at its own leverage {leverage}" if own is not None else ""),
                    account,
                    RequestPlan("POST", order_path, params=params),
                    expects=(Expect("accepted", True, clause, gate=True),),
                )
            )
            notional = _decimal(order.observation.body, "cumQuote")
            if notional is not None:
                margin = Expect(
                    "values",
                    {"approx": str(notional / leverage), "rel": MARGIN_TOLERANCE},
                    clause,
                    path="margin",
                )
                expects: tuple[Expect, ...] = (margin,)
                if own is not None:
                    expects += (Expect("values", {"equals": stored}, "PER-ORDER-EXPLICIT", path="leverage"),)
                opened = self.example.run(
                    StepPlan(
                        f"read the {account} {symbol} position",
                        account,
                        read=symbol,
                        reads="position",
                        expects=expects,
                    )
                )
                if lower and stored > judged_band(facts)[0]:
                    self._lower(account, symbol, (judged_band(facts)[0] + stored) // 2, opened)
            close = {
                "symbol": symbol,
                "side": "SELL",
                "type": "MARKET",
                "quantity": str(quantity),
                "reduceOnly": "true",
            }
            self.example.run(
                StepPlan(
                    f"close the {symbol} position", account, RequestPlan("POST", order_path, params=close)
                )
            )
            if own is not None:
                self.history.append(Event("order-explicit", account, symbol, leverage))
            self.example.conclude()

    return Persistence


def _decimal(body: Any, name: str) -> Decimal | None:
    try:
        return Decimal(str(body[name])) if isinstance(body, dict) and name in body else None
    except ArithmeticError:
        return None


def _order_takes_leverage(context: Context) -> bool:
    """Whether an order may carry its own leverage (the profile's document says so)."""
    document = openapi_document(context.profile)
    operation = document.operation("POST", context.profile.paths["order"])
    return any("leverage" in str(p) for p in operation.definition.get("parameters", []))


def explore(driver: Driver, context: Context, *, seed: int, max_examples: int) -> Exploration:
    limit = shrink_limit(max_examples)
    return driver.explore(
        lambda: None,
        seed=seed,
        max_examples=max_examples,
        stateful_steps=STEPS_PER_SEQUENCE,
        machine=machine(driver, context, limit=limit),
    )


def generators(context: Context) -> list[Generator]:
    level = context.level("PER-READBACK")
    if level is None:
        return []
    case = generated_case(
        id="generated-stateful",
        description="keeps leverage per account and symbol through random changes, rejections and read-backs",
        clause="PER-READBACK",
        tags=("stateful", "persistence"),
        source=module_source("stateful"),
    )
    instance = CaseInstance(
        case=case,
        id="generated-stateful",
        params={
            "accounts": list(context.accounts),
            "seed": context.seed,
            "max_examples": context.max_examples,
        },
        level=level,
        touches=context.touches(accounts=context.accounts),
        writes=True,
    )

    def work(driver: Driver) -> Exploration:
        return explore(
            driver, context, seed=context.instance_seed(instance.id), max_examples=context.max_examples
        )

    return [Generator(instance, work)]
