"""Running one leverage example: a known starting value, the request, and the read-back that judges it.

Every generated ``POST /fapi/v1/leverage`` on a symbol of the run is sent as four steps, so each example
stands alone (hypothesis may replay and shrink it in any order) and its reproduction is self-contained:

1. set a known leverage (the *anchor*): inside the band, off its edges (a venue that clamps an out-of-band
   value into the band before rejecting it would otherwise go unseen), and different from the example's;
2. read it back (``id: before``);
3. the example, judged by :func:`conformance.generated.oracle.leverage_verdict`;
4. read it back again: an accepted leverage is shown (PER-READBACK), a rejected request changed nothing
   (PER-REJECT-NO-EFFECT). Which applies is decided by what the venue answered in step 3.
"""

from __future__ import annotations

from collections.abc import Mapping

from conformance.generated.driver import Example, StepOutcome
from conformance.generated.examples import Expect, RequestPlan, StepPlan, accepted, read_step
from conformance.generated.oracle import LeverageVerdict, judged_band
from conformance.model import MarketFacts


def anchor_value(facts: MarketFacts, avoid: int | None) -> int:
    """A leverage in the band, off its edges when the band allows, and not ``avoid``."""
    low, high = judged_band(facts)
    middle = (low + high) // 2
    candidates = [middle, middle + 1, middle - 1, low + 1, high - 1, low, high]
    inner = [c for c in candidates if low < c < high and c != avoid]
    if inner:
        return inner[0]
    return next((c for c in candidates if low <= c <= high and c != avoid), low)


def anchor_steps(path: str, symbol: str, value: int, *, account: str = "primary") -> list[StepPlan]:
    return [
        StepPlan(
            name=f"set a known leverage first ({value})",
            account=account,
            request=RequestPlan("POST", path, params={"symbol": symbol, "leverage": value}),
            expects=(Expect("accepted", True, "LEV-OK", gate=True),),
        ),
        read_step(symbol, account=account, id="before"),
    ]


def after_steps(
    verdict: LeverageVerdict, outcome: StepOutcome, *, account: str = "primary"
) -> list[StepPlan]:
    """The read-back after the example, expecting what the venue's answer implies."""
    if verdict.symbol is None:
        return []
    if accepted(outcome.observation):
        if verdict.accept is not True or verdict.leverage is None:
            return []  # wrongly accepted (already a failure) or not judged: nothing to compare
        expects: tuple[Expect, ...] = (
            Expect("values", {"equals": verdict.leverage}, verdict.readback_clause, path="leverage"),
        )
    else:
        expects = (Expect("unchanged_since", "before", "PER-REJECT-NO-EFFECT"),)
    return [read_step(verdict.symbol, expects, account=account)]


def run_leverage_example(
    example: Example,
    request: RequestPlan,
    verdict: LeverageVerdict,
    markets: Mapping[str, MarketFacts],
    *,
    name: str = "the generated request",
    account: str = "primary",
) -> StepOutcome:
    """Anchor, read, send the example, read again; returns the example's step."""
    if verdict.symbol is not None:
        anchor = anchor_value(markets[verdict.symbol], verdict.leverage)
        for step in anchor_steps(request.path, verdict.symbol, anchor, account=account):
            example.run(step)
    outcome = example.run(StepPlan(name=name, account=account, request=request, expects=verdict.request))
    for step in after_steps(verdict, outcome, account=account):
        example.run(step)
    return outcome
