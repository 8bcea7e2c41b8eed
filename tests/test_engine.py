"""The library API end to end, against the reference venue in-process: verdicts, restoration (also after
an interruption), trading guards, market facts, unreachable targets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from conformance import engine, events, results
from conformance.builtin import default_markets_file
from conformance.clock import VenueClock
from conformance.credentials import Credentials
from conformance.model import Outcome, Verdict
from conformance.session import UnreachableTarget
from conformance.signing import VenueSigner
from conformance.venue import DEMO_ACCOUNTS, create_app
from conformance.venue.faults import FAULTS

FIXTURES = Path(__file__).parent / "fixtures"
CASES = FIXTURES / "engine-cases"
ACCOUNTS = {
    "primary": Credentials(DEMO_ACCOUNTS[0].api_key, DEMO_ACCOUNTS[0].api_secret),
    "secondary": Credentials(DEMO_ACCOUNTS[1].api_key, DEMO_ACCOUNTS[1].api_secret),
}
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
PROFILES = ("binance-usdm", "ztdx")

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def config(app: ASGIApp, profile: str, **overrides: Any) -> engine.RunConfig:
    options: dict[str, Any] = {
        "target": "http://venue.test",
        "accounts": ACCOUNTS,
        "profile": profile,
        "markets_file": default_markets_file(),
        "allow_trading": True,
        "cases_path": CASES,
        "transport": httpx.ASGITransport(app=app, raise_app_exceptions=False),
        **overrides,
    }
    return engine.RunConfig(**options)


def stored_leverage(app: Starlette, symbol: str, account: int = 0) -> int:
    venue = app.state.venue
    return int(venue.exchange.leverage(DEMO_ACCOUNTS[account].api_key, venue.rules.market(symbol)))


def position_amount(app: Starlette, symbol: str) -> Decimal:
    return Decimal(app.state.venue.store.position(DEMO_ACCOUNTS[0].api_key, symbol).amount)


async def send_signed(app: Starlette, method: str, path: str, params: dict[str, Any]) -> httpx.Response:
    """A correct client's request, outside any run (to prepare venue state)."""
    signer = VenueSigner(ACCOUNTS["primary"], VenueClock())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://venue.test", auth=signer) as client:
        return await client.request(method, path, params=params)


@pytest.mark.parametrize("profile", PROFILES)
def test_the_reference_venue_is_conformant_and_left_as_it_was(profile: str) -> None:
    app = create_app(profile)
    before = {symbol: stored_leverage(app, symbol) for symbol in SYMBOLS}

    result = asyncio.run(engine.run(config(app, profile)))

    assert result.verdict is Verdict.CONFORMANT, [c.message for c in result.cases if c.outcome != "pass"]
    assert {c.outcome for c in result.cases} == {Outcome.PASS}
    assert {c.case_id for c in result.cases} == {"change-leverage", "open-and-close"}
    assert {symbol: stored_leverage(app, symbol) for symbol in SYMBOLS} == before
    assert all(position_amount(app, symbol) == 0 for symbol in SYMBOLS)
    assert any(note.startswith("restored primary BTCUSDT leverage to 20") for note in result.notes)
    assert result.complete
    assert result.profile == profile
    assert result.cases_hash.startswith("sha256:")


def test_a_fault_makes_the_run_nonconformant_on_its_clause() -> None:
    fault = next(f for f in FAULTS.values() if f.clause == "PER-READBACK" and "binance-usdm" in f.profiles)
    result = asyncio.run(engine.run(config(create_app("binance-usdm", fault=fault.name), "binance-usdm")))
    assert result.verdict is Verdict.NONCONFORMANT
    assert "PER-READBACK" in {c.clause for c in result.cases if c.outcome is Outcome.FAIL}


def test_selection_keeps_only_matching_cases() -> None:
    result = asyncio.run(engine.run(config(create_app("ztdx"), "ztdx", select="trading")))
    assert [c.case_id for c in result.cases] == ["open-and-close"]


def test_a_bad_selection_is_a_configuration_error() -> None:
    with pytest.raises(engine.ConfigurationError, match="-k"):
        asyncio.run(engine.run(config(create_app("ztdx"), "ztdx", select="trading and (")))


class SlowLeverage:
    """The venue, with every leverage change taking a while: time to interrupt a run mid-way."""

    def __init__(self, app: Starlette, delay_s: float) -> None:
        self.app = app
        self.delay_s = delay_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/fapi/v1/leverage":
            await asyncio.sleep(self.delay_s)
        await self.app(scope, receive, send)


def test_an_interrupted_run_restores_the_account_and_is_incomplete() -> None:
    app = create_app("binance-usdm")
    before = {symbol: stored_leverage(app, symbol) for symbol in SYMBOLS}
    finished = asyncio.Event()
    seen: list[events.Event] = []

    def listen(event: events.Event) -> None:
        seen.append(event)
        if isinstance(event, events.CaseFinished):
            finished.set()

    async def interrupt_after_the_first_case() -> Any:
        run = asyncio.create_task(
            engine.run(config(SlowLeverage(app, 0.05), "binance-usdm", workers=1), on_event=listen)
        )
        await finished.wait()
        # By now the run has changed leverage; interrupt it as Ctrl-C would.
        assert any(stored_leverage(app, s) != before[s] for s in SYMBOLS)
        run.cancel()
        return await run

    result = asyncio.run(interrupt_after_the_first_case())

    assert result.complete is False
    assert result.verdict is Verdict.INCOMPLETE
    assert {symbol: stored_leverage(app, symbol) for symbol in SYMBOLS} == before
    assert "the run was interrupted; what it changed was restored" in result.notes
    outcomes = [c.outcome for c in result.cases]
    assert Outcome.PASS in outcomes
    assert {Outcome.SKIP, Outcome.ERROR} & set(outcomes)
    assert any(isinstance(e, events.Notice) and "interrupted" in e.text for e in seen)


def test_one_interruption_during_restoration_does_not_stop_it() -> None:
    app = create_app("ztdx")
    before = {symbol: stored_leverage(app, symbol) for symbol in SYMBOLS}
    all_finished = asyncio.Event()
    notices: list[str] = []
    planned = 0
    done = 0

    def listen(event: events.Event) -> None:
        nonlocal planned, done
        if isinstance(event, events.RunStarted):
            planned = event.planned
        elif isinstance(event, events.CaseFinished):
            done += 1
            if done == planned:
                all_finished.set()
        elif isinstance(event, events.Notice):
            notices.append(event.text)

    async def interrupt_while_restoring() -> Any:
        run = asyncio.create_task(
            engine.run(config(SlowLeverage(app, 0.05), "ztdx", select="persistence"), listen)
        )
        await all_finished.wait()
        await asyncio.sleep(0.01)  # the guard is now setting leverage back, slowly
        run.cancel()
        return await run

    result = asyncio.run(interrupt_while_restoring())

    assert {symbol: stored_leverage(app, symbol) for symbol in SYMBOLS} == before
    assert "restoring the account before stopping (interrupt again to abandon)" in notices
    assert not any(note.startswith("RESTORE FAILED") for note in result.notes)


def test_trading_cases_skip_symbols_where_the_account_holds_a_position() -> None:
    app = create_app("binance-usdm")
    opened = asyncio.run(
        send_signed(
            app,
            "POST",
            "/fapi/v1/order",
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.002"},
        )
    )
    assert opened.status_code == 200, opened.text

    result = asyncio.run(engine.run(config(app, "binance-usdm", select="trading")))

    (trade,) = result.cases
    assert trade.outcome is Outcome.SKIP
    assert "held a BTCUSDT position at the start" in trade.message
    assert position_amount(app, "BTCUSDT") == Decimal("0.002")  # not the harness's to close


def test_the_guard_closes_a_position_a_case_left_open() -> None:
    app = create_app("ztdx")
    result = asyncio.run(engine.run(config(app, "ztdx", cases_path=FIXTURES / "engine-leave-open")))
    assert result.cases[0].outcome is Outcome.PASS
    assert position_amount(app, "BTCUSDT") == 0
    assert any(
        note.startswith("closed the primary BTCUSDT position the run left open") for note in result.notes
    )


def test_trading_is_off_unless_allowed() -> None:
    result = asyncio.run(
        engine.run(config(create_app("ztdx"), "ztdx", allow_trading=False, select="trading"))
    )
    (trade,) = result.cases
    assert trade.outcome is Outcome.SKIP
    assert "trading" in trade.message


def test_an_unreachable_target_is_reported_before_any_case() -> None:
    unreachable = engine.RunConfig(target="http://127.0.0.1:9", accounts=ACCOUNTS, cases_path=CASES)
    with pytest.raises(UnreachableTarget, match=r"GET http://127\.0\.0\.1:9/fapi/v1/time is unreachable"):
        asyncio.run(engine.run(unreachable))


def test_a_markets_file_that_disagrees_with_the_venue_is_reported(tmp_path: Path) -> None:
    text = default_markets_file().read_text(encoding="utf-8")
    edited = tmp_path / "markets.yaml"
    edited.write_text(text.replace('price: "65000.00"', 'price: "64000.00"'), encoding="utf-8")
    assert edited.read_text() != text

    result = asyncio.run(engine.run(config(create_app("ztdx"), "ztdx", markets_file=edited)))

    (disagreement,) = [d for d in result.disagreements if d.symbol == "BTCUSDT"]
    assert (disagreement.fact, disagreement.file_value, disagreement.venue_value) == (
        "price",
        "64000",
        "65000",
    )
    assert result.verdict is Verdict.CONFORMANT  # the venue's ticker wins for the price


def test_the_results_document_validates_and_carries_no_secret() -> None:
    result = asyncio.run(engine.run(config(create_app("ztdx"), "ztdx")))
    secrets = [c.api_secret for c in ACCOUNTS.values()]
    keys = [c.api_key for c in ACCOUNTS.values()]
    document = results.to_document(result, results.Redactor(secrets=secrets, api_keys=keys))
    results.validate(document)
    text = json.dumps(document, ensure_ascii=False)
    for secret in (*secrets, *keys):
        assert secret not in text
    step = document["cases"][0]["steps"][0]
    assert step["request"]["signed_payload"].startswith("symbol=")
    assert ("x-mbx-apikey", "…" + keys[0][-4:]) in [tuple(h) for h in step["request"]["headers"]]


def test_a_malformed_case_file_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("id: Bad Id\ndescription: x\nclause: LEV-OK\nsteps: []\n")
    with pytest.raises(engine.ConfigurationError, match=r"bad\.yaml:1:5"):
        asyncio.run(engine.run(config(create_app("ztdx"), "ztdx", cases_path=tmp_path)))


def test_without_a_markets_file_ztdx_cases_needing_the_minimum_are_skipped_not_guessed() -> None:
    """ZTDX publishes no minimum leverage: the shipped suite must not judge a venue on an assumed one."""
    result = asyncio.run(engine.run(config(create_app("ztdx"), "ztdx", markets_file=None, cases_path=None)))
    judged_wrongly = [(c.id, c.message) for c in result.cases if c.outcome in (Outcome.FAIL, Outcome.ERROR)]
    assert judged_wrongly == []
    assert result.verdict is Verdict.CONFORMANT
    skipped = [c for c in result.cases if c.outcome is Outcome.SKIP]
    assert any("minimum leverage of SOLUSDT is not known" in c.message for c in skipped)
    assert any("is not published by the venue" in note for note in result.notes)
