"""The venue's clock: the harness signs with the venue's time, not its own.

:func:`measure_clock` asks ``GET <time path>`` several times and keeps the sample with the smallest round
trip: its offset is ``serverTime - (sent + received) / 2``, exact when the two legs take the same time and
wrong by at most half the round trip otherwise. The venue's time is then the local clock plus that offset.

A target that cannot be reached, or that answers something other than ``{"serverTime": <int>}``, raises a
:class:`ClockError` after one short attempt: the CLI turns it into "unreachable target" (exit 3).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

DEFAULT_TIME_PATH = "/fapi/v1/time"
DEFAULT_SAMPLES = 5
CONNECT_TIMEOUT_S = 2.0  # an unreachable target must fail fast
READ_TIMEOUT_S = 5.0

LocalClock = Callable[[], float]  # the local wall clock, in epoch milliseconds


def wall_clock_ms() -> float:
    return time.time_ns() / 1_000_000


class ClockError(Exception):
    """The venue clock could not be read: the target is unreachable or answers garbage."""

    def __init__(self, target: str, reason: str) -> None:
        super().__init__(f"{target}: {reason}")
        self.target = target
        self.reason = reason


@dataclass(frozen=True)
class ClockSample:
    """One ``GET <time path>``: local send and receive times and the venue's answer, all in ms."""

    sent_ms: float
    received_ms: float
    server_ms: int

    @property
    def round_trip_ms(self) -> float:
        return self.received_ms - self.sent_ms

    @property
    def offset_ms(self) -> float:
        return self.server_ms - (self.sent_ms + self.received_ms) / 2


class VenueClock:
    """The venue's time as the local clock plus a measured offset."""

    def __init__(
        self,
        offset_ms: float = 0.0,
        round_trip_ms: float = 0.0,
        *,
        local_ms: LocalClock = wall_clock_ms,
        samples: tuple[ClockSample, ...] = (),
    ) -> None:
        self._offset_ms = offset_ms
        self._round_trip_ms = round_trip_ms
        self._local_ms = local_ms
        self.samples = samples

    @classmethod
    def from_samples(cls, samples: list[ClockSample], *, local_ms: LocalClock = wall_clock_ms) -> VenueClock:
        """The clock of the minimum-round-trip sample."""
        if not samples:
            raise ValueError("at least one sample is needed")
        best = min(samples, key=lambda s: s.round_trip_ms)
        return cls(best.offset_ms, best.round_trip_ms, local_ms=local_ms, samples=tuple(samples))

    @property
    def offset_ms(self) -> float:
        """Venue time minus local time."""
        return self._offset_ms

    @property
    def round_trip_ms(self) -> float:
        """The round trip of the sample the offset came from."""
        return self._round_trip_ms

    def now_ms(self) -> int:
        """The venue's time now, in epoch milliseconds."""
        return round(self._local_ms() + self._offset_ms)

    def __repr__(self) -> str:
        return f"VenueClock(offset_ms={self._offset_ms:.1f}, round_trip_ms={self._round_trip_ms:.1f})"


def _timeout() -> httpx.Timeout:
    return httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)


def _server_time(target: str, response: httpx.Response) -> int:
    if response.status_code != 200:
        raise ClockError(target, f"answered HTTP {response.status_code}, not the server time")
    try:
        document = json.loads(response.content)
    except ValueError:
        raise ClockError(target, "answered something that is not JSON") from None
    value = document.get("serverTime") if isinstance(document, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ClockError(target, 'answered JSON without an integer "serverTime"')
    return value


def _target(client: httpx.Client | httpx.AsyncClient, path: str) -> str:
    try:
        return f"GET {client.base_url.join(path)}"
    except httpx.InvalidURL:
        return f"GET {path}"


def _transport_error(target: str, exc: httpx.HTTPError) -> ClockError:
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "is unreachable"
    detail = str(exc) or type(exc).__name__
    return ClockError(target, f"{kind} ({detail})")


async def measure_clock(
    client: httpx.AsyncClient,
    path: str = DEFAULT_TIME_PATH,
    *,
    samples: int = DEFAULT_SAMPLES,
    local_ms: LocalClock = wall_clock_ms,
) -> VenueClock:
    """Measure the venue clock with ``samples`` sequential ``GET path`` requests (no retries)."""
    target = _target(client, path)
    taken: list[ClockSample] = []
    for _ in range(max(1, samples)):
        sent = local_ms()
        try:
            response = await client.get(path, timeout=_timeout())
        except httpx.HTTPError as exc:
            raise _transport_error(target, exc) from exc
        received = local_ms()
        taken.append(ClockSample(sent, received, _server_time(target, response)))
    return VenueClock.from_samples(taken, local_ms=local_ms)


def measure_clock_sync(
    client: httpx.Client,
    path: str = DEFAULT_TIME_PATH,
    *,
    samples: int = DEFAULT_SAMPLES,
    local_ms: LocalClock = wall_clock_ms,
) -> VenueClock:
    """:func:`measure_clock` over a synchronous client."""
    target = _target(client, path)
    taken: list[ClockSample] = []
    for _ in range(max(1, samples)):
        sent = local_ms()
        try:
            response = client.get(path, timeout=_timeout())
        except httpx.HTTPError as exc:
            raise _transport_error(target, exc) from exc
        received = local_ms()
        taken.append(ClockSample(sent, received, _server_time(target, response)))
    return VenueClock.from_samples(taken, local_ms=local_ms)
