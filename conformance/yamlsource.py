"""YAML files whose values know where they came from.

A data file written by hand (a profile, the clause catalogue, a case) is parsed into plain Python values
plus the ``file:line:col`` of every value and key, so that a mistake, whether YAML syntax, a JSON Schema
violation or a semantic check of the caller, is reported where it is::

    profiles/mine.yaml:7:11: 'dialect' must be one of binance-usdm, ztdx (got "binance")

Loaders raise :class:`SourceError`, whose text is those lines and nothing else: no traceback reaches users.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema.protocols
import yaml
from jsonschema.exceptions import ValidationError

from conformance.model import SourceLocation

PathItem = str | int
DataPath = tuple[PathItem, ...]

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file, at a place in it (``location`` is None when there is no file)."""

    location: SourceLocation | None
    message: str
    excerpt: str | None = None  # the offending source line

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message

    def render(self) -> str:
        """The problem with its source line and a caret under the column."""
        if self.excerpt is None or self.location is None:
            return str(self)
        caret = " " * (self.location.col - 1) + "^"
        return f"{self}\n    {self.excerpt}\n    {caret}"


class SourceError(Exception):
    """A data file is unusable; ``str()`` gives one ``file:line:col: what is wrong`` line per problem."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))

    def render(self) -> str:
        """The problems with source excerpts, for a terminal."""
        return "\n".join(problem.render() for problem in self.problems)


def display_path(path: Path) -> str:
    """How a file is named in messages: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class YamlSource:
    """A parsed YAML file: its ``data`` and the location of every value and mapping key in it."""

    path: Path
    name: str  # the file as shown in messages
    data: Any
    lines: tuple[str, ...]
    value_marks: Mapping[DataPath, tuple[int, int]]  # 0-based (line, col) of the value at a path
    key_marks: Mapping[DataPath, tuple[int, int]]  # of the mapping key whose value is at a path

    def location(self, path: Sequence[PathItem] = (), *, key: bool = False) -> SourceLocation:
        """Where the value at ``path`` (or, with ``key``, its key) is; the nearest known parent otherwise."""
        current = tuple(path)
        while True:
            marks = self.key_marks if key else self.value_marks
            mark = marks.get(current) or self.value_marks.get(current)
            if mark is not None:
                return SourceLocation(self.name, mark[0] + 1, mark[1] + 1)
            if not current:
                return SourceLocation(self.name, 1, 1)
            current = current[:-1]

    def problem(self, path: Sequence[PathItem], message: str, *, key: bool = False) -> Problem:
        location = self.location(path, key=key)
        excerpt = self.lines[location.line - 1].rstrip() if location.line <= len(self.lines) else None
        return Problem(location, message, excerpt or None)

    def schema_problems(self, validator: jsonschema.protocols.Validator) -> list[Problem]:
        """Every JSON Schema violation of ``data``, located and worded for people, in file order."""
        problems = [self._schema_problem(error) for error in validator.iter_errors(self.data)]
        return sorted(problems, key=_file_order)

    def _schema_problem(self, error: ValidationError) -> Problem:
        path = tuple(error.absolute_path)
        where = dotted(path)
        instance = error.instance
        if error.validator == "required":
            missing = _quoted_property(error.message)
            return self.problem(path, f"{dotted((*path, missing))!r} is missing")
        if error.validator == "additionalProperties" and isinstance(instance, Mapping):
            schema = error.schema if isinstance(error.schema, Mapping) else {}
            known = set(schema.get("properties", {}))
            unknown = [name for name in instance if name not in known]
            first = unknown[0] if unknown else ""
            allowed = ", ".join(sorted(known))
            return self.problem(
                (*path, first),
                f"{dotted((*path, first))!r} is not a known field (known: {allowed})",
                key=True,
            )
        got = f" (got {_short_json(instance)})"
        expected: Any = error.validator_value
        if error.validator == "enum":
            options = ", ".join(str(option) for option in expected)
            return self.problem(path, f"{where!r} must be one of {options}{got}")
        if error.validator == "type":
            types: list[str] = expected if isinstance(expected, list) else [expected]
            wanted = " or ".join(_TYPE_NAMES.get(name, name) for name in types)
            return self.problem(path, f"{where!r} must be {wanted}{got}")
        if error.validator == "pattern":
            return self.problem(path, f"{where!r} must match {expected}{got}")
        if error.validator == "propertyNames" and path:
            return self.problem(path, f"{where!r}: {error.message}", key=True)
        return self.problem(path, f"{where!r}: {error.message}")


def load_yaml(path: Path, *, name: str | None = None) -> YamlSource:
    """Parse one YAML document, rejecting duplicate keys; raises :class:`SourceError` on bad YAML."""
    shown = name if name is not None else display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SourceError([Problem(None, f"{shown}: no such file")]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise SourceError([Problem(None, f"{shown}: cannot be read ({error})")]) from None
    lines = tuple(text.splitlines())
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        location = SourceLocation(shown, mark.line + 1, mark.column + 1) if mark else None
        raise SourceError([Problem(location, f"invalid YAML: {error.problem or error.context}")]) from None
    except yaml.YAMLError as error:
        raise SourceError([Problem(None, f"{shown}: invalid YAML: {error}")]) from None
    builder = _Builder(shown)
    data = builder.build(node, ()) if node is not None else None
    if builder.problems:
        raise SourceError(builder.problems)
    return YamlSource(path, shown, data, lines, builder.value_marks, builder.key_marks)


def dotted(path: Sequence[PathItem]) -> str:
    """A data path as people write it: ``paths.position``, ``encodings[1]``; the top level is ``(top)``."""
    text = ""
    for item in path:
        text += f"[{item}]" if isinstance(item, int) else (f".{item}" if text else str(item))
    return text or "(top)"


# --------------------------------------------------------------------------------------------------


_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def _quoted_property(message: str) -> str:
    # jsonschema words it "'name' is a required property"
    return message.split("'")[1] if message.count("'") >= 2 else message


def _short_json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _file_order(problem: Problem) -> tuple[int, int, str]:
    location = problem.location
    return (location.line, location.col, problem.message) if location else (0, 0, problem.message)


class _Builder:
    """Turns a composed YAML node tree into Python values, recording marks and refusing duplicate keys."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.value_marks: dict[DataPath, tuple[int, int]] = {}
        self.key_marks: dict[DataPath, tuple[int, int]] = {}
        self.problems: list[Problem] = []
        self._constructor = _Loader("")

    def build(self, node: yaml.Node, path: DataPath) -> Any:
        self.value_marks[path] = (node.start_mark.line, node.start_mark.column)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        return self._constructor.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: DataPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            here = SourceLocation(self.name, key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                self.problems.append(
                    Problem(here, "only plain keys are supported (no merge keys or complex keys)")
                )
                continue
            key = str(key_node.value)
            if key in result:
                self.problems.append(Problem(here, f"duplicate key {dotted((*path, key))!r}"))
                continue
            self.key_marks[(*path, key)] = (key_node.start_mark.line, key_node.start_mark.column)
            result[key] = self.build(value_node, (*path, key))
        return result
