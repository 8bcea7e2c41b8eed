import json
from pathlib import Path

import jsonschema
import pytest

from conformance import results
from conformance.credentials import mask_key
from conformance.results import Redactor, to_document

from .sample_run import API_KEY, SECRET, sample_run


def test_the_document_validates_against_its_schema() -> None:
    document = to_document(sample_run())
    results.validate(document)
    assert document["summary"] == {"total": 5, "pass": 1, "fail": 1, "warn": 1, "error": 1, "skip": 1}
    assert document["cases"][0]["params"] == {"symbol": "BTCUSDT", "cap": "1.5"}


def test_the_schema_rejects_a_broken_document() -> None:
    document = to_document(sample_run())
    document["verdict"] = "mostly fine"
    with pytest.raises(jsonschema.ValidationError):
        results.validate(document)


def test_the_redactor_removes_secrets_and_masks_full_keys() -> None:
    run = sample_run(message=f"echo {SECRET}")
    document = to_document(run, Redactor(secrets=[SECRET], api_keys=[API_KEY]))
    text = json.dumps(document, ensure_ascii=False)
    assert SECRET not in text
    assert API_KEY not in text
    assert "[redacted]" in text
    assert mask_key(API_KEY) in text


def test_load_reads_a_run_directory(tmp_path: Path) -> None:
    document = to_document(sample_run())
    (tmp_path / "results.json").write_text(results.dumps(document))
    assert results.load(tmp_path) == document


def test_the_document_carries_the_contract_with_levels_for_the_runs_dialect() -> None:
    document = to_document(sample_run())
    contract = document["contract"]
    assert contract["source"].endswith("contract.yaml")
    assert [f["id"] for f in contract["families"]][:2] == ["security", "timing"]
    levels = {c["id"]: c["level"] for c in contract["clauses"]}
    assert levels["AUTH-SIG-CASE"] == "SHOULD"
    assert levels["TIME-RECVWINDOW-MAX"] == "INFO"  # ztdx: MUST
    assert levels["LEV-STRING"] is None  # ztdx only


def test_a_profile_given_overrides_the_contract_level() -> None:
    import dataclasses

    from conformance.model import Level
    from conformance.profiles import load_profile

    profile = dataclasses.replace(load_profile("binance-usdm"), clause_levels={"LEV-STRING": Level.MUST})
    levels = {c["id"]: c["level"] for c in to_document(sample_run(), profile=profile)["contract"]["clauses"]}
    assert levels["LEV-STRING"] == "MUST"


def test_a_document_without_the_contract_is_still_valid() -> None:
    document = to_document(sample_run())
    del document["contract"]
    results.validate(document)
