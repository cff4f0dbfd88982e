"""Start ``python -m mock_server`` as a subprocess and wait for its URL (test helper)."""
from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def running_server(*args: str, timeout: float = 15.0) -> Iterator[tuple[str, subprocess.Popen]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mock_server", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + timeout
        line = proc.stdout.readline().strip()
        if not line.startswith("http://") or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"server did not start: {line!r} {proc.stderr.read()}")
        yield line, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
