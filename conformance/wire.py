"""Requests on the wire: a case step's request as exact bytes, and what was sent and received.

:func:`build` turns a resolved :class:`~conformance.model.RequestSpec` into an unsigned
``httpx.Request`` (the signer adds ``timestamp`` and ``signature`` to these very bytes);
:func:`record_request` and :func:`record_response` keep what crossed the wire, with the API key masked and
every secret of the run's credentials redacted (the signer never puts one on the wire; this is the second
line of defence).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final
from urllib.parse import urlencode

import httpx

from conformance.credentials import Credentials, mask_key, redact
from conformance.model import RecordedRequest, RecordedResponse
from conformance.signing import API_KEY_HEADER, SIGNED_PAYLOAD_EXTENSION

BODY_LIMIT: Final = 64 * 1024  # recorded body text is cut here

CONTENT_TYPES: Final = {
    "form": "application/x-www-form-urlencoded",
    "json": "application/json",
}


class RequestError(ValueError):
    """A step's request cannot be built (a harness or case problem, not a venue one)."""


def text(value: Any) -> str:
    """A parameter value as form/query text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value


def encode_pairs(params: Mapping[str, Any]) -> str:
    return urlencode([(name, text(value)) for name, value in params.items()])


def build(
    *,
    base_url: str,
    method: str,
    path: str,
    params: Mapping[str, Any],
    encoding: str = "query",
    query: Mapping[str, Any] | None = None,
    body: Mapping[str, Any] | None = None,
    raw_body: str | None = None,
    content_type: str | None = None,
    headers: Mapping[str, Any] | None = None,
) -> httpx.Request:
    """The unsigned request: ``params`` placed by ``encoding``, ``query``/``body`` forced."""
    if encoding not in ("query", "form", "json"):
        raise RequestError(f"unknown encoding {encoding!r} (expected query, form or json)")
    if not path.startswith("/"):
        raise RequestError(f"request path must start with '/': {path!r}")
    query_params = {**(params if encoding == "query" else {}), **(query or {})}
    body_params = {**(params if encoding != "query" else {}), **(body or {})}

    content: bytes = b""
    kind = content_type
    if raw_body is not None:
        if body_params:
            raise RequestError("a step cannot have both raw_body and body parameters")
        content = str(raw_body).encode("utf-8")
    elif body_params:
        if encoding == "json":
            content = json.dumps(_json_value(body_params), separators=(",", ":")).encode("utf-8")
            kind = kind or CONTENT_TYPES["json"]
        else:
            content = encode_pairs(body_params).encode("ascii")
            kind = kind or CONTENT_TYPES["form"]
    elif encoding == "json" and kind is None:
        kind = CONTENT_TYPES["json"]

    url = base_url.rstrip("/") + path
    query_text = encode_pairs(query_params)
    if query_text:
        url += "?" + query_text
    request_headers = {str(k): text(v) for k, v in (headers or {}).items()}
    if kind is not None and content:
        request_headers.setdefault("Content-Type", str(kind))
    return httpx.Request(method.upper(), url, content=content, headers=request_headers)


def _body_text(data: bytes) -> str:
    shown = data[:BODY_LIMIT].decode("utf-8", errors="replace")
    if len(data) > BODY_LIMIT:
        shown += f"… ({len(data) - BODY_LIMIT} more bytes)"
    return shown


def record_request(request: httpx.Request, *credentials: Credentials) -> RecordedRequest:
    """A request as sent, for reports: API keys masked, any secret of ``credentials`` redacted."""
    headers = tuple(
        (name, mask_key(value) if name.lower() == API_KEY_HEADER.lower() else redact(value, *credentials))
        for name, value in request.headers.multi_items()
    )
    payload = request.extensions.get(SIGNED_PAYLOAD_EXTENSION)
    return RecordedRequest(
        method=request.method,
        url=redact(str(request.url), *credentials),
        headers=headers,
        body=redact(_body_text(request.content), *credentials),
        signed_payload=redact(payload, *credentials) if isinstance(payload, str) else None,
    )


def record_response(response: httpx.Response, elapsed_ms: float) -> RecordedResponse:
    return RecordedResponse(
        status=response.status_code,
        headers=tuple(response.headers.multi_items()),
        body=_body_text(response.content),
        elapsed_ms=elapsed_ms,
    )


def parse_json(response: httpx.Response) -> tuple[bool, Any]:
    """(True, value) when the body is JSON, (False, None) otherwise. Hostile bodies never raise."""
    try:
        return True, json.loads(response.content)
    except (ValueError, RecursionError):
        return False, None
