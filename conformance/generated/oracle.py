"""What the contract expects of one ``POST /fapi/v1/leverage``, from the values actually sent.

The generators do not trust their own labels: a schemathesis "negative" example may be valid once
serialised (``"20"`` for an integer is ``leverage=20`` on the wire) and a "positive" one may be out of a
symbol's band. :func:`read_leverage` and :func:`read_symbol` read the values as sent, the way the contract
does (venue-contract.md, "The leverage endpoint"), and :func:`leverage_verdict` says what the venue must do
with them, each expectation carrying its clause:

- an integer in the symbol's band, for a symbol of the run: accepted (LEV-OK), the body valid against the
  spec (LEV-OK), echoing leverage and symbol (LEV-ECHO), ``maxNotionalValue`` by the profile's rule
  (LEV-NOTIONAL), and the read-back shows it (PER-READBACK);
- an integer outside the band: rejected with 400 / -4028, and SHOULD carry the profile's message
  (LEV-BOUNDS);
- anything else that is not an integer (``20.5``, ``abc``, ``1e1``, empty, ten digits or more, a JSON
  boolean...): rejected, SHOULD -1102, -1130 or -4028 (LEV-NON-INTEGER);
- a missing or unknown symbol, or a missing leverage: rejected, SHOULD 400 / -1121 or -1102 (LEV-SYMBOL);
- a rejection is a 4xx with the envelope (ERR-ENVELOPE), never a 5xx, and changes nothing
  (PER-REJECT-NO-EFFECT: the read-back equals the one before);
- ``020``, ``+20``, `` 20``, ``20.0`` in the band (LEV-LENIENT) and requests carrying parameters the
  contract does not name are not judged beyond the envelope and the read-back.

A request the venue should accept but rejects is attributed by what it answered: -1022 breaks
AUTH-SIG-PAYLOAD (a correct signature was refused), -1021 TIME-WINDOW, -1102 for a body encoding
LEV-ENCODINGS (the body was not read), a JSON numeric string LEV-STRING, the band's edges LEV-BOUNDS,
otherwise LEV-OK. A rejection with the wrong code is attributed the same way: -1022 or -1021 instead of
the leverage rule's code means the request never reached the leverage rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from conformance.checks import Observation
from conformance.facts import notional_cap
from conformance.generated.examples import (
    Attribution,
    Expect,
    envelope_if_rejected,
    expect_no_server_error,
    expect_rejected,
)
from conformance.model import Level, MarketFacts, Profile

LEVERAGE_RESPONSE_SCHEMA: Final = "schemas/leverage-response.schema.json"
SIGNING_PARAMETERS: Final = frozenset({"timestamp", "recvWindow", "signature"})
CONTRACT_PARAMETERS: Final = frozenset({"symbol", "leverage"})
MAX_DIGITS: Final = 9  # longer digit strings are "very long" (LEV-NON-INTEGER)
ASSUMED: Final = "assumed"  # the source of a fact nobody gave (conformance.markets)


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Final = _Missing()

_CANONICAL = re.compile(r"-?(0|[1-9][0-9]*)")
_DIGITS = re.compile(r"-?[0-9]+")
_LENIENT = re.compile(r"\s*[+-]?[0-9]+(\.0*)?\s*")
_NON_INTEGER_CODES: Final = (-1102, -1130, -4028)


@dataclass(frozen=True)
class LeverageReading:
    """How the contract reads a leverage value as sent."""

    kind: Literal["integer", "lenient", "non-integer", "missing"]
    value: int | None = None  # the integer it stands for (integer, lenient)
    json_string: bool = False  # a JSON numeric string (ztdx: LEV-STRING)


def read_leverage(value: Any, *, json_body: bool) -> LeverageReading:
    """``value`` is the text of a query or form parameter, or the JSON value of a JSON body's member."""
    if value is MISSING:
        return LeverageReading("missing")
    if json_body and not isinstance(value, str):
        if isinstance(value, bool) or value is None:
            return LeverageReading("non-integer")
        if isinstance(value, int):
            return _integer(str(value), json_string=False)
        if isinstance(value, float) and value.is_integer() and abs(value) < 10**MAX_DIGITS:
            return LeverageReading("lenient", int(value))
        return LeverageReading("non-integer")
    if not isinstance(value, str):
        return LeverageReading("non-integer")
    return _integer(value, json_string=json_body)


def _integer(text: str, *, json_string: bool) -> LeverageReading:
    if _CANONICAL.fullmatch(text) and len(text.lstrip("-")) <= MAX_DIGITS:
        return LeverageReading("integer", int(text), json_string=json_string)
    if _DIGITS.fullmatch(text) and len(text.lstrip("-")) > MAX_DIGITS:
        return LeverageReading("non-integer")
    if _LENIENT.fullmatch(text):
        number = text.strip().split(".")[0]
        if len(number.lstrip("+-")) <= MAX_DIGITS:
            return LeverageReading("lenient", int(number), json_string=json_string)
    return LeverageReading("non-integer")


def read_symbol(value: Any, symbols: Mapping[str, MarketFacts]) -> Literal["known", "unknown", "missing"]:
    if value is MISSING or value == "":
        return "missing"
    if isinstance(value, str) and value in symbols:
        return "known"
    return "unknown"


@dataclass(frozen=True)
class LeverageVerdict:
    """What the venue must do with one leverage request, as expectations on the request and the read-back."""

    accept: bool | None  # None: not judged (lenient value, parameters the contract does not name)
    clause: str  # the clause the example is about
    symbol: str | None  # the run's symbol whose stored leverage is at stake
    leverage: int | None  # the integer it stands for (what is stored if it is accepted)
    request: tuple[Expect, ...]  # on the request step
    summary: str  # "rejects leverage 0 for BTCUSDT"
    readback_clause: str = "PER-READBACK"  # what an accepted value missing from the read-back breaks


def judged_band(facts: MarketFacts) -> tuple[int, int]:
    """The leverages known to be inside the symbol's band: all of it, or only its top when the minimum is
    not known (ztdx gives it in a markets file; without one it is assumed to be 1 and nothing below the
    maximum is judged). Values below 1 are outside every band."""
    if facts.sources.get("min_leverage") == ASSUMED:
        return facts.max_leverage, facts.max_leverage
    return facts.min_leverage, facts.max_leverage


def leverage_verdict(
    profile: Profile,
    markets: Mapping[str, MarketFacts],
    *,
    symbol: Any,
    leverage: Any,
    encoding: str,
    extra: bool = False,
    malformed: bool = False,
    clause_on_acceptance: str | None = None,
) -> LeverageVerdict:
    """The expectations for a leverage request sending ``symbol`` and ``leverage`` (:data:`MISSING` when
    absent), as text for the query or a form, as JSON values for a JSON body. ``extra``: it also carries
    parameters the contract does not name; ``malformed``: its body is not an object at all (rejected, with
    whatever code). ``clause_on_acceptance`` overrides the clause of an expected
    acceptance (a mis-signed re-send that must still be accepted cites its own clause)."""
    reading = read_leverage(leverage, json_body=encoding == "json")
    symbol_kind = read_symbol(symbol, markets)
    facts = markets[symbol] if symbol_kind == "known" else None
    shown = f"leverage {_show(leverage)} for {_show(symbol)} ({encoding})"
    at_stake = symbol if facts is not None else None

    problems: list[tuple[str, tuple[int, ...]]] = []  # (clause, acceptable codes; () any)
    if malformed:
        return _rejection(
            profile, None, reading, [("LEV-SYMBOL", ())], None, "rejects a body that is no object"
        )
    if reading.kind == "missing":
        problems.append(("LEV-SYMBOL", (-1102,)))
    elif reading.kind == "non-integer":
        problems.append(("LEV-NON-INTEGER", _NON_INTEGER_CODES))
    if symbol_kind == "missing":
        problems.append(("LEV-SYMBOL", (-1102,)))
    elif symbol_kind == "unknown":
        problems.append(("LEV-SYMBOL", (-1121, -1102) if not isinstance(symbol, str) else (-1121,)))
    out_of_band = (
        facts is not None
        and reading.value is not None
        and not facts.min_leverage <= reading.value <= facts.max_leverage
    )
    if out_of_band and reading.kind == "integer":
        problems.insert(0, ("LEV-BOUNDS", (-4028,)))
    elif out_of_band:  # a lenient spelling of an out-of-band value: wrong either way
        problems.insert(0, ("LEV-NON-INTEGER", _NON_INTEGER_CODES))

    if problems:
        return _rejection(profile, facts, reading, problems, at_stake, f"rejects {shown}")
    assert facts is not None
    assert reading.value is not None
    unknown_minimum = reading.value < judged_band(facts)[0]
    if reading.kind == "lenient" or extra or unknown_minimum:
        why = (
            "a lenient spelling"
            if reading.kind == "lenient"
            else "the symbol's minimum leverage is not known"
            if unknown_minimum
            else "parameters the contract does not name"
        )
        return LeverageVerdict(
            accept=None,
            clause="LEV-LENIENT" if reading.kind == "lenient" else "LEV-OK",
            symbol=at_stake,
            leverage=reading.value,
            request=(expect_no_server_error(), envelope_if_rejected()),
            summary=f"observes {shown} ({why})",
        )
    return _acceptance(profile, facts, reading, encoding, shown, clause_on_acceptance)


def _rejection(
    profile: Profile,
    facts: MarketFacts | None,
    reading: LeverageReading,
    problems: list[tuple[str, tuple[int, ...]]],
    at_stake: str | None,
    summary: str,
) -> LeverageVerdict:
    clause = problems[0][0]
    codes = sorted({code for _, options in problems for code in options}, reverse=True)
    request: list[Expect] = [expect_rejected(clause)]  # a 5xx is no rejection: ERR-ENVELOPE
    if len(problems) == 1 and clause == "LEV-BOUNDS" and facts is not None:
        judged = _refused_before(clause)
        request += [Expect("status", 400, judged), Expect("code", -4028, judged)]
        template = profile.messages.get("out_of_band")
        if template is not None:
            message = template.format(leverage=reading.value, max=facts.max_leverage)
            request.append(Expect("message", {"equals": message}, clause, Level.SHOULD))
    elif codes:
        level = Level.SHOULD
        if len(problems) == 1 and clause == "LEV-SYMBOL":
            request.append(Expect("status", 400, clause, level))
        request.append(Expect("code", codes[0] if len(codes) == 1 else codes, _refused_before(clause, level)))
    return LeverageVerdict(False, clause, at_stake, None, tuple(request), summary)


def _refused_before(clause: str, level: Level | None = None) -> Attribution:
    """A correctly signed request refused for its signature (-1022) or timestamp (-1021) never reached the
    leverage rules: a wrong code then breaks AUTH-SIG-PAYLOAD or TIME-WINDOW, not ``clause``."""

    def attribution(observation: Observation) -> tuple[str, Level | None]:
        code = observation.body.get("code") if isinstance(observation.body, dict) else None
        if code == -1022:
            return "AUTH-SIG-PAYLOAD", None
        if code == -1021:
            return "TIME-WINDOW", None
        return clause, level

    return attribution


def _acceptance(
    profile: Profile,
    facts: MarketFacts,
    reading: LeverageReading,
    encoding: str,
    shown: str,
    clause_on_acceptance: str | None,
) -> LeverageVerdict:
    assert reading.value is not None
    value = reading.value
    edge = value in (facts.min_leverage, facts.max_leverage)

    def attribution(observation: Observation) -> tuple[str, Level | None]:
        code = observation.body.get("code") if isinstance(observation.body, dict) else None
        if code == -1022:  # a correct signature refused (or an upper-case one, when that is the point)
            return ("AUTH-SIG-CASE" if clause_on_acceptance == "AUTH-SIG-CASE" else "AUTH-SIG-PAYLOAD"), None
        if code == -1021:
            return "TIME-WINDOW", None
        if encoding != "query" and code == -1102:  # a mandatory parameter the venue did not find in the body
            return "LEV-ENCODINGS", None
        if reading.json_string and (code == -1130 or clause_on_acceptance is None):  # "20" read as no integer
            return "LEV-STRING", None
        if clause_on_acceptance is not None:
            return clause_on_acceptance, None
        return ("LEV-BOUNDS" if edge else "LEV-OK"), None

    request: list[Expect] = [
        Expect("accepted", True, attribution, gate=True),
        Expect("schema", LEVERAGE_RESPONSE_SCHEMA, "LEV-OK", gate=True),
        Expect("body", {"equals": value}, "LEV-ECHO", path="leverage"),
        Expect("body", {"equals": facts.symbol}, "LEV-ECHO", path="symbol"),
    ]
    cap = notional_cap(facts, value, profile.notional_rule)
    if cap is not None:
        request.append(Expect("body", {"decimal": str(cap)}, "LEV-NOTIONAL", path="maxNotionalValue"))
    clause = clause_on_acceptance or ("LEV-STRING" if reading.json_string else "LEV-OK")
    return LeverageVerdict(True, clause, facts.symbol, value, tuple(request), f"accepts {shown}")


def _show(value: Any) -> str:
    if value is MISSING:
        return "(absent)"
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= 40 else text[:37] + "..."
