"""Venue profiles: ``specs/profiles/*.yaml`` and users' own files, loaded into ``model.Profile``.

A profile is named by a built-in name (``binance-usdm``, ``ztdx``) or by a path. A name has no ``/`` and no
``.yaml``/``.yml`` suffix; anything else is a path. A file may ``extends:`` another profile (by name, or by
a path relative to itself) and state only what differs::

    name: my-venue
    extends: ztdx
    margin_field: null
    margin_missing_reason: the read-back shows cross positions with isolatedMargin 0

Mappings (``paths``, ``messages``, ``clause_levels``) merge key by key; every other field, lists
included, replaces the inherited value, and an explicit ``null`` replaces it too. Every file is validated
against ``specs/schemas/profile.schema.json`` and then checked (clause ids, message templates, the OpenAPI
file); any mistake raises :class:`ProfileError` with one ``file:line:col: what is wrong`` line per problem.
"""

from __future__ import annotations

import functools
import json
import string
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

from jsonschema import Draft202012Validator

from conformance.contract import Contract, load_contract
from conformance.model import Encoding, Level, Profile
from conformance.resources import specs_dir
from conformance.yamlsource import Problem, SourceError, YamlSource, display_path, dotted, load_yaml

MERGED_MAPPINGS = ("paths", "messages", "clause_levels")


class ProfileError(SourceError):
    """A profile cannot be loaded; ``str()`` is one ``file:line:col: what is wrong`` line per problem,
    :meth:`render` adds the excerpts."""


def builtin_profiles_dir() -> Path:
    return specs_dir() / "profiles"


def builtin_profile_names() -> tuple[str, ...]:
    """The names of the shipped profiles, sorted."""
    return tuple(sorted(path.stem for path in builtin_profiles_dir().glob("*.yaml")))


def is_profile_name(reference: str) -> bool:
    """True when ``reference`` names a built-in profile rather than a file."""
    return "/" not in reference and "\\" not in reference and not reference.endswith((".yaml", ".yml"))


def load_profile(reference: str | Path, *, contract: Contract | None = None) -> Profile:
    """Load a profile by built-in name or by path, resolving ``extends``.

    Raises :class:`ProfileError` for an unknown name, a missing file, bad YAML, a schema violation,
    an unknown clause id in ``clause_levels``, a malformed message template, a missing OpenAPI document
    or an ``extends`` cycle.
    """
    catalogue = contract if contract is not None else load_contract()
    path = _resolve(reference, base=Path.cwd(), source=None, path=())
    layer = _load_layer(path, catalogue, chain=())
    return _build(layer)


# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layer:
    """One profile file merged over everything it extends."""

    source: YamlSource
    data: dict[str, Any]


@functools.cache
def _profile_validator() -> Draft202012Validator:
    schema = json.loads((specs_dir() / "schemas" / "profile.schema.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


def _is_builtin(path: Path) -> bool:
    return path.resolve().parent == builtin_profiles_dir().resolve()


def _resolve(reference: str | Path, *, base: Path, source: YamlSource | None, path: tuple[str, ...]) -> Path:
    """The file a profile reference names; ``source``/``path`` locate the reference for error messages."""
    text = str(reference)
    if isinstance(reference, str) and is_profile_name(reference):
        candidate = builtin_profiles_dir() / f"{reference}.yaml"
        if candidate.is_file():
            return candidate
        known = ", ".join(builtin_profile_names())
        message = f"unknown profile {text!r} (built-in: {known}; a file path needs a .yaml suffix or a /)"
    else:
        candidate = Path(reference)
        candidate = candidate if candidate.is_absolute() else base / candidate
        if candidate.is_file():
            return candidate
        message = f"no profile file {text!r}"
    problem = source.problem(path, message) if source is not None else Problem(None, message)
    raise ProfileError([problem])


def _load_layer(path: Path, contract: Contract, chain: tuple[Path, ...]) -> _Layer:
    source = load_yaml(path)
    problems = list(source.problems) or _schema_problems(source)
    if problems:
        raise ProfileError(problems)
    data: dict[str, Any] = dict(source.data)
    problems = _check(source, path, data, contract)
    if "openapi" in data and not _is_builtin(path):
        document = Path(data["openapi"])
        document = document if document.is_absolute() else path.parent / document
        data["openapi"] = str(document.resolve())
    if problems:
        raise ProfileError(problems)
    if "extends" not in data:
        return _Layer(source, data)

    parent_path = _resolve(data["extends"], base=path.parent, source=source, path=("extends",))
    resolved = (*chain, path.resolve())
    if parent_path.resolve() in resolved:
        cycle = " -> ".join(display_path(item) for item in (*resolved, parent_path.resolve()))
        raise ProfileError([source.problem(("extends",), f"profiles extend each other in a cycle: {cycle}")])
    parent = _load_layer(parent_path, contract, resolved)
    merged = _merge(parent.data, data)
    problems = [
        source.problem(("extends",), f"after extending '{data['extends']}': {problem.message}")
        for problem in _schema_problems(replace(source, data=merged))
    ]
    if problems:
        raise ProfileError(problems)
    return _Layer(source, merged)


def _schema_problems(source: YamlSource) -> list[Problem]:
    return source.schema_problems(_profile_validator(), root_name="the profile")


def _check(source: YamlSource, path: Path, data: Mapping[str, Any], contract: Contract) -> list[Problem]:
    """What the schema cannot say: clause ids exist, templates parse, the OpenAPI document exists."""
    problems: list[Problem] = []
    for clause_id in data.get("clause_levels", {}):
        if clause_id not in contract:
            problems.append(
                source.problem(("clause_levels", clause_id), f"unknown clause '{clause_id}'", key=True)
            )
    for name, template in data.get("messages", {}).items():
        try:
            list(string.Formatter().parse(template))
        except ValueError as error:
            where = ("messages", name)
            problems.append(source.problem(where, f"'{dotted(where)}' is not a template: {error}"))
    if "openapi" in data:
        document = Path(data["openapi"])
        if not document.is_absolute():
            document = (specs_dir() if _is_builtin(path) else path.parent) / document
        if not document.is_file():
            problems.append(source.problem(("openapi",), f"no OpenAPI document at {display_path(document)}"))
    return problems


def _merge(parent: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    merged = {key: value for key, value in parent.items() if key != "extends"}
    for key, value in child.items():
        if key == "extends":
            continue
        if key in MERGED_MAPPINGS and isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _build(layer: _Layer) -> Profile:
    data = layer.data
    return Profile(
        name=data["name"],
        dialect=data["dialect"],
        title=data["title"],
        openapi=data["openapi"],
        encodings=tuple(cast(Encoding, encoding) for encoding in data["encodings"]),
        url_decoded_fallback=data["url_decoded_fallback"],
        paths=MappingProxyType(dict(data["paths"])),
        band_source=data["band_source"],
        notional_rule=data["notional_rule"],
        margin_field=data["margin_field"],
        margin_missing_reason=data["margin_missing_reason"],
        messages=MappingProxyType(dict(data["messages"])),
        recv_window_max=data["recv_window_max"],
        clause_levels=MappingProxyType({key: Level(value) for key, value in data["clause_levels"].items()}),
        source=layer.source.file,
    )
