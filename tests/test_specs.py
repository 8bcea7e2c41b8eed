import copy
import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from conformance import specs
from conformance.model import Profile
from conformance.placement import MEDIA_TYPES
from conformance.profiles import load_profile
from conformance.resources import specs_dir
from conformance.specs import (
    SPECS_BASE_URI,
    ResponseMismatch,
    SchemaMismatch,
    SpecError,
    UnknownOperationError,
    find_operation,
    openapi_document,
    registry,
    specs_hash,
    uri_for,
    validate_response,
    validate_value,
    value_mismatches,
)

OPENAPI = sorted((specs_dir() / "openapi").glob("*.yaml"))
SCHEMAS = sorted((specs_dir() / "schemas").glob("*.json"))
PROFILES = ("binance-usdm", "ztdx")
POSITION = {"binance-usdm": "/fapi/v2/positionRisk", "ztdx": "/fapi/v1/positionRisk"}


pytestmark = pytest.mark.usefixtures("no_network")

Generate = Callable[..., list[Any]]  # the `generate` fixture of conftest.py


def no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    duplicates = {key for key in keys if keys.count(key) > 1}
    assert not duplicates, f"duplicate keys {duplicates}"
    return dict(pairs)


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=no_duplicate_keys)


def walk(value: Any, pointer: str = "") -> Iterator[tuple[str, Any]]:
    """Every (JSON pointer, value) inside a JSON value."""
    yield pointer, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from walk(item, f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, f"{pointer}/{index}")


def refs(document: Any) -> Iterator[str]:
    for _, value in walk(document):
        if isinstance(value, dict) and isinstance(value.get("$ref"), str):
            yield value["$ref"]


def mismatch(profile: str, method: str, path: str, status: int, body: Any) -> ResponseMismatch:
    with pytest.raises(ResponseMismatch) as caught:
        validate_response(load_profile(profile), method, path, status, body)
    return caught.value


# --------------------------------------------------------------------------------------------------
# The documents are valid and self-contained


@pytest.mark.parametrize("path", OPENAPI, ids=lambda path: path.name)
def test_openapi_document_is_valid_with_its_references_resolved(path: Path) -> None:
    from openapi_spec_validator import validate
    from openapi_spec_validator.readers import read_from_filename

    document, base_uri = read_from_filename(str(path))
    assert document["openapi"].startswith("3.1.")
    validate(document, base_uri=base_uri)


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda path: path.name)
def test_schema_is_valid_against_its_meta_schema_and_names_itself(path: Path) -> None:
    schema = load_json(path)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == SPECS_BASE_URI + f"schemas/{path.name}" == uri_for(path)
    assert schema.get("title"), "say what the schema describes"
    assert schema.get("description"), "say what the schema describes"


@pytest.mark.parametrize("path", SCHEMAS + OPENAPI, ids=lambda path: path.name)
def test_every_reference_resolves_locally(path: Path) -> None:
    document = load_json(path) if path.suffix == ".json" else yaml.safe_load(path.read_text(encoding="utf-8"))
    resolver = registry().resolver(base_uri=uri_for(path))
    found = list(refs(document))
    assert found or path.suffix == ".json"
    for ref in found:
        if path.suffix == ".json":
            # schema files reference only themselves, so any tool resolves them without fetching
            assert ref.startswith("#"), ref
        else:
            assert ref.startswith(("#", "../schemas/")), ref
        resolver.lookup(ref)


# The harness's own file formats have their own vocabulary; the venue's body schemas share fragments.
HARNESS_FORMATS = {"case", "results", "markets", "profile", "contract"}


def test_definitions_shared_by_several_schemas_are_identical() -> None:
    seen: dict[str, tuple[str, Any]] = {}
    for path in SCHEMAS:
        if path.name.removesuffix(".schema.json") in HARNESS_FORMATS:
            continue
        for name, definition in load_json(path).get("$defs", {}).items():
            if name in seen:
                assert definition == seen[name][1], f"$defs/{name} differs in {path.name} and {seen[name][0]}"
            seen[name] = (path.name, definition)
    assert {"decimal", "millis"} <= set(seen)


def schema_examples() -> Iterator[Any]:
    for path in SCHEMAS:
        schema = load_json(path)
        for index, example in enumerate(schema.get("examples", [])):
            yield pytest.param(f"schemas/{path.name}", example, id=f"{path.stem}-{index}")
        for name, definition in schema.get("$defs", {}).items():
            for index, example in enumerate(definition.get("examples", [])):
                yield pytest.param(
                    f"schemas/{path.name}#/$defs/{name}", example, id=f"{path.stem}-{name}-{index}"
                )


@pytest.mark.parametrize(("schema", "example"), list(schema_examples()))
def test_schema_examples_validate(schema: str, example: Any) -> None:
    validate_value(schema, example)


@pytest.mark.parametrize("name", PROFILES)
def test_openapi_examples_validate(name: str) -> None:
    profile = load_profile(name)
    document = openapi_document(profile)
    checked = 0
    for operation in document.operations():
        for status, documented in operation.definition["responses"].items():
            code = int(status) if str(status).isdigit() else int(str(status)[0] + "99")
            response = documented
            if "$ref" in documented:
                response = document.resolve(f"{document.uri}#{documented['$ref'].removeprefix('#')}")
            for media in response.get("content", {}).values():
                examples = [media["example"]] if "example" in media else []
                examples += [example["value"] for example in media.get("examples", {}).values()]
                for example in examples:
                    validate_response(profile, operation.method, operation.path, code, example)
                    checked += 1
        body = operation.definition.get("requestBody", {})
        for media in body.get("content", {}).values():
            schema = media["schema"]["$ref"].removeprefix("../")
            for example in media.get("examples", {}).values():
                validate_value(schema, example["value"])
                checked += 1
    assert checked >= 10


# --------------------------------------------------------------------------------------------------
# The documents agree with the profiles


@pytest.mark.parametrize("name", PROFILES)
def test_every_path_of_the_profile_is_an_operation_of_its_document(name: str) -> None:
    profile = load_profile(name)
    methods = {"leverage": "POST", "order": "POST"}
    labels = set()
    for key, path in profile.paths.items():
        operation = find_operation(profile, methods.get(key, "GET"), path)
        labels.add(operation.label)
    assert labels == {operation.label for operation in openapi_document(profile).operations()}
    assert find_operation(profile, "GET", POSITION[name]).operation_id == "getPositionRisk"


@pytest.mark.parametrize("name", PROFILES)
def test_post_bodies_are_the_encodings_of_the_profile(name: str) -> None:
    profile = load_profile(name)
    expected = {MEDIA_TYPES[encoding] for encoding in profile.encodings if encoding != "query"}
    for key in ("leverage", "order"):
        operation = find_operation(profile, "POST", profile.paths[key])
        assert set(operation.definition["requestBody"]["content"]) == expected
        assert operation.definition["requestBody"]["required"] is False
        mandatory = set(operation.definition["x-mandatory-parameters"])
        assert mandatory <= {
            parameter["$ref"].rsplit("/", 1)[1] for parameter in operation.definition["parameters"]
        }


@pytest.mark.parametrize("name", PROFILES)
def test_signed_operations_require_the_key_and_the_signature(name: str) -> None:
    profile = load_profile(name)
    document = openapi_document(profile)
    schemes = document.contents["components"]["securitySchemes"]
    assert schemes["apiKey"] == {
        **schemes["apiKey"],
        "type": "apiKey",
        "in": "header",
        "name": "X-MBX-APIKEY",
    }
    assert schemes["signature"] == {
        **schemes["signature"],
        "type": "apiKey",
        "in": "query",
        "name": "signature",
    }
    signed = {profile.paths[key] for key in ("brackets", "leverage", "order", "position")}
    for operation in document.operations():
        if operation.path in signed:
            assert operation.definition["security"] == [{"apiKey": [], "signature": []}]
            assert "401" in operation.definition["responses"]
            names = [parameter["$ref"].rsplit("/", 1)[1] for parameter in operation.definition["parameters"]]
            assert "timestamp" in names
        else:
            assert operation.definition["security"] == []
    timestamp = document.contents["components"]["parameters"]["timestamp"]
    assert timestamp["required"] is True
    assert timestamp["x-set-by-signer"] is True


@pytest.mark.parametrize("name", PROFILES)
def test_an_accepted_leverage_links_to_the_position_read_back(name: str) -> None:
    profile = load_profile(name)
    document = openapi_document(profile)
    operation = find_operation(profile, "POST", profile.paths["leverage"])
    link = operation.definition["responses"]["200"]["links"]["readBack"]
    link = document.resolve(f"{document.uri}#{link['$ref'].removeprefix('#')}")
    assert link["operationId"] == find_operation(profile, "GET", profile.paths["position"]).operation_id
    assert link["parameters"] == {"symbol": "$response.body#/symbol"}


def test_operations_are_found_by_method_and_concrete_path() -> None:
    profile = load_profile("binance-usdm")
    operation = find_operation(profile, "get", "/fapi/v2/positionRisk?symbol=BTCUSDT&timestamp=1")
    assert operation.label == "GET /fapi/v2/positionRisk"
    assert operation.pointer == "/paths/~1fapi~1v2~1positionRisk/get"
    with pytest.raises(UnknownOperationError) as caught:
        find_operation(profile, "GET", "/fapi/v1/positionRisk")
    assert str(caught.value) == "binance-usdm.yaml documents no operation GET /fapi/v1/positionRisk"


# --------------------------------------------------------------------------------------------------
# Responses: documented examples validate, broken ones fail readably


REFERENCE_POSITION = {
    "symbol": "BTCUSDT",
    "positionAmt": "0.002",
    "entryPrice": "65000.00",
    "breakEvenPrice": "65000.00",
    "markPrice": "65000.00",
    "unRealizedProfit": "0.00",
    "liquidationPrice": "0",
    "leverage": "20",
    "maxNotionalValue": "250000",
    "marginType": "isolated",
    "isolatedMargin": "6.5",
    "isAutoAddMargin": "false",
    "positionSide": "BOTH",
    "notional": "130.00",
    "isolatedWallet": "6.5",
    "updateTime": 1732200000000,
}
NEVER_TRADED = {
    **REFERENCE_POSITION,
    "positionAmt": "0",
    "entryPrice": "0",
    "isolatedMargin": "0",
    "updateTime": 0,
}

# Binance "Position Information V2", one-way and hedge mode examples (the doc's stray comma removed)
BINANCE_POSITIONS = [
    {
        "entryPrice": "0.00000",
        "breakEvenPrice": "0.0",
        "marginType": "isolated",
        "isAutoAddMargin": "false",
        "isolatedMargin": "0.00000000",
        "leverage": "10",
        "liquidationPrice": "0",
        "markPrice": "6679.50671178",
        "maxNotionalValue": "20000000",
        "positionAmt": "0.000",
        "notional": "0",
        "isolatedWallet": "0",
        "symbol": "BTCUSDT",
        "unRealizedProfit": "0.00000000",
        "positionSide": "BOTH",
        "updateTime": 0,
    },
    {
        "symbol": "BTCUSDT",
        "positionAmt": "0.001",
        "entryPrice": "22185.2",
        "breakEvenPrice": "0.0",
        "markPrice": "21123.05052574",
        "unRealizedProfit": "-1.06214947",
        "liquidationPrice": "19731.45529116",
        "leverage": "4",
        "maxNotionalValue": "100000000",
        "marginType": "cross",
        "isolatedMargin": "0.00000000",
        "isAutoAddMargin": "false",
        "positionSide": "LONG",
        "notional": "21.12305052",
        "isolatedWallet": "0",
        "updateTime": 1655217461579,
    },
]

# ZTDX "Position Risk": a cross position whose isolatedMargin is 0
ZTDX_POSITION = {
    "symbol": "BTCUSDT",
    "positionAmt": "0.001",
    "entryPrice": "57183.0",
    "breakEvenPrice": "57183.0",
    "markPrice": "58123.0",
    "unRealizedProfit": "1.12353",
    "liquidationPrice": "0",
    "leverage": "20",
    "maxNotionalValue": "1000000",
    "marginType": "cross",
    "isolatedMargin": "0.00000000",
    "isAutoAddMargin": "false",
    "positionSide": "BOTH",
    "notional": "58.123",
    "isolatedWallet": "0",
    "updateTime": 1623910239123,
}

REFERENCE_ORDER = {
    "orderId": 7,
    "clientOrderId": "x-7",
    "symbol": "BTCUSDT",
    "status": "FILLED",
    "side": "BUY",
    "type": "MARKET",
    "origQty": "0.002",
    "executedQty": "0.002",
    "cumQty": "0.002",
    "cumQuote": "130.00",
    "avgPrice": "65000.00",
    "price": "0",
    "reduceOnly": False,
    "positionSide": "BOTH",
    "timeInForce": "GTC",
    "updateTime": 1732200000000,
}

# Binance "New Order (TRADE)" response example
BINANCE_ORDER = {
    "clientOrderId": "testOrder",
    "cumQty": "0",
    "cumQuote": "0",
    "executedQty": "0",
    "orderId": 22542179,
    "avgPrice": "0.00000",
    "origQty": "10",
    "price": "0",
    "reduceOnly": False,
    "side": "BUY",
    "positionSide": "SHORT",
    "status": "NEW",
    "stopPrice": "9300",
    "closePosition": False,
    "symbol": "BTCUSDT",
    "timeInForce": "GTD",
    "type": "TRAILING_STOP_MARKET",
    "origType": "TRAILING_STOP_MARKET",
    "activatePrice": "9020",
    "priceRate": "0.3",
    "updateTime": 1566818724722,
    "workingType": "CONTRACT_PRICE",
    "priceProtect": False,
    "priceMatch": "NONE",
    "selfTradePreventionMode": "NONE",
    "goodTillDate": 1693207680000,
}


def reference_symbol(symbol: str, min_qty: str, notional: str, max_leverage: int) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "pair": symbol,
        "contractType": "PERPETUAL",
        "status": "TRADING",
        "baseAsset": symbol.removesuffix("USDT"),
        "quoteAsset": "USDT",
        "marginAsset": "USDT",
        "pricePrecision": 2,
        "quantityPrecision": 3,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "1000000", "tickSize": "0.01"},
            {"filterType": "LOT_SIZE", "minQty": min_qty, "maxQty": "1000", "stepSize": min_qty},
            {"filterType": "MARKET_LOT_SIZE", "minQty": min_qty, "maxQty": "1000", "stepSize": min_qty},
            {"filterType": "MIN_NOTIONAL", "notional": notional},
        ],
        "orderTypes": ["MARKET"],
        "timeInForce": ["GTC"],
        "maxLeverage": max_leverage,
    }


REFERENCE_EXCHANGE_INFO: dict[str, Any] = {
    "timezone": "UTC",
    "serverTime": 1732200000000,
    "rateLimits": [],
    "exchangeFilters": [],
    "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "0"}],
    "symbols": [
        reference_symbol("BTCUSDT", "0.001", "100", 125),
        reference_symbol("ETHUSDT", "0.001", "20", 100),
        reference_symbol("SOLUSDT", "1", "5", 50),
    ],
}

# Binance "Exchange Information" example (abridged to one symbol, comments removed)
BINANCE_EXCHANGE_INFO = {
    "exchangeFilters": [],
    "rateLimits": [
        {"interval": "MINUTE", "intervalNum": 1, "limit": 2400, "rateLimitType": "REQUEST_WEIGHT"},
        {"interval": "MINUTE", "intervalNum": 1, "limit": 1200, "rateLimitType": "ORDERS"},
    ],
    "serverTime": 1565613908500,
    "assets": [
        {"asset": "BUSD", "marginAvailable": True, "autoAssetExchange": 0},
        {"asset": "BNB", "marginAvailable": False, "autoAssetExchange": None},
    ],
    "symbols": [
        {
            "symbol": "BLZUSDT",
            "pair": "BLZUSDT",
            "contractType": "PERPETUAL",
            "deliveryDate": 4133404800000,
            "onboardDate": 1598252400000,
            "status": "TRADING",
            "maintMarginPercent": "2.5000",
            "requiredMarginPercent": "5.0000",
            "baseAsset": "BLZ",
            "quoteAsset": "USDT",
            "marginAsset": "USDT",
            "pricePrecision": 5,
            "quantityPrecision": 0,
            "baseAssetPrecision": 8,
            "quotePrecision": 8,
            "underlyingType": "COIN",
            "underlyingSubType": ["STORAGE"],
            "settlePlan": 0,
            "triggerProtect": "0.15",
            "filters": [
                {"filterType": "PRICE_FILTER", "maxPrice": "300", "minPrice": "0.0001", "tickSize": "0.0001"},
                {"filterType": "LOT_SIZE", "maxQty": "10000000", "minQty": "1", "stepSize": "1"},
                {"filterType": "MARKET_LOT_SIZE", "maxQty": "590119", "minQty": "1", "stepSize": "1"},
                {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                {"filterType": "MIN_NOTIONAL", "notional": "5.0"},
                {
                    "filterType": "PERCENT_PRICE",
                    "multiplierUp": "1.1500",
                    "multiplierDown": "0.8500",
                    "multiplierDecimal": "4",
                },
            ],
            "OrderType": ["LIMIT", "MARKET", "STOP"],
            "orderTypes": ["LIMIT", "MARKET", "STOP"],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
            "liquidationFee": "0.010000",
            "marketTakeBound": "0.30",
        }
    ],
    "timezone": "UTC",
}

REFERENCE_BRACKETS: list[dict[str, Any]] = [
    {
        "symbol": "BTCUSDT",
        "brackets": [
            {
                "bracket": 1,
                "initialLeverage": 125,
                "notionalCap": 50000,
                "notionalFloor": 0,
                "maintMarginRatio": 0.004,
                "cum": 0.0,
            },
            {
                "bracket": 2,
                "initialLeverage": 100,
                "notionalCap": 500000,
                "notionalFloor": 50000,
                "maintMarginRatio": 0.005,
                "cum": 50.0,
            },
        ],
    }
]
# Binance "Notional and Leverage Brackets", with symbol
BINANCE_BRACKETS = {
    "symbol": "ETHUSDT",
    "notionalCoef": 1.50,
    "brackets": [
        {
            "bracket": 1,
            "initialLeverage": 75,
            "notionalCap": 10000,
            "notionalFloor": 0,
            "maintMarginRatio": 0.0065,
            "cum": 0,
        }
    ],
}

TICKER = {"symbol": "BTCUSDT", "price": "65000.00", "time": 1732200000000}
LEVERAGE = {"leverage": 20, "maxNotionalValue": "250000", "symbol": "BTCUSDT"}


def valid_responses() -> Iterator[Any]:
    for name in PROFILES:
        position = POSITION[name]
        cases: list[tuple[str, str, int, Any]] = [
            ("GET", "/fapi/v1/time", 200, {"serverTime": 1732200000000}),
            ("GET", "/fapi/v1/exchangeInfo", 200, REFERENCE_EXCHANGE_INFO),
            ("GET", "/fapi/v1/ticker/price", 200, TICKER),
            (
                "GET",
                "/fapi/v1/ticker/price",
                200,
                [TICKER, {**TICKER, "symbol": "ETHUSDT", "price": "3200.00"}],
            ),
            ("GET", "/fapi/v1/leverageBracket", 200, REFERENCE_BRACKETS),
            ("GET", "/fapi/v1/leverageBracket", 200, REFERENCE_BRACKETS[0]),
            ("GET", "/fapi/v1/leverageBracket", 200, BINANCE_BRACKETS),
            ("POST", "/fapi/v1/leverage", 200, LEVERAGE),
            (
                "POST",
                "/fapi/v1/leverage",
                200,
                {"leverage": 21, "maxNotionalValue": "1000000", "symbol": "BTCUSDT"},
            ),
            ("POST", "/fapi/v1/leverage", 200, {**LEVERAGE, "maxNotionalValue": "1000000.0000"}),
            ("POST", "/fapi/v1/order", 200, REFERENCE_ORDER),
            ("POST", "/fapi/v1/order", 200, {**REFERENCE_ORDER, "side": "SELL", "reduceOnly": True}),
            ("POST", "/fapi/v1/order", 200, BINANCE_ORDER),
            (
                "GET",
                position,
                200,
                [REFERENCE_POSITION, NEVER_TRADED, {**REFERENCE_POSITION, "positionAmt": "-0.002"}],
            ),
            ("GET", position, 200, BINANCE_POSITIONS),
            ("GET", position, 200, [ZTDX_POSITION]),
            ("GET", position, 200, []),
            ("POST", "/fapi/v1/leverage", 400, {"code": -4028, "msg": "Leverage 200 is not valid. Max: 125"}),
            ("POST", "/fapi/v1/leverage", 401, {"code": -2014, "msg": "API-key format invalid."}),
            ("POST", "/fapi/v1/leverage", 404, {"code": -5000, "msg": "Path /x not found."}),
            (
                "POST",
                "/fapi/v1/leverage",
                405,
                {"code": -5001, "msg": "Method GET not allowed on /fapi/v1/leverage."},
            ),
            (
                "POST",
                "/fapi/v1/order",
                400,
                {"code": -4164, "msg": "Order's notional must be no smaller than 100."},
            ),
            ("GET", "/fapi/v1/ticker/price", 400, {"code": -1121, "msg": "Invalid symbol."}),
            ("GET", position, 401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}),
        ]
        if name == "binance-usdm":
            cases.append(("GET", "/fapi/v1/exchangeInfo", 200, BINANCE_EXCHANGE_INFO))
        for index, (method, path, status, body) in enumerate(cases):
            yield pytest.param(
                name, method, path, status, body, id=f"{name}-{method}-{path}-{status}-{index}"
            )


@pytest.mark.parametrize(("name", "method", "path", "status", "body"), list(valid_responses()))
def test_documented_responses_validate(name: str, method: str, path: str, status: int, body: Any) -> None:
    validate_response(load_profile(name), method, path, status, body)
    assert specs.response_mismatches(load_profile(name), method, path, status, body) == ()


@pytest.mark.parametrize("name", PROFILES)
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**LEVERAGE, "leverage": "20"}, "/leverage: '20' is not of type 'integer'"),
        ({**LEVERAGE, "leverage": 20.0}, "/leverage: 20.0 is not of type 'integer'"),
        ({**LEVERAGE, "leverage": 0}, "/leverage: 0 is less than the minimum of 1"),
        ({"leverage": 20, "maxNotionalValue": "250000"}, "'symbol' is a required property"),
        ({**LEVERAGE, "maxNotionalValue": 250000}, "/maxNotionalValue: 250000 is not of type 'string'"),
        (
            {**LEVERAGE, "maxNotionalValue": "2.5e5"},
            '/maxNotionalValue: "2.5e5" is not a non-negative decimal number written as a JSON string, '
            "without exponent or sign",
        ),
        (
            [LEVERAGE],
            "[{'leverage': 20, 'maxNotionalValue': '250000', 'symbol': 'BTCUSDT'}] is not of type 'object'",
        ),
    ],
)
def test_a_broken_leverage_response_fails_readably(name: str, body: Any, message: str) -> None:
    error = mismatch(name, "POST", "/fapi/v1/leverage", 200, body)
    assert str(error) == f"POST /fapi/v1/leverage -> 200: {message}"
    assert (error.method, error.path, error.status) == ("POST", "/fapi/v1/leverage", 200)
    pointer = "/paths/~1fapi~1v1~1leverage/post/responses/200/content/application~1json/schema"
    assert error.schema == f"openapi/{name}.yaml#{pointer}"


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (
            400,
            {"code": 1022, "msg": "Signature for this request is not valid."},
            "/code: 1022 is greater than the maximum of -1",
        ),
        (400, {"code": 0, "msg": "x"}, "/code: 0 is greater than the maximum of -1"),
        (
            400,
            {"code": -1022, "msg": ""},
            '/msg: "" is not a human-readable message with at least one non-blank character',
        ),
        (
            401,
            {"code": -2014, "msg": "   "},
            '/msg: "   " is not a human-readable message with at least one non-blank character',
        ),
        (404, {"code": "-5000", "msg": "Path /x not found."}, "/code: '-5000' is not of type 'integer'"),
        (400, {"error": "bad"}, "'code' is a required property (and 1 more)"),
        (400, "Bad Request", "'Bad Request' is not of type 'object'"),
        (
            500,
            {"code": -1000, "msg": "Internal error"},
            "status 500 is not documented for POST /fapi/v1/leverage (documented: 200, 400, 401, 4XX)",
        ),
    ],
)
def test_a_broken_error_envelope_fails_readably(status: int, body: Any, message: str) -> None:
    error = mismatch("ztdx", "POST", "/fapi/v1/leverage", status, body)
    assert str(error) == f"POST /fapi/v1/leverage -> {status}: {message}"


def test_other_broken_responses_name_the_failing_part() -> None:
    position = [{**REFERENCE_POSITION, "leverage": 20}]
    assert str(mismatch("binance-usdm", "GET", "/fapi/v2/positionRisk", 200, position)) == (
        "GET /fapi/v2/positionRisk -> 200: /0/leverage: 20 is not of type 'string'"
    )
    position = [{**REFERENCE_POSITION, "updateTime": "1732200000000"}]
    assert str(mismatch("ztdx", "GET", "/fapi/v1/positionRisk", 200, position)) == (
        "GET /fapi/v1/positionRisk -> 200: /0/updateTime: '1732200000000' is not of type 'integer'"
    )
    missing = {key: value for key, value in REFERENCE_POSITION.items() if key != "isolatedMargin"}
    assert str(mismatch("ztdx", "GET", "/fapi/v1/positionRisk", 200, [missing])) == (
        "GET /fapi/v1/positionRisk -> 200: /0: 'isolatedMargin' is a required property"
    )
    assert str(mismatch("ztdx", "GET", "/fapi/v1/ticker/price", 200, {**TICKER, "price": 65000.0})) == (
        "GET /fapi/v1/ticker/price -> 200: /price: 65000.0 is not of type 'string'"
    )
    brackets = copy.deepcopy(REFERENCE_BRACKETS)
    brackets[0]["brackets"][1]["notionalCap"] = "500000"
    assert str(mismatch("binance-usdm", "GET", "/fapi/v1/leverageBracket", 200, brackets)) == (
        "GET /fapi/v1/leverageBracket -> 200: /0/brackets/1/notionalCap: '500000' is not of type 'number'"
    )
    order = {**REFERENCE_ORDER, "reduceOnly": "false"}
    assert str(mismatch("binance-usdm", "POST", "/fapi/v1/order", 200, order)) == (
        "POST /fapi/v1/order -> 200: /reduceOnly: 'false' is not of type 'boolean'"
    )


def test_exchange_info_needs_max_leverage_for_ztdx_only() -> None:
    info = copy.deepcopy(REFERENCE_EXCHANGE_INFO)
    del info["symbols"][1]["maxLeverage"]
    validate_response(load_profile("binance-usdm"), "GET", "/fapi/v1/exchangeInfo", 200, info)
    assert str(mismatch("ztdx", "GET", "/fapi/v1/exchangeInfo", 200, info)) == (
        "GET /fapi/v1/exchangeInfo -> 200: /symbols/1: 'maxLeverage' is a required property"
    )
    validate_value("schemas/exchange-info.schema.json", info)
    with pytest.raises(SchemaMismatch):
        validate_value("schemas/exchange-info.schema.json#/$defs/ztdx", info)


def test_exchange_info_symbols_need_the_filters_orders_are_sized_with() -> None:
    info = copy.deepcopy(REFERENCE_EXCHANGE_INFO)
    info["symbols"][0]["filters"] = [
        f for f in info["symbols"][0]["filters"] if f["filterType"] != "MIN_NOTIONAL"
    ]
    info["symbols"][2]["filters"][1] = {
        "filterType": "LOT_SIZE",
        "minQty": 1,
        "maxQty": "1000",
        "stepSize": "1",
    }
    error = mismatch("binance-usdm", "GET", "/fapi/v1/exchangeInfo", 200, info)
    assert [(item.pointer, item.keyword) for item in error.mismatches] == [
        ("/symbols/0/filters", "contains"),
        ("/symbols/2/filters/1/minQty", "type"),
    ]


USER_DOCUMENT = """\
openapi: 3.1.0
info: {title: my venue, version: "1"}
paths:
  /api/leverage:
    post:
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: "schemas/answer.json"}
        default:
          description: error
          content:
            application/json:
              schema: {type: object, required: [code]}
"""


def test_a_users_own_document_resolves_its_files_from_disk(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "answer.json").write_text(
        json.dumps(
            {
                "type": "object",
                "required": ["leverage"],
                "properties": {"leverage": {"$ref": "#/$defs/int"}},
                "$defs": {"int": {"type": "integer"}},
            }
        ),
        encoding="utf-8",
    )
    (tmp_path / "api.yaml").write_text(USER_DOCUMENT, encoding="utf-8")
    (tmp_path / "mine.yaml").write_text("name: mine\nextends: ztdx\nopenapi: api.yaml\n", encoding="utf-8")
    profile = load_profile(tmp_path / "mine.yaml")
    validate_response(profile, "POST", "/api/leverage", 200, {"leverage": 3})
    validate_response(profile, "POST", "/api/leverage", 503, {"code": 1})
    error = mismatch_for(profile, "POST", "/api/leverage", 200, {"leverage": 3.0})
    assert str(error) == "POST /api/leverage -> 200: /leverage: 3.0 is not of type 'integer'"
    assert openapi_document(profile).uri == (tmp_path / "api.yaml").resolve().as_uri()


def mismatch_for(profile: Profile, method: str, path: str, status: int, body: Any) -> ResponseMismatch:
    with pytest.raises(ResponseMismatch) as caught:
        validate_response(profile, method, path, status, body)
    return caught.value


# --------------------------------------------------------------------------------------------------
# Values against a schema named relative to specs/ (the case expectation `schema:`)


def test_values_validate_against_a_schema_named_relative_to_specs() -> None:
    validate_value("schemas/leverage-response.schema.json", LEVERAGE)
    validate_value("schemas/position.schema.json#/$defs/position", REFERENCE_POSITION)
    validate_value(
        "schemas/error.schema.json", {"code": -1022, "msg": "Signature for this request is not valid."}
    )
    with pytest.raises(SchemaMismatch) as caught:
        validate_value("schemas/leverage-response.schema.json", {**LEVERAGE, "leverage": "20"})
    assert str(caught.value) == (
        "the value does not match schemas/leverage-response.schema.json: "
        "/leverage: '20' is not of type 'integer'"
    )
    assert caught.value.mismatches[0].pointer == "/leverage"
    assert caught.value.mismatches[0].keyword == "type"
    assert value_mismatches("schemas/position.schema.json", [NEVER_TRADED]) == ()


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ("schemas/nope.schema.json", "no schema schemas/nope.schema.json under specs/"),
        (
            "schemas/position.schema.json#/$defs/nope",
            "schema 'schemas/position.schema.json#/$defs/nope': "
            "no #/$defs/nope in schemas/position.schema.json",
        ),
        ("../pyproject.toml", "schema '../pyproject.toml' must be a path inside specs/"),
        ("/etc/passwd", "schema '/etc/passwd' must be a path inside specs/"),
    ],
)
def test_an_unknown_schema_is_a_spec_error_not_a_mismatch(schema: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        validate_value(schema, {})
    assert str(caught.value) == message


# --------------------------------------------------------------------------------------------------
# The hash of specs/


def test_the_specs_hash_is_stable_and_follows_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = specs_hash()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", original)
    assert specs_hash() == original

    copied = tmp_path / "specs"
    shutil.copytree(specs_dir(), copied)
    monkeypatch.setattr(specs, "specs_dir", lambda: copied)
    assert specs_hash() == original

    contract = copied / "contract.yaml"
    contract.write_bytes(contract.read_bytes().replace(b"\n", b"\r\n"))
    assert specs_hash() == original, "line endings do not change the hash"

    contract.write_bytes(contract.read_bytes() + b"# changed\n")
    assert specs_hash() != original


# --------------------------------------------------------------------------------------------------
# schemathesis can load the documents and generate requests for every operation


@pytest.mark.parametrize("path", OPENAPI, ids=lambda path: path.name)
def test_schemathesis_generates_requests_for_every_operation(path: Path, generate: Generate) -> None:
    import schemathesis
    from schemathesis.core.result import Ok

    schema = schemathesis.openapi.from_path(str(path))
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operations.append(result.ok())
    assert len(operations) == 7
    for operation in operations:
        has_parameters = bool(operation.definition.raw.get("parameters"))
        assert len(generate(operation, "positive")) >= (3 if has_parameters else 1), operation.label
        if operation.method.upper() == "POST":
            assert generate(operation, "negative"), operation.label
    machine = schema.as_state_machine()
    assert any("leverage" in rule and "positionRisk" in rule for rule in dir(machine)), "the readBack link"
