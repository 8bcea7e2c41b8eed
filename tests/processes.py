"""Processes the tests start: ``conformance serve`` and ``conformance run`` as a user would."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

import pytest

CONFORMANCE = Path(sys.executable).with_name("conformance")


class Served:
    """``conformance serve`` in a subprocess; its URL is the first line it prints."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [str(CONFORMANCE), "serve", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.reader = threading.Thread(target=self._read_stdout, daemon=True)
        self.reader.start()
        self.url = self.line()
        self.banner = [self.line() for _ in range(5)]

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def line(self, timeout: float = 20.0) -> str:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail("conformance serve printed nothing")

    def stop(self, how: signal.Signals = signal.SIGTERM) -> int:
        self.process.send_signal(how)
        code = self.process.wait(timeout=20)
        assert self.process.stderr is not None
        stderr = self.process.stderr.read()
        assert "Traceback" not in stderr, stderr
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.reader.join(timeout=5)  # it ends at EOF, once the process is gone
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *_: object) -> None:
        self.kill()


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``conformance ARGS`` to completion, with only the given CONFORMANCE_* variables set."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CONFORMANCE_")}
    environment.update(env or {})
    return subprocess.run(
        [str(CONFORMANCE), *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd,
        timeout=300,
        check=False,
    )
