"""Reading the venue's YAML files (accounts, markets) with errors that point at ``file:line:col``.

`load_document` composes the YAML into a tree of `Node`s that remember where they were written; the
loaders walk that tree and call the typed accessors (`Node.integer`, `Node.decimal`...), which raise a
`ConfigError` such as ``markets.yaml:7:22: symbols.BTCUSDT.max_leverage: expected an integer >= 1, got
'abc'``. Nothing here knows what an account or a market is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml
from yaml.constructor import SafeConstructor


class ConfigError(Exception):
    """A file or option the venue cannot start with. The message is one line, meant for the user."""


@dataclass(frozen=True)
class Node:
    """One value of a YAML document, with where it was written and how to reach it."""

    yaml_node: yaml.Node
    source: str  # the file, as the user named it
    path: str  # "symbols.BTCUSDT.brackets[0]"; "" for the document

    # -- errors -------------------------------------------------------------------------------------

    def error(self, message: str) -> ConfigError:
        mark = self.yaml_node.start_mark
        where = f"{self.path}: " if self.path else ""
        return ConfigError(f"{self.source}:{mark.line + 1}:{mark.column + 1}: {where}{message}")

    def _shown(self) -> str:
        if isinstance(self.yaml_node, yaml.ScalarNode):
            return repr(self.yaml_node.value)
        return "a list" if isinstance(self.yaml_node, yaml.SequenceNode) else "a mapping"

    # -- structure ----------------------------------------------------------------------------------

    def mapping(self, *, allowed: frozenset[str] | None = None) -> Entries:
        """The entries of a mapping; duplicate keys fail, and so do keys outside ``allowed`` if given."""
        if not isinstance(self.yaml_node, yaml.MappingNode):
            raise self.error(f"expected a mapping, got {self._shown()}")
        entries: dict[str, Node] = {}
        for key_node, value_node in self.yaml_node.value:
            key = Node(key_node, self.source, self.path)
            name = key.scalar()
            if not isinstance(name, str):
                raise key.error(f"keys must be text, got {key._shown()}")
            if name in entries:
                raise key.error(f"duplicate key {name!r}")
            if allowed is not None and name not in allowed:
                raise key.error(f"unknown key {name!r} (expected one of: {', '.join(sorted(allowed))})")
            entries[name] = Node(value_node, self.source, f"{self.path}.{name}" if self.path else name)
        return Entries(self, entries)

    def sequence(self) -> list[Node]:
        if not isinstance(self.yaml_node, yaml.SequenceNode):
            raise self.error(f"expected a list, got {self._shown()}")
        return [Node(item, self.source, f"{self.path}[{i}]") for i, item in enumerate(self.yaml_node.value)]

    # -- scalars ------------------------------------------------------------------------------------

    def scalar(self) -> object:
        if not isinstance(self.yaml_node, yaml.ScalarNode):
            raise self.error(f"expected a single value, got {self._shown()}")
        return SafeConstructor().construct_object(self.yaml_node)

    def text(self) -> str:
        value = self.scalar()
        if not isinstance(value, str) or not value:
            raise self.error(f"expected non-empty text, got {self._shown()} (quote it)")
        return value

    def integer(self, *, minimum: int) -> int:
        value = self.scalar()
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.error(f"expected an integer >= {minimum}, got {self._shown()}")
        return value

    def decimal(self, *, positive: bool = True) -> Decimal:
        """A number or numeric text, kept exact: ``0.001`` and ``"0.001"`` are both ``Decimal('0.001')``."""
        value = self.scalar()
        wanted = "a number > 0" if positive else "a number >= 0"
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self.error(f"expected {wanted}, got {self._shown()}")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise self.error(f"expected {wanted}, got {self._shown()}") from None
        if not number.is_finite() or number < 0 or (positive and number == 0):
            raise self.error(f"expected {wanted}, got {self._shown()}")
        return number


@dataclass(frozen=True)
class Entries:
    """The entries of a YAML mapping, by key, in the order written."""

    node: Node  # the mapping itself: a missing key is reported here
    by_key: dict[str, Node]

    def required(self, key: str) -> Node:
        if key not in self.by_key:
            raise self.node.error(f"missing required key {key!r}")
        return self.by_key[key]

    def optional(self, key: str) -> Node | None:
        return self.by_key.get(key)

    def items(self) -> Iterator[tuple[str, Node]]:
        yield from self.by_key.items()


def load_document(path: str | Path) -> Node:
    """Parse a YAML file into a located tree; unreadable files and YAML syntax errors are `ConfigError`s."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{source}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{source}: cannot read: {_reason(error)}") from None
    return parse_document(text, source)


def parse_document(text: str, source: str) -> Node:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
        raise ConfigError(f"{where}: invalid YAML: {error.problem}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{source}: invalid YAML: {_reason(error)}") from None
    if root is None:
        raise ConfigError(f"{source}: the file is empty")
    return Node(root, source, "")


def _reason(error: BaseException) -> str:
    text = getattr(error, "strerror", None) or str(error)
    return " ".join(text.split())  # one line
