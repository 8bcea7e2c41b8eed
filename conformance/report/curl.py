"""A ``curl`` command that sends a recorded request again, byte for byte, from a shell.

The recorded request holds the API key masked to its last 4 characters and never the secret; the command
puts ``$CONFORMANCE_API_KEY`` where the key goes. Timestamp and signature are the recorded ones, so a
venue that checks the timestamp will now answer that it is stale: ``conformance replay`` re-signs.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from conformance.signing import API_KEY_HEADER

KEY_PLACEHOLDER = "$CONFORMANCE_API_KEY"

# Headers curl writes itself (or that only describe the connection httpx used).
_CURL_SETS = frozenset({"host", "content-length", "accept-encoding", "connection", "user-agent", "accept"})


def curl_command(request: Mapping[str, Any]) -> str:
    """The recorded request (a ``results.json`` request object) as a multi-line ``curl`` command."""
    method = str(request["method"]).upper()
    body = str(request["body"])
    lines = ["curl -sS -i"]
    if method != "GET" or body:
        lines[0] += f" -X {shlex.quote(method)}"
    for name, value in request["headers"]:
        lowered = str(name).lower()
        if lowered in _CURL_SETS:
            continue
        if lowered == API_KEY_HEADER.lower():
            # Double quotes: the shell expands the variable; the key itself never appears in a report.
            lines.append(f'-H "{name}: {KEY_PLACEHOLDER}"')
        else:
            lines.append("-H " + shlex.quote(f"{name}: {value}"))
    if body:
        lines.append("--data-raw " + shlex.quote(body))
    lines.append(shlex.quote(str(request["url"])))
    return " \\\n  ".join(lines)


def api_key_shown(request: Mapping[str, Any]) -> str | None:
    """The API key header of a recorded request as recorded (masked), or None when it had none."""
    for name, value in request["headers"]:
        if str(name).lower() == API_KEY_HEADER.lower():
            return str(value)
    return None


def replay_command(run_dir: str, case_id: str) -> str:
    """The command that re-sends a case with a fresh timestamp and signature."""
    return f"conformance replay {shlex.quote(run_dir)} {shlex.quote(case_id)}"
