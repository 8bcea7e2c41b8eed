import pytest

from conformance.fieldpath import MISSING, PathSyntaxError, parse, select

DOC = {
    "leverage": 20,
    "brackets": [{"bracket": 1, "initialLeverage": 125}, {"bracket": 2, "initialLeverage": 100}],
}
POSITIONS = [{"symbol": "ETHUSDT", "leverage": "10"}, {"symbol": "BTCUSDT", "leverage": "20"}]


@pytest.mark.parametrize(
    ("document", "path", "expected"),
    [
        (DOC, "leverage", 20),
        (DOC, "brackets.1.initialLeverage", 100),
        (DOC, "brackets.5.initialLeverage", MISSING),
        (DOC, "nothing.here", MISSING),
        (POSITIONS, "[symbol=BTCUSDT].leverage", "20"),
        (POSITIONS, "[symbol=SOLUSDT].leverage", MISSING),
        (POSITIONS, "0.symbol", "ETHUSDT"),
        ("text", "leverage", MISSING),
    ],
)
def test_select(document: object, path: str, expected: object) -> None:
    assert select(document, path) == expected


def test_a_filter_compares_as_text() -> None:
    assert select([{"flag": True, "n": 1}], "[flag=true].n") == 1


@pytest.mark.parametrize("path", ["", "a..b", "[symbol].x", "a.]"])
def test_malformed_paths_are_refused(path: str) -> None:
    with pytest.raises(PathSyntaxError):
        parse(path)
