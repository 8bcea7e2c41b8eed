"""YAML files whose values know where they came from, and the problems found in them.

Every hand-written data file of the harness (a case, a profile, the clause catalogue, a markets file) is
read here into plain JSON-like values plus the line and column of every value and mapping key, so that
any mistake, whether YAML syntax, a JSON Schema violation or a loader's own check, is reported where it is,
with the line and a caret::

    markets.yaml:3:19: 'symbols.BTCUSDT.max_leverage' must be an integer (got "lots")
     3 |     max_leverage: lots
       |                   ^

Scalars follow the YAML 1.2 core schema: ``on``, ``yes`` and ``2024-01-01`` stay text, ``020`` is the
integer 20 and ``1e-9`` a float. Duplicate keys, merge keys and unsupported tags are problems.

Schema errors complete "'<path>' must be <description> (got <value>)" with the failing subschema's
``description``, which is therefore a noun phrase; a subschema without one is described by its keywords
(``type``, ``enum``, ``pattern``, bounds). Loaders raise a subclass of :class:`SourceError`.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import yaml
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator

from conformance.model import SourceLocation

JsonPath = tuple[str | int, ...]

# --------------------------------------------------------------------------------------------------
# Problems


@dataclass(frozen=True)
class Problem:
    """One thing wrong, where it is (None: in no file; line 0: the file as a whole) and its source line."""

    location: SourceLocation | None
    message: str
    line_text: str | None = None

    def __str__(self) -> str:
        loc = self.location
        if loc is None:
            return self.message
        return f"{loc}: {self.message}" if loc.line > 0 else f"{loc.file}: {self.message}"

    def render(self) -> str:
        """The problem, then its source line with a caret under the column."""
        if self.location is None or self.line_text is None:
            return str(self)
        number = str(self.location.line)
        caret = " " * (max(self.location.col, 1) - 1) + "^"
        return f"{self}\n {number} | {self.line_text.rstrip()}\n {' ' * len(number)} | {caret}"


def in_file_order(problems: Iterable[Problem]) -> list[Problem]:
    """Problems sorted by line and column (a stable sort: problems at one place keep their order)."""
    return sorted(problems, key=lambda p: (p.location.line, p.location.col) if p.location else (0, 0))


class SourceError(Exception):
    """A file cannot be used. ``str()`` is one ``file:line:col: message`` line per problem; :meth:`render`
    adds the excerpts, for a terminal. Each loader raises its own subclass."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))

    def render(self) -> str:
        body = "\n".join(problem.render() for problem in self.problems)
        if len(self.problems) <= 1:
            return body
        files = len({p.location.file for p in self.problems if p.location is not None})
        where = f" in {files} files" if files > 1 else ""
        return f"{body}\n{len(self.problems)} problems{where}"


def display_path(path: str | os.PathLike[str]) -> str:
    """A path as shown to users: relative to the current directory when it is below it."""
    try:
        return Path(path).absolute().relative_to(Path.cwd()).as_posix()
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


class _Loader(yaml.SafeLoader):
    """Composes nodes with the YAML 1.2 core schema's implicit types (no merge keys, no timestamps)."""

    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012 (not the YAML 1.1 ones of SafeLoader)


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
        base = {"0x": 16, "0o": 8}.get(digits[:2], 10)
        return sign * int(digits[2:] if base != 10 else digits, base)
    if tag == _FLOAT:
        lowered = text.lower()
        if lowered.endswith(".inf"):
            return float("-inf") if lowered.startswith("-") else float("inf")
        return float("nan") if lowered == ".nan" else float(text)
    raise ValueError(f"unsupported YAML tag {tag}")


@dataclass(frozen=True)
class _Mark:
    line: int  # 0-based, as PyYAML counts
    col: int
    style: str | None = None  # the scalar's style: None (plain), "'", '"', "|", ">"


@dataclass(frozen=True)
class YamlSource:
    """A parsed YAML file: its ``data``, where each value and mapping key starts, and its YAML ``problems``
    (syntax, duplicate keys, unreadable file...). ``data`` is None when the file could not be parsed."""

    file: str  # as shown to users
    lines: tuple[str, ...]
    data: Any = None
    problems: tuple[Problem, ...] = ()
    values: Mapping[JsonPath, _Mark] = field(default_factory=dict, repr=False)
    keys: Mapping[JsonPath, _Mark] = field(default_factory=dict, repr=False)

    def location(
        self, path: JsonPath = (), *, key: bool = False, offset: int | None = None
    ) -> SourceLocation:
        """Where a value (or, with ``key``, its mapping key) starts, or its nearest known parent; ``offset``
        moves to a character inside a one-line scalar when its source text can be matched."""
        if key and path in self.keys:
            mark = self.keys[path]
        else:
            known = path
            while known not in self.values and known:
                known = known[:-1]
            mark = self.values.get(known, _Mark(0, 0))
        col = mark.col + (self._offset(path, mark, offset, key=key) if offset is not None else 0)
        return SourceLocation(self.file, mark.line + 1, col + 1)

    def _offset(self, path: JsonPath, mark: _Mark, offset: int, *, key: bool) -> int:
        value: Any = path[-1] if key and path else self.data
        if not (key and path):
            for part in path:
                value = value[part]
        line = self._line(mark.line)
        if not isinstance(value, str) or line is None:
            return 0
        quote = 1 if mark.style in ("'", '"') else 0
        if mark.style not in (None, "'", '"') or not line[mark.col + quote :].startswith(value):
            return 0
        return quote + offset

    def _line(self, line: int) -> str | None:
        return self.lines[line] if 0 <= line < len(self.lines) else None

    def problem(
        self, path: JsonPath, message: str, *, key: bool = False, offset: int | None = None
    ) -> Problem:
        """A problem at the value at ``path`` (or its key), with its source line."""
        location = self.location(path, key=key, offset=offset)
        return Problem(location, message, self._line(location.line - 1))

    def _at(self, mark: yaml.Mark | None, message: str) -> Problem:
        """A problem at a PyYAML mark, or at the file as a whole when there is none."""
        if mark is None:
            return Problem(SourceLocation(self.file, 0, 0), message)
        return Problem(
            SourceLocation(self.file, mark.line + 1, mark.column + 1), message, self._line(mark.line)
        )

    def schema_problems(self, validator: Validator, *, root_name: str = "the file") -> list[Problem]:
        """Every JSON Schema error of ``data`` as a located, readable problem, in file order, without
        repeats; ``root_name`` names the whole document (``the case``)."""
        explainer = _Explainer(self, root_name)
        problems: list[Problem] = []
        for error in validator.iter_errors(self.data):
            problems += [problem for problem in explainer.explain(error) if problem not in problems]
        return in_file_order(problems)


class _Builder:
    def __init__(self, source: YamlSource) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self.values: dict[JsonPath, _Mark] = {}
        self.keys: dict[JsonPath, _Mark] = {}
        self._active: set[int] = set()

    def problem(self, mark: yaml.Mark, message: str) -> None:
        self.problems.append(self.source._at(mark, message))

    def build(self, node: yaml.Node, path: JsonPath) -> Any:
        mark = node.start_mark
        self.values[path] = _Mark(
            mark.line, mark.column, node.style if isinstance(node, yaml.ScalarNode) else None
        )
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
        if node.tag not in (_SEQ, _MAP):
            self.problem(mark, f"unsupported YAML tag {node.tag}")
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(child, (*path, index)) for index, child in enumerate(node.value)]
            assert isinstance(node, yaml.MappingNode)
            return self._mapping(node, path)
        finally:
            self._active.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: JsonPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, yaml.Mark] = {}
        for key_node, value_node in node.value:
            mark = key_node.start_mark
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem(mark, "a mapping key must be plain text, not a list or mapping")
                continue
            key = key_node.value
            if key == "<<" and key_node.style is None:
                self.problem(mark, "merge keys ('<<') are not supported: write the values out")
            elif key in first_seen:
                self.problem(mark, f"duplicate key '{key}' (first at line {first_seen[key].line + 1})")
            else:
                first_seen[key] = mark
                self.keys[(*path, key)] = _Mark(mark.line, mark.column)
                result[key] = self.build(value_node, (*path, key))
        return result


def parse_yaml(text: str, file: str) -> YamlSource:
    """Parse one YAML document; ``file`` names it in messages. Problems are in ``.problems``."""
    source = YamlSource(file, tuple(text.splitlines()))
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        message, context, start = exc.problem or "invalid YAML", exc.context, exc.context_mark
        at = exc.problem_mark or start
        if context and start and at and start.line != at.line:
            context = f"{context} that starts at line {start.line + 1}"
        message = f"{message} ({context})" if context else message
        return replace(source, problems=(source._at(at, f"YAML: {message}"),))
    except yaml.YAMLError as exc:
        return replace(source, problems=(source._at(None, f"YAML: {exc}"),))
    if node is None:
        return replace(source, problems=(source._at(None, "the file holds no YAML document"),))
    builder = _Builder(source)
    data = builder.build(node, ())
    return replace(
        source, data=data, problems=tuple(builder.problems), values=builder.values, keys=builder.keys
    )


def load_yaml(path: Path, *, name: str | None = None) -> YamlSource:
    """Read and parse a YAML file, named in messages by ``name`` or else by :func:`display_path`.
    A file that cannot be read gives a source without data and with one problem."""
    shown = name if name is not None else display_path(path)
    try:
        return parse_yaml(path.read_text(encoding="utf-8"), shown)
    except FileNotFoundError:
        message = "no such file or directory"
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
    except OSError as exc:
        message = f"cannot be read: {exc.strerror}"
    return YamlSource(shown, (), problems=(Problem(SourceLocation(shown, 0, 0), message),))


# --------------------------------------------------------------------------------------------------
# Schema errors as messages


def dotted(path: Iterable[str | int]) -> str:
    """``("steps", 1, "expect", "status")`` -> ``steps[1].expect.status``; the top level is ``""``."""
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


def _or(items: Sequence[str], *, quote: str = "") -> str:
    quoted = [f"{quote}{item}{quote}" for item in items]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}
_SIZES = {
    "minLength": ("string", "characters"),
    "minItems": ("list", "items"),
    "minProperties": ("mapping", "keys"),
}
_BOUNDS = {
    "minimum": "at least",
    "exclusiveMinimum": "above",
    "maximum": "at most",
    "exclusiveMaximum": "below",
}


def _described_by_keyword(keyword: str, rule: Any) -> str | None:
    """What a subschema without a ``description`` wants, from the keyword that failed."""
    if keyword == "type":
        return _or([_TYPE_NAMES.get(name, name) for name in ([rule] if isinstance(rule, str) else rule)])
    if keyword in ("enum", "const"):
        values = rule if keyword == "enum" else [rule]
        return _or([value if isinstance(value, str) else json.dumps(value) for value in values])
    if keyword == "pattern":
        return f"text matching {rule}"
    if keyword in _BOUNDS:
        return f"{_BOUNDS[keyword]} {rule}"
    if keyword in _SIZES:
        kind, unit = _SIZES[keyword]
        return f"a non-empty {kind}" if rule == 1 else f"a {kind} of at least {rule} {unit}"
    return None


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
    def __init__(self, source: YamlSource, root_name: str) -> None:
        self.source = source
        self.root_name = root_name

    def subject(self, path: JsonPath) -> str:
        return f"'{dotted(path)}'" if path else self.root_name

    def explain(self, error: ValidationError, hint: tuple[JsonPath, str] | None = None) -> Iterator[Problem]:
        src, path = self.source, tuple(error.absolute_path)
        keyword, instance = str(error.validator), error.instance
        rule: Any = error.validator_value
        schema = error.schema if isinstance(error.schema, Mapping) else {}
        description = hint[1] if hint is not None and hint[0] == path else schema.get("description")
        wanted = description or _described_by_keyword(keyword, rule)

        if "propertyNames" in error.absolute_schema_path and isinstance(instance, str):
            message = f"the name '{instance}' in {self.subject(path)} must be {wanted or error.message}"
            yield src.problem((*path, instance), message, key=True)
        elif keyword in ("anyOf", "oneOf"):
            yield from self._alternatives(error, path, description)
        elif keyword == "additionalProperties" and isinstance(instance, Mapping):
            yield from self._unknown_keys(schema, instance, path)
        elif keyword == "required" and isinstance(instance, Mapping):
            for name in rule:
                if name not in instance:
                    yield src.problem(path, f"{self.subject(path)} is missing the required key '{name}'")
        elif keyword == "dependentRequired" and isinstance(instance, Mapping):
            for name, needed in rule.items():
                for other in needed:
                    if name in instance and other not in instance:
                        message = f"'{dotted((*path, name))}' needs '{other}' beside it"
                        yield src.problem((*path, name), message, key=True)
        elif keyword == "not" and isinstance(rule, Mapping):
            trigger = _dependent_key(error)
            at, key = ((*path, trigger), True) if trigger is not None else (path, False)
            yield src.problem(at, f"{self.subject(path)}: {rule.get('description', error.message)}", key=key)
        elif keyword == "uniqueItems":
            yield src.problem(path, f"{self.subject(path)} repeats an item")
        elif wanted:
            yield src.problem(path, f"{self.subject(path)} must be {wanted} (got {_got(instance)})")
        else:
            yield src.problem(path, f"{self.subject(path)}: {error.message}")

    def _alternatives(
        self, error: ValidationError, path: JsonPath, description: str | None
    ) -> Iterator[Problem]:
        src, instance, branches = self.source, error.instance, cast(list[Any], error.validator_value)
        keys = [b["required"][0] for b in branches if set(b) == {"required"} and len(b["required"]) == 1]
        if isinstance(instance, Mapping) and len(keys) == len(branches):
            present, options = [k for k in keys if k in instance], _or(keys, quote="'")
            if not present:
                yield src.problem(path, f"{self.subject(path)} must have one of {options}")
            else:
                these = " and ".join(f"'{k}'" for k in present)
                message = f"{self.subject(path)} may have only one of {options} (it has {these})"
                yield src.problem((*path, present[1]), message, key=True)
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
        yield src.problem(path, f"{self.subject(path)} must be {what} (got {_got(instance)})")

    def _unknown_keys(
        self, schema: Mapping[str, Any], instance: Mapping[str, Any], path: JsonPath
    ) -> Iterator[Problem]:
        known = [k for k in schema.get("properties", {}) if schema["properties"][k] is not False]
        for name in instance:
            if name in known:
                continue
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f"; expected one of: {', '.join(known)}"
            message = f"unknown key '{name}' in {self.subject(path)}{hint}"
            yield self.source.problem((*path, name), message, key=True)
