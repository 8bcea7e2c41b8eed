"""Valid examples re-sent mis-signed: the request security and timing clauses, one instance per clause.

Hypothesis draws a valid leverage change (a schemathesis positive example in one of the profile's
encodings, its symbol one of the run's and its leverage inside that symbol's band) and one way of breaking
its signing (:class:`~conformance.model.SignSpec`, the same directives hand-written cases use, applied by
the session's signer to the exact bytes sent), then sends it between two read-backs
(:func:`conformance.generated.leverage.run_leverage_example`):

- AUTH-KEY-MISSING / AUTH-KEY-UNKNOWN: no key, an unknown key: rejected, SHOULD 401 / -2014, -2015;
- AUTH-SIG-MISSING: no signature, an empty one: rejected, SHOULD 400 / -1102;
- AUTH-SIG-INVALID: a wrong secret, the other account's secret or key, a truncated or non-hex signature, a
  parameter changed after signing: 400 / -1022;
- AUTH-SIG-CASE: the signature in upper case: accepted (SHOULD);
- AUTH-SIG-PAYLOAD: the parameters split between query and body, the signature in either: accepted;
- AUTH-PRECEDENCE: ``leverage`` in both query and body: the query's value is the one stored (SHOULD);
- TIME-MISSING: no timestamp: rejected, SHOULD 400 / -1102;
- TIME-STALE / TIME-FUTURE: a timestamp past either edge of the window (kept clear of it by the signer's
  margin), with or without an explicit ``recvWindow``: 400 / -1021;
- TIME-WINDOW: a timestamp inside the window, including an explicit ``recvWindow`` beyond the default:
  accepted;
- TIME-RECVWINDOW-MAX: a ``recvWindow`` above the profile's maximum: rejected; at the maximum: accepted
  (ztdx MUST; INFO elsewhere).

Every rejected request must leave the stored leverage as it was (PER-REJECT-NO-EFFECT).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from conformance.generated.context import Context, Generator, generated_case, module_source
from conformance.generated.driver import Driver, Exploration, shrink_limit
from conformance.generated.examples import Expect, RequestPlan, expect_rejected
from conformance.generated.leverage import run_leverage_example
from conformance.generated.openapi import Target, into_band, schema_operation, wire_values, with_run_symbol
from conformance.generated.oracle import LeverageVerdict, judged_band, leverage_verdict
from conformance.model import CaseInstance, Encoding, Level, SignSpec, TimestampSpec

MAX_RECV_WINDOW: Final = 60_000


@dataclass(frozen=True)
class Rejection:
    """What a mis-signed request must get: rejected, then these status and codes at these levels."""

    status: int | None = None
    status_level: Level | None = None  # None: the clause's level
    codes: tuple[int, ...] = ()
    code_level: Level | None = None


@dataclass(frozen=True)
class Variant:
    """One way of (mis-)signing a valid request, drawn by hypothesis."""

    label: str
    sign: SignSpec
    rejection: Rejection | None  # None: it must still be accepted
    needs_second_account: bool = False


@dataclass(frozen=True)
class Family:
    """The variants of one clause; hypothesis draws one of them and its free values."""

    clause: str
    description: str
    draw: Callable[[Any, Context], Variant]
    split: bool = False  # parameters split between query and body (AUTH-SIG-PAYLOAD, AUTH-PRECEDENCE)


def _one_of(data: Any, variants: list[Variant], context: Context) -> Variant:
    from hypothesis import strategies as st

    usable = [v for v in variants if not v.needs_second_account or "secondary" in context.accounts]
    return data.draw(st.sampled_from(usable), label="variant")  # type: ignore[no-any-return]


def _key_missing(data: Any, context: Context) -> Variant:
    return Variant(
        "no API key", SignSpec(api_key="omit"), Rejection(401, Level.SHOULD, (-2014,), Level.SHOULD)
    )


def _key_unknown(data: Any, context: Context) -> Variant:
    return Variant(
        "an unknown API key",
        SignSpec(api_key="unknown"),
        Rejection(401, Level.SHOULD, (-2015,), Level.SHOULD),
    )


def _sig_missing(data: Any, context: Context) -> Variant:
    should = Rejection(400, Level.SHOULD, (-1102,), Level.SHOULD)
    return _one_of(
        data,
        [
            Variant("no signature", SignSpec(signature="omit"), should),
            Variant(
                "an empty signature",
                SignSpec(signature="empty"),
                Rejection(400, Level.SHOULD, (-1102, -1022), Level.SHOULD),
            ),
        ],
        context,
    )


def _sig_invalid(data: Any, context: Context) -> Variant:
    from hypothesis import strategies as st

    must = Rejection(400, None, (-1022,), None)
    delta = data.draw(st.integers(1, 10**6), label="added to the leverage after signing")
    return _one_of(
        data,
        [
            Variant("a wrong secret", SignSpec(secret="wrong"), must),
            Variant("the other account's secret", SignSpec(secret="other-account"), must, True),
            Variant("the other account's key", SignSpec(api_key="other-account"), must, True),
            Variant("a truncated signature", SignSpec(signature="truncate"), must),
            Variant("a non-hex signature", SignSpec(signature="non-hex"), must),
            Variant("leverage changed after signing", SignSpec(tamper={"leverage": delta}), must),
        ],
        context,
    )


def _sig_case(data: Any, context: Context) -> Variant:
    return Variant("the signature in upper case", SignSpec(signature="upper"), None)


def _sig_payload(data: Any, context: Context) -> Variant:
    from hypothesis import strategies as st

    placement = data.draw(st.sampled_from(("query", "body")), label="signature placement")
    return Variant(f"parameters split, the signature in the {placement}", SignSpec(placement=placement), None)


def _precedence(data: Any, context: Context) -> Variant:
    return Variant("leverage in both query and body", SignSpec(placement="query"), None)


def _time_missing(data: Any, context: Context) -> Variant:
    return Variant(
        "no timestamp",
        SignSpec(timestamp=TimestampSpec(mode="omit")),
        Rejection(400, Level.SHOULD, (-1102,), Level.SHOULD),
    )


def _recv_window(data: Any, label: str) -> int | None:
    from hypothesis import strategies as st

    explicit = data.draw(st.booleans(), label=f"explicit recvWindow ({label})")
    return data.draw(st.integers(10_000, MAX_RECV_WINDOW), label="recvWindow") if explicit else None


def _stale(data: Any, context: Context) -> Variant:
    window = _recv_window(data, "stale")
    spec = SignSpec(timestamp=TimestampSpec(mode="edge", edge="stale", side="outside"), recv_window=window)
    return Variant(
        f"a stale timestamp (recvWindow {window or 'default'})", spec, Rejection(400, None, (-1021,), None)
    )


def _future(data: Any, context: Context) -> Variant:
    window = _recv_window(data, "future")
    spec = SignSpec(timestamp=TimestampSpec(mode="edge", edge="future", side="outside"), recv_window=window)
    return Variant("a timestamp from the future", spec, Rejection(400, None, (-1021,), None))


def _window(data: Any, context: Context) -> Variant:
    from hypothesis import strategies as st

    window = _recv_window(data, "inside")
    edge = data.draw(st.sampled_from(("stale", "future")), label="edge")
    spec = SignSpec(timestamp=TimestampSpec(mode="edge", edge=edge, side="inside"), recv_window=window)
    return Variant(f"a timestamp inside the {edge} edge (recvWindow {window or 'default'})", spec, None)


def _recv_window_max(data: Any, context: Context) -> Variant:
    from hypothesis import strategies as st

    maximum = context.profile.recv_window_max or MAX_RECV_WINDOW
    if data.draw(st.booleans(), label="recvWindow at the maximum"):  # inclusive: accepted
        return Variant(f"recvWindow {maximum}, the maximum", SignSpec(recv_window=maximum), None)
    window = data.draw(st.integers(maximum + 1, 2**31 - 1), label="recvWindow above the maximum")
    return Variant(f"recvWindow {window}", SignSpec(recv_window=window), Rejection())


FAMILIES: Final = (
    Family("AUTH-KEY-MISSING", "rejects a valid request sent without API key", _key_missing),
    Family("AUTH-KEY-UNKNOWN", "rejects a valid request sent with an unknown API key", _key_unknown),
    Family("AUTH-SIG-MISSING", "rejects a valid request sent without signature", _sig_missing),
    Family("AUTH-SIG-INVALID", "rejects a valid request with a wrong signature", _sig_invalid),
    Family("AUTH-SIG-CASE", "accepts a valid request signed in upper-case hex", _sig_case),
    Family("AUTH-SIG-PAYLOAD", "accepts parameters split between query and body", _sig_payload, split=True),
    Family("AUTH-PRECEDENCE", "takes the query's value of a parameter sent twice", _precedence, split=True),
    Family("TIME-MISSING", "rejects a valid request sent without timestamp", _time_missing),
    Family("TIME-STALE", "rejects a valid request with a stale timestamp", _stale),
    Family("TIME-FUTURE", "rejects a valid request with a timestamp from the future", _future),
    Family("TIME-WINDOW", "accepts a timestamp inside the window", _window),
    Family(
        "TIME-RECVWINDOW-MAX", "rejects a recvWindow above the maximum, accepts the maximum", _recv_window_max
    ),
)


# --------------------------------------------------------------------------------------------------
# The property


def explore(driver: Driver, context: Context, family: Family, *, seed: int, max_examples: int) -> Exploration:
    from hypothesis import given
    from hypothesis import strategies as st
    from schemathesis import GenerationMode
    from schemathesis.generation.feedback import NO_FEEDBACK

    profile, markets = context.profile, context.markets
    path = profile.paths["leverage"]
    encodings: tuple[Encoding, ...] = ("form", "json") if family.split else profile.encodings
    encodings = tuple(e for e in encodings if e in profile.encodings)
    strategies = {
        encoding: schema_operation(
            profile, Target("POST", path, "leverage", encoding, "positive", family.clause, None)
        ).as_strategy(generation_mode=GenerationMode.POSITIVE, feedback=NO_FEEDBACK)
        for encoding in encodings
    }
    limit = shrink_limit(max_examples)

    @given(data=st.data())
    def test(data: Any) -> None:
        encoding = data.draw(st.sampled_from(encodings), label="encoding")
        case = data.draw(strategies[encoding], label="valid example")
        symbol = data.draw(st.sampled_from(context.symbols), label="run symbol")
        variant = family.draw(data, context)
        raw = case.query if encoding == "query" else case.body
        params = with_run_symbol(raw, symbol, positive=True)
        params["leverage"] = into_band(params.get("leverage", markets[symbol].max_leverage), markets[symbol])
        params = {"symbol": symbol, "leverage": params["leverage"]}  # what the contract names, nothing else
        request, verdict = _request(
            context, family, variant, encoding, path, wire_values(params, encoding), data
        )
        example = driver.begin(f"{variant.label}: {verdict.summary}", limit=limit)
        run_leverage_example(example, request, verdict, markets, name=f"send it with {variant.label}")
        example.conclude()

    return driver.explore(test, seed=seed, max_examples=max_examples)


def _request(
    context: Context,
    family: Family,
    variant: Variant,
    encoding: Encoding,
    path: str,
    params: Mapping[str, Any],
    data: Any,
) -> tuple[RequestPlan, LeverageVerdict]:
    from hypothesis import strategies as st

    profile, markets = context.profile, context.markets
    symbol = str(params["symbol"])
    valid = leverage_verdict(
        profile,
        markets,
        symbol=symbol,
        leverage=params["leverage"],
        encoding=encoding,
        clause_on_acceptance=family.clause,
    )
    if family.clause == "AUTH-SIG-PAYLOAD":
        in_query = {n: data.draw(st.booleans(), label=f"{n} in the query") for n in params}
        query = {n: str(v) for n, v in params.items() if in_query[n]}
        body = {n: v for n, v in params.items() if not in_query[n]}
        if not body:  # at least one parameter in the body, or nothing is split
            body = {"leverage": params["leverage"]}
            query.pop("leverage", None)
        sign = variant.sign if encoding != "json" else dataclasses.replace(variant.sign, placement="query")
        request = RequestPlan("POST", path, query=query, body=body, encoding=encoding, sign=sign)
        return request, valid
    if family.clause == "AUTH-PRECEDENCE":
        facts = markets[symbol]
        stored = int(str(params["leverage"]))
        other = data.draw(st.integers(*judged_band(facts)), label="the body's leverage")
        request = RequestPlan(
            "POST",
            path,
            query={"symbol": symbol, "leverage": str(stored)},
            body={"leverage": other if encoding == "json" else str(other)},
            encoding=encoding,
            sign=variant.sign,
        )
        expects = (
            Expect("accepted", True, family.clause, gate=True),
            Expect("body", {"equals": stored}, family.clause, path="leverage"),
        )
        verdict = dataclasses.replace(
            valid,
            leverage=stored,
            request=expects,
            readback_clause=family.clause,
            summary=f"takes leverage {stored} from the query",
        )
        return request, verdict
    sign = variant.sign
    if "leverage" in sign.tamper:  # the drawn amount is added to the signed value: never the same value
        tampered = int(str(params["leverage"])) + int(sign.tamper["leverage"])
        sign = dataclasses.replace(
            sign, tamper={"leverage": tampered if encoding == "json" else str(tampered)}
        )
        variant = dataclasses.replace(variant, label=f"leverage changed to {tampered} after signing")
    request = RequestPlan("POST", path, params=params, encoding=encoding, sign=sign)
    if variant.rejection is None:
        return request, valid
    return request, _rejected(family.clause, variant, valid)


def _rejected(clause: str, variant: Variant, valid: LeverageVerdict) -> LeverageVerdict:
    rejection = variant.rejection
    assert rejection is not None
    expects: list[Expect] = [expect_rejected(clause)]
    if rejection.status is not None:
        expects.append(Expect("status", rejection.status, clause, rejection.status_level))
    if rejection.codes:
        codes: Any = rejection.codes[0] if len(rejection.codes) == 1 else list(rejection.codes)
        expects.append(Expect("code", codes, clause, rejection.code_level))
    summary = valid.summary.replace("accepts", "rejects", 1) + f" with {variant.label}"
    return dataclasses.replace(valid, accept=False, clause=clause, request=tuple(expects), summary=summary)


# --------------------------------------------------------------------------------------------------
# Instances


def generators(context: Context) -> list[Generator]:
    found: list[Generator] = []
    accounts = tuple(context.accounts)
    for family in FAMILIES:
        level = context.level(family.clause)
        if level is None:
            continue
        if family.split and "form" not in context.profile.encodings:
            continue
        case_id = f"generated-signing-{family.clause.lower()}"
        case = generated_case(
            id=case_id,
            description=family.description,
            clause=family.clause,
            tags=("signing", "security" if family.clause.startswith("AUTH") else "timing"),
            source=module_source("security"),
        )
        instance = CaseInstance(
            case=case,
            id=case_id,
            params={"seed": context.seed, "max_examples": context.max_examples},
            level=level,
            touches=context.touches(accounts=accounts),
            writes=True,
        )

        def work(driver: Driver, family: Family = family, instance_id: str = instance.id) -> Exploration:
            return explore(
                driver,
                context,
                family,
                seed=context.instance_seed(instance_id),
                max_examples=context.max_examples,
            )

        found.append(Generator(instance, work))
    return found
