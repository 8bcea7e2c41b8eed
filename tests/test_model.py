from conformance.model import Outcome, Verdict, verdict_of


def test_a_must_failure_makes_the_run_nonconformant() -> None:
    assert verdict_of([Outcome.PASS, Outcome.ERROR, Outcome.FAIL]) is Verdict.NONCONFORMANT


def test_an_error_without_failure_makes_the_run_incomplete() -> None:
    assert verdict_of([Outcome.PASS, Outcome.WARN, Outcome.ERROR]) is Verdict.INCOMPLETE


def test_an_interrupted_run_is_incomplete() -> None:
    assert verdict_of([Outcome.PASS], complete=False) is Verdict.INCOMPLETE


def test_warnings_and_skips_are_conformant() -> None:
    assert verdict_of([Outcome.PASS, Outcome.WARN, Outcome.SKIP]) is Verdict.CONFORMANT
