"""A shrunk failing example as a YAML case: paste it under ``cases/`` to pin the failure.

The example's steps are written as a hand-written case writes them (requests with their exact parameters
and signing directives, read-backs), with the expectations of the failing clause only: the pinned case
cites that clause, and the engine attributes every failed expectation of a case to the case's clause.
Because the generated example was built with :func:`conformance.wire.build` from these same values and
judged by these same checks, the pinned case sends the same bytes (apart from ``timestamp`` and
``signature``) and fails the same way against the same venue.

Strings are written so that the case loader (YAML 1.2) reads them back as the same strings: anything but
a plain word is double-quoted, and ``${`` is escaped as ``$${`` (a literal, not a template).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import yaml

from conformance.checks import Observation
from conformance.generated.examples import Expect, RequestPlan, StepPlan
from conformance.model import Level, SignSpec, TimestampSpec

_PLAIN: Final = re.compile(r"[A-Za-z][A-Za-z0-9_./-]*")
_RESERVED: Final = frozenset({"true", "false", "null", "yes", "no", "on", "off", "y", "n", "nan", "inf"})
_MATCHERS_WITH_LEVEL: Final = frozenset({"body", "values"})
_LEVELLED: Final = frozenset({"status", "accepted", "rejected", "code", "schema", "unchanged_since"})


class _Dumper(yaml.SafeDumper):
    """Block style, keys in insertion order, strings quoted unless they are plain words."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    plain = _PLAIN.fullmatch(value) is not None and value.lower() not in _RESERVED
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=None if plain else '"')


def _represent_list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.Node:
    """Short lists of plain words or numbers on one line (``profiles: [ztdx]``), everything else in blocks."""
    plain = all(isinstance(v, str) and _PLAIN.fullmatch(v) for v in value) and len(value) <= 4
    flow = plain or all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(list, _represent_list)


def case_yaml(
    *,
    plans: Sequence[StepPlan],
    observations: Sequence[Observation],
    clause: str,
    dialect: str,
    description: str,
    origin: str,
    level_of: Mapping[str, Level | None] | None = None,
) -> str:
    """The YAML text of a case that replays ``plans`` and expects what ``clause`` says of them.

    ``observations`` are what the venue answered to each plan (an expectation's clause may depend on it);
    ``origin`` says where the example came from (shown in a comment); ``level_of`` gives, per clause, the
    profile's level (an expectation at another level writes its own).
    """
    levels = dict(level_of or {})
    case_level = levels.get(clause)
    steps = [
        _step(plan, observation, clause, case_level)
        for plan, observation in zip(plans, observations, strict=True)
    ]
    referenced = {
        step["expect"]["unchanged_since"] for step in steps if "unchanged_since" in step.get("expect", {})
    }
    for step in steps:  # keep the ids later steps refer to, drop the others
        if step.get("id") not in referenced:
            step.pop("id", None)
    steps = [s for s in steps if "request" in s or "expect" in s or "id" in s]  # a bare read changes nothing
    document: dict[str, Any] = {
        "id": "",
        "description": description,
        "clause": clause,
        "profiles": [dialect],
        "tags": ["generated", "reproduction"],
    }
    if _needs_second_account(plans):
        document["requires"] = ["second-account"]
    document["steps"] = [_reorder(step) for step in steps]
    body = yaml.dump(
        _escaped(document["steps"]), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000
    )
    digest = hashlib.sha256(f"{clause}\n{dialect}\n{body}".encode()).hexdigest()[:10]
    document["id"] = f"generated-{clause.lower()}-{digest}"
    text = yaml.dump(_escaped(document), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000)
    return f"# {origin}\n# Paste under cases/ to pin it.\n{text}"


def _reorder(step: dict[str, Any]) -> dict[str, Any]:
    order = ("id", "name", "account", "request", "read", "symbol", "sign", "expect")
    return {key: step[key] for key in order if key in step}


def _step(plan: StepPlan, observation: Observation, clause: str, case_level: Level | None) -> dict[str, Any]:
    step: dict[str, Any] = {"name": plan.name}
    if plan.id is not None:
        step["id"] = plan.id
    if plan.account != "primary":
        step["account"] = plan.account
    if plan.request is not None:
        step["request"] = _request(plan.request)
        sign = _sign(plan.request.sign)
        if sign is not None:
            step["sign"] = sign
    else:
        step["read"] = plan.reads
        step["symbol"] = plan.read
    expect: dict[str, Any] = {}
    for item in plan.expects:
        attributed = item.attribute(observation)
        if attributed is None or attributed[0] != clause:
            continue
        _add_expectation(expect, item, attributed[1], case_level)
    if expect:
        step["expect"] = expect
    return step


def _add_expectation(
    expect: dict[str, Any], item: Expect, level: Level | None, case_level: Level | None
) -> None:
    own_level = level is not None and level is not case_level
    if item.written is not None:
        item = dataclasses.replace(item, argument=item.written)
    if item.check in _MATCHERS_WITH_LEVEL:
        assert item.path is not None
        matcher = dict(item.argument) if isinstance(item.argument, Mapping) else {"equals": item.argument}
        if own_level:
            assert level is not None
            matcher["level"] = level.value
        elif set(matcher) == {"equals"} and not isinstance(matcher["equals"], dict):
            matcher = matcher["equals"]  # a bare value is compared as JSON
        expect.setdefault(item.check, {})[item.path] = matcher
        return
    if item.check == "message":
        text = item.argument.get("equals") if isinstance(item.argument, Mapping) else item.argument
        expect["message"] = {"is": text, "level": level.value} if own_level and level else text
        return
    if item.check in _LEVELLED:
        expect[item.check] = (
            {"is": item.argument, "level": level.value} if own_level and level else item.argument
        )
        return
    raise ValueError(f"no case expectation for the check {item.check!r}")


def _request(plan: RequestPlan) -> dict[str, Any]:
    request: dict[str, Any] = {"method": plan.method, "path": plan.path}
    if plan.params:
        request["params"] = dict(plan.params)
    if plan.encoding != "query":
        request["encoding"] = plan.encoding
    if plan.query:
        request["query"] = dict(plan.query)
    if plan.body:
        request["body"] = dict(plan.body)
    if plan.raw_body is not None:
        request["raw_body"] = plan.raw_body
    if plan.content_type is not None:
        request["content_type"] = plan.content_type
    return request


def _sign(spec: SignSpec) -> dict[str, Any] | bool | None:
    """The ``sign:`` value of a step; None when it signs like a correct client."""
    if not spec.enabled:
        return False
    default = SignSpec()
    sign: dict[str, Any] = {}
    for name in ("secret", "signature", "placement", "api_key"):
        if getattr(spec, name) != getattr(default, name):
            sign[name] = getattr(spec, name)
    if spec.tamper:
        sign["tamper"] = dict(spec.tamper)
    timestamp = _timestamp(spec.timestamp)
    if timestamp is not None:
        sign["timestamp"] = timestamp
    if spec.recv_window is not None:
        sign["recv_window"] = spec.recv_window
    return sign or None


def _timestamp(spec: TimestampSpec) -> Any:
    if spec.mode == "omit":
        return "omit"
    if spec.mode == "literal":
        return {"value": spec.value}
    if spec.mode == "edge":
        return {"edge": spec.edge, "side": spec.side}
    return {"offset_ms": spec.offset_ms} if spec.offset_ms else None


def _needs_second_account(plans: Sequence[StepPlan]) -> bool:
    for plan in plans:
        if plan.account != "primary":
            return True
        sign = plan.request.sign if plan.request is not None else None
        if sign is not None and "other-account" in (sign.secret, sign.api_key):
            return True
    return False


def _escaped(value: Any) -> Any:
    """Every ``${`` of a generated string made a literal (``$${``), so it is never read as a template."""
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, Mapping):
        return {key: _escaped(item) for key, item in value.items()}  # names are never templates
    if isinstance(value, list | tuple):
        return [_escaped(v) for v in value]
    return value
