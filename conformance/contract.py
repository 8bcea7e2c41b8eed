"""The clause catalogue: ``specs/contract.yaml`` loaded into :class:`~conformance.model.Clause` objects.

Every case cites a clause id; the engine asks here how much a clause weighs for the profile under test:
the contract's level for the profile's dialect, unless the profile overrides it in ``clause_levels``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from jsonschema import Draft202012Validator

from conformance.model import Clause, Level, Profile
from conformance.resources import specs_dir
from conformance.yamlsource import SourceError, load_yaml


class ContractError(SourceError):
    """``specs/contract.yaml`` (or a catalogue given in its place) is malformed or unreadable."""


class UnknownClauseError(LookupError):
    """A clause id that the catalogue does not define."""

    def __init__(self, clause_id: str) -> None:
        super().__init__(f"unknown clause {clause_id!r}")
        self.clause_id = clause_id


@dataclass(frozen=True)
class Contract:
    """The clauses of the venue contract, in catalogue order, and their families (id -> title)."""

    families: Mapping[str, str]
    clauses: tuple[Clause, ...]
    source: str
    _by_id: Mapping[str, Clause] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", MappingProxyType({clause.id: clause for clause in self.clauses}))

    def __contains__(self, clause_id: object) -> bool:
        return clause_id in self._by_id

    def __iter__(self) -> Iterator[Clause]:
        return iter(self.clauses)

    def __len__(self) -> int:
        return len(self.clauses)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._by_id)

    @property
    def dialects(self) -> frozenset[str]:
        """Every dialect some clause has a level for."""
        return frozenset(dialect for clause in self.clauses for dialect in clause.levels)

    def clause(self, clause_id: str) -> Clause:
        try:
            return self._by_id[clause_id]
        except KeyError:
            raise UnknownClauseError(clause_id) from None

    def family(self, family: str) -> tuple[Clause, ...]:
        """The clauses of one family, in catalogue order."""
        if family not in self.families:
            raise LookupError(f"unknown clause family {family!r}")
        return tuple(clause for clause in self.clauses if clause.family == family)

    def level(self, clause_id: str, profile: Profile) -> Level | None:
        """How much ``clause_id`` weighs for ``profile``; None when it does not apply to its dialect."""
        return effective_level(self.clause(clause_id), profile)


def effective_level(clause: Clause, profile: Profile) -> Level | None:
    """The profile's override of the clause if it has one, else the contract's level for its dialect.

    An override wins even for a clause the contract does not apply to the dialect: a profile may adopt a
    clause (a Binance-like venue that also accepts ``"leverage": "20"`` can set LEV-STRING to MUST).
    """
    override = profile.clause_levels.get(clause.id)
    return override if override is not None else clause.level_for(profile.dialect)


def load_contract(path: Path | None = None) -> Contract:
    """Load a clause catalogue; the built-in ``specs/contract.yaml`` (cached) when ``path`` is None."""
    if path is None:
        return _builtin_contract()
    return _load(path)


@functools.cache
def _builtin_contract() -> Contract:
    return _load(specs_dir() / "contract.yaml")


@functools.cache
def _catalogue_validator() -> Draft202012Validator:
    schema = json.loads((specs_dir() / "schemas" / "contract.schema.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


def _load(path: Path) -> Contract:
    source = load_yaml(path)
    problems = list(source.problems) or source.schema_problems(
        _catalogue_validator(), root_name="the catalogue"
    )
    if problems:
        raise ContractError(problems)
    data: dict[str, Any] = source.data
    families: dict[str, str] = data["families"]
    clauses: list[Clause] = []
    seen: set[str] = set()
    for index, entry in enumerate(data["clauses"]):
        where = ("clauses", index)
        if entry["id"] in seen:
            problems.append(source.problem((*where, "id"), f"duplicate clause id {entry['id']!r}"))
        if entry["family"] not in families:
            known = ", ".join(families)
            problems.append(
                source.problem((*where, "family"), f"unknown family {entry['family']!r} (known: {known})")
            )
        seen.add(entry["id"])
        levels = MappingProxyType({dialect: Level(level) for dialect, level in entry["levels"].items()})
        clauses.append(Clause(entry["id"], entry["family"], entry["summary"], levels))
    if problems:
        raise ContractError(problems)
    return Contract(MappingProxyType(dict(families)), tuple(clauses), source.file)
