from collections.abc import Callable
from typing import Any

import pytest

from conformance.model import Encoding, Profile
from conformance.placement import MEDIA_TYPES, encoding_view
from conformance.profiles import load_profile
from conformance.specs import SpecError, openapi_document

pytestmark = pytest.mark.usefixtures("no_network")

Generate = Callable[..., list[Any]]  # the `generate` fixture of conftest.py

POSITION = {"binance-usdm": "/fapi/v2/positionRisk", "ztdx": "/fapi/v1/positionRisk"}


def parameters(view: dict[str, Any], path: str, method: str) -> dict[str, dict[str, Any]]:
    operation = view["paths"][path][method]
    components = view["components"]["parameters"]
    resolved = [
        components[p["$ref"].rsplit("/", 1)[1]] if "$ref" in p else p for p in operation.get("parameters", [])
    ]
    return {parameter["name"]: parameter for parameter in resolved}


def test_the_query_view_requires_the_mandatory_parameters_in_the_query() -> None:
    view = encoding_view(load_profile("binance-usdm"), "query")
    leverage = view["paths"]["/fapi/v1/leverage"]["post"]
    assert "requestBody" not in leverage
    params = parameters(view, "/fapi/v1/leverage", "post")
    assert {name: param.get("required", False) for name, param in params.items()} == {
        "symbol": True,
        "leverage": True,
        "recvWindow": False,
        "timestamp": True,
    }
    # the document itself is untouched
    document = openapi_document(load_profile("binance-usdm"))
    assert "requestBody" in document.contents["paths"]["/fapi/v1/leverage"]["post"]


@pytest.mark.parametrize(("name", "encoding"), [("binance-usdm", "form"), ("ztdx", "form"), ("ztdx", "json")])
def test_body_views_put_the_mandatory_parameters_in_a_closed_body(name: str, encoding: Encoding) -> None:
    profile = load_profile(name)
    view = encoding_view(profile, encoding, signing_parameters=False)
    body = view["paths"]["/fapi/v1/leverage"]["post"]["requestBody"]
    assert body["required"] is True
    assert list(body["content"]) == [MEDIA_TYPES[encoding]]
    schema = body["content"][MEDIA_TYPES[encoding]]["schema"]
    assert schema["required"] == ["symbol", "leverage"]
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {"symbol", "leverage"}
    assert parameters(view, "/fapi/v1/leverage", "post") == {}
    assert set(parameters(view, POSITION[name], "get")) == {"symbol"}  # the signer adds timestamp, recvWindow
    order = view["paths"]["/fapi/v1/order"]["post"]["requestBody"]["content"][MEDIA_TYPES[encoding]]["schema"]
    assert order["required"] == ["symbol", "side", "type", "quantity"]


def test_a_view_for_an_encoding_the_profile_lacks_is_refused() -> None:
    with pytest.raises(SpecError, match="profile binance-usdm does not accept the json encoding"):
        encoding_view(load_profile("binance-usdm"), "json")


def load_view(profile: Profile, encoding: Encoding) -> Any:
    import schemathesis

    schema = schemathesis.openapi.from_dict(encoding_view(profile, encoding, signing_parameters=False))
    schema.location = openapi_document(profile).path.as_uri()
    return schema


@pytest.mark.parametrize(
    ("name", "encoding"),
    [
        ("binance-usdm", "query"),
        ("binance-usdm", "form"),
        ("ztdx", "query"),
        ("ztdx", "form"),
        ("ztdx", "json"),
    ],
)
def test_schemathesis_generates_complete_requests_from_each_encoding_view(
    name: str, encoding: Encoding, generate: Generate
) -> None:
    schema = load_view(load_profile(name), encoding)
    operation = schema["/fapi/v1/leverage"]["POST"]
    for case in generate(operation, "positive", examples=10):
        carrier = case.query if encoding == "query" else case.body
        assert {"symbol", "leverage"} <= set(carrier), case
        assert "timestamp" not in (case.query or {}), "left to the signer"
        if encoding != "query":
            assert set(case.body) == {"symbol", "leverage"}
            assert case.media_type == MEDIA_TYPES[encoding]


def test_ztdx_json_leverage_is_generated_as_integer_and_as_numeric_string(generate: Generate) -> None:
    schema = load_view(load_profile("ztdx"), "json")
    cases = generate(schema["/fapi/v1/leverage"]["POST"], "positive", examples=40)
    kinds = {type(case.body["leverage"]).__name__ for case in cases}
    assert {"int", "str"} <= kinds
    for case in cases:
        if isinstance(case.body["leverage"], str):
            assert 1 <= int(case.body["leverage"]) <= 125
