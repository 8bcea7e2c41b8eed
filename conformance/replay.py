"""Replaying one case of a finished run: ``conformance replay <run-dir> <case-id>``.

A recorded request cannot simply be sent again: its timestamp is stale and its signature covers that
timestamp. Replay therefore runs the *case* again, through the same library calls as a run
(:func:`engine.open_run`, :meth:`Run.plan`, :meth:`Run.protect`, :meth:`Run.execute`, :meth:`Run.finish`),
so every step is stamped and signed afresh and judged by the same checks.

Where the case comes from:

- a hand-written case is reloaded from its case file: ``--cases`` when given, else the file the run
  recorded as its ``source`` (relative to the current directory, as the run showed it), else the shipped
  suite; the instance is found again by its id after planning it against the venue's market facts now;
- a generated case is replayed from the ``reproduction`` case the run recorded for it.

The run's profile and symbols are reused, and its markets file when the document names one that still
exists, so the instance plans the same way. Which venue and which credentials is the CLI's decision.
"""

from __future__ import annotations

import asyncio
import difflib
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from conformance import cases, engine
from conformance.junit import transcript
from conformance.model import Case, CaseResult, RunResult
from conformance.resources import cases_dir

_MARKETS_SOURCE = re.compile(r"^markets file (?P<path>.+?)(?: \([^()]*\))?$")


class ReplayError(Exception):
    """The case cannot be replayed as asked (exit status 2)."""


@dataclass(frozen=True)
class Definition:
    """The case to run again, the instance of it to pick (None: every instance), and where it was found."""

    case: Case
    instance_id: str | None
    origin: str
    cases_hash: str


def recorded_case(document: Mapping[str, Any], wanted: str) -> Mapping[str, Any]:
    """The case of the run with instance id ``wanted``, or its only instance when ``wanted`` is a case id."""
    recorded: Sequence[Mapping[str, Any]] = document["cases"]
    for case in recorded:
        if case["id"] == wanted:
            return case
    instances = [case for case in recorded if case["case_id"] == wanted]
    if len(instances) == 1:
        return instances[0]
    if instances:
        listed = "\n  ".join(case["id"] for case in instances)
        raise ReplayError(f"{wanted} ran as {len(instances)} instances; name one:\n  {listed}")
    close = difflib.get_close_matches(wanted, [case["id"] for case in recorded], n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise ReplayError(f"no case {wanted!r} in run {document['run_id']}{hint}")


def _source_file(source: str) -> Path:
    """``cases/x.yaml:3:1`` -> ``cases/x.yaml``."""
    parts = source.rsplit(":", 2)
    return Path(parts[0] if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit() else source)


def _find(path: Path, case_id: str) -> Case | None:
    try:
        loaded = cases.load_cases(path)
    except cases.CaseFileError as error:
        raise ReplayError(error.render()) from None
    return next((case for case in loaded if case.id == case_id), None)


def definition(recorded: Mapping[str, Any], *, cases_path: Path | None = None) -> Definition:
    """Find the case a recorded result came from (see the module docstring for the order of places)."""
    if recorded["origin"] == "generated":
        if not recorded["reproduction"]:
            raise ReplayError(f"{recorded['id']} is a generated case without a reproduction to replay")
        name = f"<reproduction of {recorded['id']}>"
        try:
            case = cases.parse_case(recorded["reproduction"], file=name)
        except cases.CaseFileError as error:
            raise ReplayError(error.render()) from None
        return Definition(case, None, name, "")
    recorded_file = _source_file(recorded["source"])
    places = (
        [cases_path]
        if cases_path is not None
        else [recorded_file, cases_dir().parent / recorded_file, cases_dir()]
    )
    for place in places:
        if not place.exists():
            continue
        found = _find(place, recorded["case_id"])
        if found is not None:
            return Definition(found, recorded["id"], str(place), engine.tree_hash(place))
    looked = ", ".join(str(place) for place in places)
    raise ReplayError(f"case {recorded['case_id']!r} not found (looked in {looked}); give --cases")


def markets_file(document: Mapping[str, Any]) -> Path | None:
    """The markets file the run took facts from, when the document names one that still exists."""
    for facts in document["market_facts"]:
        for source in facts["sources"].values():
            match = _MARKETS_SOURCE.match(source)
            if match and Path(match["path"]).is_file():
                return Path(match["path"])
    return None


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def replay(config: engine.RunConfig, wanted: Definition) -> RunResult:
    """Run the case again as a one-case run: fresh clock, timestamps and signatures; the account is
    restored afterwards as after any run."""
    current = await engine.open_run(config)
    current.cases_hash = wanted.cases_hash
    finished: list[CaseResult] = []
    problem: ReplayError | None = None
    complete = True
    try:
        instances, errors = current.plan([wanted.case])
        chosen = [i for i in instances if wanted.instance_id in (None, i.id)]
        if chosen:
            for instance in await current.protect(chosen):
                finished.append(await current.execute(instance))
        elif errors:
            finished.extend(errors)
        else:
            planned = ", ".join(i.id for i in instances) or "none"
            problem = ReplayError(
                f"{wanted.instance_id} does not plan against this venue now "
                f"(its market facts differ from the run's?); instances of {wanted.case.id}: {planned}"
            )
    except asyncio.CancelledError:
        complete = False
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
    result = await current.finish(finished, complete=complete)
    if problem is not None:
        raise problem
    return result


def outcome_lines(recorded: Mapping[str, Any], document: Mapping[str, Any]) -> list[str]:
    """What replay prints: each new outcome beside the recorded one, and for a case that did not pass,
    what did not hold and its transcript. ``document`` is the (redacted) results document of the replay."""
    lines: list[str] = []
    for case in document["cases"]:
        lines.append(
            f"{case['outcome'].upper():<5} {case['id']}  {case['clause']} ({case['level']})  "
            f"[was {recorded['outcome']}]"
        )
        lines.append(f"      {case['message']}")
        if case["outcome"] == "pass":
            continue
        lines.extend(  # failures of no step; the transcript shows the others where they happened
            f"      - {f['level']} {f['title']}: expected {f['expected']}, got {f['actual']}"
            for f in case["failures"]
            if f["step"] is None
        )
        lines.extend("    " + line for line in transcript(case).splitlines())
    return lines
