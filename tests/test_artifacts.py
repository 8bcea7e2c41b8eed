import json
from pathlib import Path

from conformance.artifacts import write_run
from conformance.results import to_document

from .sample_run import sample_run


def test_a_run_writes_its_three_files_and_latest_points_at_it(tmp_path: Path) -> None:
    document = to_document(sample_run())
    run_dir = write_run(document, tmp_path)
    assert sorted(p.name for p in run_dir.iterdir()) == ["index.html", "junit.xml", "results.json"]
    assert json.loads((tmp_path / "latest" / "results.json").read_text())["run_id"] == document["run_id"]

    second = dict(document, run_id="second")
    write_run(second, tmp_path)
    assert json.loads((tmp_path / "latest" / "results.json").read_text())["run_id"] == "second"
