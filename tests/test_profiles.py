import json
import typing
from pathlib import Path

import pytest

from conformance.contract import load_contract
from conformance.model import Encoding, Level, Profile
from conformance.profiles import ProfileError, builtin_profile_names, is_profile_name, load_profile
from conformance.resources import specs_dir
from conformance.yamlsource import display_path


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty directory, so messages name files as users typed them."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(name: str, text: str) -> Path:
    path = Path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def failure(reference: str | Path) -> str:
    with pytest.raises(ProfileError) as caught:
        load_profile(reference)
    return str(caught.value)


# --------------------------------------------------------------------------------------------------
# The built-in profiles


def test_the_built_in_profiles_are_binance_usdm_and_ztdx() -> None:
    assert builtin_profile_names() == ("binance-usdm", "ztdx")
    assert is_profile_name("ztdx")
    assert not is_profile_name("ztdx.yaml")
    assert not is_profile_name("profiles/ztdx")


def test_binance_usdm_profile() -> None:
    profile = load_profile("binance-usdm")
    assert profile.name == profile.dialect == "binance-usdm"
    assert profile.openapi == "openapi/binance-usdm.yaml"
    assert profile.encodings == ("query", "form")
    assert not profile.url_decoded_fallback
    assert profile.paths["position"] == "/fapi/v2/positionRisk"
    assert profile.paths["leverage"] == "/fapi/v1/leverage"
    assert (profile.band_source, profile.notional_rule) == ("brackets", "brackets")
    assert profile.margin_field == "isolatedMargin"
    assert profile.messages["out_of_band"].format(leverage=200, max=125) == "Leverage 200 is not valid"
    assert profile.recv_window_max is None
    assert profile.clause_levels == {}
    assert profile.source == display_path(specs_dir() / "profiles" / "binance-usdm.yaml")


def test_ztdx_profile() -> None:
    profile = load_profile("ztdx")
    assert profile.name == profile.dialect == "ztdx"
    assert profile.encodings == ("query", "form", "json")
    assert profile.url_decoded_fallback
    assert profile.paths["position"] == "/fapi/v1/positionRisk"
    assert (profile.band_source, profile.notional_rule) == ("exchange_info", "max_position_size_usd")
    assert (
        profile.messages["out_of_band"].format(leverage=200, max=125) == "Leverage 200 is not valid. Max: 125"
    )
    assert profile.recv_window_max == 60000


def test_the_profile_schema_allows_exactly_the_values_of_the_model() -> None:
    schema = json.loads((specs_dir() / "schemas" / "profile.schema.json").read_text(encoding="utf-8"))
    hints = typing.get_type_hints(Profile)
    properties = schema["properties"]
    assert set(properties["encodings"]["items"]["enum"]) == set(typing.get_args(Encoding))
    assert set(properties["band_source"]["enum"]) == set(typing.get_args(hints["band_source"]))
    assert set(properties["notional_rule"]["enum"]) == set(typing.get_args(hints["notional_rule"]))
    fields = set(hints) - {"source"}
    assert set(properties) - {"extends"} == fields
    assert set(schema["allOf"][0]["else"]["required"]) == fields


# --------------------------------------------------------------------------------------------------
# Users' profiles and `extends`


NO_MARGIN = """\
name: my-venue
extends: ztdx
title: My ZTDX-like venue
margin_field: null
margin_missing_reason: the read-back shows cross positions with isolatedMargin 0
messages:
  out_of_band: "Leverage {leverage} is out of range"
clause_levels:
  LEV-NOTIONAL: SHOULD
"""


def test_a_user_profile_extends_a_built_in_one(here: Path) -> None:
    write("my-venue.yaml", NO_MARGIN)
    profile = load_profile("my-venue.yaml")
    ztdx = load_profile("ztdx")
    assert profile.name == "my-venue"
    assert profile.title == "My ZTDX-like venue"
    assert profile.dialect == "ztdx"
    assert profile.margin_field is None
    assert profile.margin_missing_reason == "the read-back shows cross positions with isolatedMargin 0"
    # mappings merge key by key
    assert profile.messages["out_of_band"] == "Leverage {leverage} is out of range"
    assert profile.messages["bad_signature"] == ztdx.messages["bad_signature"]
    assert profile.clause_levels == {"LEV-NOTIONAL": Level.SHOULD}
    assert load_contract().level("LEV-NOTIONAL", profile) is Level.SHOULD
    # everything else is inherited, the OpenAPI document still relative to specs/
    assert profile.paths == ztdx.paths
    assert profile.encodings == ztdx.encodings
    assert profile.openapi == "openapi/ztdx.yaml"
    assert profile.source == "my-venue.yaml"


def test_extends_takes_a_path_relative_to_the_extending_file(here: Path) -> None:
    write("base/venue.yaml", NO_MARGIN)
    write("base/api.yaml", "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n")
    write(
        "team/strict.yaml",
        "name: strict\nextends: ../base/venue.yaml\nencodings: [json]\nopenapi: ../base/api.yaml\n"
        "clause_levels: {LEV-LENIENT: MUST}\n",
    )
    profile = load_profile(Path("team/strict.yaml"))
    assert profile.name == "strict"
    assert profile.encodings == ("json",)  # lists replace
    assert profile.margin_field is None
    assert profile.clause_levels == {"LEV-NOTIONAL": Level.SHOULD, "LEV-LENIENT": Level.MUST}
    assert profile.openapi == str((here / "base" / "api.yaml").resolve())  # a user's path becomes absolute


def test_a_complete_profile_needs_no_extends(here: Path) -> None:
    text = (specs_dir() / "profiles" / "binance-usdm.yaml").read_text(encoding="utf-8")
    text = text.replace("name: binance-usdm", "name: copy").replace("openapi/binance-usdm.yaml", "api.yaml")
    write("api.yaml", "openapi: 3.1.0\n")
    write("copy.yaml", text)
    profile = load_profile("copy.yaml")
    assert profile.name == "copy"
    assert profile.openapi == str((here / "api.yaml").resolve())


# --------------------------------------------------------------------------------------------------
# Mistakes, pinned: file:line:col and what is wrong, nothing else


def test_an_unknown_field(here: Path) -> None:
    write("p.yaml", "name: p\nextends: ztdx\nmargin_feild: null\n")
    assert failure("p.yaml") == (
        "p.yaml:3:1: unknown key 'margin_feild' in the profile (did you mean 'margin_field'?)"
    )
    write("q.yaml", "name: q\nextends: ztdx\nwhatever: 1\n")
    assert failure("q.yaml") == (
        "q.yaml:3:1: unknown key 'whatever' in the profile; expected one of: name, extends, dialect, title, "
        "openapi, encodings, url_decoded_fallback, paths, band_source, notional_rule, margin_field, "
        "margin_missing_reason, messages, recv_window_max, clause_levels"
    )


def test_wrong_values(here: Path) -> None:
    write(
        "p.yaml",
        "name: p\nextends: ztdx\ndialect: binance\nencodings: query\n"
        "paths:\n  position: fapi/v1/positionRisk\nrecv_window_max: '60000'\n",
    )
    assert failure("p.yaml").splitlines() == [
        "p.yaml:3:10: 'dialect' must be the dialect whose column of the venue contract applies: "
        'binance-usdm or ztdx (got "binance")',
        "p.yaml:4:12: 'encodings' must be a non-empty list of where POST parameters may travel, each once: "
        'query (the query string), form (a form body), json (a JSON body) (got "query")',
        "p.yaml:6:13: 'paths.position' must be a path starting with /, such as /fapi/v1/leverage "
        '(got "fapi/v1/positionRisk")',
        "p.yaml:7:18: 'recv_window_max' must be the largest accepted recvWindow in milliseconds "
        '(a positive integer), or null when undocumented (got "60000")',
    ]


def test_subschemas_without_a_description_are_described_by_their_keywords(here: Path) -> None:
    write("p.yaml", "name: p\nextends: ztdx\nencodings: [query, xml, query]\nclause_levels: {LEV-OK: MAY}\n")
    assert failure("p.yaml").splitlines() == [
        "p.yaml:3:12: 'encodings' repeats an item",
        "p.yaml:3:20: 'encodings[1]' must be query, form or json (got \"xml\")",
        "p.yaml:4:25: 'clause_levels.LEV-OK' must be MUST, SHOULD or INFO (got \"MAY\")",
    ]


def test_a_profile_without_extends_must_be_complete(here: Path) -> None:
    write("p.yaml", "name: p\ndialect: ztdx\n")
    lines = failure("p.yaml").splitlines()
    assert lines[0] == "p.yaml:1:1: the profile is missing the required key 'title'"
    assert len(lines) == 12


def test_no_margin_field_needs_a_reason(here: Path) -> None:
    write("p.yaml", "name: p\nextends: ztdx\nmargin_field: null\n")
    assert failure("p.yaml") == "p.yaml:1:1: the profile is missing the required key 'margin_missing_reason'"


def test_the_merged_profile_is_checked_too(here: Path) -> None:
    write("base.yaml", NO_MARGIN)
    write("p.yaml", "name: p\nextends: base.yaml\nmargin_missing_reason: null\n")
    assert failure("p.yaml") == (
        "p.yaml:2:10: after extending 'base.yaml': 'margin_missing_reason' must be a string (got null)"
    )


def test_an_unknown_clause_in_clause_levels(here: Path) -> None:
    write("p.yaml", "name: p\nextends: ztdx\nclause_levels:\n  LEV-OK: SHOULD\n  LEV-NOPE: INFO\n")
    assert failure("p.yaml") == "p.yaml:5:3: unknown clause 'LEV-NOPE'"


def test_a_malformed_message_template(here: Path) -> None:
    write("p.yaml", "name: p\nextends: ztdx\nmessages:\n  out_of_band: 'Leverage {leverage is not valid'\n")
    assert failure("p.yaml") == (
        "p.yaml:4:16: 'messages.out_of_band' is not a template: expected '}' before end of string"
    )


def test_a_missing_openapi_document(here: Path) -> None:
    write("p.yaml", "name: p\nextends: ztdx\nopenapi: missing.yaml\n")
    assert failure("p.yaml") == "p.yaml:3:10: no OpenAPI document at missing.yaml"


def test_extends_an_unknown_profile(here: Path) -> None:
    write("p.yaml", "name: p\nextends: zdtx\n")
    assert failure("p.yaml") == (
        "p.yaml:2:10: unknown profile 'zdtx' (built-in: binance-usdm, ztdx; "
        "a file path needs a .yaml suffix or a /)"
    )
    write("q.yaml", "name: q\nextends: ./nowhere.yaml\n")
    assert failure("q.yaml") == "q.yaml:2:10: no profile file './nowhere.yaml'"


def test_an_extends_cycle(here: Path) -> None:
    write("a.yaml", "name: a\nextends: b.yaml\n")
    write("b.yaml", "name: b\nextends: a.yaml\n")
    message = failure("a.yaml")
    assert message.startswith("b.yaml:2:10: profiles extend each other in a cycle: ")
    assert message.endswith("a.yaml -> b.yaml -> a.yaml")


def test_yaml_mistakes(here: Path) -> None:
    write("p.yaml", "name: p\nextends: ztdx\ntitle: [unclosed\n")
    assert failure("p.yaml") == (
        "p.yaml:4:1: YAML: expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence that starts at line 3)"
    )
    write("q.yaml", "name: q\nextends: ztdx\nname: again\n")
    assert failure("q.yaml") == "q.yaml:3:1: duplicate key 'name' (first at line 1)"
    write("r.yaml", "- just\n- a list\n")
    assert failure("r.yaml") == (
        "r.yaml:1:1: the profile must be a mapping of profile fields: every field, or extends and only what "
        "differs (got a list)"
    )
    write("s.yaml", "# nothing yet\n")
    assert failure("s.yaml") == "s.yaml: the file holds no YAML document"


def test_unknown_names_and_missing_files(here: Path) -> None:
    assert failure("binance") == (
        "unknown profile 'binance' (built-in: binance-usdm, ztdx; a file path needs a .yaml suffix or a /)"
    )
    assert failure("absent.yaml") == "no profile file 'absent.yaml'"


def test_errors_render_with_the_offending_line(here: Path) -> None:
    write("p.yaml", "name: p\nextends: ztdx\ndialect: binance\n")
    with pytest.raises(ProfileError) as caught:
        load_profile("p.yaml")
    assert caught.value.render() == (
        "p.yaml:3:10: 'dialect' must be the dialect whose column of the venue contract applies: "
        'binance-usdm or ztdx (got "binance")\n'
        " 3 | dialect: binance\n"
        "   |          ^"
    )
