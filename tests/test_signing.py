"""The signer: Binance's published known answers, every `sign:` directive on the wire, and no secret leaks.

Known answers: Binance's "SIGNED Endpoint Examples for POST /fapi/v1/order - HMAC Keys" (USDⓈ-M Futures,
General Info, https://developers.binance.com/docs/derivatives/usds-margined-futures/general-info) and
"SIGNED Endpoint Examples for POST /api/v3/order" (Spot REST API docs). These are public documentation
values, not credentials.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import requests

from conformance.clock import VenueClock
from conformance.model import SignSpec, TimestampSpec
from conformance.signing import (
    API_KEY_HEADER,
    SIGN_SPEC_EXTENSION,
    SIGNED_EXTENSION,
    SIGNED_PAYLOAD_EXTENSION,
    Credentials,
    RequestsSigner,
    SignedRequest,
    SigningError,
    VenueSigner,
    edge_margin_ms,
    hmac_sha256_hex,
    sign_request,
)
from conformance.wire import record_request

# --------------------------------------------------------------------------------------------------
# Binance's published examples

FUTURES_KEY = "dbefbc809e3e83c283a984c3a1459732ea7db1360ca80c5c2c8867408d28cc83"
FUTURES_SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
FUTURES_TIMESTAMP = 1591702613943
FUTURES_PAYLOAD = (
    "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC"
    "&recvWindow=5000&timestamp=1591702613943"
)
FUTURES_SIGNATURE = "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
# Example 3 (mixed) as published: the payload echoed to openssl has a space after "timestamp=" (the curl
# command of the same example sends none), and the published signature is the HMAC of that text.
FUTURES_MIXED_QUERY = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC"
FUTURES_MIXED_BODY_AS_SIGNED = "quantity=1&price=9000&recvWindow=5000&timestamp= 1591702613943"
FUTURES_MIXED_SIGNATURE = "f9d0ae5e813ef6ccf15c2b5a434047a0181cb5a342b903b367ca6d27a66e36f2"

SPOT_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SPOT_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
SPOT_TIMESTAMP = 1499827319559
SPOT_PAYLOAD = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
    "&recvWindow=5000&timestamp=1499827319559"
)
SPOT_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
SPOT_MIXED_QUERY = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
SPOT_MIXED_BODY = "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
SPOT_MIXED_SIGNATURE = "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"

FORM = "application/x-www-form-urlencoded"


def at(ms: int, round_trip_ms: float = 0.0) -> VenueClock:
    """A venue clock stopped at ``ms``."""
    return VenueClock(0.0, round_trip_ms, local_ms=lambda: float(ms))


def recording(seen: list[httpx.Request]) -> httpx.MockTransport:
    """A transport that keeps every request in ``seen`` and answers each ``200 {}``."""

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    return httpx.MockTransport(answer)


@pytest.mark.parametrize(
    ("secret", "payload", "signature"),
    [
        pytest.param(FUTURES_SECRET, FUTURES_PAYLOAD, FUTURES_SIGNATURE, id="futures-query-and-body"),
        pytest.param(
            FUTURES_SECRET,
            FUTURES_MIXED_QUERY + FUTURES_MIXED_BODY_AS_SIGNED,
            FUTURES_MIXED_SIGNATURE,
            id="futures-mixed",
        ),
        pytest.param(SPOT_SECRET, SPOT_PAYLOAD, SPOT_SIGNATURE, id="spot-query-and-body"),
        pytest.param(SPOT_SECRET, SPOT_MIXED_QUERY + SPOT_MIXED_BODY, SPOT_MIXED_SIGNATURE, id="spot-mixed"),
    ],
)
def test_hmac_matches_binance_published_signatures(secret: str, payload: str, signature: str) -> None:
    assert hmac_sha256_hex(secret, payload.encode()) == signature


def test_futures_example_1_query_string_through_the_signer() -> None:
    seen: list[httpx.Request] = []
    transport = recording(seen)
    signer = VenueSigner(
        Credentials(FUTURES_KEY, FUTURES_SECRET), at(FUTURES_TIMESTAMP), SignSpec(recv_window=5000)
    )
    params: dict[str, str | int] = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "quantity": 1,
        "price": 9000,
        "timeInForce": "GTC",
    }
    with httpx.Client(transport=transport, base_url="https://fapi.binance.com") as client:
        response = client.post("/fapi/v1/order", params=params, auth=signer)

    (sent,) = seen
    assert str(sent.url) == (
        f"https://fapi.binance.com/fapi/v1/order?{FUTURES_PAYLOAD}&signature={FUTURES_SIGNATURE}"
    )
    assert sent.headers[API_KEY_HEADER] == FUTURES_KEY
    assert sent.content == b""
    assert response.request.extensions[SIGNED_PAYLOAD_EXTENSION] == FUTURES_PAYLOAD


def test_futures_example_2_request_body_through_the_signer() -> None:
    body = "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC"
    signed = sign_request(
        "",
        body.encode(),
        FORM,
        SignSpec(recv_window=5000),
        Credentials(FUTURES_KEY, FUTURES_SECRET),
        venue_now_ms=FUTURES_TIMESTAMP,
    )
    assert signed.query == ""
    assert signed.body == f"{FUTURES_PAYLOAD}&signature={FUTURES_SIGNATURE}".encode()
    assert signed.payload == FUTURES_PAYLOAD.encode()
    assert signed.signed_in == "body"


def test_futures_example_3_mixed_payload_is_signed_byte_for_byte() -> None:
    # The published mixed example signs a body with a space in it; the signer never re-encodes, so the
    # published signature comes out (timestamp and recvWindow are already in that body).
    signed = sign_request(
        FUTURES_MIXED_QUERY,
        FUTURES_MIXED_BODY_AS_SIGNED.encode(),
        FORM,
        SignSpec(timestamp=TimestampSpec(mode="omit")),
        Credentials(FUTURES_KEY, FUTURES_SECRET),
        venue_now_ms=FUTURES_TIMESTAMP,
    )
    assert signed.payload == (FUTURES_MIXED_QUERY + FUTURES_MIXED_BODY_AS_SIGNED).encode()
    assert signed.signature == FUTURES_MIXED_SIGNATURE
    assert signed.body.endswith(b"&signature=" + FUTURES_MIXED_SIGNATURE.encode())


def test_spot_example_3_mixed_query_and_body_through_the_signer() -> None:
    seen: list[httpx.Request] = []
    transport = recording(seen)
    signer = VenueSigner(Credentials(SPOT_KEY, SPOT_SECRET), at(SPOT_TIMESTAMP), SignSpec(recv_window=5000))
    with httpx.Client(transport=transport, base_url="https://api.binance.com") as client:
        client.post(
            f"/api/v3/order?{SPOT_MIXED_QUERY}",
            content=b"quantity=1&price=0.1",
            headers={"content-type": FORM},
            auth=signer,
        )

    (sent,) = seen
    assert sent.url.query.decode() == SPOT_MIXED_QUERY  # as published: the curl URL
    assert sent.content == f"{SPOT_MIXED_BODY}&signature={SPOT_MIXED_SIGNATURE}".encode()  # the curl -d
    assert sent.headers["content-length"] == str(len(sent.content))
    assert sent.extensions[SIGNED_PAYLOAD_EXTENSION] == SPOT_MIXED_QUERY + SPOT_MIXED_BODY


@pytest.mark.parametrize("placement", ["query", "body"])
def test_spot_examples_1_and_2_one_location(placement: str) -> None:
    params = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
    query, body = (params, b"") if placement == "query" else ("", params.encode())
    signed = sign_request(
        query,
        body,
        FORM if body else None,
        SignSpec(recv_window=5000),
        Credentials(SPOT_KEY, SPOT_SECRET),
        venue_now_ms=SPOT_TIMESTAMP,
    )
    sent = signed.query if placement == "query" else signed.body.decode()
    assert sent == f"{SPOT_PAYLOAD}&signature={SPOT_SIGNATURE}"


# --------------------------------------------------------------------------------------------------
# A fake venue that checks the bytes it receives

OWN = Credentials("own-key-0000000000000000000000000000000000000000000000000000000owna", "own-SECRET-4a1f9d")
OTHER = Credentials(
    "other-key-00000000000000000000000000000000000000000000000000otherb", "other-SECRET-77c2e0"
)
NOW = 1_732_200_000_000


def without_signature(encoded: str) -> tuple[str, str | None]:
    """(the encoded text minus its `signature=` segment, the signature), as the venue reads them."""
    kept, signature = [], None
    for segment in encoded.split("&") if encoded else []:
        if segment.startswith("signature="):
            signature = segment[len("signature=") :]
        else:
            kept.append(segment)
    return "&".join(kept), signature


class FakeVenue:
    """Records what it receives; works out which secret (if any) made the signature."""

    def __init__(self, *secrets: str) -> None:
        self.secrets = secrets or (OWN.api_secret, OTHER.api_secret)
        self.received: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.headers.get("content-length", str(len(request.content))) == str(len(request.content))
        self.received.append(request)
        return httpx.Response(200, json={"ok": True})

    @property
    def last(self) -> httpx.Request:
        return self.received[-1]

    def check(self, request: httpx.Request | None = None) -> dict[str, Any]:
        """What the venue sees: params by location, the payload, and which secret verifies."""
        request = request or self.last
        query, q_sig = without_signature(request.url.query.decode())
        is_json = request.headers.get("content-type", "").startswith("application/json")
        body_text = request.content.decode()
        body, b_sig = (body_text, None) if is_json else without_signature(body_text)
        signature = q_sig if q_sig is not None else b_sig
        payload = (query + body).encode()
        verified_by = None
        if signature:
            for secret in self.secrets:
                if hmac.compare_digest(
                    hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest(), signature.lower()
                ):
                    verified_by = secret
        return {
            "query": dict(parse_qsl(request.url.query.decode(), keep_blank_values=True)),
            "body": json.loads(body_text) if is_json else dict(parse_qsl(body_text, keep_blank_values=True)),
            "signature": signature,
            "signature_in": "query" if q_sig is not None else "body" if b_sig is not None else None,
            "payload": payload.decode(),
            "verified_by": verified_by,
            "key": request.headers.get(API_KEY_HEADER),
        }


def send(
    spec: SignSpec,
    *,
    method: str = "POST",
    params: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    json_body: Any = None,
    venue: FakeVenue | None = None,
    other: Credentials | None = OTHER,
    round_trip_ms: float = 0.0,
    random_hex: Any = None,
) -> tuple[FakeVenue, httpx.Response]:
    venue = venue or FakeVenue()
    extra = {"random_hex": random_hex} if random_hex else {}
    signer = VenueSigner(OWN, at(NOW, round_trip_ms), spec, other=other, **extra)
    with httpx.Client(transport=httpx.MockTransport(venue), base_url="http://venue.test") as client:
        response = client.request(
            method, "/fapi/v1/leverage", params=params, data=data, json=json_body, auth=signer
        )
    return venue, response


LEVERAGE = {"symbol": "BTCUSDT", "leverage": "20"}


def test_a_correct_client_signs_query_parameters() -> None:
    venue, response = send(SignSpec(), method="GET", params=LEVERAGE)
    seen = venue.check()
    assert (
        venue.last.url.query.decode()
        == f"symbol=BTCUSDT&leverage=20&timestamp={NOW}&signature={seen['signature']}"
    )
    assert seen["verified_by"] == OWN.api_secret
    assert seen["key"] == OWN.api_key
    assert seen["payload"] == f"symbol=BTCUSDT&leverage=20&timestamp={NOW}"
    assert response.request.extensions[SIGNED_PAYLOAD_EXTENSION] == seen["payload"]
    signed = response.request.extensions[SIGNED_EXTENSION]
    assert isinstance(signed, SignedRequest)
    assert signed.signature == seen["signature"]
    assert "content-length" not in venue.last.headers


def test_a_form_body_carries_timestamp_and_signature() -> None:
    venue, _ = send(SignSpec(recv_window=7000), data=LEVERAGE)
    seen = venue.check()
    assert venue.last.url.query == b""
    assert list(seen["body"]) == ["symbol", "leverage", "recvWindow", "timestamp", "signature"]
    assert seen["body"]["recvWindow"] == "7000"
    assert seen["signature_in"] == "body"
    assert seen["verified_by"] == OWN.api_secret
    assert venue.last.headers["content-type"] == FORM


def test_a_json_body_is_signed_as_raw_text_with_the_parameters_in_the_query() -> None:
    venue, _ = send(SignSpec(), json_body={"symbol": "BTCUSDT", "leverage": 20})
    seen = venue.check()
    assert venue.last.content == b'{"symbol":"BTCUSDT","leverage":20}'
    assert seen["payload"] == f'timestamp={NOW}{{"symbol":"BTCUSDT","leverage":20}}'
    assert seen["signature_in"] == "query"
    assert seen["verified_by"] == OWN.api_secret


def test_parameters_split_between_query_and_body() -> None:
    venue, _ = send(SignSpec(placement="query"), params={"symbol": "BTCUSDT"}, data={"leverage": "20"})
    seen = venue.check()
    assert seen["payload"] == f"symbol=BTCUSDT&timestamp={NOW}leverage=20"
    assert seen["signature_in"] == "query"
    assert seen["verified_by"] == OWN.api_secret

    venue, _ = send(SignSpec(placement="body"), params={"symbol": "BTCUSDT"}, data={"leverage": "20"})
    seen = venue.check()
    assert seen["payload"] == f"symbol=BTCUSDTleverage=20&timestamp={NOW}"
    assert seen["signature_in"] == "body"
    assert seen["verified_by"] == OWN.api_secret


def test_a_url_decoded_payload_is_signed_before_encoding() -> None:
    params = {"symbol": "BTCUSDT", "note": "a b/c+d"}
    venue, response = send(SignSpec(payload="url-decoded"), method="GET", params=params)
    seen = venue.check()
    assert venue.last.url.query.decode().startswith("symbol=BTCUSDT&note=a+b%2Fc%2Bd&timestamp=")
    assert seen["verified_by"] is None  # the bytes sent do not verify...
    decoded = f"symbol=BTCUSDT&note=a b/c+d&timestamp={NOW}"
    assert seen["signature"] == hmac_sha256_hex(OWN.api_secret, decoded.encode())  # ...their decoding does
    assert response.request.extensions[SIGNED_PAYLOAD_EXTENSION] == decoded


def test_placement_body_without_a_body_makes_a_form_body() -> None:
    venue, _ = send(SignSpec(placement="body"), params=LEVERAGE)
    seen = venue.check()
    assert venue.last.headers["content-type"] == FORM
    assert venue.last.content.startswith(f"timestamp={NOW}&signature=".encode())
    assert seen["verified_by"] == OWN.api_secret


def test_placement_body_is_undefined_for_json() -> None:
    with pytest.raises(SigningError, match="JSON"):
        send(SignSpec(placement="body"), json_body=LEVERAGE)


def counter_hex() -> Any:
    numbers = itertools.count(1)
    return lambda nbytes: f"{next(numbers):0{2 * nbytes}x}"


def test_secret_wrong_uses_a_random_secret() -> None:
    venue, response = send(SignSpec(secret="wrong"), params=LEVERAGE, random_hex=counter_hex())
    seen = venue.check()
    assert seen["verified_by"] is None
    assert seen["key"] == OWN.api_key
    random_secret = f"{1:064x}"
    assert seen["signature"] == hmac_sha256_hex(random_secret, seen["payload"].encode())
    assert response.request.extensions[SIGNED_PAYLOAD_EXTENSION] == seen["payload"]


def test_secret_other_account_keeps_the_own_key() -> None:
    venue, _ = send(SignSpec(secret="other-account"), params=LEVERAGE)
    seen = venue.check()
    assert seen["verified_by"] == OTHER.api_secret
    assert seen["key"] == OWN.api_key


def test_other_account_directives_need_a_second_account() -> None:
    for spec in (SignSpec(secret="other-account"), SignSpec(api_key="other-account")):
        with pytest.raises(SigningError, match="second account"):
            send(spec, params=LEVERAGE, other=None)


def test_signature_forms() -> None:
    correct = send(SignSpec(), params=LEVERAGE)[0].check()["signature"]
    assert correct is not None
    assert len(correct) == 64

    venue, _ = send(SignSpec(signature="omit"), params=LEVERAGE)
    assert "signature" not in venue.check()["query"]
    assert venue.check()["query"]["timestamp"] == str(NOW)

    venue, _ = send(SignSpec(signature="empty"), params=LEVERAGE)
    assert venue.last.url.query.decode().endswith("&signature=")

    venue, _ = send(SignSpec(signature="upper"), params=LEVERAGE)
    assert venue.check()["signature"] == correct.upper()
    assert venue.check()["verified_by"] == OWN.api_secret  # "the signature is not case sensitive"

    venue, _ = send(SignSpec(signature="truncate"), params=LEVERAGE)
    assert venue.check()["signature"] == correct[:62]
    assert venue.check()["verified_by"] is None

    venue, _ = send(SignSpec(signature="non-hex"), params=LEVERAGE)
    non_hex = venue.check()["signature"]
    assert len(non_hex) == 64
    assert non_hex[:63] == correct[:63]
    assert non_hex[63] not in "0123456789abcdefABCDEF"


def test_tamper_changes_a_query_parameter_after_signing() -> None:
    venue, response = send(SignSpec(tamper={"leverage": 21}), params=LEVERAGE)
    seen = venue.check()
    assert seen["query"]["leverage"] == "21"
    assert seen["verified_by"] is None
    signed_over = response.request.extensions[SIGNED_PAYLOAD_EXTENSION]
    assert "leverage=20" in signed_over
    assert hmac_sha256_hex(OWN.api_secret, signed_over.encode()) == seen["signature"]


def test_tamper_prefers_the_query_when_a_parameter_is_in_both_places() -> None:
    venue, _ = send(SignSpec(tamper={"leverage": 7}), params={"leverage": "20"}, data={"leverage": "20"})
    seen = venue.check()
    assert seen["query"]["leverage"] == "7"
    assert seen["body"]["leverage"] == "20"


def test_tamper_changes_a_form_body_parameter() -> None:
    venue, _ = send(SignSpec(tamper={"symbol": "ETHUSDT"}), data=LEVERAGE)
    seen = venue.check()
    assert seen["body"]["symbol"] == "ETHUSDT"
    assert seen["verified_by"] is None


def test_tamper_changes_a_json_body_value_only() -> None:
    venue, _ = send(SignSpec(tamper={"leverage": 21}), json_body={"symbol": "BTCUSDT", "leverage": 20})
    assert venue.last.content == b'{"symbol":"BTCUSDT","leverage":21}'
    assert venue.check()["verified_by"] is None


def test_tamper_adds_a_missing_parameter_where_the_signature_went() -> None:
    venue, _ = send(SignSpec(tamper={"extra": "1"}), data=LEVERAGE)
    assert venue.last.content.endswith(b"&extra=1")
    assert venue.check()["verified_by"] is None


def test_tamper_can_change_the_timestamp_itself() -> None:
    venue, _ = send(SignSpec(tamper={"timestamp": NOW + 1}), params=LEVERAGE)
    assert venue.check()["query"]["timestamp"] == str(NOW + 1)
    assert venue.check()["verified_by"] is None


def timestamp_of(spec: SignSpec, round_trip_ms: float = 0.0) -> str | None:
    venue, _ = send(spec, params=LEVERAGE, round_trip_ms=round_trip_ms)
    seen = venue.check()
    assert seen["verified_by"] == OWN.api_secret
    value = seen["query"].get("timestamp")
    return str(value) if value is not None else None


def test_timestamp_directives() -> None:
    assert timestamp_of(SignSpec(timestamp=TimestampSpec(mode="omit"))) is None
    assert timestamp_of(SignSpec(timestamp=TimestampSpec(offset_ms=-1500))) == str(NOW - 1500)
    assert timestamp_of(SignSpec(timestamp=TimestampSpec(mode="literal", value="abc"))) == "abc"
    assert timestamp_of(SignSpec(timestamp=TimestampSpec(mode="literal", value=""))) == ""


def test_a_literal_timestamp_is_percent_encoded() -> None:
    venue, _ = send(SignSpec(timestamp=TimestampSpec(mode="literal", value="1 2")), params=LEVERAGE)
    assert "timestamp=1%202" in venue.last.url.query.decode()


@pytest.mark.parametrize(
    ("edge", "side", "recv_window", "round_trip_ms", "expected"),
    [
        ("stale", "inside", None, 0, NOW - 5000 + 500),
        ("stale", "outside", None, 0, NOW - 5000 - 500),
        ("stale", "inside", 10000, 0, NOW - 10000 + 500),
        ("stale", "outside", 10000, 400, NOW - 10000 - 1200),
        ("future", "inside", None, 0, NOW + 1000 - 500),
        ("future", "outside", None, 0, NOW + 1000 + 500),
        ("future", "outside", None, 250.2, NOW + 1000 + 751),
    ],
)
def test_timestamp_edges_stay_clear_of_the_window(
    edge: Any, side: Any, recv_window: int | None, round_trip_ms: float, expected: int
) -> None:
    spec = SignSpec(timestamp=TimestampSpec(mode="edge", edge=edge, side=side), recv_window=recv_window)
    assert timestamp_of(spec, round_trip_ms) == str(expected)


def test_edge_margin_is_at_least_500_ms_or_three_round_trips() -> None:
    assert edge_margin_ms(0) == 500
    assert edge_margin_ms(166) == 500
    assert edge_margin_ms(167) == 501
    assert edge_margin_ms(1000) == 3000


def test_recv_window_is_sent_before_the_timestamp() -> None:
    venue, _ = send(SignSpec(recv_window=60001), params=LEVERAGE)
    assert venue.check()["payload"] == f"symbol=BTCUSDT&leverage=20&recvWindow=60001&timestamp={NOW}"


def test_api_key_directives() -> None:
    assert send(SignSpec(api_key="omit"), params=LEVERAGE)[0].check()["key"] is None
    assert send(SignSpec(api_key="other-account"), params=LEVERAGE)[0].check()["key"] == OTHER.api_key
    unknown = send(SignSpec(api_key="unknown"), params=LEVERAGE, random_hex=counter_hex())[0].check()["key"]
    assert unknown == f"{1:064x}"
    assert unknown not in (OWN.api_key, OTHER.api_key)


def test_api_key_omit_removes_a_header_the_client_set() -> None:
    venue = FakeVenue()
    signer = VenueSigner(OWN, at(NOW), SignSpec(api_key="omit"))
    with httpx.Client(transport=httpx.MockTransport(venue), headers={API_KEY_HEADER: OWN.api_key}) as client:
        client.get("http://venue.test/fapi/v1/leverage", auth=signer)
    assert API_KEY_HEADER not in venue.last.headers


def test_an_unsigned_public_request_is_left_alone() -> None:
    venue, response = send(SignSpec(enabled=False), method="GET", params={"symbol": "BTCUSDT"})
    assert venue.last.url.query == b"symbol=BTCUSDT"
    assert API_KEY_HEADER not in venue.last.headers
    assert response.request.extensions[SIGNED_PAYLOAD_EXTENSION] is None


def test_a_request_may_carry_its_own_spec() -> None:
    venue = FakeVenue()
    signer = VenueSigner(OWN, at(NOW), other=OTHER)
    with httpx.Client(transport=httpx.MockTransport(venue), base_url="http://venue.test") as client:
        request = client.build_request("GET", "/fapi/v1/time", params=LEVERAGE)
        request.extensions[SIGN_SPEC_EXTENSION] = SignSpec(secret="other-account")
        client.send(request, auth=signer)
    assert venue.check()["verified_by"] == OTHER.api_secret
    assert SIGN_SPEC_EXTENSION not in venue.last.extensions


def test_with_spec_keeps_credentials_and_clock() -> None:
    signer = VenueSigner(OWN, at(NOW), other=OTHER).with_spec(SignSpec(api_key="other-account"))
    venue = FakeVenue()
    with httpx.Client(transport=httpx.MockTransport(venue)) as client:
        client.get("http://venue.test/x", auth=signer)
    assert venue.check()["key"] == OTHER.api_key
    assert venue.check()["query"]["timestamp"] == str(NOW)


def test_the_async_client_signs_the_same_way() -> None:
    venue = FakeVenue()
    signer = VenueSigner(OWN, at(NOW), SignSpec(recv_window=5000))

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(venue)) as client:
            await client.post("http://venue.test/fapi/v1/leverage", data=LEVERAGE, auth=signer)

    asyncio.run(go())
    seen = venue.check()
    assert seen["verified_by"] == OWN.api_secret
    assert seen["payload"] == f"symbol=BTCUSDT&leverage=20&recvWindow=5000&timestamp={NOW}"


def test_the_signer_reads_the_venue_clock_at_send_time() -> None:
    local = iter([1000.0, 2000.0])
    clock = VenueClock(offset_ms=500.0, local_ms=lambda: next(local))
    venue = FakeVenue()
    with httpx.Client(transport=httpx.MockTransport(venue)) as client:
        signer = VenueSigner(OWN, clock)
        client.get("http://venue.test/a", auth=signer)
        client.get("http://venue.test/a", auth=signer)
    assert [venue.check(r)["query"]["timestamp"] for r in venue.received] == ["1500", "2500"]


# --------------------------------------------------------------------------------------------------
# The requests adapter (schemathesis)


def prepared(method: str, url: str, **kwargs: Any) -> requests.PreparedRequest:
    return requests.Request(method, url, **kwargs).prepare()


def test_requests_adapter_matches_the_httpx_signer() -> None:
    signer = VenueSigner(Credentials(SPOT_KEY, SPOT_SECRET), at(SPOT_TIMESTAMP), SignSpec(recv_window=5000))
    request = prepared(
        "POST",
        f"https://api.binance.com/api/v3/order?{SPOT_MIXED_QUERY}",
        data={"quantity": "1", "price": "0.1"},
    )
    adapter = signer.for_requests()
    adapter(request)
    assert request.url == f"https://api.binance.com/api/v3/order?{SPOT_MIXED_QUERY}"
    assert request.body == f"{SPOT_MIXED_BODY}&signature={SPOT_MIXED_SIGNATURE}".encode()
    assert request.headers["Content-Length"] == str(len(request.body))
    assert request.headers[API_KEY_HEADER] == SPOT_KEY
    # the adapter sets this attribute at run time; requests.PreparedRequest does not declare it
    assert vars(request)["signed_payload"] == SPOT_MIXED_QUERY + SPOT_MIXED_BODY
    assert adapter.last is not None
    assert adapter.last.signature == SPOT_MIXED_SIGNATURE


def test_requests_adapter_json_and_directives() -> None:
    signer = VenueSigner(OWN, at(NOW), other=OTHER)
    request = prepared(
        "POST", "http://venue.test/fapi/v1/leverage", json={"symbol": "BTCUSDT", "leverage": 20}
    )
    body = request.body
    RequestsSigner(signer, SignSpec(secret="other-account", api_key="omit"))(request)
    assert request.body == body
    assert request.url is not None
    query, signature = without_signature(request.url.split("?", 1)[1])
    assert query == f"timestamp={NOW}"
    assert isinstance(body, bytes)
    assert signature == hmac_sha256_hex(OTHER.api_secret, query.encode() + body)
    assert API_KEY_HEADER not in request.headers


def test_requests_adapter_get_without_body() -> None:
    signer = VenueSigner(
        Credentials(FUTURES_KEY, FUTURES_SECRET), at(FUTURES_TIMESTAMP), SignSpec(recv_window=5000)
    )
    request = prepared(
        "GET",
        "https://fapi.binance.com/fapi/v1/order",
        params=[
            ("symbol", "BTCUSDT"),
            ("side", "BUY"),
            ("type", "LIMIT"),
            ("quantity", "1"),
            ("price", "9000"),
            ("timeInForce", "GTC"),
        ],
    )
    signer.for_requests()(request)
    assert (
        request.url
        == f"https://fapi.binance.com/fapi/v1/order?{FUTURES_PAYLOAD}&signature={FUTURES_SIGNATURE}"
    )
    assert request.body is None


# --------------------------------------------------------------------------------------------------
# The secret stays secret


def every_directive() -> list[SignSpec]:
    return [
        SignSpec(),
        SignSpec(secret="wrong"),
        SignSpec(secret="other-account"),
        *(SignSpec(signature=form) for form in ("omit", "empty", "upper", "truncate", "non-hex")),
        SignSpec(tamper={"leverage": 1}),
        SignSpec(placement="body"),
        SignSpec(placement="query"),
        SignSpec(timestamp=TimestampSpec(mode="edge", edge="stale", side="outside"), recv_window=6000),
        SignSpec(timestamp=TimestampSpec(mode="literal", value="x")),
        SignSpec(api_key="unknown"),
        SignSpec(api_key="other-account"),
        SignSpec(enabled=False),
    ]


def test_no_secret_in_requests_records_reprs_or_extensions() -> None:
    hidden = (OWN.api_secret, OTHER.api_secret)
    for spec in every_directive():
        _, response = send(spec, data=LEVERAGE)
        sent = response.request
        record = record_request(sent, OWN, OTHER)
        texts = [
            repr(record),
            repr(sent.extensions),
            repr(VenueSigner(OWN, at(NOW), spec, other=OTHER)),
            str(sent.url),
            sent.content.decode(),
            repr(sent.headers),
        ]
        for text in texts:
            for secret in hidden:
                assert secret not in text, (spec, text)
        assert record.signed_payload == sent.extensions[SIGNED_PAYLOAD_EXTENSION]
        for name, value in record.headers:
            if name.lower() == API_KEY_HEADER.lower():
                assert value.startswith("…")
                assert len(value) == 5


def test_record_request_redacts_a_secret_that_slipped_into_a_parameter() -> None:
    venue, response = send(SignSpec(tamper={"note": OWN.api_secret}), params=LEVERAGE)
    assert OWN.api_secret in str(venue.last.url)  # sent as asked...
    record = record_request(response.request, OWN)
    assert OWN.api_secret not in record.url  # ...but never recorded
    assert "note=<redacted>" in record.url


def test_signing_errors_never_show_a_secret() -> None:
    problems = [
        replace(SignSpec(), secret="other-account"),
        SignSpec(placement="body"),
        SignSpec(timestamp=TimestampSpec(mode="edge")),
        SignSpec(timestamp=TimestampSpec(mode="edge", edge="stale", side="inside"), recv_window="soon"),
    ]
    for spec in problems:
        with pytest.raises(SigningError) as caught:
            send(spec, json_body=LEVERAGE, other=None)
        assert OWN.api_secret not in str(caught.value)
        assert OWN.api_secret not in repr(caught.value)


def test_an_inside_edge_needs_room_on_both_sides() -> None:
    # recvWindow 100 with a 400 ms round trip: the window [now-100, now+1000) cannot hold a timestamp
    # 1200 ms clear of both edges, so no honest "inside" timestamp exists.
    spec = SignSpec(timestamp=TimestampSpec(mode="edge", edge="stale", side="inside"), recv_window=100)
    with pytest.raises(SigningError, match="clear of both edges"):
        send(spec, params=LEVERAGE, round_trip_ms=400)
    assert timestamp_of(replace(spec, recv_window=2000)) == str(NOW - 2000 + 500)


def test_requests_session_sends_what_the_adapter_signed() -> None:
    sent: list[requests.PreparedRequest] = []

    class Capture(requests.adapters.BaseAdapter):
        def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
            sent.append(request)
            response = requests.Response()
            response.status_code = 200
            response.request = request
            return response

        def close(self) -> None:
            pass

    signer = VenueSigner(OWN, at(NOW), SignSpec(signature="upper"))
    with requests.Session() as session:
        session.mount("http://", Capture())
        session.post("http://venue.test/fapi/v1/leverage", data=LEVERAGE, auth=signer.for_requests())
    (request,) = sent
    assert isinstance(request.body, bytes)
    body, signature = without_signature(request.body.decode())
    assert body == f"symbol=BTCUSDT&leverage=20&timestamp={NOW}"
    assert signature == hmac_sha256_hex(OWN.api_secret, body.encode()).upper()
    assert request.headers[API_KEY_HEADER] == OWN.api_key


def test_tamper_keeps_the_layout_of_a_json_body() -> None:
    body = '{"symbol": "BTCUSDT", "note": "ü", "leverage": 20}'.encode()
    signed = sign_request(
        "", body, "application/json", SignSpec(tamper={"leverage": "21"}), OWN, venue_now_ms=NOW
    )
    assert signed.body == '{"symbol": "BTCUSDT", "note": "ü", "leverage": "21"}'.encode()
    assert signed.payload == f"timestamp={NOW}".encode() + body
