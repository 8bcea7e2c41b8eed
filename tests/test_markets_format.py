"""One markets-file format: the reference venue reads the file the harness reads."""

import jsonschema
import yaml

from conformance.builtin import default_markets_file
from conformance.markets_file import load_markets_file, markets_schema


def test_the_venue_default_markets_file_follows_the_harness_schema() -> None:
    document = yaml.safe_load(default_markets_file().read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(markets_schema()).validate(document)


def test_the_harness_reads_the_venue_default_markets_file() -> None:
    markets = load_markets_file(default_markets_file())
    assert set(markets.symbols) == {"BTCUSDT", "ETHUSDT", "SOLUSDT"}
    assert markets.symbols["SOLUSDT"].min_leverage == 2
