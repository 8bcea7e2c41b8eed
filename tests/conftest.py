"""Shared fixtures: a guard against network access, and a way to collect schemathesis-generated cases."""

import socket
from collections.abc import Callable
from typing import Any

import pytest

pytest_plugins = ("pytester",)  # the pytest plugin's own tests

Generate = Callable[..., list[Any]]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any lookup of a host fails the test: the specs must resolve from local files only."""

    def refuse(*args: object, **kwargs: object) -> Any:
        raise AssertionError(f"network access during a test: {args[:2]}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture
def generate() -> Generate:
    """``generate(operation, "positive"|"negative", examples=5)``: the cases schemathesis generates."""
    return _generate


def _generate(operation: Any, mode: str, examples: int = 5) -> list[Any]:
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis import GenerationMode

    cases: list[Any] = []

    @given(operation.as_strategy(generation_mode=GenerationMode(mode)))
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def collect(case: Any) -> None:
        cases.append(case)

    collect()
    return cases
