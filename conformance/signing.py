"""Request signing: HMAC-SHA256 over the exact bytes sent, and deliberate mis-signing for negative cases.

The venue's rule (both profiles): the payload is the raw query string concatenated with the raw body, no
separator, exactly as the bytes travel; ``timestamp`` (and ``recvWindow``) are appended before signing and
``signature`` is appended last. A JSON body is signed as its raw text, with the signing parameters in the
query.

One pure core, :func:`sign_request`, takes the raw query and body and a :class:`~conformance.model.SignSpec`
and returns what is to be sent. Every deliberate fault (wrong secret, tampered parameter, stale timestamp...)
is a directive of that spec, never a second code path. :class:`VenueSigner` applies the core to an
``httpx.Request``; :class:`RequestsSigner` applies the same core to a ``requests.PreparedRequest``
(schemathesis sends through ``requests``).

The secret never leaves :class:`~conformance.credentials.Credentials` except into the HMAC: it is not in any
``repr``, exception message, request extension or :class:`~conformance.model.RecordedRequest`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, unquote_plus, unquote_to_bytes, urlsplit, urlunsplit

import httpx
import requests.auth
from requests import PreparedRequest

from conformance.credentials import Credentials
from conformance.model import SignSpec

__all__ = [  # Credentials is re-exported: callers sign with it
    "API_KEY_HEADER",
    "SIGNED_EXTENSION",
    "SIGNED_PAYLOAD_EXTENSION",
    "SIGN_SPEC_EXTENSION",
    "Credentials",
    "RequestsSigner",
    "SignedRequest",
    "SigningError",
    "VenueSigner",
    "VenueTime",
    "edge_margin_ms",
    "hmac_sha256_hex",
    "sign_request",
    "timestamp_for",
]

API_KEY_HEADER = "X-MBX-APIKEY"
DEFAULT_RECV_WINDOW_MS = 5000  # what the venue assumes when no recvWindow is sent
FUTURE_LIMIT_MS = 1000  # a timestamp at or beyond serverTime + 1000 is rejected
MIN_EDGE_MARGIN_MS = 500

# request.extensions keys: a per-request SignSpec (overrides the signer's), and what the signer did.
SIGN_SPEC_EXTENSION = "conformance.sign_spec"
SIGNED_EXTENSION = "conformance.signed"  # the SignedRequest
SIGNED_PAYLOAD_EXTENSION = "conformance.signed_payload"  # str: the exact text the HMAC was computed over

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


class SigningError(Exception):
    """A request cannot be signed as asked (a directive needs a second account, a placement is undefined...).

    Messages never contain a secret.
    """


def hmac_sha256_hex(secret: str, payload: bytes) -> str:
    """The lower-case hex HMAC-SHA256 of ``payload`` under ``secret`` (Binance's HMAC signature)."""
    return hmac.new(secret.encode("utf-8"), payload, hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------------------------------
# The pure core


class VenueTime(Protocol):
    """What the signer needs of the venue clock (:class:`conformance.clock.VenueClock` is one)."""

    def now_ms(self) -> int: ...

    @property
    def round_trip_ms(self) -> float: ...


def edge_margin_ms(round_trip_ms: float) -> int:
    """How far timing cases stay from a window edge: max(500 ms, 3 x the measured round trip)."""
    return max(MIN_EDGE_MARGIN_MS, math.ceil(3 * max(round_trip_ms, 0.0)))


@dataclass(frozen=True)
class SignedRequest:
    """What the core decided: the exact query and body to send, and what was signed. Holds no secret."""

    query: str  # the raw query string, without "?"
    body: bytes
    content_type: str | None  # the Content-Type to send; None: leave the request's as it is
    api_key: str | None = field(repr=False)  # the X-MBX-APIKEY value; None: send no such header
    payload: bytes | None  # the exact bytes the HMAC was computed over; None for an unsigned request
    signature: str | None  # the value sent as `signature`; None when no `signature` parameter is sent
    timestamp: str | None  # the value sent as `timestamp`; None when none is sent
    signed_in: str | None  # "query" or "body": where timestamp, recvWindow and signature went

    @property
    def payload_text(self) -> str | None:
        if self.payload is None:
            return None
        return self.payload.decode("utf-8", errors="backslashreplace")


def _text(value: Any) -> str:
    """A parameter value as text: booleans as JSON spells them, None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _pair(name: str, value: Any) -> str:
    return f"{quote(name, safe='')}={quote(_text(value), safe='')}"


def _append(encoded: str, *pairs: str) -> str:
    parts = [encoded] if encoded else []
    parts.extend(pairs)
    return "&".join(parts)


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _is_json(content_type: str | None) -> bool:
    media = _media_type(content_type)
    return media == "application/json" or media.endswith("+json")


def _is_form(content_type: str | None) -> bool:
    return _media_type(content_type) == FORM_CONTENT_TYPE


def _as_int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise SigningError(f"{what} must be an integer (got {value!r})")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SigningError(f"{what} must be an integer (got {value!r})") from None


def timestamp_for(spec: SignSpec, venue_now_ms: int, round_trip_ms: float) -> str | None:
    """The ``timestamp`` text a spec asks for at venue time ``venue_now_ms``; None: send none.

    Edges (``serverTime`` is the venue's clock when the request arrives):
    stale: rejected when ``serverTime - timestamp > recvWindow``, so inside = now - recvWindow + margin,
    outside = now - recvWindow - margin; future: rejected when ``timestamp >= serverTime + 1000``, so
    inside = now + 1000 - margin, outside = now + 1000 + margin.
    """
    ts = spec.timestamp
    if ts.mode == "omit":
        return None
    if ts.mode == "literal":
        return _text(ts.value)
    if ts.mode == "now":
        return str(venue_now_ms + _as_int(ts.offset_ms or 0, "timestamp offset_ms"))
    if ts.edge is None or ts.side is None:
        raise SigningError("a timestamp edge needs both `edge` (stale|future) and `side` (inside|outside)")
    margin = edge_margin_ms(round_trip_ms)
    window = DEFAULT_RECV_WINDOW_MS if spec.recv_window is None else _as_int(spec.recv_window, "recv_window")
    oldest, newest = venue_now_ms - window, venue_now_ms + FUTURE_LIMIT_MS  # the accepted window's edges
    if ts.side == "inside" and oldest + margin > newest - margin:
        raise SigningError(
            f"recvWindow {window} leaves no timestamp {margin} ms clear of both edges of the window"
        )
    sign = 1 if ts.side == "inside" else -1
    if ts.edge == "stale":
        return str(oldest + sign * margin)
    return str(newest - sign * margin)


def _form_signature(signature: str, form: str) -> str | None:
    if form == "normal":
        return signature
    if form == "omit":
        return None
    if form == "empty":
        return ""
    if form == "upper":
        return signature.upper()
    if form == "truncate":
        return signature[:-2]  # one byte short: still hex, wrong length
    if form == "non-hex":
        return signature[:-1] + "g"  # the right length, the first 63 characters right, one non-hex digit
    raise SigningError(f"unknown signature form {form!r}")


def _choose_secret(
    spec: SignSpec, own: Credentials, other: Credentials | None, random_hex: Callable[[int], str]
) -> str:
    if spec.secret == "own":
        return own.api_secret
    if spec.secret == "wrong":
        while True:
            wrong = random_hex(32)
            if wrong not in (own.api_secret, other.api_secret if other else None):
                return wrong
    if spec.secret == "other-account":
        if other is None:
            raise SigningError("secret: other-account needs a second account's credentials")
        return other.api_secret
    raise SigningError(f"unknown secret choice {spec.secret!r}")


def _choose_key(
    spec: SignSpec, own: Credentials, other: Credentials | None, random_hex: Callable[[int], str]
) -> str | None:
    if spec.api_key == "own":
        return own.api_key
    if spec.api_key == "omit":
        return None
    if spec.api_key == "unknown":
        while True:  # well-formed (64 characters) but known to no venue
            unknown = random_hex(32)
            if unknown not in (own.api_key, other.api_key if other else None):
                return unknown
    if spec.api_key == "other-account":
        if other is None:
            raise SigningError("api_key: other-account needs a second account's credentials")
        return other.api_key
    raise SigningError(f"unknown api_key choice {spec.api_key!r}")


def _tamper_encoded(encoded: str, name: str, value: Any) -> str | None:
    """Replace the first ``name=...`` of an encoded query or form; None when ``name`` is not there."""
    segments = encoded.split("&") if encoded else []
    for index, segment in enumerate(segments):
        raw_name = segment.split("=", 1)[0]
        if unquote_plus(raw_name) == name:
            segments[index] = f"{raw_name}={quote(_text(value), safe='')}"
            return "&".join(segments)
    return None


def _json_layout(body: bytes, document: Any) -> tuple[tuple[str, str], bool]:
    """(separators, ensure_ascii) reproducing the body's own layout, so a tamper changes only its value."""
    for separators in ((",", ":"), (", ", ": ")):
        for ensure_ascii in (True, False):
            text = json.dumps(document, separators=separators, ensure_ascii=ensure_ascii)
            if text.encode("utf-8") == body:
                return separators, ensure_ascii
    return (",", ":"), False


def _tamper_json(body: bytes, name: str, value: Any) -> bytes | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if not isinstance(document, dict) or name not in document:
        return None
    separators, ensure_ascii = _json_layout(body, document)
    document[name] = value
    return json.dumps(document, separators=separators, ensure_ascii=ensure_ascii).encode("utf-8")


def _apply_tamper(
    query: str, body: bytes, content_type: str | None, signed_in: str, tamper: Mapping[str, Any]
) -> tuple[str, bytes]:
    """Change parameters after signing: where each is (the query first, then the body); a parameter found
    nowhere is added where the signature went."""
    for name, value in tamper.items():
        changed_query = _tamper_encoded(query, name, value)
        if changed_query is not None:
            query = changed_query
            continue
        if _is_json(content_type):
            changed_body = _tamper_json(body, name, value)
        else:
            try:
                text = body.decode("ascii")
            except UnicodeDecodeError:
                text = None
            changed_text = _tamper_encoded(text, name, value) if text is not None else None
            changed_body = changed_text.encode("ascii") if changed_text is not None else None
        if changed_body is not None:
            body = changed_body
        elif signed_in == "body":
            body = _append(body.decode("ascii"), _pair(name, value)).encode("ascii")
        else:
            query = _append(query, _pair(name, value))
    return query, body


def sign_request(
    query: str,
    body: bytes,
    content_type: str | None,
    spec: SignSpec,
    credentials: Credentials,
    *,
    other: Credentials | None = None,
    venue_now_ms: int,
    round_trip_ms: float = 0.0,
    random_hex: Callable[[int], str] = secrets.token_hex,
) -> SignedRequest:
    """Sign one request as ``spec`` directs; pure apart from ``random_hex`` (for ``wrong``/``unknown``).

    ``query`` is the raw query string (no "?") and ``body`` the raw body, both exactly as they will be sent.
    The payload is ``query + body`` as sent minus the ``signature`` parameter (and before any ``tamper``),
    byte for byte: nothing is decoded or re-encoded. ``recvWindow`` (when asked) then ``timestamp`` are
    appended, then ``signature`` last, in the query or a form body as ``spec.placement`` says (auto: the
    form body when there is one, else the query; a JSON body is signed as raw text with the parameters in
    the query).
    ``tamper`` is applied after signing. ``payload="url-decoded"`` computes the HMAC over the URL-decoded
    payload (``+`` as space, then percent-escapes), as a client that signs before encoding does.
    """
    if not spec.enabled:
        return SignedRequest(query, body, None, None, None, None, None, None)

    placement = spec.placement
    new_content_type: str | None = None
    if placement == "auto":
        signed_in = "body" if body and _is_form(content_type) else "query"
    elif placement == "query":
        signed_in = "query"
    elif placement == "body":
        if _is_json(content_type):
            raise SigningError("placement: body is not defined for a JSON body (it is signed as raw text)")
        if body and not _is_form(content_type):
            raise SigningError(
                f"placement: body needs a form body (the body is {_media_type(content_type) or 'untyped'})"
            )
        if not _is_form(content_type):
            new_content_type = FORM_CONTENT_TYPE
        signed_in = "body"
    else:
        raise SigningError(f"unknown placement {placement!r}")
    if signed_in == "body":
        try:
            form = body.decode("ascii")
        except UnicodeDecodeError:
            raise SigningError("a form body must be ASCII (percent-encoded) to be signed") from None

    added: list[str] = []
    if spec.recv_window is not None:
        added.append(_pair("recvWindow", spec.recv_window))
    timestamp = timestamp_for(spec, venue_now_ms, round_trip_ms)
    if timestamp is not None:
        added.append(_pair("timestamp", timestamp))

    if signed_in == "body":
        body = _append(form, *added).encode("ascii")
    else:
        query = _append(query, *added)
    payload = query.encode("utf-8") + body
    if spec.payload == "url-decoded":  # a client that signs its parameters before percent-encoding them
        payload = unquote_to_bytes(payload.replace(b"+", b" "))

    secret = _choose_secret(spec, credentials, other, random_hex)
    signature = _form_signature(hmac_sha256_hex(secret, payload), spec.signature)
    if signature is not None:
        pair = "signature=" + signature  # hex (or a deliberately broken form of it): nothing to encode
        if signed_in == "body":
            body = _append(body.decode("ascii"), pair).encode("ascii")
        else:
            query = _append(query, pair)

    if spec.tamper:
        query, body = _apply_tamper(
            query, body, new_content_type or content_type, signed_in, dict(spec.tamper)
        )

    return SignedRequest(
        query=query,
        body=body,
        content_type=new_content_type,
        api_key=_choose_key(spec, credentials, other, random_hex),
        payload=payload,
        signature=signature,
        timestamp=timestamp,
        signed_in=signed_in,
    )


# --------------------------------------------------------------------------------------------------
# httpx


class VenueSigner(httpx.Auth):
    """Signs outgoing ``httpx`` requests like a client of the venue, or mis-signs them as ``spec`` says.

    The spec of one request may be overridden with ``request.extensions[SIGN_SPEC_EXTENSION]``. After
    signing, the request carries ``SIGNED_EXTENSION`` (the :class:`SignedRequest`) and
    ``SIGNED_PAYLOAD_EXTENSION`` (the signed text) for the engine to record.
    """

    requires_request_body = True

    def __init__(
        self,
        credentials: Credentials,
        clock: VenueTime,
        spec: SignSpec | None = None,
        *,
        other: Credentials | None = None,
        random_hex: Callable[[int], str] = secrets.token_hex,
    ) -> None:
        self.credentials = credentials
        self.clock = clock
        self.spec = spec if spec is not None else SignSpec()
        self.other = other
        self._random_hex = random_hex

    def __repr__(self) -> str:
        return f"VenueSigner({self.credentials!r}, spec={self.spec!r})"

    def with_spec(self, spec: SignSpec) -> VenueSigner:
        """The same credentials and clock with other directives."""
        return VenueSigner(self.credentials, self.clock, spec, other=self.other, random_hex=self._random_hex)

    def prepare(
        self, query: str, body: bytes, content_type: str | None, spec: SignSpec | None = None
    ) -> SignedRequest:
        """The core, with this signer's credentials and the venue clock read now."""
        return sign_request(
            query,
            body,
            content_type,
            spec if spec is not None else self.spec,
            self.credentials,
            other=self.other,
            venue_now_ms=self.clock.now_ms(),
            round_trip_ms=self.clock.round_trip_ms,
            random_hex=self._random_hex,
        )

    def sign(self, request: httpx.Request) -> httpx.Request:
        """A new request carrying the signed query, body, headers and extensions."""
        spec = request.extensions.get(SIGN_SPEC_EXTENSION, self.spec)
        if not isinstance(spec, SignSpec):
            raise SigningError(f"request.extensions[{SIGN_SPEC_EXTENSION!r}] must be a SignSpec")
        body = request.content
        signed = self.prepare(
            request.url.query.decode("ascii"), body, request.headers.get("content-type"), spec
        )
        url = request.url.copy_with(query=signed.query.encode("ascii") if signed.query else None)
        if url.query.decode("ascii") != signed.query:
            raise SigningError("the signed query string would be re-encoded by httpx")

        headers = request.headers.copy()
        if spec.enabled:
            headers.pop(API_KEY_HEADER, None)
            if signed.api_key is not None:
                headers[API_KEY_HEADER] = signed.api_key
        if signed.content_type is not None:
            headers["content-type"] = signed.content_type
        headers.pop("transfer-encoding", None)
        if signed.body or "content-length" in request.headers or request.method not in ("GET", "HEAD"):
            headers["content-length"] = str(len(signed.body))

        extensions = dict(request.extensions)
        extensions.pop(SIGN_SPEC_EXTENSION, None)
        extensions[SIGNED_EXTENSION] = signed
        extensions[SIGNED_PAYLOAD_EXTENSION] = signed.payload_text
        return httpx.Request(request.method, url, headers=headers, content=signed.body, extensions=extensions)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        yield self.sign(request)

    def for_requests(self) -> RequestsSigner:
        """The same signer as a ``requests`` auth (for schemathesis)."""
        return RequestsSigner(self)


# --------------------------------------------------------------------------------------------------
# requests (schemathesis)


class RequestsSigner(requests.auth.AuthBase):
    """A ``requests`` auth over the same core: sees the final encoded URL and body of a prepared request.

    Register it with ``schema.auth.set_from_requests(signer.for_requests())``. After signing, the prepared
    request has a ``signed_payload`` attribute (the signed text); ``last`` is the last :class:`SignedRequest`.
    """

    def __init__(self, signer: VenueSigner, spec: SignSpec | None = None) -> None:
        self.signer = signer
        self.spec = spec
        self.last: SignedRequest | None = None

    def __repr__(self) -> str:
        return f"RequestsSigner({self.signer!r})"

    def __call__(self, r: PreparedRequest) -> PreparedRequest:
        raw = r.body
        if raw is None:
            body = b""
        elif isinstance(raw, bytes):
            body = raw
        elif isinstance(raw, str):
            body = raw.encode("utf-8")
        else:
            raise SigningError("a streamed request body cannot be signed")
        parts = urlsplit(r.url or "")
        signed = self.signer.prepare(parts.query, body, r.headers.get("Content-Type"), self.spec)
        spec = self.spec if self.spec is not None else self.signer.spec
        r.url = urlunsplit(parts._replace(query=signed.query))
        if spec.enabled:
            r.headers.pop(API_KEY_HEADER, None)
            if signed.api_key is not None:
                r.headers[API_KEY_HEADER] = signed.api_key
        if signed.content_type is not None:
            r.headers["Content-Type"] = signed.content_type
        if signed.body or raw is not None:
            r.body = signed.body
            r.headers["Content-Length"] = str(len(signed.body))
        r.signed_payload = signed.payload_text  # type: ignore[attr-defined]
        self.last = signed
        return r
