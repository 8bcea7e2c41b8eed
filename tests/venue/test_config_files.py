"""The markets and accounts files: what they configure, and one-line errors pinned by a golden file.

Set ``UPDATE_GOLDEN=1`` to rewrite ``golden/config-errors.txt`` after an intended change of wording.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from conformance.venue import ConfigError, default_markets, load_accounts, load_markets
from tests.venue.venue_client import OpenVenue, envelope

GOLDEN = Path(__file__).parent / "golden" / "config-errors.txt"

VALID_SYMBOL = """\
symbols:
  BTCUSDT:
    min_leverage: 1
    max_leverage: 125
    max_position_size_usd: "10000000"
    brackets:
      - {bracket: 1, initialLeverage: 125, notionalCap: 50000}
"""

MARKETS_MISTAKES = {
    "not-a-mapping": "- BTCUSDT\n",
    "unknown-top-level-key": "symbol: {}\n",
    "no-symbols": "symbols: {}\n",
    "lower-case-symbol": VALID_SYMBOL.replace("BTCUSDT", "btcusdt"),
    "missing-max-leverage": VALID_SYMBOL.replace("    max_leverage: 125\n", ""),
    "max-below-min": VALID_SYMBOL.replace("min_leverage: 1", "min_leverage: 200"),
    "leverage-not-integer": VALID_SYMBOL.replace("max_leverage: 125", "max_leverage: abc"),
    "leverage-float": VALID_SYMBOL.replace("max_leverage: 125", "max_leverage: 12.5"),
    "typo-in-key": VALID_SYMBOL.replace("max_position_size_usd", "max_position_size"),
    "size-not-a-number": VALID_SYMBOL.replace('"10000000"', '"ten million"'),
    "size-zero": VALID_SYMBOL.replace('"10000000"', "0"),
    "no-brackets": VALID_SYMBOL.replace(
        "      - {bracket: 1, initialLeverage: 125, notionalCap: 50000}\n", ""
    ).replace("brackets:", "brackets: []"),
    "bracket-numbering": VALID_SYMBOL + "      - {bracket: 3, initialLeverage: 100, notionalCap: 60000}\n",
    "bracket-leverage-increases": VALID_SYMBOL
    + "      - {bracket: 2, initialLeverage: 150, notionalCap: 60000}\n",
    "bracket-cap-decreases": VALID_SYMBOL
    + "      - {bracket: 2, initialLeverage: 100, notionalCap: 40000}\n",
    "bad-price": VALID_SYMBOL + "    price: -5\n",
    "lot-max-below-min": VALID_SYMBOL
    + "    filters:\n      LOT_SIZE: {minQty: 1, maxQty: 0.5, stepSize: 0.1}\n",
    "lot-size-unknown-key": VALID_SYMBOL
    + "    filters:\n      LOT_SIZE: {minQty: 1, maxQty: 5, step: 0.1}\n",
    "duplicate-symbol": VALID_SYMBOL + VALID_SYMBOL.removeprefix("symbols:\n"),
    "invalid-yaml": "symbols: {BTCUSDT: [\n",
    "empty-file": "",
}

VALID_ACCOUNT = "accounts:\n  - {api_key: key1, api_secret: secret1}\n"

ACCOUNTS_MISTAKES = {
    "no-accounts": "accounts: []\n",
    "missing-secret": "accounts:\n  - {api_key: key1}\n",
    "numeric-key": "accounts:\n  - {api_key: 12345, api_secret: s}\n",
    "key-with-space": "accounts:\n  - {api_key: 'a b', api_secret: s}\n",
    "duplicate-key": VALID_ACCOUNT + "  - {api_key: key1, api_secret: secret2}\n",
    "unknown-field": "accounts:\n  - {api_key: k, api_secret: s, label: main}\n",
    "not-a-list": "accounts: {api_key: k, api_secret: s}\n",
}


def _error(loader: Callable[[Path], object], name: str, text: str, directory: Path) -> str:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        loader(Path(name))
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_every_mistake_in_a_config_file_is_one_line_pinned_by_the_golden_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    lines = [
        f"{name}: {_error(load_markets, 'markets.yaml', text, tmp_path)}"
        for name, text in MARKETS_MISTAKES.items()
    ]
    lines += [
        f"{name}: {_error(load_accounts, 'accounts.yaml', text, tmp_path)}"
        for name, text in ACCOUNTS_MISTAKES.items()
    ]
    lines.append(
        f"missing-file: {_error(lambda p: load_markets(p.with_name('nope.yaml')), 'x', '', tmp_path)}"
    )
    actual = "\n".join(lines) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(actual, encoding="utf-8")
    assert actual == GOLDEN.read_text(encoding="utf-8")


def test_the_default_markets_are_those_documented() -> None:
    markets = default_markets()
    facts = {
        symbol: (
            m.min_leverage,
            m.max_leverage,
            m.brackets[0].initial_leverage,
            str(m.price),
            str(m.lot_size.min_qty),
            str(m.lot_size.step_size),
            str(m.min_notional),
        )
        for symbol, m in markets.items()
    }
    assert facts == {
        "BTCUSDT": (1, 125, 125, "65000.00", "0.001", "0.001", "100"),
        "ETHUSDT": (1, 100, 100, "3200.00", "0.001", "0.001", "20"),
        "SOLUSDT": (2, 50, 50, "150.00", "1", "1", "5"),
    }


def test_optional_market_facts_have_defaults(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(VALID_SYMBOL, encoding="utf-8")
    (market,) = load_markets(tmp_path / "m.yaml").values()
    assert (market.price, market.min_notional, market.lot_size.step_size) == (
        Decimal("100.00"),
        Decimal(5),
        Decimal("0.001"),
    )
    bracket = market.brackets[0]
    assert (bracket.notional_floor, bracket.maint_margin_ratio, bracket.cum) == (
        Decimal(0),
        Decimal("0.004"),
        Decimal(0),
    )


@pytest.mark.anyio
async def test_a_markets_file_configures_band_notional_and_filters(
    profile: str, open_venue: OpenVenue, tmp_path: Path
) -> None:
    text = """\
symbols:
  DOGEUSDT:
    min_leverage: 3
    max_leverage: 10
    max_position_size_usd: 123456.5
    brackets:
      - {bracket: 1, initialLeverage: 8, notionalCap: 1000}
      - {bracket: 2, initialLeverage: 4, notionalCap: 5000}
    price: 0.25
    filters:
      LOT_SIZE: {minQty: 10, maxQty: 100000, stepSize: 10}
      MIN_NOTIONAL: {notional: 1}
"""
    (tmp_path / "markets.yaml").write_text(text, encoding="utf-8")
    venue = await open_venue(profile, markets=load_markets(tmp_path / "markets.yaml"))
    low, high = (1, 8) if profile == "binance-usdm" else (3, 10)
    assert (await venue.set_leverage("DOGEUSDT", low)).status_code == 200
    assert (await venue.set_leverage("DOGEUSDT", high)).status_code == 200
    assert envelope(await venue.set_leverage("DOGEUSDT", high + 1))[1] == -4028
    assert envelope(await venue.set_leverage("BTCUSDT", 5))[1] == -1121
    body = (await venue.set_leverage("DOGEUSDT", 5)).json()
    assert body["maxNotionalValue"] == ("1000" if profile == "binance-usdm" else "123456.5")
    assert envelope(await venue.order("DOGEUSDT", "BUY", "15"))[1] == -1111
    assert (await venue.order("DOGEUSDT", "BUY", "20")).status_code == 200
    assert await venue.margin("DOGEUSDT") == Decimal(5) / 5


@pytest.mark.anyio
async def test_an_accounts_file_replaces_the_demo_accounts(
    profile: str, open_venue: OpenVenue, tmp_path: Path
) -> None:
    (tmp_path / "accounts.yaml").write_text(VALID_ACCOUNT, encoding="utf-8")
    venue = await open_venue(profile, accounts=load_accounts(tmp_path / "accounts.yaml"))
    assert venue.account.api_key == "key1"
    assert (await venue.set_leverage("BTCUSDT", 5)).status_code == 200
    demo = await venue.set_leverage(
        "BTCUSDT", 5, api_key="DemoKey1tMXTKBWjbJpTDcAG4A5gxV7Uk3t7to0hqiDEC4BOjc2tOW2VSWw0ih0S"
    )
    assert envelope(demo)[1] == -2015
