"""Generated cases in a run: the correct venue passes them, its broken twins fail them on the right clause,
the same seed gives the same requests and outcomes, and every failure comes with a case that pins it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from conformance.cases import parse_case
from conformance.model import Level, Outcome, RunResult, Verdict
from conformance.venue import create_app

from .conftest import RunGenerated, run_against

pytestmark = pytest.mark.anyio

SOURCES = ("generated-openapi-", "generated-signing-", "generated-boundaries", "generated-stateful")


def failed_clauses(result: RunResult, level: Level = Level.MUST) -> set[str]:
    return {f.clause for case in result.cases for f in case.failures if f.level is level}


@pytest.mark.parametrize("profile", ["binance-usdm", "ztdx"])
async def test_the_correct_venue_passes_every_generated_case(
    profile: str, run_generated: RunGenerated
) -> None:
    result = await run_generated(profile, max_examples=3)
    assert result.verdict is Verdict.CONFORMANT, [
        (c.id, c.message) for c in result.cases if c.outcome != "pass"
    ]
    assert {c.outcome for c in result.cases} == {Outcome.PASS}
    assert all(c.origin == "generated" and "generated" in c.tags for c in result.cases)
    for source in SOURCES:
        assert any(c.id.startswith(source) for c in result.cases), source
    assert any("seed 1" in note for note in result.notes)


@pytest.mark.parametrize(
    ("profile", "fault", "select", "clause"),
    [
        ("binance-usdm", "band-top-exclusive", "generated-boundaries", "LEV-BOUNDS"),
        ("binance-usdm", "clamp-before-reject", "generated-boundaries", "PER-REJECT-NO-EFFECT"),
        ("binance-usdm", "leverage-per-user", "generated-stateful", "PER-SYMBOL-ISOLATION"),
        ("binance-usdm", "leverage-per-symbol", "generated-stateful", "PER-USER-ISOLATION"),
        ("binance-usdm", "order-default-leverage", "generated-stateful", "PER-ORDER-USES"),
        ("binance-usdm", "sig-prefix-match", "generated-signing-auth-sig-invalid", "AUTH-SIG-INVALID"),
        ("binance-usdm", "no-future-check", "generated-signing-time-future", "TIME-FUTURE"),
        ("binance-usdm", "sig-query-only", "generated-openapi-leverage", "AUTH-SIG-PAYLOAD"),
        ("binance-usdm", "echo-previous-leverage", "generated-openapi-leverage", "LEV-ECHO"),
        ("ztdx", "json-body-ignored", "generated-openapi-leverage and json", "LEV-ENCODINGS"),
        ("ztdx", "notional-by-brackets", "generated-boundaries", "LEV-NOTIONAL"),
        ("ztdx", "band-ignores-min-leverage", "generated-boundaries", "LEV-BOUNDS"),
        ("ztdx", "recv-window-unbounded", "generated-signing-time-recvwindow-max", "TIME-RECVWINDOW-MAX"),
    ],
)
async def test_a_broken_twin_fails_generated_cases_on_the_faults_clause(
    profile: str, fault: str, select: str, clause: str, run_generated: RunGenerated
) -> None:
    result = await run_generated(profile, fault=fault, select=select, max_examples=3)
    assert result.verdict is Verdict.NONCONFORMANT
    assert clause in failed_clauses(result)


async def test_a_should_fault_makes_a_generated_case_warn(run_generated: RunGenerated) -> None:
    result = await run_generated(
        "binance-usdm", fault="key-unknown-2014", select="generated-signing-auth-key-unknown"
    )
    assert result.verdict is Verdict.CONFORMANT
    assert [c.outcome for c in result.cases] == [Outcome.WARN]
    assert failed_clauses(result, Level.SHOULD) == {"AUTH-KEY-UNKNOWN"}


# --------------------------------------------------------------------------------------------------
# Reproducibility


class RecordingTransport(httpx.AsyncBaseTransport):
    """The in-process venue, remembering each request without what changes from one run to the next."""

    def __init__(self, fault: str | None) -> None:
        self.app = create_app("binance-usdm", fault=fault)
        self.inner = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        self.sent: list[tuple[str, str, tuple[tuple[str, str], ...], str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        unstable = {"timestamp", "signature"}
        query = tuple(
            (k, v)
            for k, v in parse_qsl(urlsplit(str(request.url)).query, keep_blank_values=True)
            if k not in unstable
        )
        body = "&".join(
            p for p in request.content.decode(errors="replace").split("&") if p.split("=")[0] not in unstable
        )
        self.sent.append((request.method, request.url.path, query, body))
        return await self.inner.handle_async_request(request)


@pytest.fixture
async def recording() -> AsyncIterator[list[RecordingTransport]]:
    made: list[RecordingTransport] = []
    yield made
    for transport in made:
        transport.app.state.venue.store.close()


async def _recorded(
    fault: str | None, seed: int, made: list[RecordingTransport]
) -> tuple[RunResult, RecordingTransport]:
    transport = RecordingTransport(fault)
    made.append(transport)
    select = "generated-openapi-leverage or generated-signing-auth-sig-invalid or generated-stateful"
    result = await run_against(
        "binance-usdm", select=select, max_examples=4, seed=seed, workers=1, transport=transport
    )
    return result, transport


@pytest.mark.parametrize("fault", [None, "leverage-per-user"])
async def test_the_same_seed_sends_the_same_requests_and_finds_the_same(
    fault: str | None, recording: list[RecordingTransport]
) -> None:
    first, first_sent = await _recorded(fault, 11, recording)
    second, second_sent = await _recorded(fault, 11, recording)
    _other, other_sent = await _recorded(fault, 12, recording)

    def outcomes(result: RunResult) -> list[tuple[str, str, str, str | None]]:
        return [(c.id, c.outcome, c.message, c.reproduction) for c in result.cases]

    assert len(first_sent.sent) > 50
    assert first_sent.sent == second_sent.sent
    assert outcomes(first) == outcomes(second)
    assert other_sent.sent != first_sent.sent  # another seed, other examples
    if fault is not None:
        assert first.verdict is Verdict.NONCONFORMANT


# --------------------------------------------------------------------------------------------------
# Reproductions


@pytest.mark.parametrize(
    ("profile", "fault", "select"),
    [
        ("binance-usdm", "clamp-before-reject", "generated-boundaries and BTCUSDT"),
        ("binance-usdm", "leverage-per-user", "generated-stateful"),
        ("binance-usdm", "margin-rounded", "generated-stateful"),
        ("binance-usdm", "sig-any-account-secret", "generated-signing-auth-sig-invalid"),
        ("binance-usdm", "echo-previous-leverage", "generated-openapi-leverage and query-positive"),
        ("ztdx", "leverage-string-rejected", "generated-openapi-leverage and json-positive"),
        ("ztdx", "out-of-band-500", "generated-boundaries and SOLUSDT"),
    ],
)
async def test_a_failing_example_is_a_case_that_fails_the_same_way(
    profile: str, fault: str, select: str, run_generated: RunGenerated
) -> None:
    result = await run_generated(profile, fault=fault, select=select, max_examples=4, seed=2)
    failing = [c for c in result.cases if c.outcome is Outcome.FAIL]
    assert failing, [(c.id, c.message) for c in result.cases]
    for generated in failing:
        assert generated.reproduction is not None
        case = parse_case(generated.reproduction, file="reproduction.yaml")
        clause = case.clause
        assert clause in {f.clause for f in generated.failures if f.level is Level.MUST}
        assert case.origin == "hand-written"
        assert case.profiles == (profile,)
        pinned = await run_generated(profile, fault=fault, select=None, max_examples=0, suite=[case])
        assert [(c.id, c.outcome) for c in pinned.cases] == [(case.id, Outcome.FAIL)], pinned.cases[0].message
        assert {f.clause for f in pinned.cases[0].failures} == {clause}
        correct = await run_generated(profile, select=None, max_examples=0, suite=[case])
        assert [c.outcome for c in correct.cases] == [Outcome.PASS], correct.cases[0].message


# --------------------------------------------------------------------------------------------------
# Selection and budget


async def test_generated_cases_are_selected_like_any_other(run_generated: RunGenerated) -> None:
    none = await run_generated("binance-usdm", select="not generated", suite=None)
    assert none.cases
    assert all(c.origin == "hand-written" for c in none.cases)
    off = await run_generated("binance-usdm", select=None, max_examples=0, suite=None)
    assert all(c.origin == "hand-written" for c in off.cases)
    assert not any("generated cases" in note for note in off.notes)
    boundaries = await run_generated("binance-usdm", select="generated and boundaries", max_examples=2)
    assert [c.id for c in boundaries.cases] == [
        "generated-boundaries[BTCUSDT]",
        "generated-boundaries[ETHUSDT]",
        "generated-boundaries[SOLUSDT]",
    ]


async def test_without_a_markets_file_a_minimum_nobody_gave_is_not_judged(
    run_generated: RunGenerated,
) -> None:
    """ztdx's minimum leverage comes from a markets file; discovered alone it is assumed to be 1, and
    SOLUSDT's real minimum is 2: nothing below a symbol's maximum may then be expected to be accepted."""
    result = await run_generated("ztdx", max_examples=3, markets_file=None)
    assert {f.sources["min_leverage"] for f in result.market_facts} == {"assumed"}
    assert result.verdict is Verdict.CONFORMANT, [
        (c.id, c.message) for c in result.cases if c.outcome != "pass"
    ]


async def test_an_interrupted_run_stops_the_generated_case_and_restores_the_account() -> None:
    """Cancelling the run (Ctrl-C, SIGTERM) stops the property's thread before the account is restored."""
    task = asyncio.create_task(run_against("binance-usdm", select="generated-stateful", max_examples=500))
    await asyncio.sleep(1.5)
    task.cancel()
    result = await asyncio.wait_for(task, timeout=30)
    assert not result.complete
    assert [(c.id, c.outcome) for c in result.cases] == [("generated-stateful", Outcome.ERROR)]
    assert any(note.startswith("restored") for note in result.notes), result.notes
