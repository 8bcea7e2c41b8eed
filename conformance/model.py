"""The domain model: clauses, cases, steps, market facts, outcomes and results.

Pure, immutable data with no I/O. Everything past the loaders speaks these types; nothing here imports
another module of the package.

A *case* is what a YAML file under ``cases/`` describes, still holding ``${...}`` templates. The planner
expands it over its parameters into *case instances* (one per symbol, encoding, value...), and the engine
turns each instance into a *case result*.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

# --------------------------------------------------------------------------------------------------
# Levels, outcomes, verdicts


class Level(enum.StrEnum):
    """How much a clause (or one expectation) weighs: a MUST breach fails, a SHOULD breach warns."""

    MUST = "MUST"
    SHOULD = "SHOULD"
    INFO = "INFO"


class Outcome(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"  # the venue broke a MUST
    WARN = "warn"  # the venue broke a SHOULD
    ERROR = "error"  # could not judge: transport, timeout, harness or configuration trouble
    SKIP = "skip"  # not run, with a reason


class Verdict(enum.StrEnum):
    CONFORMANT = "conformant"
    NONCONFORMANT = "nonconformant"
    INCOMPLETE = "incomplete"


def verdict_of(outcomes: list[Outcome], *, complete: bool = True) -> Verdict:
    """A MUST failure makes a run non-conformant; otherwise an error or an unfinished run makes it
    incomplete."""
    if Outcome.FAIL in outcomes:
        return Verdict.NONCONFORMANT
    if Outcome.ERROR in outcomes or not complete:
        return Verdict.INCOMPLETE
    return Verdict.CONFORMANT


# --------------------------------------------------------------------------------------------------
# Where things came from


@dataclass(frozen=True)
class SourceLocation:
    """A place in a file, 1-based, as shown to users: ``cases/x.yaml:12:5``."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


# --------------------------------------------------------------------------------------------------
# The contract


@dataclass(frozen=True)
class Clause:
    """One clause of the venue contract (``specs/contract.yaml``)."""

    id: str
    family: str  # security, timing, leverage, persistence...
    summary: str
    # Level per dialect; a dialect the clause does not apply to is absent.
    levels: Mapping[str, Level]

    def level_for(self, dialect: str) -> Level | None:
        return self.levels.get(dialect)


# --------------------------------------------------------------------------------------------------
# Profiles


Encoding = Literal["query", "form", "json"]


@dataclass(frozen=True)
class Profile:
    """Everything dialect-specific about a venue (``specs/profiles/*.yaml`` or a user's file)."""

    name: str
    dialect: str  # "binance-usdm" or "ztdx": which contract column applies
    title: str
    openapi: str  # path of the OpenAPI document, relative to specs/ (or absolute)
    encodings: tuple[Encoding, ...]  # body encodings accepted for POST
    # How the signature payload is formed: always query + body; JSON bodies signed as raw text.
    url_decoded_fallback: bool  # the venue retries a failed signature with the URL-decoded payload
    paths: Mapping[str, str]  # time, exchange_info, ticker, brackets, leverage, order, position
    band_source: Literal["brackets", "exchange_info"]  # where max leverage is discovered
    notional_rule: Literal["brackets", "max_position_size_usd"]
    margin_field: str | None  # read-back field carrying the position's margin; None: not observable
    margin_missing_reason: str | None  # shown when margin-dependent cases are skipped
    messages: Mapping[str, str]  # str.format templates, e.g. out_of_band: "Leverage {leverage} is not valid"
    recv_window_max: int | None  # largest accepted recvWindow, None when undocumented
    clause_levels: Mapping[str, Level]  # overrides of the contract's level for this profile
    source: str  # the file it was loaded from


# --------------------------------------------------------------------------------------------------
# Market facts


@dataclass(frozen=True)
class Bracket:
    bracket: int
    initial_leverage: int
    notional_cap: Decimal
    notional_floor: Decimal = Decimal(0)


@dataclass(frozen=True)
class MarketFacts:
    """What the cases need to know about one symbol, and where each fact came from."""

    symbol: str
    min_leverage: int
    max_leverage: int
    max_position_size_usd: Decimal | None = None  # ztdx
    brackets: tuple[Bracket, ...] = ()  # binance, bracket 1 first
    price: Decimal | None = None
    min_qty: Decimal | None = None  # LOT_SIZE
    step_size: Decimal | None = None  # LOT_SIZE
    min_notional: Decimal | None = None  # MIN_NOTIONAL
    # fact name -> where it came from ("markets file x.yaml", "GET /fapi/v1/exchangeInfo", "assumed")
    sources: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FactDisagreement:
    """The markets file and the venue disagree about a fact: reported, never silently resolved."""

    symbol: str
    fact: str
    file_value: str
    venue_value: str
    source: str  # the venue endpoint that said otherwise


# --------------------------------------------------------------------------------------------------
# Cases (as loaded; values may hold ``${...}`` templates, resolved at run time)

Template = Any  # a YAML scalar, list or mapping that may contain ``${expr}`` strings

SecretChoice = Literal["own", "wrong", "other-account"]
SignatureForm = Literal["normal", "omit", "empty", "upper", "truncate", "non-hex"]
KeyChoice = Literal["own", "omit", "unknown", "other-account"]
Placement = Literal["auto", "query", "body"]
PayloadForm = Literal["raw", "url-decoded"]


@dataclass(frozen=True)
class TimestampSpec:
    """How the signer stamps ``timestamp``.

    mode ``now``: the venue's clock (plus ``offset_ms``); ``omit``: no timestamp; ``edge``: relative to a
    window edge (``edge`` stale|future, ``side`` inside|outside), kept clear of it by
    max(500 ms, 3 x round trip); ``literal``: send ``value`` as is (malformed timestamps).
    """

    mode: Literal["now", "omit", "edge", "literal"] = "now"
    offset_ms: Template = 0
    edge: Literal["stale", "future"] | None = None
    side: Literal["inside", "outside"] | None = None
    value: Template = None


@dataclass(frozen=True)
class SignSpec:
    """Signing directives of one step. The defaults sign like a correct client."""

    enabled: bool = True  # False: a public endpoint, sent without key, timestamp or signature
    secret: SecretChoice = "own"
    signature: SignatureForm = "normal"
    tamper: Mapping[str, Template] = field(default_factory=dict)  # param -> value, set after signing
    placement: Placement = "auto"  # where timestamp, recvWindow and signature go
    timestamp: TimestampSpec = field(default_factory=TimestampSpec)
    recv_window: Template = None
    api_key: KeyChoice = "own"
    # what the HMAC covers: the bytes sent, or their URL-decoding (a client that signs before encoding)
    payload: PayloadForm = "raw"


@dataclass(frozen=True)
class RequestSpec:
    method: str
    path: Template
    params: Mapping[str, Template] = field(default_factory=dict)  # placed according to `encoding`
    encoding: Template = "query"  # query | form | json, or a template such as "${encoding}"
    query: Mapping[str, Template] = field(default_factory=dict)  # always in the query
    body: Mapping[str, Template] = field(default_factory=dict)  # always in the body (form or json)
    raw_body: Template = None  # exact body text; excludes params/body
    content_type: Template = None  # overrides the encoding's content type
    headers: Mapping[str, Template] = field(default_factory=dict)


@dataclass(frozen=True)
class Expectation:
    """One check of a step's outcome; ``check`` names an entry of the checks registry.

    ``argument`` is the YAML value after the check's key (templates unresolved); ``level`` is None when
    it inherits the case's level.
    """

    check: str
    argument: Template
    level: Level | None
    location: SourceLocation
    path: str | None = None  # for field checks: the field path inside the body or the step's values


StepKind = Literal["request", "read", "close_position"]


@dataclass(frozen=True)
class Step:
    kind: StepKind
    location: SourceLocation
    id: str | None = None  # referenced by later steps as steps.<id> and by unchanged_since
    name: str | None = None
    account: Template = "primary"  # primary | secondary
    request: RequestSpec | None = None  # kind == "request"
    read: Literal["leverage", "position"] | None = None  # kind == "read"
    symbol: Template = None  # kind read / close_position
    sign: SignSpec = field(default_factory=SignSpec)
    capture: Mapping[str, str] = field(default_factory=dict)  # variable -> field path
    expect: tuple[Expectation, ...] = ()
    when: Template = None  # the step runs only when this evaluates truthy


@dataclass(frozen=True)
class ParamSource:
    """Where one parametrised name takes its values.

    kind ``values``: the literal ``values`` (labels given or derived); ``symbols``: the run's symbols,
    filtered by ``where`` and cut to ``limit``; ``encodings``: the profile's encodings, filtered by
    ``only``.
    """

    kind: Literal["values", "symbols", "encodings"]
    values: tuple[tuple[str, Template], ...] = ()  # (label, value)
    where: Template = None
    limit: int | None = None
    only: tuple[str, ...] = ()


Requirement = Literal["second-account", "trading", "margin"]


@dataclass(frozen=True)
class Case:
    id: str
    description: str
    clause: str
    location: SourceLocation
    level: Level | None = None  # None: the clause's level for the profile
    profiles: tuple[str, ...] = ()  # dialects it applies to; empty: every dialect of the clause
    tags: tuple[str, ...] = ()
    requires: tuple[Requirement, ...] = ()
    parametrize: Mapping[str, ParamSource] = field(default_factory=dict)
    steps: tuple[Step, ...] = ()
    cleanup: tuple[Step, ...] = ()
    origin: Literal["hand-written", "generated"] = "hand-written"


@dataclass(frozen=True)
class Touch:
    """A piece of venue state a case may read or change: the scheduler serialises writers per touch."""

    account: str
    symbol: str | None  # None: no particular symbol (a rejected request without one)


@dataclass(frozen=True)
class CaseInstance:
    """A case with its parameters bound: the unit the engine runs and reports."""

    case: Case
    id: str  # case id plus parameter labels: "lev-bounds-reject[BTCUSDT-max+1]"
    params: Mapping[str, Any]
    level: Level
    touches: frozenset[Touch]
    writes: bool  # False when every step is a GET
    skip_reason: str | None = None


# --------------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Failure:
    """A check that did not hold: what was expected, what the venue did, and how much it weighs."""

    title: str
    expected: str
    actual: str
    level: Level
    clause: str
    step: int | None = None  # 0-based index of the step, None for case-level failures


class CheckFailed(Exception):
    """Raised by a check; carries the failure record."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.title)
        self.failure = failure


@dataclass(frozen=True)
class RecordedRequest:
    """A request as sent, with the API key masked; the secret never reaches this object."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: str
    signed_payload: str | None = None  # the exact text the HMAC was computed over


@dataclass(frozen=True)
class RecordedResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: str
    elapsed_ms: float


@dataclass(frozen=True)
class StepResult:
    index: int
    name: str
    request: RecordedRequest | None
    response: RecordedResponse | None
    error: str | None = None  # transport or harness trouble: the step could not be judged
    failures: tuple[Failure, ...] = ()
    values: Mapping[str, Any] = field(default_factory=dict)  # captures and read-back values
    skipped: bool = False  # its `when` was false
    cleanup: bool = False
    missing: str | None = None  # a market fact the run lacks: the step could not run, the case is skipped


@dataclass(frozen=True)
class CaseResult:
    id: str  # instance id
    case_id: str
    description: str
    clause: str
    level: Level
    outcome: Outcome
    message: str
    source: str  # "cases/x.yaml:3:1"
    tags: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    steps: tuple[StepResult, ...] = ()
    failures: tuple[Failure, ...] = ()
    duration_ms: float = 0.0
    origin: Literal["hand-written", "generated"] = "hand-written"
    reproduction: str | None = None  # generated cases: a YAML case that pins the shrunk example


@dataclass(frozen=True)
class RunResult:
    run_id: str
    verdict: Verdict
    profile: str
    dialect: str
    target: str
    clock_offset_ms: float
    round_trip_ms: float
    started_at: str  # ISO 8601, UTC
    duration_ms: float
    harness_version: str
    specs_hash: str
    cases_hash: str
    cases: tuple[CaseResult, ...]
    market_facts: tuple[MarketFacts, ...] = ()
    disagreements: tuple[FactDisagreement, ...] = ()
    complete: bool = True  # False when interrupted or the target became unreachable
    builtin: bool = False  # the target was the built-in reference venue
    notes: tuple[str, ...] = ()  # run-level remarks: restoration, interruption, skipped accounts
