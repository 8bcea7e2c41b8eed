import dataclasses
import json
import re
from pathlib import Path

import pytest

from conformance.contract import ContractError, UnknownClauseError, effective_level, load_contract
from conformance.model import Level
from conformance.profiles import load_profile
from conformance.resources import specs_dir

CLAUSE_ID = re.compile(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$")
DIALECT_WORDS = {"binance": "binance-usdm", "binance-usdm": "binance-usdm", "ztdx": "ztdx"}


def markdown_tables(text: str) -> list[list[list[str]]]:
    """Every table of a markdown text, as rows of stripped cells (separator rows left out)."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-+:?", cell) for cell in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def contract_markdown() -> str:
    return (specs_dir() / "venue-contract.md").read_text(encoding="utf-8")


def markdown_clauses() -> dict[str, str]:
    """Clause id -> its level cell, from every table of venue-contract.md whose rows start with an id."""
    return {
        row[0]: row[1]
        for table in markdown_tables(contract_markdown())
        for row in table
        if CLAUSE_ID.fullmatch(row[0])
    }


def markdown_dialects() -> set[str]:
    """The dialects named in the header of the profile table: `binance-usdm`, `ztdx`."""
    header = markdown_tables(contract_markdown())[0][0]
    return {match for cell in header for match in re.findall(r"`([a-z0-9-]+)`", cell)}


def test_the_catalogue_has_exactly_the_clauses_of_the_markdown_contract() -> None:
    contract = load_contract()
    assert len(contract.ids) == len(set(contract.ids))
    assert sorted(contract.ids) == sorted(markdown_clauses())


def test_levels_are_given_only_for_the_dialects_of_the_markdown_contract() -> None:
    dialects = markdown_dialects()
    assert dialects == {"binance-usdm", "ztdx"}
    contract = load_contract()
    for clause in contract:
        assert clause.levels, clause.id
        assert set(clause.levels) <= dialects, clause.id
    assert contract.dialects == dialects


def test_the_file_format_schemas_know_the_same_dialects() -> None:
    schemas = specs_dir() / "schemas"
    catalogue = json.loads((schemas / "contract.schema.json").read_text(encoding="utf-8"))
    profile = json.loads((schemas / "profile.schema.json").read_text(encoding="utf-8"))
    levels = catalogue["properties"]["clauses"]["items"]["properties"]["levels"]
    assert set(levels["propertyNames"]["enum"]) == markdown_dialects()
    assert set(profile["properties"]["dialect"]["enum"]) == markdown_dialects()


@pytest.mark.parametrize("clause_id", sorted(markdown_clauses()))
def test_levels_agree_with_the_level_column_of_the_markdown(clause_id: str) -> None:
    """`ztdx MUST; binance INFO` pins those dialects; a cell naming no dialect pins every level."""
    cell = markdown_clauses()[clause_id]
    clause = load_contract().clause(clause_id)
    qualified = re.findall(r"\b(binance-usdm|binance|ztdx) (MUST|SHOULD|INFO)\b", cell)
    if qualified:
        for word, level in qualified:
            assert clause.levels.get(DIALECT_WORDS[word]) == Level(level), cell
    else:
        first = re.match(r"(MUST|SHOULD|INFO)\b", cell)
        assert first is not None, cell
        assert set(clause.levels.values()) == {Level(first.group(1))}, cell


def test_every_clause_belongs_to_a_known_family_and_every_family_has_clauses() -> None:
    contract = load_contract()
    assert {clause.family for clause in contract} == set(contract.families)
    assert [clause.id for clause in contract.family("timing")][:2] == ["TIME-MISSING", "TIME-STALE"]
    with pytest.raises(LookupError, match="unknown clause family 'nope'"):
        contract.family("nope")


def test_clauses_are_looked_up_by_id() -> None:
    contract = load_contract()
    clause = contract.clause("LEV-OK")
    assert clause.family == "leverage"
    assert clause.levels == {"binance-usdm": Level.MUST, "ztdx": Level.MUST}
    assert "LEV-OK" in contract
    assert "LEV-NOPE" not in contract
    with pytest.raises(UnknownClauseError, match="unknown clause 'LEV-NOPE'"):
        contract.clause("LEV-NOPE")


def test_the_effective_level_is_the_dialect_level_unless_the_profile_overrides_it() -> None:
    contract = load_contract()
    binance, ztdx = load_profile("binance-usdm"), load_profile("ztdx")
    assert contract.level("TIME-RECVWINDOW-MAX", binance) is Level.INFO
    assert contract.level("TIME-RECVWINDOW-MAX", ztdx) is Level.MUST
    assert contract.level("LEV-STRING", binance) is None  # does not apply to the dialect
    assert contract.level("LEV-NOTIONAL", binance) is Level.SHOULD

    strict = dataclasses.replace(
        binance, clause_levels={"LEV-NOTIONAL": Level.MUST, "LEV-STRING": Level.SHOULD}
    )
    assert effective_level(contract.clause("LEV-NOTIONAL"), strict) is Level.MUST
    assert effective_level(contract.clause("LEV-STRING"), strict) is Level.SHOULD  # adopted by the profile
    assert effective_level(contract.clause("LEV-OK"), strict) is Level.MUST


CATALOGUE = """\
families:
  leverage: The leverage endpoint
clauses:
  - id: LEV-OK
    family: leverage
    summary: accepted
    levels: {binance-usdm: MUST, ztdx: MAY}
  - id: LEV-OK
    family: levers
    summary: again
    levels: {ztdx: MUST}
"""


def test_a_malformed_catalogue_is_reported_at_file_line_col(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = Path("catalogue.yaml")
    path.write_text(CATALOGUE, encoding="utf-8")
    with pytest.raises(ContractError) as caught:
        load_contract(path)
    assert str(caught.value) == (
        "catalogue.yaml:7:40: 'clauses[0].levels.ztdx' must be MUST, SHOULD or INFO (got \"MAY\")"
    )

    path.write_text(CATALOGUE.replace("MAY", "SHOULD"), encoding="utf-8")
    with pytest.raises(ContractError) as caught:
        load_contract(path)
    assert str(caught.value).splitlines() == [
        "catalogue.yaml:8:9: duplicate clause id 'LEV-OK'",
        "catalogue.yaml:9:13: unknown family 'levers' (known: leverage)",
    ]
