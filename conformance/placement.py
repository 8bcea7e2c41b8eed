"""Where a request's parameters travel, as generators need it: one placement per encoding.

A ``POST`` of a Binance-like venue takes each parameter in the query string or in the body, which an
OpenAPI document can only write as optional query parameters plus an optional body (``x-mandatory-parameters``
says what must be somewhere). A property-based generator (schemathesis) needs one placement per request,
or half of what it calls "valid" lacks ``symbol`` and half of its "invalid" bodies are overridden by the
query. :func:`encoding_view` derives that from a profile's document, which stays as written.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from conformance.model import Encoding, Profile
from conformance.specs import (
    OpenApiDocument,
    Operation,
    SpecError,
    escape_pointer,
    openapi_document,
    unescape_pointer,
)

MEDIA_TYPES: Final[Mapping[str, str]] = {
    "form": "application/x-www-form-urlencoded",
    "json": "application/json",
}


def encoding_view(profile: Profile, encoding: Encoding, *, signing_parameters: bool = True) -> dict[str, Any]:
    """The profile's OpenAPI document with every ``POST`` reduced to one placement of its parameters.

    The document itself says "each parameter in the query or in the body", which OpenAPI can only write
    as optional query parameters plus an optional body. A generator (schemathesis) needs one placement:

    - ``query``: no body; the parameters of ``x-mandatory-parameters`` become required query parameters;
    - ``form`` / ``json``: a required body of that media type with those parameters required and no
      other property, and only the signer's parameters left in the query.

    With ``signing_parameters=False`` the parameters marked ``x-set-by-signer`` (``timestamp``,
    ``recvWindow``) are dropped everywhere, for a signer that adds them. Relative references are kept:
    load the result with the document's location (``openapi_document(profile).path``) as its base.
    """
    if encoding not in profile.encodings:
        raise SpecError(f"profile {profile.name} does not accept the {encoding} encoding")
    document = openapi_document(profile)
    view = copy.deepcopy(dict(document.contents))
    for operation in document.operations():
        target = view
        for part in operation.pointer.lstrip("/").split("/"):
            target = target[unescape_pointer(part)]
        if operation.document != document.uri:
            continue  # a path item borrowed from another document: leave it alone
        _narrow(document, operation, target, encoding, signing_parameters)
    return view


def _narrow(
    document: OpenApiDocument,
    operation: Operation,
    target: dict[str, Any],
    encoding: Encoding,
    signing_parameters: bool,
) -> None:
    parameters: list[tuple[Any, Mapping[str, Any]]] = []
    for index, parameter in enumerate(target.get("parameters", [])):
        pointer = f"{operation.pointer}/parameters/{index}"
        parameters.append((parameter, document.follow(operation.document, pointer, parameter)[2]))
    if not signing_parameters:
        parameters = [(raw, resolved) for raw, resolved in parameters if not resolved.get("x-set-by-signer")]
    mandatory: list[str] = list(target.get("x-mandatory-parameters", []))
    if "requestBody" not in target and not mandatory:
        target["parameters"] = [raw for raw, _ in parameters]
        return
    if encoding == "query":
        target.pop("requestBody", None)
        target["parameters"] = [
            {**resolved, "required": True} if resolved.get("name") in mandatory else raw
            for raw, resolved in parameters
        ]
        return
    media = MEDIA_TYPES[encoding]
    _, body_pointer, body = document.follow(
        operation.document, f"{operation.pointer}/requestBody", target.get("requestBody", {})
    )
    content = body.get("content", {})
    if media not in content:
        raise SpecError(f"{document.path.name}: {operation.label} documents no {media} body")
    original = content[media]["schema"]
    names = _property_names(
        document, f"{operation.document}#{body_pointer}/content/{escape_pointer(media)}/schema"
    )
    target["requestBody"] = {
        "required": True,
        "content": {
            media: {
                "schema": {
                    "allOf": [original],
                    "required": [name for name in mandatory if name in names],
                    "properties": dict.fromkeys(names, True),
                    "additionalProperties": False,
                }
            }
        },
    }
    target["parameters"] = [raw for raw, resolved in parameters if resolved.get("x-set-by-signer")]


def _property_names(document: OpenApiDocument, uri: str) -> list[str]:
    resolver = document.registry.resolver()
    resolved = resolver.lookup(uri)
    schema = resolved.contents
    while isinstance(schema, Mapping) and "$ref" in schema and "properties" not in schema:
        resolved = resolved.resolver.lookup(schema["$ref"])
        schema = resolved.contents
    properties = schema.get("properties", {}) if isinstance(schema, Mapping) else {}
    return list(properties)
