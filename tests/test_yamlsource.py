"""YAML sources: values with their file:line:col, YAML and schema problems worded for people."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from conformance.model import SourceLocation
from conformance.resources import specs_dir
from conformance.yamlsource import (
    Problem,
    SourceError,
    display_path,
    dotted,
    in_file_order,
    load_yaml,
    parse_yaml,
)


def problems_of(text: str) -> list[str]:
    return [str(problem) for problem in parse_yaml(text, "f.yaml").problems]


def schema_problems(schema: dict[str, Any], text: str) -> list[str]:
    source = parse_yaml(text, "f.yaml")
    assert not source.problems
    return [str(p) for p in source.schema_problems(Draft202012Validator(schema), root_name="the thing")]


# --------------------------------------------------------------------------------------------------
# Values and where they are


def test_values_and_keys_know_their_line_and_column() -> None:
    source = parse_yaml("name: x\npaths:\n  time: /t\nlist:\n  - 1\n  - two\n", "a.yaml")
    assert source.data == {"name": "x", "paths": {"time": "/t"}, "list": [1, "two"]}
    assert source.problems == ()
    assert source.location(("paths", "time")) == SourceLocation("a.yaml", 3, 9)
    assert source.location(("paths", "time"), key=True) == SourceLocation("a.yaml", 3, 3)
    assert source.location(("list", 1)) == SourceLocation("a.yaml", 6, 5)
    # an unknown path falls back to its nearest known parent
    assert source.location(("paths", "nope", "deeper")) == SourceLocation("a.yaml", 3, 3)
    assert source.location(()) == SourceLocation("a.yaml", 1, 1)


def test_an_offset_points_inside_a_one_line_text() -> None:
    source = parse_yaml('a: abc ${x}\nb: "q ${y}"\nc: |\n  ${z}\n', "o.yaml")
    assert source.location(("a",), offset=4) == SourceLocation("o.yaml", 1, 8)
    assert source.location(("b",), offset=2) == SourceLocation("o.yaml", 2, 7)  # after the quote
    assert source.location(("c",), offset=2) == SourceLocation("o.yaml", 3, 4)  # a block: the value's start


def test_scalars_follow_the_yaml_1_2_core_schema() -> None:
    text = "a: on\nb: yes\nc: 2024-01-01\nd: 020\ne: 0x14\nf: +20\ng: 1e-9\nh: ~\ni: True\nj: -.inf\nk: '1'\n"
    assert parse_yaml(text, "s.yaml").data == {
        "a": "on",
        "b": "yes",
        "c": "2024-01-01",
        "d": 20,
        "e": 20,
        "f": 20,
        "g": 1e-9,
        "h": None,
        "i": True,
        "j": float("-inf"),
        "k": "1",
    }


# --------------------------------------------------------------------------------------------------
# YAML problems


def test_duplicate_keys_are_refused_and_the_first_is_kept() -> None:
    source = parse_yaml("a: 1\nb:\n  c: 1\n  c: 2\n", "d.yaml")
    assert [str(p) for p in source.problems] == ["d.yaml:4:3: duplicate key 'c' (first at line 3)"]
    assert source.data == {"a": 1, "b": {"c": 1}}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "base: &b {x: 1}\nother:\n  <<: *b\n",
            "3:3: merge keys ('<<') are not supported: write the values out",
        ),
        ("? [a, b]\n: 1\n", "1:3: a mapping key must be plain text, not a list or mapping"),
        (
            "a: !!binary aGk=\n",
            "1:4: unsupported YAML tag tag:yaml.org,2002:binary (plain text, numbers, booleans and null)",
        ),
        ("a: &x [1, *x]\n", "1:4: this alias refers to a value that contains it"),
        (
            "a: [1, 2\nb: 3\n",
            "2:2: YAML: expected ',' or ']', but got ':' "
            "(while parsing a flow sequence that starts at line 1)",
        ),
        ("", " the file holds no YAML document"),
        ("# only a comment\n", " the file holds no YAML document"),
    ],
)
def test_yaml_problems(text: str, problem: str) -> None:
    assert problems_of(text) == [f"f.yaml:{problem}"]


def test_a_file_that_cannot_be_read_is_a_problem_of_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    missing = load_yaml(tmp_path / "absent.yaml")
    assert missing.data is None
    assert [str(p) for p in missing.problems] == ["absent.yaml: no such file or directory"]
    (tmp_path / "latin1.yaml").write_bytes("a: caf\xe9\n".encode("latin-1"))
    assert [str(p) for p in load_yaml(tmp_path / "latin1.yaml").problems] == [
        "latin1.yaml: not UTF-8 text (invalid continuation byte at byte 6)"
    ]
    (tmp_path / "ok.yaml").write_text("a: 1\n", encoding="utf-8")
    assert load_yaml(tmp_path / "ok.yaml", name="given name").location(("a",)) == SourceLocation(
        "given name", 1, 4
    )


def test_files_are_named_relative_to_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert display_path(tmp_path / "cases" / "x.yaml") == "cases/x.yaml"
    assert display_path("cases/x.yaml") == "cases/x.yaml"
    outside = tmp_path.parent / "elsewhere.yaml"
    assert display_path(outside) == str(outside)


# --------------------------------------------------------------------------------------------------
# Problems and the error that carries them


def test_a_problem_renders_with_its_line_and_a_caret() -> None:
    source = parse_yaml("a: 1\nb:\n" + "\n" * 8 + "  c: wrong\n", "r.yaml")
    problem = source.problem(("b", "c"), "'b.c' is wrong")
    assert str(problem) == "r.yaml:11:6: 'b.c' is wrong"
    assert problem.render() == "r.yaml:11:6: 'b.c' is wrong\n 11 |   c: wrong\n    |      ^"
    assert Problem(SourceLocation("r.yaml", 0, 0), "unreadable").render() == "r.yaml: unreadable"
    assert Problem(None, "no such profile").render() == "no such profile"


def test_a_source_error_is_one_line_per_problem_and_renders_excerpts_and_a_count() -> None:
    first = parse_yaml("a: 1\n", "one.yaml").problem(("a",), "bad a")
    second = Problem(SourceLocation("two.yaml", 0, 0), "unreadable")
    error = SourceError([first, second])
    assert str(error) == "one.yaml:1:4: bad a\ntwo.yaml: unreadable"
    assert (
        error.render()
        == "one.yaml:1:4: bad a\n 1 | a: 1\n   |    ^\ntwo.yaml: unreadable\n2 problems in 2 files"
    )
    assert SourceError([first]).render() == first.render()
    assert SourceError([first, first]).render().endswith("\n2 problems")


def test_problems_in_file_order_keep_their_order_at_one_place() -> None:
    source = parse_yaml("a: 1\nb: 2\n", "o.yaml")
    b, a1, a2 = source.problem(("b",), "b"), source.problem(("a",), "a1"), source.problem(("a",), "a2")
    assert in_file_order([b, a1, Problem(None, "none"), a2]) == [Problem(None, "none"), a1, a2, b]


def test_dotted_paths_read_like_yaml() -> None:
    assert dotted(()) == ""
    assert dotted(("paths", "time")) == "paths.time"
    assert dotted(("clauses", 3, "levels")) == "clauses[3].levels"
    assert dotted(("messages", "has space", "x")) == 'messages["has space"].x'


# --------------------------------------------------------------------------------------------------
# Schema errors as messages

SCHEMA: dict[str, Any] = {
    "description": "a thing: a mapping with name",
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "mode": {"enum": ["fast", "slow", "off"]},
        "port": {"description": "a port number from 1 to 65535", "type": "integer", "minimum": 1},
        "size": {"type": ["integer", "null"], "exclusiveMinimum": 0},
        "path": {"type": "string", "pattern": "^/"},
        "tags": {"type": "array", "minItems": 1, "uniqueItems": True},
        "labels": {"type": "object", "propertyNames": {"pattern": "^[a-z]+$"}},
        "amount": {
            "description": "a decimal above zero",
            "oneOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "string", "pattern": "^[0-9.]+$"}],
        },
        "pick": {"type": "object", "oneOf": [{"required": ["one"]}, {"required": ["two"]}]},
        "pair": {"type": "object", "dependentRequired": {"low": ["high"]}},
        "either": {
            "type": "object",
            "not": {"description": "'a' and 'b' exclude each other", "required": ["a", "b"]},
        },
    },
}


def test_a_description_completes_the_message() -> None:
    assert schema_problems(SCHEMA, "name: x\nport: '80'\n") == [
        "f.yaml:2:7: 'port' must be a port number from 1 to 65535 (got \"80\")"
    ]
    assert schema_problems(SCHEMA, "- x\n") == [
        "f.yaml:1:1: the thing must be a thing: a mapping with name (got a list)"
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("name: ''", "f.yaml:1:7: 'name' must be a non-empty string (got \"\")"),
        ("name: 3", "f.yaml:1:7: 'name' must be a string (got 3)"),
        ("name: n\nmode: fats", "f.yaml:2:7: 'mode' must be fast, slow or off (got \"fats\")"),
        ("name: n\nsize: x", "f.yaml:2:7: 'size' must be an integer or null (got \"x\")"),
        ("name: n\nsize: 0", "f.yaml:2:7: 'size' must be above 0 (got 0)"),
        ("name: n\npath: p", "f.yaml:2:7: 'path' must be text matching ^/ (got \"p\")"),
        ("name: n\ntags: []", "f.yaml:2:7: 'tags' must be a non-empty list (got an empty list)"),
        ("name: n\ntags: [a, a]", "f.yaml:2:7: 'tags' repeats an item"),
        (
            "name: n\nlabels: {Big: 1}",
            "f.yaml:2:10: the name 'Big' in 'labels' must be text matching ^[a-z]+$",
        ),
    ],
)
def test_without_a_description_the_keyword_describes_what_is_wanted(text: str, problem: str) -> None:
    assert schema_problems(SCHEMA, text + "\n") == [problem]


def test_missing_and_unknown_keys() -> None:
    assert schema_problems(SCHEMA, "nmae: x\nzzz: 1\n") == [
        "f.yaml:1:1: the thing is missing the required key 'name'",
        "f.yaml:1:1: unknown key 'nmae' in the thing (did you mean 'name'?)",
        "f.yaml:2:1: unknown key 'zzz' in the thing; expected one of: name, mode, port, size, path, tags, "
        "labels, amount, pick, pair, either",
    ]


def test_alternatives_are_explained_by_the_branch_that_fits() -> None:
    assert schema_problems(SCHEMA, "name: n\namount: '-5'\n") == [
        "f.yaml:2:9: 'amount' must be a decimal above zero (got \"-5\")"
    ]
    assert schema_problems(SCHEMA, "name: n\namount: 0\n") == [
        "f.yaml:2:9: 'amount' must be a decimal above zero (got 0)"
    ]
    assert schema_problems(SCHEMA, "name: n\npick: {}\n") == [
        "f.yaml:2:7: 'pick' must have one of 'one' or 'two'"
    ]
    assert schema_problems(SCHEMA, "name: n\npick: {one: 1, two: 2}\n") == [
        "f.yaml:2:16: 'pick' may have only one of 'one' or 'two' (it has 'one' and 'two')"
    ]


def test_dependencies_and_exclusions_point_at_the_key() -> None:
    assert schema_problems(SCHEMA, "name: n\npair: {low: 1}\n") == [
        "f.yaml:2:8: 'pair.low' needs 'high' beside it"
    ]
    assert schema_problems(SCHEMA, "name: n\neither: {a: 1, b: 2}\n") == [
        "f.yaml:2:9: 'either': 'a' and 'b' exclude each other"
    ]


def test_schema_problems_come_in_file_order_without_repeats() -> None:
    assert schema_problems(SCHEMA, "port: x\nname: 3\nmode: m\n") == [
        "f.yaml:1:7: 'port' must be a port number from 1 to 65535 (got \"x\")",
        "f.yaml:2:7: 'name' must be a string (got 3)",
        "f.yaml:3:7: 'mode' must be fast, slow or off (got \"m\")",
    ]
    # oneOf and its fitting branch report the same mistake once
    assert len(schema_problems(SCHEMA, "name: n\namount: '-5'\n")) == 1


# --------------------------------------------------------------------------------------------------
# The harness's schemas are written for these messages

LOADED_SCHEMAS = ("case", "profile", "markets", "contract")


def descriptions(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                yield value
            else:
                yield from descriptions(value)
    elif isinstance(node, list):
        for item in node:
            yield from descriptions(item)


@pytest.mark.parametrize("name", LOADED_SCHEMAS)
def test_descriptions_of_the_loaded_formats_complete_a_sentence(name: str) -> None:
    schema = json.loads((specs_dir() / "schemas" / f"{name}.schema.json").read_text(encoding="utf-8"))
    for text in descriptions(schema):
        assert not text[0].isupper(), f"{text!r} starts a sentence: it must complete 'must be ...'"
        assert not text.endswith("."), f"{text!r} ends a sentence: it must complete 'must be ...'"
