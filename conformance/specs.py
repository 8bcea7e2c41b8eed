"""The OpenAPI documents and JSON Schemas under ``specs/``, and validation against them.

Every schema file has an ``$id`` under :data:`SPECS_BASE_URI` that mirrors its place in ``specs/``
(``specs/schemas/error.schema.json`` is ``https://venue-conformance.example/specs/schemas/error.schema.json``);
the OpenAPI documents are registered the same way, so their relative ``$ref``\\ s (``../schemas/...``)
resolve to those ids. Everything is served from local files: nothing is ever fetched over the network
(``.example`` is a reserved domain), and a reference to anything else is an error.

Validation is JSON Schema draft 2020-12 with one strictness added: an ``integer`` must be a JSON integer,
so ``20.0`` is not one (the contract wants ``"leverage": 20``; see :class:`JsonFloat`).

Callers::

    validate_response(profile, "POST", "/fapi/v1/leverage", 200, body)   # raises ResponseMismatch
    validate_value("schemas/leverage-response.schema.json", body)         # raises SchemaMismatch
    specs_hash()                                                          # "sha256:..."
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast
from urllib.parse import quote, unquote, urldefrag, urljoin, urlsplit
from urllib.request import url2pathname

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource, PointerToNowhere, Unresolvable
from referencing.jsonschema import DRAFT202012

from conformance.model import Profile
from conformance.resources import specs_dir

SPECS_BASE_URI: Final = "https://venue-conformance.example/specs/"

HTTP_METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SpecError(Exception):
    """The specs cannot answer: a missing document or schema, a dangling reference, an unknown operation.

    Not a verdict on the venue: the harness could not judge.
    """


class UnknownOperationError(SpecError):
    """The OpenAPI document has no operation for this method and path."""


@dataclass(frozen=True)
class Mismatch:
    """One way a JSON value breaks its schema."""

    pointer: str  # JSON pointer into the value ("" is the whole value): "/leverage", "/0/symbol"
    message: str  # "'20' is not of type 'integer'"
    keyword: str  # the failing JSON Schema keyword: "type", "required", "pattern"...

    def __str__(self) -> str:
        return f"{self.pointer}: {self.message}" if self.pointer else self.message


class SchemaMismatch(Exception):
    """A JSON value does not validate against a schema; ``mismatches`` lists every reason."""

    def __init__(self, schema: str, mismatches: tuple[Mismatch, ...], *, subject: str | None = None) -> None:
        self.schema = schema
        self.mismatches = mismatches
        first = str(mismatches[0]) if mismatches else "invalid"
        more = f" (and {len(mismatches) - 1} more)" if len(mismatches) > 1 else ""
        super().__init__(f"{subject or f'the value does not match {schema}'}: {first}{more}")

    @property
    def summary(self) -> str:
        """One line per mismatch, for a report."""
        return "\n".join(str(mismatch) for mismatch in self.mismatches)


class ResponseMismatch(SchemaMismatch):
    """A response does not match what its operation documents for its status."""

    def __init__(
        self, method: str, path: str, status: int, schema: str, mismatches: tuple[Mismatch, ...]
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        super().__init__(schema, mismatches, subject=f"{method} {path} -> {status}")


@dataclass(frozen=True)
class Operation:
    """One operation of an OpenAPI document."""

    method: str  # upper case
    path: str  # the path template as written in the document
    operation_id: str | None
    document: str  # the document's URI
    pointer: str  # JSON pointer to the operation object in the document
    definition: Mapping[str, Any]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


class JsonFloat(float):
    """A JSON number written with a fraction or an exponent (``20.0``, ``2e1``): never an ``integer``.

    JSON Schema counts 20.0 as an integer; the contract does not (``"leverage": 20``). Floats in a value
    are wrapped in this type before validation, which keeps every other keyword working. (A custom type
    checker would not do: jsonschema returns to its stock 2020-12 class in a resource with ``$schema``.)
    """

    def is_integer(self) -> bool:
        return False


def strict_json(value: Any) -> Any:
    """``value`` with every float wrapped in :class:`JsonFloat`."""
    if isinstance(value, float):
        return JsonFloat(value)
    if isinstance(value, Mapping):
        return {key: strict_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(item) for item in value]
    return value


@dataclass(frozen=True, eq=False)
class OpenApiDocument:
    """An OpenAPI document, its operations, and the registry its references resolve in."""

    uri: str
    path: Path
    contents: Mapping[str, Any]
    registry: Registry[Any]

    def operations(self) -> Iterator[Operation]:
        for template, raw in self.contents.get("paths", {}).items():
            item_uri, item_pointer, item = self.follow(self.uri, f"/paths/{escape_pointer(template)}", raw)
            for method in HTTP_METHODS:
                if method in item:
                    definition = item[method]
                    yield Operation(
                        method.upper(),
                        template,
                        definition.get("operationId"),
                        item_uri,
                        f"{item_pointer}/{method}",
                        definition,
                    )

    def operation(self, method: str, path: str) -> Operation:
        """The operation for ``method`` and a concrete ``path`` (query string ignored, templates matched)."""
        bare = path.split("?", 1)[0]
        candidates = [op for op in self.operations() if op.method == method.upper()]
        for operation in candidates:
            if operation.path == bare:
                return operation
        for operation in candidates:
            if _template_regex(operation.path).fullmatch(bare):
                return operation
        raise UnknownOperationError(f"{self.path.name} documents no operation {method.upper()} {bare}")

    def response_schema(self, operation: Operation, status: int) -> str | None:
        """The URI of the JSON schema documented for ``status`` (falling back to ``4XX`` and ``default``).

        None when the response has no JSON body; :class:`LookupError` when the status is not documented.
        """
        responses = operation.definition.get("responses", {})
        keys = {str(key).upper(): str(key) for key in responses}
        for candidate in (str(status), f"{status // 100}XX", "DEFAULT"):
            if candidate in keys:
                key = keys[candidate]
                break
        else:
            documented = ", ".join(str(key) for key in responses)
            raise LookupError(
                f"status {status} is not documented for {operation.label} (documented: {documented})"
            )
        uri, pointer, response = self.follow(
            operation.document, f"{operation.pointer}/responses/{escape_pointer(key)}", responses[key]
        )
        content = response.get("content") or {}
        media = _json_media_type(content)
        if media is None or "schema" not in content[media]:
            return None
        return f"{uri}#{pointer}/content/{escape_pointer(media)}/schema"

    def resolve(self, uri: str) -> Any:
        """The JSON value a URI (with an optional JSON pointer fragment) names."""
        document, fragment = urldefrag(uri)
        try:
            contents = self.registry.contents(document)
        except NoSuchResource:
            raise SpecError(f"no document {document}") from None
        return _walk(contents, unquote(fragment), uri)

    def follow(self, uri: str, pointer: str, value: Any) -> tuple[str, str, Any]:
        """Follow OpenAPI Reference Objects (``{"$ref": ...}``) to the object they stand for."""
        seen: set[str] = set()
        while isinstance(value, Mapping) and "$ref" in value:
            target = urljoin(f"{uri}#{pointer}", value["$ref"])
            if target in seen:
                raise SpecError(f"reference cycle at {target}")
            seen.add(target)
            uri, fragment = urldefrag(target)
            pointer = unquote(fragment)
            value = self.resolve(target)
        return uri, pointer, value


# --------------------------------------------------------------------------------------------------
# The registry


def uri_for(path: Path) -> str:
    """The URI a file under ``specs/`` is known by (a ``file:`` URI elsewhere)."""
    resolved = path.resolve()
    try:
        relative = resolved.relative_to(specs_dir().resolve())
    except ValueError:
        return resolved.as_uri()
    return SPECS_BASE_URI + quote(relative.as_posix())


@functools.cache
def registry() -> Registry[Any]:
    """Every schema under ``specs/schemas`` and every document under ``specs/openapi``, by URI."""
    root = specs_dir()
    files = sorted((root / "schemas").glob("*.json")) + sorted((root / "openapi").glob("*.yaml"))
    resources = [(uri_for(path), _resource(path)) for path in files]
    # referencing's attrs classes take their private fields by alias, which mypy does not see
    return Registry(retrieve=_retrieve).with_resources(resources).crawl()  # type: ignore[call-arg]


def openapi_document(profile: Profile | str | Path) -> OpenApiDocument:
    """A profile's OpenAPI document (or the document at a path: relative to ``specs/``, or absolute)."""
    target = Path(profile.openapi if isinstance(profile, Profile) else profile)
    path = target if target.is_absolute() else specs_dir() / target
    return _document(path.resolve())


@functools.cache
def _document(path: Path) -> OpenApiDocument:
    uri = uri_for(path)
    base = registry()
    try:
        contents = base.contents(uri)
        found = base
    except NoSuchResource:
        if not path.is_file():
            raise SpecError(f"no OpenAPI document at {path}") from None
        try:
            resource = _resource(path)
        except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as error:
            raise SpecError(f"{path} cannot be read: {error}") from None
        contents = resource.contents
        found = base.with_resource(uri, resource).crawl()
    if not isinstance(contents, Mapping) or "paths" not in contents:
        raise SpecError(f"{path} is not an OpenAPI document")
    return OpenApiDocument(uri, path, contents, found)


def _resource(path: Path) -> Resource[Any]:
    text = path.read_text(encoding="utf-8")
    contents = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_Loader)
    return DRAFT202012.create_resource(contents)


@functools.lru_cache(maxsize=256)
def _retrieve(uri: str) -> Resource[Any]:
    """Serve ``specs/`` ids and ``file:`` URIs from disk; refuse everything else (no network)."""
    if uri.startswith(SPECS_BASE_URI):
        path = specs_dir() / unquote(uri.removeprefix(SPECS_BASE_URI))
    elif uri.startswith("file:"):
        path = Path(url2pathname(urlsplit(uri).path))
    else:
        raise NoSuchResource(ref=uri)  # type: ignore[call-arg]
    if not path.is_file():
        raise NoSuchResource(ref=uri)  # type: ignore[call-arg]
    return _resource(path)


# --------------------------------------------------------------------------------------------------
# Validation


def find_operation(profile: Profile, method: str, path: str) -> Operation:
    """The operation of the profile's OpenAPI document for ``method`` and ``path``."""
    return openapi_document(profile).operation(method, path)


def response_mismatches(
    profile: Profile, method: str, path: str, status: int, body: Any
) -> tuple[Mismatch, ...]:
    """Every way a response (status, parsed JSON body) breaks its documented response; () if it matches."""
    document = openapi_document(profile)
    operation = document.operation(method, path)
    try:
        schema = document.response_schema(operation, status)
    except LookupError as error:
        return (Mismatch("", str(error), "responses"),)
    if schema is None:
        return ()
    return _mismatches(schema, body, document.registry)


def validate_response(profile: Profile, method: str, path: str, status: int, body: Any) -> None:
    """Raise :class:`ResponseMismatch` unless the response matches what its operation documents.

    ``body`` is the parsed JSON body. A status the operation does not document (after ``4XX`` and
    ``default``) is a mismatch; an unknown operation raises :class:`UnknownOperationError`.
    """
    document = openapi_document(profile)
    operation = document.operation(method, path)
    try:
        schema = document.response_schema(operation, status)
    except LookupError as error:
        raise ResponseMismatch(
            operation.method, path, status, document.uri, (Mismatch("", str(error), "responses"),)
        ) from None
    mismatches = _mismatches(schema, body, document.registry) if schema is not None else ()
    if mismatches:
        raise ResponseMismatch(operation.method, path, status, _short(cast(str, schema)), mismatches)


def value_mismatches(schema: str, value: Any) -> tuple[Mismatch, ...]:
    """Every way ``value`` breaks a schema named relative to ``specs/`` (``schemas/x.schema.json#...``)."""
    return _mismatches(schema_uri(schema), value, registry())


def validate_value(schema: str, value: Any) -> None:
    """Raise :class:`SchemaMismatch` unless ``value`` validates against ``schema`` (relative to ``specs/``).

    This backs the case expectation ``schema: schemas/leverage-response.schema.json``.
    """
    mismatches = value_mismatches(schema, value)
    if mismatches:
        raise SchemaMismatch(schema, mismatches)


def schema_uri(schema: str) -> str:
    """The URI of a schema named relative to ``specs/``, with an optional ``#fragment``; checks it exists."""
    relative, _, fragment = schema.partition("#")
    if relative.startswith("/") or ".." in Path(relative).parts:
        raise SpecError(f"schema {schema!r} must be a path inside specs/")
    uri = SPECS_BASE_URI + quote(relative) + (f"#{fragment}" if fragment else "")
    try:
        registry().resolver().lookup(uri)
    except PointerToNowhere:
        raise SpecError(f"schema {schema!r}: no #{fragment} in {relative}") from None
    except Unresolvable:
        raise SpecError(f"no schema {relative} under specs/") from None
    return uri


def _mismatches(schema_uri: str, value: Any, registry: Registry[Any]) -> tuple[Mismatch, ...]:
    validator = Draft202012Validator({"$ref": schema_uri}, registry=registry)
    try:
        errors = sorted(
            validator.iter_errors(strict_json(value)), key=lambda error: list(map(str, error.absolute_path))
        )
    except Unresolvable as error:
        raise SpecError(f"unresolvable reference {error.ref!r} under {schema_uri}") from None
    return tuple(_mismatch(error) for error in errors)


def _mismatch(error: ValidationError) -> Mismatch:
    if error.context:
        # oneOf/anyOf: report the failure of the branch that fits the value best, not "not valid under any"
        error = best_match([error]) or error
    message = error.message
    if error.validator == "pattern" and isinstance(error.schema, Mapping) and "description" in error.schema:
        message = f"{_short_json(error.instance)} is not {_lower_first(error.schema['description'])}"
    pointer = "".join(f"/{escape_pointer(str(part))}" for part in error.absolute_path)
    return Mismatch(pointer, message, str(error.validator))


# --------------------------------------------------------------------------------------------------
# The hash of specs/


def specs_hash() -> str:
    """A stable hash of every file under ``specs/`` (names and contents, line endings normalised)."""
    root = specs_dir()
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*"), key=lambda item: item.relative_to(root).as_posix()):
        relative = path.relative_to(root)
        if not path.is_file() or any(part.startswith((".", "__")) for part in relative.parts):
            continue
        digest.update(relative.as_posix().encode() + b"\0")
        digest.update(path.read_bytes().replace(b"\r\n", b"\n") + b"\0")
    return f"sha256:{digest.hexdigest()}"


# --------------------------------------------------------------------------------------------------


def escape_pointer(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def unescape_pointer(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


def _walk(contents: Any, pointer: str, uri: str) -> Any:
    value = contents
    for part in pointer.lstrip("/").split("/") if pointer else ():
        key = unescape_pointer(part)
        try:
            value = value[int(key)] if isinstance(value, list) else value[key]
        except (KeyError, IndexError, ValueError, TypeError):
            raise SpecError(f"nothing at {uri}") from None
    return value


@functools.cache
def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}/]+\})", template)
    return re.compile("".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts))


def _json_media_type(content: Mapping[str, Any]) -> str | None:
    if "application/json" in content:
        return "application/json"
    return next((media for media in content if "json" in media), None)


def _short(uri: str) -> str:
    """A schema URI as people read it: relative to specs/ when it is one of ours."""
    return uri.removeprefix(SPECS_BASE_URI)


def _short_json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _lower_first(text: str) -> str:
    text = text.rstrip(".")
    return text[:1].lower() + text[1:]
