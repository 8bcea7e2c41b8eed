"""The venue clock: offset from the minimum-round-trip sample, corrected by half the round trip."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from conformance.clock import (
    CONNECT_TIMEOUT_S,
    ClockError,
    ClockSample,
    VenueClock,
    measure_clock,
    measure_clock_sync,
)

TRUE_OFFSET = 12_345.0  # the venue runs 12.345 s ahead of the local clock
START = 1_732_200_000_000.0


class FakeTime:
    """A local clock that moves only when the fake network says so."""

    def __init__(self, start: float = START) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def venue(clock: FakeTime, legs: Iterator[tuple[float, float]]) -> Callable[[httpx.Request], httpx.Response]:
    """A venue whose answers take (uplink, downlink) ms from ``legs``, one pair per request."""

    def handle(request: httpx.Request) -> httpx.Response:
        uplink, downlink = next(legs)
        clock.now += uplink
        server_time = round(clock.now + TRUE_OFFSET)
        clock.now += downlink
        return httpx.Response(200, json={"serverTime": server_time})

    return handle


def measure(
    handler: Callable[[httpx.Request], httpx.Response], clock: FakeTime, samples: int = 5
) -> VenueClock:
    async def go() -> VenueClock:
        async with httpx.AsyncClient(
            transport=httpx.MockTransport(handler), base_url="http://venue.test"
        ) as client:
            return await measure_clock(client, "/fapi/v1/time", samples=samples, local_ms=clock)

    return asyncio.run(go())


def test_symmetric_legs_give_the_exact_offset() -> None:
    clock = FakeTime()
    measured = measure(venue(clock, iter([(40.0, 40.0)] * 5)), clock)
    assert measured.offset_ms == TRUE_OFFSET
    assert measured.round_trip_ms == 80.0


def test_the_midpoint_corrects_for_the_round_trip() -> None:
    # Without the correction (serverTime - received), a 400 ms round trip would be 200 ms off.
    clock = FakeTime()
    measured = measure(venue(clock, iter([(200.0, 200.0)])), clock, samples=1)
    (sample,) = measured.samples
    assert sample.server_ms - sample.received_ms == TRUE_OFFSET - 200
    assert measured.offset_ms == TRUE_OFFSET


def test_the_minimum_round_trip_sample_is_kept() -> None:
    clock = FakeTime()
    legs = [(300.0, 100.0), (5.0, 5.0), (80.0, 20.0), (1.0, 600.0), (50.0, 50.0)]
    measured = measure(venue(clock, iter(legs)), clock)
    assert measured.round_trip_ms == 10.0
    assert measured.offset_ms == TRUE_OFFSET
    assert len(measured.samples) == 5


def test_asymmetric_legs_err_by_at_most_half_the_round_trip() -> None:
    clock = FakeTime()
    measured = measure(venue(clock, iter([(90.0, 10.0)])), clock, samples=1)
    assert measured.offset_ms == TRUE_OFFSET + 40.0  # (uplink - downlink) / 2
    assert abs(measured.offset_ms - TRUE_OFFSET) <= measured.round_trip_ms / 2


def test_now_is_venue_time() -> None:
    clock = FakeTime()
    measured = measure(venue(clock, iter([(10.0, 10.0)] * 3)), clock, samples=3)
    clock.now += 60_000
    assert measured.now_ms() == round(clock.now + TRUE_OFFSET)


def test_from_samples_and_the_sample_arithmetic() -> None:
    sample = ClockSample(sent_ms=1000.0, received_ms=1100.0, server_ms=5050)
    assert sample.round_trip_ms == 100.0
    assert sample.offset_ms == 4000.0
    with pytest.raises(ValueError, match="sample"):
        VenueClock.from_samples([])


def test_the_sync_client_measures_the_same_way() -> None:
    clock = FakeTime()
    handler = venue(clock, iter([(30.0, 30.0), (10.0, 10.0)]))
    with httpx.Client(transport=httpx.MockTransport(handler), base_url="http://venue.test") as client:
        measured = measure_clock_sync(client, samples=2, local_ms=clock)
    assert measured.offset_ms == TRUE_OFFSET
    assert measured.round_trip_ms == 20.0


def test_each_request_has_a_short_connect_timeout() -> None:
    timeouts = []

    def handler(request: httpx.Request) -> httpx.Response:
        timeouts.append(request.extensions["timeout"])
        return httpx.Response(200, json={"serverTime": 1})

    measure(handler, FakeTime(), samples=2)
    assert [t["connect"] for t in timeouts] == [CONNECT_TIMEOUT_S, CONNECT_TIMEOUT_S]


@pytest.mark.parametrize(
    ("exception", "words"),
    [
        (httpx.ConnectError("connection refused"), "is unreachable (connection refused)"),
        (httpx.ConnectTimeout("too slow"), "timed out"),
    ],
)
def test_an_unreachable_target_fails_at_the_first_attempt(exception: Exception, words: str) -> None:
    attempts = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        raise exception

    with pytest.raises(ClockError) as caught:
        measure(handler, FakeTime())
    assert words in str(caught.value)
    assert str(caught.value).startswith("GET http://venue.test/fapi/v1/time: ")
    assert len(attempts) == 1


@pytest.mark.parametrize(
    ("response", "words"),
    [
        (httpx.Response(200, text="<html>hello</html>"), "not JSON"),
        (httpx.Response(200, json={"time": 1}), 'without an integer "serverTime"'),
        (httpx.Response(200, json={"serverTime": "1732200000000"}), 'without an integer "serverTime"'),
        (httpx.Response(200, json={"serverTime": True}), 'without an integer "serverTime"'),
        (httpx.Response(200, json=[1, 2]), 'without an integer "serverTime"'),
        (httpx.Response(404, json={"code": -5000, "msg": "Path not found."}), "HTTP 404"),
        (httpx.Response(503, text="busy"), "HTTP 503"),
    ],
)
def test_garbage_is_a_clock_error(response: httpx.Response, words: str) -> None:
    with pytest.raises(ClockError) as caught:
        measure(lambda request: response, FakeTime())
    assert words in caught.value.reason


def test_a_closed_port_fails_fast_over_a_real_socket() -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with (
        httpx.Client(base_url=f"http://127.0.0.1:{port}") as client,
        pytest.raises(ClockError, match="is unreachable"),
    ):
        measure_clock_sync(client)
    assert time.monotonic() - started < CONNECT_TIMEOUT_S + 1
