"""The leverage endpoint (LEV-*): the response, the band per dialect, leverage parsing, maxNotionalValue."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.venue.venue_clauses import clause
from tests.venue.venue_client import Encoding, VenueClient, envelope

pytestmark = pytest.mark.anyio

LEVERAGE = "/fapi/v1/leverage"

# The default markets' bands (docs/reference-venue.md, "Default markets").
BANDS = {
    "binance-usdm": {"BTCUSDT": (1, 125), "ETHUSDT": (1, 100), "SOLUSDT": (1, 50)},
    "ztdx": {"BTCUSDT": (1, 125), "ETHUSDT": (1, 100), "SOLUSDT": (2, 50)},
}


@clause("LEV-OK")
async def test_an_in_band_leverage_returns_the_documented_body(venue: VenueClient) -> None:
    response = await venue.set_leverage("ETHUSDT", 33)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["leverage", "maxNotionalValue", "symbol"]
    assert type(body["leverage"]) is int
    assert isinstance(body["maxNotionalValue"], str)
    assert Decimal(body["maxNotionalValue"]) > 0
    assert isinstance(body["symbol"], str)


@clause("LEV-ECHO")
@pytest.mark.parametrize(("symbol", "leverage"), [("BTCUSDT", 125), ("ETHUSDT", 3), ("SOLUSDT", 50)])
async def test_the_response_echoes_the_accepted_leverage_and_symbol(
    venue: VenueClient, symbol: str, leverage: int
) -> None:
    body = (await venue.set_leverage(symbol, leverage)).json()
    assert (body["leverage"], body["symbol"]) == (leverage, symbol)


@clause("LEV-ECHO")
async def test_a_leading_zero_is_echoed_as_the_integer(venue: VenueClient) -> None:
    body = (await venue.set_leverage("BTCUSDT", "020")).json()
    assert body["leverage"] == 20


@clause("LEV-BOUNDS")
@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT", "SOLUSDT"])
async def test_both_ends_of_the_band_are_accepted(venue: VenueClient, symbol: str) -> None:
    low, high = BANDS[venue.profile][symbol]
    for leverage in (low, high):
        response = await venue.set_leverage(symbol, leverage)
        assert response.status_code == 200, response.text
        assert response.json()["leverage"] == leverage


@clause("LEV-BOUNDS")
@pytest.mark.parametrize("symbol", ["BTCUSDT", "SOLUSDT"])
@pytest.mark.parametrize("where", ["min-1", "max+1", "zero", "minus-one", "negative", "far-above"])
async def test_a_leverage_outside_the_band_is_rejected_with_4028(
    venue: VenueClient, symbol: str, where: str
) -> None:
    low, high = BANDS[venue.profile][symbol]
    leverage = {
        "min-1": low - 1,
        "max+1": high + 1,
        "zero": 0,
        "minus-one": -1,
        "negative": -20,
        "far-above": 999_999_999,
    }[where]
    status, code, msg = envelope(await venue.set_leverage(symbol, leverage))
    assert (status, code) == (400, -4028)
    if venue.profile == "binance-usdm":
        assert msg == f"Leverage {leverage} is not valid"
    else:
        assert msg == f"Leverage {leverage} is not valid. Max: {high}"


@clause("LEV-BOUNDS", "ztdx")
async def test_ztdx_rejects_leverage_1_below_a_min_leverage_of_2(venue: VenueClient) -> None:
    assert envelope(await venue.set_leverage("SOLUSDT", 1)) == (
        400,
        -4028,
        "Leverage 1 is not valid. Max: 50",
    )


@clause("LEV-BOUNDS", "binance-usdm")
async def test_binance_accepts_leverage_1_whatever_the_min_leverage(venue: VenueClient) -> None:
    assert (await venue.set_leverage("SOLUSDT", 1)).status_code == 200


@clause("LEV-NON-INTEGER")
@pytest.mark.parametrize(
    "text", ["20.5", "abc", "", "1e1", "0x14", "1" * 30, "9" * 10, "20abc", "٢٠", "20\n", "--20", "2 0"]
)
async def test_text_that_is_not_a_decimal_integer_is_rejected(venue: VenueClient, text: str) -> None:
    _, code, _ = envelope(await venue.set_leverage("BTCUSDT", text))
    assert code == (-1102 if text == "" else -1130)


@clause("LEV-NON-INTEGER", "ztdx")
@pytest.mark.parametrize(
    "value",
    [20.5, 20.0, True, False, "abc", "20.5", [20], {"value": 20}, 10**30, "1" * 40],
    ids=repr,
)
async def test_a_json_leverage_that_is_not_an_integer_is_rejected_with_1130(
    venue: VenueClient, value: Any
) -> None:
    response = await venue.send("POST", LEVERAGE, {"symbol": "BTCUSDT", "leverage": value}, encoding="json")
    assert envelope(response)[1] == -1130


@clause("LEV-NON-INTEGER", "ztdx")
@pytest.mark.parametrize("raw", ["2e1", "20E0", "1" * 5000], ids=["2e1", "20E0", "5000-digits"])
async def test_json_numbers_are_judged_as_written(venue: VenueClient, raw: str) -> None:
    body = '{"symbol":"BTCUSDT","leverage":' + raw + "}"
    query = f"timestamp={venue.clock.now}"
    response = await venue.raw(
        "POST",
        LEVERAGE,
        f"{query}&signature={venue.sign(query + body)}",
        body.encode(),
        {"Content-Type": "application/json"},
    )
    assert envelope(response)[1] == -1130


@clause("LEV-NON-INTEGER", "ztdx")
async def test_a_json_null_leverage_is_a_missing_parameter(venue: VenueClient) -> None:
    response = await venue.send("POST", LEVERAGE, {"symbol": "BTCUSDT", "leverage": None}, encoding="json")
    assert envelope(response)[1] == -1102


@clause("LEV-LENIENT")
@pytest.mark.parametrize(
    ("text", "accepted"), [("020", True), ("+20", False), (" 20", False), ("20.0", False)]
)
async def test_lenient_spellings_have_one_documented_outcome(
    venue: VenueClient, text: str, accepted: bool
) -> None:
    """INFO in the contract; the reference venue accepts leading zeros and nothing else."""
    response = await venue.set_leverage("BTCUSDT", text)
    if accepted:
        assert response.json()["leverage"] == 20
    else:
        assert envelope(response)[1] == -1130


@clause("LEV-STRING", "ztdx")
@pytest.mark.parametrize("value", [20, "20"], ids=["integer", "string"])
async def test_a_json_numeric_string_is_equivalent_to_the_integer(venue: VenueClient, value: object) -> None:
    response = await venue.send("POST", LEVERAGE, {"symbol": "BTCUSDT", "leverage": value}, encoding="json")
    assert response.json() == {"leverage": 20, "maxNotionalValue": "10000000", "symbol": "BTCUSDT"}
    assert await venue.leverage("BTCUSDT") == 20


@clause("LEV-ENCODINGS")
@pytest.mark.parametrize("leverage", [17, 126, "abc"], ids=["in-band", "out-of-band", "not-integer"])
async def test_every_encoding_has_the_same_outcome(venue: VenueClient, leverage: object) -> None:
    encodings: list[Encoding] = ["query", "form", "json"] if venue.profile == "ztdx" else ["query", "form"]
    outcomes = []
    for encoding in encodings:
        response = await venue.send(
            "POST",
            LEVERAGE,
            {"symbol": "BTCUSDT", "leverage": leverage},
            encoding=encoding,
        )
        outcomes.append((response.status_code, response.json()))
    assert all(outcome == outcomes[0] for outcome in outcomes), outcomes


@clause("LEV-ENCODINGS", "binance-usdm")
async def test_binance_does_not_read_a_json_body(venue: VenueClient) -> None:
    response = await venue.send("POST", LEVERAGE, {"symbol": "BTCUSDT", "leverage": 20}, encoding="json")
    _, code, msg = envelope(response)
    assert code == -1102
    assert "'symbol'" in msg


@clause("LEV-SYMBOL")
@pytest.mark.parametrize("symbol", ["NOPEUSDT", "btcusdt", "BTC-USDT", "ÄÖÜ", "B" * 1000])
async def test_an_unknown_symbol_is_rejected_with_1121(venue: VenueClient, symbol: str) -> None:
    assert envelope(await venue.set_leverage(symbol, 10)) == (400, -1121, "Invalid symbol.")


@clause("LEV-SYMBOL")
@pytest.mark.parametrize("missing", ["symbol", "leverage"])
async def test_a_missing_symbol_or_leverage_is_rejected_with_1102(venue: VenueClient, missing: str) -> None:
    params = {"symbol": "BTCUSDT", "leverage": 10}
    del params[missing]
    assert envelope(await venue.send("POST", LEVERAGE, params)) == (
        400,
        -1102,
        f"Mandatory parameter '{missing}' was not sent, was empty/null, or malformed.",
    )


@clause("LEV-NOTIONAL", "binance-usdm")
@pytest.mark.parametrize(
    ("leverage", "cap"),
    [
        (125, "50000"),
        (76, "50000"),
        (75, "100000"),
        (21, "100000"),
        (20, "250000"),
        (5, "5000000"),
        (1, "10000000"),
    ],
)
async def test_binance_max_notional_is_the_cap_of_the_highest_bracket_allowing_the_leverage(
    venue: VenueClient, leverage: int, cap: str
) -> None:
    body = (await venue.set_leverage("BTCUSDT", leverage)).json()
    assert Decimal(body["maxNotionalValue"]) == Decimal(cap)
    assert Decimal((await venue.position("BTCUSDT"))["maxNotionalValue"]) == Decimal(cap)


@clause("LEV-NOTIONAL", "ztdx")
@pytest.mark.parametrize(("symbol", "cap"), [("BTCUSDT", "10000000"), ("SOLUSDT", "2000000")])
async def test_ztdx_max_notional_is_the_symbols_max_position_size_whatever_the_leverage(
    venue: VenueClient, symbol: str, cap: str
) -> None:
    low, high = BANDS["ztdx"][symbol]
    for leverage in (low, 20, high):
        body = (await venue.set_leverage(symbol, leverage)).json()
        assert Decimal(body["maxNotionalValue"]) == Decimal(cap)
