from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from conformance.model import SourceLocation
from conformance.yamlsource import SourceError, dotted, load_yaml


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def write(name: str, text: str) -> Path:
    path = Path(name)
    path.write_text(text, encoding="utf-8")
    return path


def test_values_and_keys_know_their_line_and_column() -> None:
    source = load_yaml(write("a.yaml", "name: x\npaths:\n  time: /t\nlist:\n  - 1\n  - two\n"))
    assert source.data == {"name": "x", "paths": {"time": "/t"}, "list": [1, "two"]}
    assert source.location(("paths", "time")) == SourceLocation("a.yaml", 3, 9)
    assert source.location(("paths", "time"), key=True) == SourceLocation("a.yaml", 3, 3)
    assert source.location(("list", 1)) == SourceLocation("a.yaml", 6, 5)
    # an unknown path falls back to its nearest known parent
    assert source.location(("paths", "nope", "deeper")) == SourceLocation("a.yaml", 3, 3)
    assert source.location(()) == SourceLocation("a.yaml", 1, 1)


def test_duplicate_keys_are_refused() -> None:
    with pytest.raises(SourceError) as caught:
        load_yaml(write("d.yaml", "a: 1\nb:\n  c: 1\n  c: 2\n"))
    assert str(caught.value) == "d.yaml:4:3: duplicate key 'b.c'"


def test_merge_keys_are_refused() -> None:
    with pytest.raises(SourceError) as caught:
        load_yaml(write("m.yaml", "base: &b {x: 1}\nother:\n  <<: *b\n"))
    assert str(caught.value) == "m.yaml:3:3: only plain keys are supported (no merge keys or complex keys)"


def test_syntax_errors_point_at_the_problem() -> None:
    with pytest.raises(SourceError) as caught:
        load_yaml(write("s.yaml", "a: [1, 2\nb: 3\n"))
    assert str(caught.value).startswith("s.yaml:2:2: invalid YAML: ")


def test_a_missing_file_is_named() -> None:
    with pytest.raises(SourceError) as caught:
        load_yaml(Path("absent.yaml"))
    assert str(caught.value) == "absent.yaml: no such file"


def test_schema_problems_are_located_and_rendered_with_an_excerpt() -> None:
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {"name": {"type": "string"}, "mode": {"enum": ["a", "b"]}},
    }
    source = load_yaml(write("v.yaml", "mode: c\nextra: 1\n"))
    problems = source.schema_problems(Draft202012Validator(schema))
    assert [str(problem) for problem in problems] == [
        "v.yaml:1:1: 'name' is missing",
        "v.yaml:1:7: 'mode' must be one of a, b (got \"c\")",
        "v.yaml:2:1: 'extra' is not a known field (known: mode, name)",
    ]
    error = SourceError(problems[1:2])
    assert error.render() == "v.yaml:1:7: 'mode' must be one of a, b (got \"c\")\n    mode: c\n          ^"


def test_dotted_paths_read_like_yaml() -> None:
    assert dotted(()) == "(top)"
    assert dotted(("paths", "time")) == "paths.time"
    assert dotted(("clauses", 3, "levels")) == "clauses[3].levels"
