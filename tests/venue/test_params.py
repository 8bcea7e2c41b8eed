"""Reading parameters: locations, content types, duplicates, encodings, sizes; every rejection an envelope."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.venue.venue_clauses import clause
from tests.venue.venue_client import VenueClient, envelope

pytestmark = pytest.mark.anyio

LEVERAGE = "/fapi/v1/leverage"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}


@clause("ERR-ENVELOPE")
@pytest.mark.parametrize("location", ["query", "form"])
async def test_a_parameter_twice_in_one_location_is_rejected_with_1101(
    venue: VenueClient, location: str
) -> None:
    params = f"symbol=BTCUSDT&leverage=10&leverage=11&timestamp={venue.clock.now}"
    signed = f"{params}&signature={venue.sign(params)}"
    if location == "query":
        response = await venue.raw("POST", LEVERAGE, signed)
    else:
        response = await venue.raw("POST", LEVERAGE, body=signed.encode(), headers=FORM)
    assert envelope(response) == (400, -1101, "Duplicate values for a parameter detected.")


@clause("ERR-ENVELOPE", "ztdx")
async def test_a_key_twice_in_a_json_body_is_rejected_with_1101(venue: VenueClient) -> None:
    body = '{"symbol":"BTCUSDT","leverage":10,"leverage":11}'
    query = f"timestamp={venue.clock.now}"
    response = await venue.raw(
        "POST", LEVERAGE, f"{query}&signature={venue.sign(query + body)}", body.encode(), JSON
    )
    assert envelope(response)[1] == -1101


@clause("AUTH-PRECEDENCE")
async def test_the_signature_may_be_in_both_locations_and_the_querys_counts(venue: VenueClient) -> None:
    body = f"symbol=BTCUSDT&leverage=10&timestamp={venue.clock.now}"
    query = f"signature={venue.sign(body)}"
    response = await venue.raw("POST", LEVERAGE, query, f"{body}&signature={'0' * 64}".encode(), FORM)
    assert response.status_code == 200, response.text


@clause("LEV-ENCODINGS")
@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", "multipart/form-data; boundary=x", "application/octet-stream", None],
)
async def test_a_body_of_another_content_type_is_not_read(
    venue: VenueClient, content_type: str | None
) -> None:
    body = f"symbol=BTCUSDT&leverage=10&timestamp={venue.clock.now}"
    headers = {"Content-Type": content_type} if content_type else {}
    response = await venue.raw("POST", LEVERAGE, f"signature={venue.sign(body)}", body.encode(), headers)
    _, code, msg = envelope(response)
    assert code == -1102
    assert "'symbol'" in msg


@clause("LEV-ENCODINGS")
async def test_a_content_type_with_parameters_is_understood(venue: VenueClient) -> None:
    body = f"symbol=BTCUSDT&leverage=10&timestamp={venue.clock.now}"
    headers = {"Content-Type": "Application/X-WWW-Form-Urlencoded; charset=UTF-8"}
    response = await venue.raw(
        "POST", LEVERAGE, body=f"{body}&signature={venue.sign(body)}".encode(), headers=headers
    )
    assert response.status_code == 200, response.text


@clause("LEV-ENCODINGS", "ztdx")
async def test_an_empty_json_body_is_no_body(venue: VenueClient) -> None:
    query = f"symbol=BTCUSDT&leverage=10&timestamp={venue.clock.now}"
    response = await venue.raw("POST", LEVERAGE, f"{query}&signature={venue.sign(query)}", b"", JSON)
    assert response.status_code == 200, response.text


@clause("ERR-ENVELOPE", "ztdx")
@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"[]",
        b'"text"',
        b"20",
        b"null",
        b'{"leverage": NaN}',
        b"{'a': 1}",
        b"[" * 5000 + b"]" * 5000,
        b" ",
    ],
    ids=["truncated", "array", "string", "number", "null", "nan", "single-quotes", "deep", "blank"],
)
async def test_a_json_body_that_is_not_an_object_is_rejected_with_1100(
    venue: VenueClient, body: bytes
) -> None:
    query = f"timestamp={venue.clock.now}"
    response = await venue.raw(
        "POST", LEVERAGE, f"{query}&signature={venue.sign(query.encode() + body)}", body, JSON
    )
    assert envelope(response) == (400, -1100, "The request body is not a JSON object.")


@clause("ERR-ENVELOPE")
@pytest.mark.parametrize(
    ("query", "body"),
    [
        ("symbol=%FF&leverage=10", b""),
        ("", b"symbol=\xff\xfe&leverage=10"),
        ("", b"symbol=%C3%28&leverage=10"),
    ],
    ids=["query-percent-encoded", "form-raw-bytes", "form-percent-encoded"],
)
async def test_bytes_that_are_not_utf8_are_rejected_with_1100(
    venue: VenueClient, query: str, body: bytes
) -> None:
    response = await venue.raw("POST", LEVERAGE, query, body, FORM if body else {})
    assert envelope(response) == (400, -1100, "Illegal characters found in a parameter.")


@clause("ERR-ENVELOPE", "ztdx")
async def test_a_json_body_that_is_not_utf8_is_rejected_with_1100(venue: VenueClient) -> None:
    response = await venue.raw("POST", LEVERAGE, body=b'{"symbol": "\xff"}', headers=JSON)
    assert envelope(response)[1] == -1100


@clause("ERR-ENVELOPE")
@pytest.mark.parametrize("location", ["query", "form"])
async def test_more_than_100_parameters_are_rejected_with_1101(venue: VenueClient, location: str) -> None:
    params = "&".join(f"p{i}=1" for i in range(101))
    if location == "query":
        response = await venue.raw("POST", LEVERAGE, params)
    else:
        response = await venue.raw("POST", LEVERAGE, body=params.encode(), headers=FORM)
    assert envelope(response) == (400, -1101, "Too many parameters sent for this endpoint.")


@clause("ERR-ENVELOPE")
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
async def test_a_body_over_64_kib_is_rejected_with_413(venue: VenueClient, declared: bool) -> None:
    body = b"a=" + b"1" * 64 * 1024

    async def chunks() -> AsyncIterator[bytes]:
        yield body

    content = body if declared else chunks()
    response = await venue.http.post(LEVERAGE, content=content, headers={**FORM, "X-MBX-APIKEY": "k"})
    assert envelope(response) == (413, -1000, "Request body is larger than 65536 bytes.")


@clause("ERR-ENVELOPE")
async def test_a_huge_parameter_value_is_an_ordinary_rejection(venue: VenueClient) -> None:
    response = await venue.set_leverage("BTCUSDT", "9" * 20_000)
    assert envelope(response)[1] == -1130
    response = await venue.send("POST", LEVERAGE, {"symbol": "X" * 20_000, "leverage": 10})
    assert envelope(response)[1] == -1121


@clause("LEV-SYMBOL", "ztdx")
@pytest.mark.parametrize("symbol", [123, True, ["BTCUSDT"], {"s": 1}], ids=repr)
async def test_a_json_symbol_that_is_not_text_is_rejected(venue: VenueClient, symbol: object) -> None:
    response = await venue.send("POST", LEVERAGE, {"symbol": symbol, "leverage": 10}, encoding="json")
    assert envelope(response)[1] in (-1102, -1121)


@clause("TIME-MISSING", "ztdx")
async def test_signing_parameters_may_be_json_numbers_in_a_json_body(venue: VenueClient) -> None:
    body = f'{{"symbol":"BTCUSDT","leverage":10,"timestamp":{venue.clock.now},"recvWindow":5000}}'
    response = await venue.raw("POST", LEVERAGE, f"signature={venue.sign(body)}", body.encode(), JSON)
    assert response.status_code == 200, response.text
