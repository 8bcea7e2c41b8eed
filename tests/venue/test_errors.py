"""ERR-ENVELOPE: every rejection is a 4xx ``{"code", "msg"}``; unknown paths, wrong methods, fuzzed input.

A 5xx appears only for a bug of the venue itself, and then without details.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.venue import DEMO_ACCOUNTS, create_app
from tests.venue.venue_clauses import clause
from tests.venue.venue_client import VenueClient, asgi_request, envelope

pytestmark = pytest.mark.anyio


@clause("ERR-ENVELOPE")
@pytest.mark.parametrize(
    "path", ["/", "/fapi/v1/nothing", "/fapi/v1/time/", "/fapi/v1/leverage/x", "/%00", "/" + "a" * 10_000]
)
async def test_an_unknown_path_is_404_with_the_envelope(venue: VenueClient, path: str) -> None:
    status, code, msg = envelope(await venue.http.get(path))
    assert (status, code) == (404, -5000)
    assert msg.startswith("Path /")
    assert len(msg) < 300


@clause("ERR-ENVELOPE")
@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/fapi/v1/leverage", "POST"),
        ("DELETE", "/fapi/v1/order", "POST"),
        ("PUT", "/fapi/v1/leverage", "POST"),
        ("POST", "/fapi/v1/time", "GET, HEAD"),
        ("PATCH", "/fapi/v1/exchangeInfo", "GET, HEAD"),
    ],
)
async def test_a_wrong_method_is_405_with_the_envelope(
    venue: VenueClient, method: str, path: str, allowed: str
) -> None:
    response = await venue.http.request(method, path)
    assert envelope(response) == (405, -5001, f"Method {method} not allowed on {path}.")
    assert set(response.headers["allow"].split(", ")) == set(allowed.split(", "))


@clause("ERR-ENVELOPE")
async def test_a_bug_in_the_venue_is_a_500_envelope_without_details(profile: str) -> None:
    app = create_app(profile)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    app.state.venue.exchange.change_leverage = broken
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://venue") as http:
        venue = VenueClient(http, DEMO_ACCOUNTS[0], app.state.venue.clock, profile, app=app)
        response = await venue.set_leverage("BTCUSDT", 10, timestamp=app.state.venue.clock())
    assert response.status_code == 500
    assert response.json() == {
        "code": -1000,
        "msg": "An unknown error occurred while processing the request.",
    }
    assert "secret" not in response.text
    venue.close()


# -- fuzzing ----------------------------------------------------------------------------------------

CONTENT_TYPES = st.sampled_from(
    [
        None,
        b"application/x-www-form-urlencoded",
        b"application/json",
        b"application/json; charset=latin-1",
        b"text/plain",
        b"multipart/form-data",
        b"\x7f\xff garbage",
    ]
)
API_KEYS = st.sampled_from([DEMO_ACCOUNTS[0].api_key.encode(), None, b"", b"unknown", b"\xc3\xa9\xff"])
PARAM_NAMES = st.sampled_from(
    ["symbol", "leverage", "timestamp", "recvWindow", "signature", "side", "quantity"]
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
FORMISH = st.lists(st.tuples(PARAM_NAMES | st.text(max_size=8), st.text(max_size=30)), max_size=8).map(
    lambda pairs: "&".join(f"{name}={value}" for name, value in pairs).encode("utf-8", "surrogatepass")
)
BODIES = (
    st.binary(max_size=300)
    | FORMISH
    | st.dictionaries(PARAM_NAMES, JSON_VALUES, max_size=6).map(lambda d: json.dumps(d).encode())
)
QUERIES = st.binary(max_size=200) | FORMISH


def _fuzz_settings() -> settings:
    return settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@clause("ERR-ENVELOPE")
@_fuzz_settings()
@given(
    method=st.sampled_from(["GET", "POST"]),
    path=st.sampled_from(
        [
            "/fapi/v1/leverage",
            "/fapi/v1/order",
            "/fapi/v1/leverageBracket",
            "/fapi/v1/ticker/price",
            "/fapi/v2/positionRisk",
            "/fapi/v1/positionRisk",
        ]
    ),
    query=QUERIES,
    body=BODIES,
    content_type=CONTENT_TYPES,
    api_key=API_KEYS,
)
async def test_no_input_makes_the_venue_fail_or_answer_without_the_envelope(
    venue: VenueClient,
    *,
    method: str,
    path: str,
    query: bytes,
    body: bytes,
    content_type: bytes | None,
    api_key: bytes | None,
) -> None:
    headers = [(b"content-type", content_type)] if content_type is not None else []
    if api_key is not None:
        headers.append((b"x-mbx-apikey", api_key))
    assert venue.app is not None
    response = await asgi_request(venue.app, method, path, query=query, body=body, headers=headers)
    assert response.status_code < 500, response.body
    if response.status_code >= 400:
        envelope(response)
    else:
        response.json()


@clause("ERR-ENVELOPE")
@_fuzz_settings()
@given(
    params=st.dictionaries(
        PARAM_NAMES | st.sampled_from(["type", "reduceOnly", "positionSide"]),
        st.text(max_size=25),
        max_size=8,
    ),
    encoding=st.sampled_from(["query", "form", "json"]),
)
async def test_correctly_signed_garbage_is_an_ordinary_rejection(
    venue: VenueClient, *, params: dict[str, str], encoding: Any
) -> None:
    for path in ("/fapi/v1/leverage", "/fapi/v1/order"):
        response = await venue.send("POST", path, params, encoding=encoding)
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            envelope(response)
