"""Serving over real sockets: the background-thread helper, and ``conformance serve`` as a subprocess."""

from __future__ import annotations

import signal
import threading
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from conformance.cli import main
from conformance.venue import DEMO_ACCOUNTS
from conformance.venue.server import running_venue
from tests.processes import Served
from tests.venue.venue_client import form, hmac_hex

ACCOUNT = DEMO_ACCOUNTS[0]
POSITION_PATH = {"binance-usdm": "/fapi/v2/positionRisk", "ztdx": "/fapi/v1/positionRisk"}


def signed(http: httpx.Client, method: str, path: str, params: Mapping[str, object]) -> httpx.Response:
    """A correctly signed request, timestamped with the venue's clock, all parameters in the query."""
    server_time = http.get("/fapi/v1/time").json()["serverTime"]
    query = form({**params, "timestamp": server_time})
    query += "&signature=" + hmac_hex(ACCOUNT.api_secret, query.encode())
    return http.request(method, f"{path}?{query}", headers={"X-MBX-APIKEY": ACCOUNT.api_key})


def position(http: httpx.Client, profile: str, symbol: str) -> dict[str, str]:
    (entry,) = signed(http, "GET", POSITION_PATH[profile], {"symbol": symbol}).json()
    return dict(entry)


@pytest.mark.parametrize("profile", ["binance-usdm", "ztdx"])
def test_running_venue_serves_on_a_free_loopback_port_and_stops(profile: str) -> None:
    with running_venue(profile) as url, httpx.Client(base_url=url) as http:
        assert url.startswith("http://127.0.0.1:")
        assert (
            signed(http, "POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 9}).status_code == 200
        )
        assert position(http, profile, "BTCUSDT")["leverage"] == "9"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/fapi/v1/time")


@pytest.mark.slow
def test_an_idle_connection_outlives_a_clients_five_second_keep_alive() -> None:
    """httpx (and Node) drop idle connections after 5 s, uvicorn's own default: when both are 5 s, a request
    can go out on a connection the server is closing ("Server disconnected without sending a response").
    The venue keeps idle connections longer than that."""
    import http.client
    import time
    from urllib.parse import urlsplit

    with running_venue("ztdx") as url:
        parts = urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
        try:
            connection.request("GET", "/fapi/v1/time")
            assert connection.getresponse().read().startswith(b'{"serverTime":')
            first = connection.sock
            time.sleep(6)
            connection.request("GET", "/fapi/v1/time")  # on the same socket: raises if the venue closed it
            assert connection.getresponse().read().startswith(b'{"serverTime":')
            assert connection.sock is first
        finally:
            connection.close()


def test_concurrent_orders_over_real_sockets_are_all_counted() -> None:
    """uvicorn serves requests concurrently: the store must not lose a fill."""
    with running_venue("ztdx") as url:
        failures: list[int] = []

        def trade() -> None:
            with httpx.Client(base_url=url) as http:
                for _ in range(5):
                    params = {"symbol": "SOLUSDT", "side": "BUY", "type": "MARKET", "quantity": 1}
                    response = signed(http, "POST", "/fapi/v1/order", params)
                    if response.status_code != 200:
                        failures.append(response.status_code)

        threads = [threading.Thread(target=trade) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        with httpx.Client(base_url=url) as http:
            held = position(http, "ztdx", "SOLUSDT")
        assert held["positionAmt"] == "30"
        assert Decimal(held["isolatedMargin"]) == Decimal(30 * 150) / 20


# -- conformance serve ------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["binance-usdm", "ztdx"])
def test_serve_keeps_leverage_and_positions_across_a_restart(profile: str, tmp_path: Path) -> None:
    state = tmp_path / "venue.sqlite3"
    first = Served("--profile", profile, "--port", "0", "--state", str(state))
    try:
        assert first.url.startswith("http://127.0.0.1:")
        assert not first.url.endswith(":0")
        assert first.banner[1].startswith("DEMO CREDENTIALS")
        assert ACCOUNT.api_key in first.banner[2]
        assert ACCOUNT.api_secret in first.banner[2]
        with httpx.Client(base_url=first.url) as http:
            assert (
                signed(http, "POST", "/fapi/v1/leverage", {"symbol": "ETHUSDT", "leverage": 7}).status_code
                == 200
            )
            order = {"symbol": "ETHUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.010"}
            assert signed(http, "POST", "/fapi/v1/order", order).status_code == 200
        assert first.stop(signal.SIGTERM) == 0
    finally:
        first.kill()

    second = Served("--profile", profile, "--state", str(state))
    try:
        with httpx.Client(base_url=second.url) as http:
            held = position(http, profile, "ETHUSDT")
        assert (held["leverage"], held["positionAmt"]) == ("7", "0.01")
        assert Decimal(held["isolatedMargin"]) == Decimal(32) / 7
        assert second.stop(signal.SIGINT) == 0
    finally:
        second.kill()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--profile", "bogus"], "Error: Invalid value for '--profile': 'bogus' is not one of"),
        ([], "Error: Missing option '--profile'."),
        (["--profile", "ztdx", "--port", "70000"], "Error: Invalid value for '--port'"),
        (["--profile", "ztdx", "--markets", "missing.yaml"], "Error: missing.yaml: no such file"),
        (
            ["--profile", "ztdx", "--accounts", "bad.yaml"],
            "Error: bad.yaml:1:1: expected a mapping, got a list",
        ),
        (
            ["--profile", "ztdx", "--state", "no/such/dir/x.sqlite3"],
            "Error: no/such/dir/x.sqlite3: cannot open",
        ),
        (["--profile", "ztdx", "--state", "bad.yaml"], "Error: bad.yaml: not a venue state file"),
        (
            ["--profile", "ztdx", "--host", "no.such.host.invalid"],
            "Error: cannot listen on no.such.host.invalid:0",
        ),
        (["--profile", "ztdx", "--fault", "no-such-fault"], "Error: unknown fault 'no-such-fault'"),
    ],
)
def test_serve_reports_a_bad_option_or_file_in_one_line_with_status_2(
    arguments: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("bad.yaml").write_text("- not an accounts file\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["serve", *arguments])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(message), lines[0]
    assert result.stdout == ""


def test_serve_reports_a_port_in_use() -> None:
    with running_venue("ztdx") as url:
        port = url.rsplit(":", 1)[1]
        result = CliRunner().invoke(main, ["serve", "--profile", "ztdx", "--port", port])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: cannot listen on 127.0.0.1:{port}: ")
