"""Field paths: how a case points inside a JSON body.

``leverage``, ``brackets.0.initialLeverage``, ``[symbol=BTCUSDT].leverage`` (the first element of an array
whose ``symbol`` equals the text). Used by captures and by the ``body`` expectation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final


class _Missing:
    """The value at a path that leads nowhere."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<missing>"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()

_SEGMENT = re.compile(r"\[(?P<key>[^=\]]+)=(?P<value>[^\]]*)\]|(?P<name>[^.\[\]]+)")


class PathSyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class _Filter:
    key: str
    value: str


Segment = str | int | _Filter


def parse(path: str) -> tuple[Segment, ...]:
    """Split a path into names, indexes and ``[key=value]`` filters."""
    segments: list[Segment] = []
    position = 0
    while position < len(path):
        if path[position] == "." and segments:
            position += 1
        match = _SEGMENT.match(path, position)
        if match is None:
            raise PathSyntaxError(f"bad field path {path!r} at character {position + 1}")
        if match.group("key") is not None:
            segments.append(_Filter(match.group("key").strip(), match.group("value").strip()))
        else:
            name = match.group("name")
            segments.append(int(name) if name.isdigit() else name)
        position = match.end()
    if not segments:
        raise PathSyntaxError("empty field path")
    return tuple(segments)


def select(document: Any, path: str) -> Any:
    """The value at ``path`` in ``document``, or :data:`MISSING`."""
    current = document
    for segment in parse(path):
        if isinstance(segment, _Filter):
            if not isinstance(current, list):
                return MISSING
            current = next(
                (
                    item
                    for item in current
                    if isinstance(item, dict) and _text(item.get(segment.key)) == segment.value
                ),
                MISSING,
            )
        elif isinstance(segment, int) and isinstance(current, list):
            current = current[segment] if 0 <= segment < len(current) else MISSING
        elif isinstance(current, dict):
            current = current.get(str(segment), MISSING)
        else:
            return MISSING
        if current is MISSING:
            return MISSING
    return current


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
