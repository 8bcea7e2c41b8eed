"""A generated example as data: its steps, what each step expects, and under which clause.

Every generator (schemathesis examples, boundary values, mis-signed re-sends, the state machine) describes
what it sends as :class:`StepPlan`\\ s in the vocabulary of a hand-written case: a request (``params``
placed by ``encoding``, or a raw body), signing directives (:class:`~conformance.model.SignSpec`), a
read-back, and expectations named after the checks of :mod:`conformance.checks`. So one plan is both what
the driver sends (:func:`build_request` goes through :func:`conformance.wire.build`, as the engine's steps
do) and what :mod:`conformance.generated.reproduction` writes as a YAML case: the pinned case sends the
same bytes and runs the same checks.

Each :class:`Expect` carries the clause it checks. Where the clause depends on what the venue did (a
request that should be rejected but is accepted breaks the generator's clause; one rejected without the
envelope breaks ``ERR-ENVELOPE``) it is an :data:`Attribution` evaluated on the observation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from conformance import wire
from conformance.checks import Observation
from conformance.model import Level, SignSpec

# (clause, level): the level None means "the clause's level for the profile"; None: not checked here.
Attribution = Callable[[Observation], tuple[str, Level | None] | None]

NOT_5XX: tuple[str, ...] = ("2xx", "3xx", "4xx")  # the ``status`` argument meaning "never a server error"
# ...as a case writes it (a case's status list holds integers): the statuses venues answer with
NOT_5XX_WRITTEN: tuple[int, ...] = (200, 400, 401, 403, 404, 405, 408, 413, 414, 415, 418, 429)


@dataclass(frozen=True)
class Expect:
    """One check of a step: a check of :mod:`conformance.checks` with its argument, and its clause.

    ``gate``: when it fails, the step's later checks are not run (an accepted request has no error code to
    compare). ``level`` None takes the clause's level for the profile; a clause the profile's dialect does
    not have is not checked at all.
    """

    check: str
    argument: Any
    clause: str | Attribution
    level: Level | None = None
    path: str | None = None  # for ``body`` and ``values``: the field or value name
    gate: bool = False
    written: Any = None  # the argument as a reproduction writes it, when the case format spells it otherwise

    def attribute(self, observation: Observation) -> tuple[str, Level | None] | None:
        """The clause and level this check is judged under, given what the venue answered; None: the
        check does not apply to this answer."""
        if isinstance(self.clause, str):
            return self.clause, self.level
        attributed = self.clause(observation)
        if attributed is None:
            return None
        clause, level = attributed
        return clause, level if level is not None else self.level


@dataclass(frozen=True)
class RequestPlan:
    """One request, as a case step writes it (``request:`` plus ``sign:``)."""

    method: str
    path: str
    params: Mapping[str, Any] = field(default_factory=dict)  # placed by ``encoding``
    encoding: Literal["query", "form", "json"] = "query"
    query: Mapping[str, Any] = field(default_factory=dict)  # always in the query
    body: Mapping[str, Any] = field(default_factory=dict)  # always in the body (form or json)
    raw_body: str | None = None  # exact body text (excludes params in the body)
    content_type: str | None = None
    sign: SignSpec = field(default_factory=SignSpec)


@dataclass(frozen=True)
class StepPlan:
    """One step of a generated example: a request or a read-back, with what it expects."""

    name: str
    account: str = "primary"
    request: RequestPlan | None = None
    read: str | None = None  # the symbol whose position is read back
    reads: Literal["leverage", "position"] = "leverage"  # ``read: leverage`` or ``read: position``
    id: str | None = None  # later steps name it in ``unchanged_since``
    expects: tuple[Expect, ...] = ()

    def __post_init__(self) -> None:
        if (self.request is None) == (self.read is None):
            raise ValueError("a step is either a request or a read-back")


def build_request(base_url: str, plan: RequestPlan) -> httpx.Request:
    """The unsigned request, built exactly as the engine builds a case step's."""
    return wire.build(
        base_url=base_url,
        method=plan.method,
        path=plan.path,
        params=plan.params,
        encoding=plan.encoding,
        query=plan.query,
        body=plan.body,
        raw_body=plan.raw_body,
        content_type=plan.content_type,
    )


def read_step(
    symbol: str, expects: tuple[Expect, ...] = (), *, account: str = "primary", id: str | None = None
) -> StepPlan:
    return StepPlan(
        name=f"read back the {symbol} leverage", account=account, read=symbol, id=id, expects=expects
    )


def accepted(observation: Observation) -> bool:
    return observation.status is not None and 200 <= observation.status < 300


def unless_accepted(clause: str, level: Level | None = None) -> Attribution:
    """``clause`` when the venue accepted the request, else ``ERR-ENVELOPE`` (a rejection without envelope,
    or not a 4xx): how a ``rejected: true`` expectation is attributed."""

    def attribution(observation: Observation) -> tuple[str, Level | None]:
        return (clause, level) if accepted(observation) else ("ERR-ENVELOPE", Level.MUST)

    return attribution


def expect_rejected(clause: str, level: Level | None = None) -> Expect:
    """Rejected with a 4xx and the envelope; accepted breaks ``clause``, anything else ``ERR-ENVELOPE``."""
    return Expect("rejected", True, unless_accepted(clause, level), gate=True)


def envelope_if_rejected() -> Expect:
    """A request the contract does not judge: if the venue rejects it, the rejection has the envelope."""

    def attribution(observation: Observation) -> tuple[str, Level | None] | None:
        return None if accepted(observation) else ("ERR-ENVELOPE", Level.MUST)

    return Expect("rejected", True, attribution, gate=True)


def expect_no_server_error() -> Expect:
    return Expect(
        "status", list(NOT_5XX), "ERR-ENVELOPE", Level.MUST, gate=True, written=list(NOT_5XX_WRITTEN)
    )
