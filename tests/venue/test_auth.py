"""Request security and timing (AUTH-*, TIME-*): key, signature over the exact bytes, the timestamp window."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from conformance.venue import Account
from tests.venue.venue_clauses import clause
from tests.venue.venue_client import OMIT, FixedClock, OpenVenue, VenueClient, envelope, hmac_hex

pytestmark = pytest.mark.anyio

LEVERAGE = "/fapi/v1/leverage"


# -- the API key ------------------------------------------------------------------------------------


@clause("AUTH-KEY-MISSING")
@pytest.mark.parametrize("key", [OMIT, ""], ids=["absent", "empty"])
async def test_a_request_without_an_api_key_is_rejected_with_2014(venue: VenueClient, key: object) -> None:
    status, code, msg = envelope(await venue.set_leverage("BTCUSDT", 10, api_key=key))
    assert (status, code, msg) == (401, -2014, "API-key format invalid.")


@clause("AUTH-KEY-UNKNOWN")
async def test_an_unknown_api_key_is_rejected_with_2015(venue: VenueClient) -> None:
    response = await venue.set_leverage("BTCUSDT", 10, api_key="x" * 64)
    assert envelope(response) == (401, -2015, "Invalid API-key, IP, or permissions for action.")


# -- the signature ----------------------------------------------------------------------------------


@clause("AUTH-SIG-MISSING")
@pytest.mark.parametrize("signature", [OMIT, ""], ids=["absent", "empty"])
async def test_a_request_without_a_signature_is_rejected_with_1102(
    venue: VenueClient, signature: object
) -> None:
    _, code, msg = envelope(await venue.set_leverage("BTCUSDT", 10, signature=signature))
    assert code == -1102
    assert "'signature'" in msg


@clause("AUTH-SIG-INVALID")
@pytest.mark.parametrize(
    "mistake", ["wrong-secret", "other-account", "tampered", "truncated", "non-hex", "unicode"]
)
async def test_a_wrong_signature_is_rejected_with_1022(venue: VenueClient, mistake: str) -> None:
    assert venue.other is not None
    options: dict[str, dict[str, Any]] = {
        "wrong-secret": {"secret": "not-the-secret"},
        "other-account": {"secret": venue.other.api_secret},
        "tampered": {"tamper": {"leverage": "11"}},
        "truncated": {"signature": venue.sign("anything")[:-1]},
        "non-hex": {"signature": "z" * 64},
        "unicode": {"signature": "é" * 64},
    }
    response = await venue.set_leverage("BTCUSDT", 10, **options[mistake])
    assert envelope(response) == (400, -1022, "Signature for this request is not valid.")


@clause("AUTH-SIG-PAYLOAD")
@pytest.mark.parametrize(
    "placement",
    [
        pytest.param({"encoding": "query"}, id="all-in-query"),
        pytest.param({"encoding": "form"}, id="all-in-form-body"),
        pytest.param({"encoding": "form", "signature_in": "query"}, id="form-body-signature-in-query"),
        pytest.param({"encoding": "form", "query": {"symbol": "BTCUSDT"}}, id="split-query-and-body"),
    ],
)
async def test_a_correct_signature_is_accepted_however_the_parameters_are_split(
    venue: VenueClient, placement: dict[str, Any]
) -> None:
    params = {"leverage": 7} if "query" in placement else {"symbol": "BTCUSDT", "leverage": 7}
    response = await venue.send("POST", LEVERAGE, params, **placement)
    assert response.status_code == 200, response.text
    assert response.json()["leverage"] == 7


@clause("AUTH-SIG-PAYLOAD", "ztdx")
async def test_a_json_body_is_signed_as_its_raw_text(venue: VenueClient) -> None:
    body = '{"symbol": "BTCUSDT",  "leverage": 9}'  # spacing kept: the bytes are what is signed
    query = f"timestamp={venue.clock.now}"
    signature = venue.sign(query + body)
    response = await venue.raw(
        "POST",
        LEVERAGE,
        f"{query}&signature={signature}",
        body.encode(),
        {"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["leverage"] == 9


@clause("AUTH-SIG-PAYLOAD", "ztdx")
async def test_ztdx_accepts_a_signature_over_the_url_decoded_payload(venue: VenueClient) -> None:
    query = f"symbol=BTCUSDT&leverage=12&note={quote('a b/c')}&timestamp={venue.clock.now}"
    decoded = f"symbol=BTCUSDT&leverage=12&note=a b/c&timestamp={venue.clock.now}"
    response = await venue.raw("POST", LEVERAGE, f"{query}&signature={venue.sign(decoded)}")
    assert response.status_code == 200, response.text


@clause("AUTH-SIG-INVALID", "binance-usdm")
async def test_binance_does_not_accept_a_signature_over_the_url_decoded_payload(venue: VenueClient) -> None:
    query = f"symbol=BTCUSDT&leverage=12&note={quote('a b/c')}&timestamp={venue.clock.now}"
    decoded = f"symbol=BTCUSDT&leverage=12&note=a b/c&timestamp={venue.clock.now}"
    response = await venue.raw("POST", LEVERAGE, f"{query}&signature={venue.sign(decoded)}")
    assert envelope(response)[1] == -1022


# Binance's published signing example (General Info, "SIGNED Endpoint Examples for POST /api/v3/order").
BINANCE_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
BINANCE_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
BINANCE_TIMESTAMP = 1499827319559


@clause("AUTH-SIG-PAYLOAD")
@pytest.mark.parametrize(
    ("query", "body"),
    [
        pytest.param(
            "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000"
            "&timestamp=1499827319559&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71",
            "",
            id="example-1-query-string",
        ),
        pytest.param(
            "",
            "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000"
            "&timestamp=1499827319559&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71",
            id="example-2-request-body",
        ),
        pytest.param(
            "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC",
            "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
            "&signature=0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77",
            id="example-3-mixed",
        ),
    ],
)
async def test_binances_published_signing_examples_pass_authentication(
    profile: str, open_venue: OpenVenue, query: str, body: str
) -> None:
    clock = FixedClock(BINANCE_TIMESTAMP)
    venue = await open_venue(profile, accounts=[Account(BINANCE_KEY, BINANCE_SECRET)], clock=clock)
    response = await venue.raw(
        "POST", "/fapi/v1/order", query, body.encode(), {"Content-Type": "application/x-www-form-urlencoded"}
    )
    # Authentication passed: the order is then refused for its symbol, which this venue does not list.
    assert envelope(response)[1] == -1121


@clause("AUTH-SIG-CASE")
async def test_an_upper_case_hex_signature_is_accepted(venue: VenueClient) -> None:
    query = f"symbol=BTCUSDT&leverage=8&timestamp={venue.clock.now}"
    response = await venue.raw("POST", LEVERAGE, f"{query}&signature={venue.sign(query).upper()}")
    assert response.status_code == 200, response.text


@clause("AUTH-PRECEDENCE")
async def test_a_parameter_in_both_query_and_body_takes_the_querys_value(venue: VenueClient) -> None:
    response = await venue.send(
        "POST", LEVERAGE, {"symbol": "BTCUSDT", "leverage": 30}, encoding="form", query={"leverage": 10}
    )
    assert response.status_code == 200, response.text
    assert response.json()["leverage"] == 10
    assert await venue.leverage("BTCUSDT") == 10


@clause("AUTH-PRECEDENCE", "ztdx")
async def test_a_query_parameter_wins_over_the_json_body(venue: VenueClient) -> None:
    response = await venue.send(
        "POST", LEVERAGE, {"symbol": "BTCUSDT", "leverage": 30}, encoding="json", query={"leverage": 10}
    )
    assert response.status_code == 200, response.text
    assert response.json()["leverage"] == 10


# -- the timestamp ----------------------------------------------------------------------------------


@clause("TIME-MISSING")
@pytest.mark.parametrize("timestamp", [OMIT, "", "abc", "1.5", "-1", "1" * 25], ids=repr)
async def test_a_missing_or_malformed_timestamp_is_rejected_with_1102(
    venue: VenueClient, timestamp: object
) -> None:
    _, code, msg = envelope(await venue.set_leverage("BTCUSDT", 10, timestamp=timestamp))
    assert code == -1102
    assert "'timestamp'" in msg


@clause("TIME-STALE")
@pytest.mark.parametrize(("age", "recv_window"), [(5_001, None), (60_000, None), (10_001, 10_000)])
async def test_a_stale_timestamp_is_rejected_with_1021(
    venue: VenueClient, age: int, recv_window: int | None
) -> None:
    response = await venue.set_leverage(
        "BTCUSDT", 10, timestamp=venue.clock.now - age, recv_window=recv_window
    )
    assert envelope(response) == (400, -1021, "Timestamp for this request is outside of the recvWindow.")


@clause("TIME-FUTURE")
@pytest.mark.parametrize("ahead", [1_001, 5_000, 10**12])
async def test_a_timestamp_from_the_future_is_rejected_with_1021(venue: VenueClient, ahead: int) -> None:
    response = await venue.set_leverage("BTCUSDT", 10, timestamp=venue.clock.now + ahead)
    assert envelope(response) == (
        400,
        -1021,
        "Timestamp for this request was 1000ms ahead of the server's time.",
    )


@clause("TIME-FUTURE", "binance-usdm")
async def test_binance_rejects_a_timestamp_exactly_1000ms_ahead(venue: VenueClient) -> None:
    response = await venue.set_leverage("BTCUSDT", 10, timestamp=venue.clock.now + 1_000)
    assert envelope(response)[1] == -1021


@clause("TIME-WINDOW", "ztdx")
async def test_ztdx_accepts_a_timestamp_exactly_1000ms_ahead(venue: VenueClient) -> None:
    response = await venue.set_leverage("BTCUSDT", 10, timestamp=venue.clock.now + 1_000)
    assert response.status_code == 200, response.text


@clause("TIME-WINDOW")
@pytest.mark.parametrize(
    ("offset", "recv_window"),
    [(0, None), (-5_000, None), (999, None), (-20_000, 30_000), (-60_000, 60_000)],
    ids=["now", "stale-edge", "future-edge", "larger-window", "largest-window"],
)
async def test_a_timestamp_inside_the_window_is_accepted(
    venue: VenueClient, offset: int, recv_window: int | None
) -> None:
    response = await venue.set_leverage(
        "BTCUSDT", 10, timestamp=venue.clock.now + offset, recv_window=recv_window
    )
    assert response.status_code == 200, response.text


@clause("TIME-WINDOW")
async def test_the_window_follows_the_venues_clock(venue: VenueClient, clock: FixedClock) -> None:
    signed_at = clock.now
    clock.now += 4_000
    assert (await venue.set_leverage("BTCUSDT", 10, timestamp=signed_at)).status_code == 200
    clock.now += 2_000
    assert envelope(await venue.set_leverage("BTCUSDT", 10, timestamp=signed_at))[1] == -1021


@clause("TIME-RECVWINDOW-MAX")
async def test_a_recv_window_above_60000_is_rejected_with_1131(venue: VenueClient) -> None:
    response = await venue.set_leverage("BTCUSDT", 10, recv_window=60_001)
    assert envelope(response) == (400, -1131, "recvWindow must be less than or equal to 60000.")


@clause("TIME-RECVWINDOW-MAX")
@pytest.mark.parametrize("recv_window", ["abc", "0", "-5", "5000.5"])
async def test_a_malformed_recv_window_is_rejected_with_1102(venue: VenueClient, recv_window: str) -> None:
    response = await venue.send(
        "POST", LEVERAGE, {"symbol": "BTCUSDT", "leverage": 10, "recvWindow": recv_window}
    )
    _, code, msg = envelope(response)
    assert code == -1102
    assert "'recvWindow'" in msg


# -- the order of checks ----------------------------------------------------------------------------


@clause("AUTH-KEY-UNKNOWN")
async def test_the_api_key_is_checked_before_anything_else(venue: VenueClient) -> None:
    response = await venue.send(
        "POST", LEVERAGE, {"leverage": "abc"}, api_key="unknown", timestamp=0, signature="bad"
    )
    assert envelope(response)[1] == -2015


@clause("TIME-STALE")
async def test_the_window_is_checked_before_the_signature(venue: VenueClient) -> None:
    response = await venue.set_leverage("BTCUSDT", 10, timestamp=venue.clock.now - 10_000, secret="wrong")
    assert envelope(response)[1] == -1021


@clause("AUTH-SIG-INVALID")
async def test_the_signature_is_checked_before_business_rules(venue: VenueClient) -> None:
    response = await venue.set_leverage("NOPE", 999, secret="wrong")
    assert envelope(response)[1] == -1022


@clause("LEV-SYMBOL")
async def test_mandatory_parameters_are_checked_before_the_signature(venue: VenueClient) -> None:
    response = await venue.send("POST", LEVERAGE, {"symbol": "BTCUSDT"}, secret="wrong")
    _, code, msg = envelope(response)
    assert code == -1102
    assert "'leverage'" in msg


def test_the_test_signer_reproduces_binances_published_example() -> None:
    payload = (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000"
        "&timestamp=1499827319559"
    )
    assert hmac_hex(BINANCE_SECRET, payload.encode()) == (
        "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    )
