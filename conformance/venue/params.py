"""Reading a request's parameters from the query string and the body, keeping the exact bytes received.

`read_request` turns a Starlette request into a `RequestData`: the raw query and body (the signature is
computed over them), and the parameters of each location. The rules of reading:

- The query string is always read. The body is read only when its content type is one the dialect
  accepts (``application/x-www-form-urlencoded``; ztdx also ``application/json``); any other body is not
  read at all, so its parameters are simply missing.
- A parameter given twice in one location is rejected (``-1101``); given in both the query and the body,
  the rulebook's ``merge_parameters`` decides (the query's value is used).
- Bytes that are not UTF-8, bodies over 64 KiB, malformed JSON and JSON that is not an object are
  rejected with the envelope, never with a 5xx.
- JSON numbers are kept as written (`JsonNumber`), so ``20``, ``20.0`` and ``2e1`` stay distinguishable and
  a ten-thousand-digit integer costs nothing.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, unquote_to_bytes

from starlette.requests import Request

from conformance.venue import errors
from conformance.venue.dialects import Dialect

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
MAX_PARAMETERS = 100  # per location
API_KEY_HEADER = "X-MBX-APIKEY"


@dataclass(frozen=True)
class JsonNumber:
    """A number of a JSON body, as written: ``is_integer`` when it has no fraction and no exponent."""

    text: str
    is_integer: bool


# A parameter's value: text from a query or form, or any JSON value from a JSON body.
ParamValue = str | JsonNumber | bool | None | list[object] | dict[str, object]


class Missing(enum.Enum):
    MISSING = enum.auto()


MISSING = Missing.MISSING

# How the query's and the body's parameters become one set (the rulebook's AUTH-PRECEDENCE).
Merge = Callable[[Mapping[str, str], Mapping[str, ParamValue]], Mapping[str, ParamValue]]


@dataclass(frozen=True)
class RequestData:
    """One request as the venue read it: raw bytes for the signature, parameters for everything else."""

    api_key: str | None
    raw_query: bytes
    raw_body: bytes  # b"" when the body was not read
    body_format: Literal["none", "form", "json"]
    query: Mapping[str, str]
    body: Mapping[str, ParamValue]
    params: Mapping[str, ParamValue]  # query and body merged

    def get(self, name: str) -> ParamValue | Missing:
        return self.params.get(name, MISSING)

    def require(self, name: str) -> ParamValue:
        """A mandatory parameter: missing, empty text or JSON null is ``-1102``."""
        value = self.get(name)
        if value is MISSING or value is None or value == "":
            raise errors.mandatory_missing(name)
        return value

    def text(self, name: str) -> str:
        """A mandatory parameter as text: a JSON number gives its text; other JSON values are malformed."""
        value = self.require(name)
        if isinstance(value, JsonNumber):
            return value.text
        if not isinstance(value, str):
            raise errors.mandatory_missing(name)
        return value

    def optional_text(self, name: str) -> str | None:
        return None if self.get(name) is MISSING else self.text(name)

    @property
    def signed_query(self) -> bytes:
        """The query string as received, without the ``signature`` parameter."""
        return _without_signature(self.raw_query)

    @property
    def signed_body(self) -> bytes:
        """The body as received (a JSON body as its raw text), without a form's ``signature`` parameter."""
        return _without_signature(self.raw_body) if self.body_format == "form" else self.raw_body

    @property
    def signed_payload(self) -> bytes:
        """What the signature covers: query + body, with no separator."""
        return self.signed_query + self.signed_body


async def read_request(request: Request, dialect: Dialect, *, merge: Merge) -> RequestData:
    raw_query: bytes = request.scope.get("query_string", b"")
    query = _parse_urlencoded(raw_query)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body_format: Literal["none", "form", "json"] = "none"
    if media_type == FORM and "form" in dialect.body_encodings:
        body_format = "form"
    elif media_type == JSON and "json" in dialect.body_encodings:
        body_format = "json"
    raw_body = await _read_body(request) if body_format != "none" else b""
    body: Mapping[str, ParamValue] = {}
    if not raw_body:
        body_format = "none"
    elif body_format == "form":
        body = _parse_urlencoded(raw_body)
    else:
        body = _parse_json(raw_body)
    return RequestData(
        api_key=request.headers.get(API_KEY_HEADER),
        raw_query=raw_query,
        raw_body=raw_body,
        body_format=body_format,
        query=query,
        body=body,
        params=merge(query, body),
    )


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > errors.MAX_BODY_BYTES:
        raise errors.body_too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > errors.MAX_BODY_BYTES:
            raise errors.body_too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_urlencoded(raw: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(
            raw.decode("utf-8"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_PARAMETERS,
        )
    except UnicodeDecodeError:
        raise errors.illegal_characters() from None
    except ValueError:  # more than MAX_PARAMETERS fields
        raise errors.too_many_parameters() from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise errors.duplicate_parameter()
        params[name] = value
    return params


class _DuplicateKey(Exception):
    pass


def _object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey
        result[key] = value
    return result


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _parse_json(raw: bytes) -> dict[str, ParamValue]:
    try:
        document = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_object,
            parse_int=lambda text: JsonNumber(text, is_integer=True),
            parse_float=lambda text: JsonNumber(text, is_integer=False),
            parse_constant=_no_constants,
        )
    except UnicodeDecodeError:
        raise errors.illegal_characters() from None
    except _DuplicateKey:
        raise errors.duplicate_parameter() from None
    except (ValueError, RecursionError):
        raise errors.malformed_json() from None
    if not isinstance(document, dict):
        raise errors.malformed_json()
    return document


def _without_signature(raw: bytes) -> bytes:
    """``raw`` with every ``signature=...`` component removed, every other byte kept as received."""
    kept = [part for part in raw.split(b"&") if _name_of(part) != b"signature"]
    return b"&".join(kept)


def _name_of(component: bytes) -> bytes:
    return unquote_to_bytes(component.split(b"=", 1)[0].replace(b"+", b" "))


def url_decoded(payload: bytes) -> bytes:
    """``urllib.parse.unquote_plus`` on bytes: ZTDX's fallback signature payload."""
    return unquote_to_bytes(payload.replace(b"+", b" "))
