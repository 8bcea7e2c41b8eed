"""YAML documents that remember where every value came from, and problems located in them.

A document is parsed into plain JSON-like values (dict, list, str, int, float, bool, None) plus a map from
each value's path (``("steps", 1, "expect", "status")``) to its line and column, so a JSON Schema error or
a semantic check can point at ``file:line:col``. Scalars follow the YAML 1.2 core schema: ``on``, ``yes``
and ``2024-01-01`` stay text, ``020`` is the integer 20 and ``1e-9`` a float.

:func:`schema_problems` turns JSON Schema errors into messages built from the schema's ``description``s:
``'steps[1].expect.status' must be <description> (got "400")``.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator

from conformance.model import SourceLocation

JsonPath = tuple[str | int, ...]

__all__ = ["Document", "JsonPath", "Problem", "display_path", "dotted", "parse_yaml", "schema_problems"]


# --------------------------------------------------------------------------------------------------
# Problems


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file, where it is, and the source line it is on (for the excerpt)."""

    location: SourceLocation
    message: str
    line_text: str | None = None

    def render(self) -> str:
        loc = self.location
        head = f"{loc}: {self.message}" if loc.line > 0 else f"{loc.file}: {self.message}"
        if self.line_text is None:
            return head
        number = str(loc.line)
        pad = " " * len(number)
        text = self.line_text.rstrip()
        caret = " " * (max(loc.col, 1) - 1) + "^"
        return f"{head}\n {number} | {text}\n {pad} | {caret}"


def display_path(path: str | os.PathLike[str]) -> str:
    """A path as shown to users: relative to the current directory when it is below it."""
    absolute = Path(path).absolute()
    try:
        return absolute.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------------------------------
# YAML with marks

_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"


class _Loader(
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    yaml.composer.Composer,
    yaml.resolver.BaseResolver,
):
    """Composes nodes only (no constructor): the YAML 1.2 core schema's implicit types."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        yaml.resolver.BaseResolver.__init__(self)


_Loader.add_implicit_resolver(_NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Loader.add_implicit_resolver(
    _INT, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
_Loader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def _scalar(node: yaml.ScalarNode) -> Any:
    tag, text = node.tag, node.value
    if tag == _STR:
        return text
    if tag == _NULL:
        return None
    if tag == _BOOL:
        return text.lower() == "true"
    if tag == _INT:
        sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text.lstrip("+"))
        if digits.startswith("0x"):
            return sign * int(digits[2:], 16)
        if digits.startswith("0o"):
            return sign * int(digits[2:], 8)
        return sign * int(digits, 10)
    if tag == _FLOAT:
        lowered = text.lower()
        if lowered.endswith(".inf"):
            return float("-inf") if lowered.startswith("-") else float("inf")
        if lowered == ".nan":
            return float("nan")
        return float(text)
    raise ValueError(f"unsupported YAML tag {tag}")


@dataclass(frozen=True)
class _Mark:
    line: int  # 0-based, as PyYAML counts
    col: int
    style: str | None = None  # the scalar's style: None (plain), "'", '"', "|", ">"


@dataclass
class Document:
    """A parsed YAML file: its values, and where each value and mapping key starts."""

    file: str  # as shown to users
    text: str
    data: Any = None
    values: dict[JsonPath, _Mark] = field(default_factory=dict)
    keys: dict[JsonPath, _Mark] = field(default_factory=dict)

    @functools.cached_property
    def _lines(self) -> list[str]:
        return self.text.splitlines()

    def _line_text(self, line: int) -> str | None:
        return self._lines[line] if 0 <= line < len(self._lines) else None

    def _mark(self, path: JsonPath, *, key: bool) -> _Mark:
        if key and path in self.keys:
            return self.keys[path]
        while path not in self.values and path:
            path = path[:-1]
        return self.values.get(path, _Mark(0, 0))

    def location(self, path: JsonPath, *, key: bool = False, offset: int | None = None) -> SourceLocation:
        """Where a value (or, with ``key``, its mapping key) starts; ``offset`` moves to a character
        inside a one-line scalar when its source text can be matched."""
        mark = self._mark(path, key=key)
        col = mark.col
        if offset is not None:
            col += self._offset_in_source(path, mark, offset, key=key)
        return SourceLocation(self.file, mark.line + 1, col + 1)

    def _offset_in_source(self, path: JsonPath, mark: _Mark, offset: int, *, key: bool) -> int:
        value = path[-1] if key and path else self.get(path)
        line = self._line_text(mark.line)
        if not isinstance(value, str) or line is None:
            return 0
        quote = 1 if mark.style in ("'", '"') else 0
        if mark.style not in (None, "'", '"') or not line[mark.col + quote :].startswith(value):
            return 0
        return quote + offset

    def problem(
        self, path: JsonPath, message: str, *, key: bool = False, offset: int | None = None
    ) -> Problem:
        location = self.location(path, key=key, offset=offset)
        return Problem(location, message, self._line_text(location.line - 1))

    def problem_at(self, mark: yaml.Mark | None, message: str) -> Problem:
        """A problem at a PyYAML mark (syntax errors, duplicate keys), or at the file when there is none."""
        if mark is None:
            return Problem(SourceLocation(self.file, 0, 0), message)
        location = SourceLocation(self.file, mark.line + 1, mark.column + 1)
        return Problem(location, message, self._line_text(mark.line))

    def get(self, path: JsonPath) -> Any:
        value = self.data
        for part in path:
            value = value[part]
        return value


class _Builder:
    def __init__(self, document: Document) -> None:
        self.document = document
        self.problems: list[Problem] = []
        self._active: set[int] = set()

    def problem(self, mark: yaml.Mark, message: str) -> None:
        self.problems.append(self.document.problem_at(mark, message))

    def build(self, node: yaml.Node, path: JsonPath) -> Any:
        mark = node.start_mark
        style = node.style if isinstance(node, yaml.ScalarNode) else None
        self.document.values[path] = _Mark(mark.line, mark.column, style)
        if id(node) in self._active:
            self.problem(mark, "this alias refers to a value that contains it")
            return None
        if isinstance(node, yaml.ScalarNode):
            try:
                return _scalar(node)
            except ValueError:
                self.problem(
                    mark, f"unsupported YAML tag {node.tag} (plain text, numbers, booleans and null)"
                )
                return None
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                if node.tag != _SEQ:
                    self.problem(mark, f"unsupported YAML tag {node.tag}")
                return [self.build(child, (*path, index)) for index, child in enumerate(node.value)]
            assert isinstance(node, yaml.MappingNode)
            return self._mapping(node, path)
        finally:
            self._active.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: JsonPath) -> dict[str, Any]:
        if node.tag != _MAP:
            self.problem(node.start_mark, f"unsupported YAML tag {node.tag}")
        result: dict[str, Any] = {}
        first_seen: dict[str, yaml.Mark] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem(key_node.start_mark, "a mapping key must be plain text, not a list or mapping")
                continue
            key = key_node.value
            if key in first_seen:
                line = first_seen[key].line + 1
                self.problem(key_node.start_mark, f"duplicate key '{key}' (first at line {line})")
                continue
            first_seen[key] = key_node.start_mark
            self.document.keys[(*path, key)] = _Mark(key_node.start_mark.line, key_node.start_mark.column)
            result[key] = self.build(value_node, (*path, key))
        return result


def parse_yaml(text: str, file: str) -> tuple[Document, list[Problem]]:
    """Parse one YAML document, collecting syntax errors, duplicate keys and unsupported tags."""
    document = Document(file, text)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        message = exc.problem or "invalid YAML"
        if exc.context:
            context = exc.context
            start = exc.context_mark
            if start is not None and exc.problem_mark is not None and start.line != exc.problem_mark.line:
                context = f"{context} that starts at line {start.line + 1}"
            message = f"{message} ({context})"
        return document, [document.problem_at(exc.problem_mark or exc.context_mark, f"YAML: {message}")]
    except yaml.YAMLError as exc:
        return document, [document.problem_at(None, f"YAML: {exc}")]
    finally:
        loader.dispose()
    if node is None:
        return document, [document.problem_at(None, "the file holds no YAML document")]
    builder = _Builder(document)
    document.data = builder.build(node, ())
    return document, builder.problems


# --------------------------------------------------------------------------------------------------
# Schema errors as messages


def dotted(path: Iterable[str | int]) -> str:
    """``("steps", 1, "expect", "status")`` -> ``steps[1].expect.status``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out


def _got(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping" if value else "an empty mapping"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _one_of(names: Sequence[str]) -> str:
    quoted = [f"'{n}'" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _dependent_key(error: ValidationError) -> str | None:
    """The key whose presence applied a ``dependentSchemas`` entry, when the error comes from one."""
    schema_path = list(error.relative_schema_path)
    for index, part in enumerate(schema_path[:-1]):
        if part == "dependentSchemas":
            return str(schema_path[index + 1])
    return None


def _wrong_type(errors: Iterable[ValidationError]) -> bool:
    """Whether a branch of anyOf/oneOf failed because the value has another type (also through a nested
    anyOf/oneOf whose branches all have another type)."""
    for error in errors:
        if error.relative_path:
            continue
        if error.validator == "type":
            return True
        if error.validator in ("anyOf", "oneOf") and error.context:
            branches: dict[Any, list[ValidationError]] = {}
            for sub in error.context:
                branches.setdefault(sub.relative_schema_path[0], []).append(sub)
            if all(_wrong_type(branch) for branch in branches.values()):
                return True
    return False


class _Explainer:
    def __init__(self, document: Document, root_name: str) -> None:
        self.document = document
        self.root_name = root_name

    def subject(self, path: JsonPath) -> str:
        return f"'{dotted(path)}'" if path else self.root_name

    def explain(self, error: ValidationError, hint: tuple[JsonPath, str] | None = None) -> Iterator[Problem]:
        doc = self.document
        path: JsonPath = tuple(error.absolute_path)
        keyword = error.validator
        rule: Any = error.validator_value
        schema = error.schema if isinstance(error.schema, Mapping) else {}
        instance = error.instance
        description = hint[1] if hint is not None and hint[0] == path else schema.get("description")

        if "propertyNames" in error.absolute_schema_path and isinstance(instance, str):
            sub = description or error.message
            yield doc.problem(
                (*path, instance), f"the name '{instance}' in {self.subject(path)} must be {sub}", key=True
            )
        elif keyword in ("anyOf", "oneOf"):
            yield from self._alternatives(error, path, description)
        elif keyword == "additionalProperties" and isinstance(instance, Mapping):
            yield from self._unknown_keys(schema, instance, path)
        elif keyword == "required" and isinstance(instance, Mapping):
            for name in rule:
                if name not in instance:
                    yield doc.problem(path, f"{self.subject(path)} is missing the required key '{name}'")
        elif keyword == "dependentRequired" and isinstance(instance, Mapping):
            for name, needed in rule.items():
                for other in needed:
                    if name in instance and other not in instance:
                        message = f"'{dotted((*path, name))}' needs '{other}' beside it"
                        yield doc.problem((*path, name), message, key=True)
        elif keyword == "not" and isinstance(rule, Mapping):
            reason = rule.get("description", error.message)
            trigger = _dependent_key(error)
            if trigger is not None:
                yield doc.problem((*path, trigger), f"{self.subject(path)}: {reason}", key=True)
            else:
                yield doc.problem(path, f"{self.subject(path)}: {reason}")
        elif keyword == "uniqueItems":
            yield doc.problem(path, f"{self.subject(path)} repeats an item")
        elif description:
            yield doc.problem(path, f"{self.subject(path)} must be {description} (got {_got(instance)})")
        else:
            yield doc.problem(path, f"{self.subject(path)}: {error.message}")

    def _alternatives(
        self, error: ValidationError, path: JsonPath, description: str | None
    ) -> Iterator[Problem]:
        doc, instance, branches = self.document, error.instance, cast(list[Any], error.validator_value)
        keys = [b["required"][0] for b in branches if set(b) == {"required"} and len(b["required"]) == 1]
        if isinstance(instance, Mapping) and len(keys) == len(branches):
            present = [k for k in keys if k in instance]
            if not present:
                yield doc.problem(path, f"{self.subject(path)} must have one of {_one_of(keys)}")
            else:
                these = " and ".join(f"'{k}'" for k in present)
                message = f"{self.subject(path)} may have only one of {_one_of(keys)} (it has {these})"
                yield doc.problem((*path, present[1]), message, key=True)
            return
        by_branch: dict[int, list[ValidationError]] = {}
        for sub in error.context:
            by_branch.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
        fitting = [errors for errors in by_branch.values() if not _wrong_type(errors)]
        if len(fitting) == 1 and len(by_branch) == len(branches):
            hint = (path, description) if description else None
            for sub in fitting[0]:
                yield from self.explain(sub, hint)
            return
        what = description or "one of the forms the schema allows"
        yield doc.problem(path, f"{self.subject(path)} must be {what} (got {_got(instance)})")

    def _unknown_keys(
        self, schema: Mapping[str, Any], instance: Mapping[str, Any], path: JsonPath
    ) -> Iterator[Problem]:
        known = [k for k in schema.get("properties", {}) if schema["properties"][k] is not False]
        where = f"in {self.subject(path)}" if path else f"in {self.root_name}"
        for name in instance:
            if name in known:
                continue
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f"; expected one of: {', '.join(known)}"
            yield self.document.problem((*path, name), f"unknown key '{name}' {where}{hint}", key=True)


def schema_problems(
    document: Document, validator: Validator, *, root_name: str = "the document"
) -> list[Problem]:
    """Every schema error of a document as a located, readable problem (sorted, without repeats)."""
    explainer = _Explainer(document, root_name)
    problems: list[Problem] = []
    for error in validator.iter_errors(document.data):
        for problem in explainer.explain(error):
            if problem not in problems:
                problems.append(problem)
    return sorted(problems, key=lambda p: (p.location.line, p.location.col))
