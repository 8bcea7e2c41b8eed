"""Examples from the specs: schemathesis's positive and negative examples of every operation.

For each operation of the profile's OpenAPI document, in each body encoding the profile accepts (the
single-placement views of :func:`conformance.placement.encoding_view`, without the parameters the signer
sets), schemathesis generates positive and negative examples; hypothesis draws them, shrinks a failing one
and replays it. What schemathesis generates is adjusted by the market facts and made wire-exact:

- a positive example's ``symbol`` is one of the run's symbols (one time in four it keeps schemathesis's
  own, an unknown symbol that must be rejected, unless it could be a real market) and its ``leverage`` is
  moved into that symbol's band (schemathesis only knows the spec's 1..125); OpenAPI 3.1 positive mode may
  write an integer as ``73.0``: it is sent as ``73``;
- a negative example whose ``symbol`` still fits the spec's pattern gets a run symbol too, so the example is
  about its other values; a symbol that breaks the pattern stays (an unknown symbol);
- query and form values are sent as text (lists and objects as JSON text), the signer's parameters
  (``timestamp``, ``recvWindow``, ``signature``) and unnamed parameters are dropped, and a body that is not
  an object is sent as raw text;
- where ``timestamp`` and ``signature`` go (query or form body) is drawn too.

Each example is then judged by what was actually sent (:mod:`conformance.generated.oracle`), never by
schemathesis's label, and also by schemathesis's own checks that fit a venue (no server error, documented
status and content type, response schema). ``POST /fapi/v1/order`` is left out: a mutated order is not
necessarily invalid on a real venue (there are other order types), and an accepted one is a real trade;
orders are exercised by the state machine, sized from the facts.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from conformance.checks import Observation
from conformance.generated.context import Context, Generator, generated_case
from conformance.generated.driver import Driver, Example, Exploration, StepOutcome, shrink_limit
from conformance.generated.examples import (
    Expect,
    RequestPlan,
    StepPlan,
    envelope_if_rejected,
    expect_no_server_error,
    expect_rejected,
)
from conformance.generated.leverage import run_leverage_example
from conformance.generated.oracle import MISSING, SIGNING_PARAMETERS, judged_band, leverage_verdict
from conformance.model import CaseInstance, Encoding, Failure, Level, MarketFacts, Profile, SignSpec
from conformance.placement import MEDIA_TYPES, encoding_view
from conformance.specs import SPECS_BASE_URI, openapi_document

Mode = Literal["positive", "negative"]
SYMBOL_PATTERN: Final = re.compile(r"[A-Z0-9_]{1,32}")
SKIPPED_ROLES: Final = frozenset({"order"})
UNKNOWN_SYMBOL_ODDS: Final = 4  # a positive example keeps schemathesis's own symbol one time in this many
QUOTE_ASSETS: Final = ("USDT", "USDC", "BUSD", "FDUSD", "USD", "BTC", "ETH", "BNB")  # could be a real market
# What each endpoint the contract does not judge feeds, cited at INFO: observed and reported only.
ROLE_CLAUSES: Final[Mapping[str, tuple[str, Level | None]]] = {
    "leverage": ("LEV-OK", None),
    "position": ("PER-READBACK", None),
    "brackets": ("LEV-NOTIONAL", Level.INFO),
    "exchange_info": ("LEV-BOUNDS", Level.INFO),
    "ticker": ("PER-ORDER-USES", Level.INFO),
    "time": ("TIME-WINDOW", Level.INFO),
}
PLACEMENTS: Final[Mapping[str, tuple[Literal["auto", "query", "body"], ...]]] = {
    "query": ("auto", "body"),
    "form": ("auto", "query"),
    "json": ("auto",),
}
# schemathesis's checks that fit a venue (the others re-send requests, or judge by status alone)
SCHEMATHESIS_CHECKS: Final = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)


@dataclass(frozen=True)
class Target:
    """One operation in one encoding and one generation mode: one generated instance."""

    method: str
    path: str
    role: str  # the key of the profile's ``paths``: leverage, position, time...
    encoding: Encoding
    mode: Mode
    clause: str
    level: Level | None  # None: the clause's level for the profile

    @property
    def label(self) -> str:
        encoding = f"{self.encoding}-" if self.method != "GET" else ""
        return f"{encoding}{self.mode}"


def targets(profile: Profile) -> list[Target]:
    """Every (operation, encoding, mode) of the profile's document that generated cases cover."""
    roles = {path: role for role, path in profile.paths.items()}
    found: list[Target] = []
    for operation in openapi_document(profile).operations():
        role = roles.get(operation.path)
        if role is None or role in SKIPPED_ROLES:
            continue
        clause, level = ROLE_CLAUSES.get(role, ("ERR-ENVELOPE", None))
        encodings: tuple[Encoding, ...] = profile.encodings if operation.method != "GET" else ("query",)
        has_inputs = _has_inputs(profile, operation.method, operation.path, encodings[0])
        modes: tuple[Mode, ...] = ("positive", "negative") if has_inputs else ("positive",)
        for encoding in encodings:
            for mode in modes:
                found.append(Target(operation.method, operation.path, role, encoding, mode, clause, level))
    return found


def _has_inputs(profile: Profile, method: str, path: str, encoding: Encoding) -> bool:
    """Whether the operation takes anything but the signer's parameters (else there is no negative)."""
    operation = encoding_view(profile, encoding, signing_parameters=False)["paths"][path][method.lower()]
    return bool(operation.get("parameters")) or "requestBody" in operation


@functools.lru_cache(maxsize=16)
def _schema(profile_source: str, profile_name: str, encoding: str, view_json: str) -> Any:
    import schemathesis

    schema = schemathesis.openapi.from_dict(json.loads(view_json))
    schema.config.generation.update(with_security_parameters=False)
    return schema


def schema_operation(profile: Profile, target: Target) -> Any:
    """schemathesis's operation for a target, from the profile's single-placement view."""
    view = encoding_view(profile, target.encoding, signing_parameters=False)
    schema = _schema(profile.source, profile.name, target.encoding, json.dumps(view, sort_keys=True))
    schema.location = openapi_document(profile).path.as_uri()
    return schema[target.path][target.method]


# --------------------------------------------------------------------------------------------------
# The property


def explore(
    driver: Driver,
    profile: Profile,
    markets: Mapping[str, MarketFacts],
    target: Target,
    *,
    seed: int,
    max_examples: int,
) -> Exploration:
    from hypothesis import given
    from hypothesis import strategies as st
    from schemathesis import GenerationMode
    from schemathesis.generation.feedback import NO_FEEDBACK

    operation = schema_operation(profile, target)
    # no feedback: schemathesis would otherwise steer generation by what it has seen, and the same seed
    # would not give the same examples
    strategy = operation.as_strategy(generation_mode=GenerationMode(target.mode), feedback=NO_FEEDBACK)
    limit = shrink_limit(max_examples)
    symbols = tuple(markets)

    @given(case=strategy, data=st.data())
    def test(case: Any, data: Any) -> None:
        symbol = data.draw(st.sampled_from(symbols), label="run symbol")
        keep = data.draw(st.integers(0, UNKNOWN_SYMBOL_ODDS - 1), label="keep its own symbol") == 0
        placement = data.draw(st.sampled_from(PLACEMENTS[target.encoding]), label="placement")
        example = driver.begin(f"{target.method} {target.path}", limit=limit)
        if target.role == "leverage":
            outcome = _leverage(example, profile, markets, target, case, symbol, placement, keep)
        else:
            outcome = _read_only(example, profile, markets, target, case, symbol, keep)
        _schemathesis_checks(example, target, case, outcome)
        example.conclude()

    return driver.explore(test, seed=seed, max_examples=max_examples)


def _leverage(
    example: Example,
    profile: Profile,
    markets: Mapping[str, MarketFacts],
    target: Target,
    case: Any,
    symbol: str,
    placement: Literal["auto", "query", "body"],
    keep: bool,
) -> StepOutcome:
    raw = case.query if target.encoding == "query" else case.body
    if isinstance(raw, Mapping):
        params = with_run_symbol(raw, symbol, positive=target.mode == "positive", keep=keep)
        if target.mode == "positive" and "leverage" in params:
            params["leverage"] = into_band(params["leverage"], markets[symbol])
        params = wire_values(params, target.encoding)
        verdict = leverage_verdict(
            profile,
            markets,
            symbol=params.get("symbol", MISSING),
            leverage=params.get("leverage", MISSING),
            encoding=target.encoding,
            extra=bool(set(params) - {"symbol", "leverage"}),
        )
        request = RequestPlan(
            target.method,
            target.path,
            params=params,
            encoding=target.encoding,
            sign=SignSpec(placement=placement),
        )
    else:  # a negative body that is not an object: its text as it is, the signature in the query
        verdict = leverage_verdict(
            profile, markets, symbol=MISSING, leverage=MISSING, encoding=target.encoding, malformed=True
        )
        request = RequestPlan(
            target.method,
            target.path,
            raw_body=_raw_text(raw, target.encoding),
            content_type=MEDIA_TYPES[target.encoding],
            sign=SignSpec(placement="query"),
        )
    example.describe(f"{target.mode} example: {verdict.summary}")
    return run_leverage_example(example, request, verdict, markets)


def _read_only(
    example: Example,
    profile: Profile,
    markets: Mapping[str, MarketFacts],
    target: Target,
    case: Any,
    symbol: str,
    keep: bool,
) -> StepOutcome:
    raw = case.query if isinstance(case.query, Mapping) else {}
    params = wire_values(with_run_symbol(raw, symbol, positive=target.mode == "positive", keep=keep), "query")
    sent = params.get("symbol", MISSING)
    expects: list[Expect] = [expect_no_server_error()]
    if set(params) - {"symbol"}:
        verdict = "observes a request with parameters the contract does not name"
        expects.append(envelope_if_rejected())
    elif sent is MISSING or sent in markets:
        verdict = f"accepts symbol {sent if sent is not MISSING else '(absent)'}"
        expects.append(Expect("accepted", True, target.clause, target.level, gate=True))
        schema = _response_schema(profile, target)
        if schema is not None:
            expects.append(Expect("schema", schema, target.clause, target.level))
    else:
        verdict = f"rejects the unknown symbol {sent!r}"
        expects.append(expect_rejected(target.clause, Level.INFO))
    example.describe(f"{target.mode} example: {verdict}")
    request = RequestPlan(
        target.method, target.path, params=params, sign=SignSpec(enabled=not _is_public(profile, target))
    )
    return example.run(StepPlan(name="the generated request", request=request, expects=tuple(expects)))


def _is_public(profile: Profile, target: Target) -> bool:
    """An operation with ``security: []``: sent without key, timestamp or signature."""
    definition = openapi_document(profile).operation(target.method, target.path).definition
    return definition.get("security") == []


def _response_schema(profile: Profile, target: Target) -> str | None:
    document = openapi_document(profile)
    operation = document.operation(target.method, target.path)
    uri = document.response_schema(operation, 200)
    if uri is None or not uri.startswith(SPECS_BASE_URI):
        return None
    return uri.removeprefix(SPECS_BASE_URI)


# --------------------------------------------------------------------------------------------------
# Making schemathesis's values wire-exact


def with_run_symbol(
    raw: Mapping[str, Any], symbol: str, *, positive: bool, keep: bool = False
) -> dict[str, Any]:
    """The example's parameters with a run symbol where the example is not about the symbol.

    A positive example keeps schemathesis's own symbol when ``keep`` is drawn (an unknown symbol, which
    must be rejected) unless it could be a real market; a negative one keeps a symbol that breaks the
    spec's pattern."""
    params = {str(k): v for k, v in raw.items() if k and k not in SIGNING_PARAMETERS}
    if "symbol" in params:
        current = params["symbol"]
        fits = isinstance(current, str) and SYMBOL_PATTERN.fullmatch(current) is not None
        if positive and keep and fits and not current.endswith(QUOTE_ASSETS):
            return params
        if positive or fits:
            params["symbol"] = symbol
    return params


def into_band(value: Any, facts: MarketFacts) -> Any:
    """A positive example's leverage moved into the symbol's band, keeping its JSON type."""
    low, high = judged_band(facts)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if low <= value <= high else low + (value - low) % (high - low + 1)
    if isinstance(value, str) and value.isdigit():
        number = int(value)
        return value if low <= number <= high else str(low + (number - low) % (high - low + 1))
    return value


def wire_values(params: Mapping[str, Any], encoding: str) -> dict[str, Any]:
    if encoding == "json":
        return {name: _clean_json(value) for name, value in params.items()}
    return {name: as_text(value) for name, value in params.items()}


def as_text(value: Any) -> str:
    """A query or form value as text: JSON's spelling for booleans, null as empty, lists and objects as
    JSON text."""
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(_clean_json(value), ensure_ascii=False, separators=(",", ":"))


def _raw_text(value: Any, encoding: str) -> str:
    if isinstance(value, bytes):
        return _clean(value.decode("utf-8", errors="replace"))
    if encoding == "json":
        return json.dumps(_clean_json(value), separators=(",", ":"))
    return as_text(value)


def _clean(text: str) -> str:
    """Text without lone surrogates (they cannot be encoded, nor written in YAML)."""
    return text.encode("utf-8", errors="surrogatepass").decode("utf-8", errors="replace")


def _clean_json(value: Any) -> Any:
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, Mapping):
        return {_clean(str(k)): _clean_json(v) for k, v in value.items() if str(k)}
    if isinstance(value, list | tuple):
        return [_clean_json(v) for v in value]
    return value


# --------------------------------------------------------------------------------------------------
# schemathesis's own checks


def _schemathesis_checks(example: Example, target: Target, case: Any, outcome: StepOutcome) -> None:
    """No server error, documented status and content type, response schema: failures the example's own
    expectations did not already find on that step."""
    from schemathesis import checks as st_checks
    from schemathesis.core.failures import FailureGroup

    functions = [getattr(st_checks, name, None) for name in SCHEMATHESIS_CHECKS[:1]]
    from schemathesis.specs.openapi import checks as openapi_checks

    functions += [getattr(openapi_checks, name, None) for name in SCHEMATHESIS_CHECKS[1:]]
    try:
        case.validate_response(outcome.response, checks=[f for f in functions if f is not None])
    except FailureGroup as group:
        clause, level = _schemathesis_clause(outcome.observation, target)
        level = level or example.driver.clause_level(clause)
        step = outcome.result.index
        if level is None or any(f.clause == clause for f in outcome.result.failures):
            return
        failures: list[Failure] = []
        for failure in group.exceptions:
            failures.append(
                Failure(
                    title=f"schemathesis: {failure.title}",
                    expected="a response as the OpenAPI document describes it",
                    actual=str(getattr(failure, "message", "") or failure.title)[:500],
                    level=level,
                    clause=clause,
                    step=step,
                )
            )
        example.add_failures(failures)
        example.record.notes.append("schemathesis's checks found what no case expectation can express")


def _schemathesis_clause(observation: Observation, target: Target) -> tuple[str, Level | None]:
    status = observation.status or 0
    if 200 <= status < 300:
        return target.clause, target.level
    return "ERR-ENVELOPE", Level.MUST


# --------------------------------------------------------------------------------------------------
# Instances


def generators(context: Context) -> list[Generator]:
    """One instance per (operation, encoding, mode) of the profile's document."""
    profile = context.profile
    document = openapi_document(profile)
    source = _display(document.path)
    found: list[Generator] = []
    for target in targets(profile):
        level = target.level or context.level(target.clause)
        if level is None:
            continue
        case_id = f"generated-openapi-{target.role.replace('_', '-')}"
        encoding = f", {target.encoding}" if target.method != "GET" else ""
        case = generated_case(
            id=case_id,
            description=f"answers schemathesis's {target.mode} examples of {target.method} {target.path}"
            f"{encoding} as the contract says",
            clause=target.clause,
            tags=("openapi", target.mode),
            source=source,
            line=_line_of(document.path, target.path),
        )
        instance = CaseInstance(
            case=case,
            id=f"{case_id}[{target.label}]",
            params={
                "operation": f"{target.method} {target.path}",
                "encoding": target.encoding,
                "mode": target.mode,
                "seed": context.seed,
                "max_examples": context.max_examples,
            },
            level=level,
            touches=context.touches(),
            writes=target.method != "GET",
        )

        def work(driver: Driver, target: Target = target, instance_id: str = instance.id) -> Exploration:
            return explore(
                driver,
                profile,
                context.markets,
                target,
                seed=context.instance_seed(instance_id),
                max_examples=context.max_examples,
            )

        found.append(Generator(instance, work))
    return found


def _display(path: Path) -> str:
    parts = path.parts
    return "/".join(parts[parts.index("specs") :]) if "specs" in parts else path.name


def _line_of(path: Path, template: str) -> int:
    """The line of a path item in the document (1 when it cannot be found)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return 1
    return next((n for n, line in enumerate(lines, 1) if line.strip() == f"{template}:"), 1)
