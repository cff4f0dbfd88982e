"""What ``--state-file`` costs, and what one ``--tenancy token`` server saves over one per worker.

Used by ``make bench``; ``python -m benchmarks.persistence`` runs these alone.
"""
from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from mock_server.pytest_plugin import TogaiMock, start_server

from .loadgen import LoadResult, http_request, run_load

ROUNDS = 2


def _patch(i: int) -> bytes:
    return http_request("PATCH", "/accounts/ACME-US", b'{"name": "Bench name %d"}' % (i % 100))


def _call(url: str, method: str, path: str, body: Any = None, token: str = "bench") -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=300) as r:
        return r.status, r.read()


def rss_mb(mock: TogaiMock) -> float:
    """Resident memory of the server process, in MB."""
    assert mock.process is not None
    for line in Path(f"/proc/{mock.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _best(runs: list[LoadResult]) -> dict[str, float]:
    best = max(runs, key=lambda r: r.rps)
    return {"rps": round(best.rps), "p99_ms": round(best.percentile(99), 2)}


def patch_cost(load: dict[str, Any]) -> dict[str, Any]:
    """``PATCH /accounts/{id}`` (a change per request, so the file is rewritten every
    ~0.5 s) with and without ``--state-file``, in interleaved rounds."""
    with tempfile.TemporaryDirectory() as folder:
        plain = start_server(["--log", "quiet"])
        persisted = start_server(["--log", "quiet", "--state-file", str(Path(folder) / "state.json")])
        try:
            plain_runs, persisted_runs = [], []
            for _ in range(ROUNDS):
                plain_runs.append(run_load(plain.url, _patch, **load))
                persisted_runs.append(run_load(persisted.url, _patch, **load))
        finally:
            plain.stop()
            persisted.stop()
    without, with_file = _best(plain_runs), _best(persisted_runs)
    return {"without": without, "with": with_file, "cost": round(1 - with_file["rps"] / without["rps"], 3)}


def scale_cost(state: dict[str, Any], load: dict[str, Any]) -> dict[str, Any]:
    """A tenant of ``state``'s size (100k accounts) with ``--state-file``: how long a write
    takes, the file's size, PATCH throughput while it is rewritten, and the start-up that reads it."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "state.json"
        mock = start_server(["--log", "quiet", "--state-file", str(path)])
        try:
            status, _ = _call(mock.url, "PUT", "/__mock/state", state)
            assert status == 200
            started = time.perf_counter()
            while not path.exists():
                time.sleep(0.01)
            first_write_s = time.perf_counter() - started  # debounce (0.5 s) + encoding + writing
            size_mb = path.stat().st_size / 1e6
            scaled = run_load(mock.url, _patch, **load)
            rss = rss_mb(mock)
        finally:
            mock.stop()
        started = time.perf_counter()
        reloaded = start_server(["--log", "quiet", "--state-file", str(path)], timeout=120)
        load_s = time.perf_counter() - started
        try:
            counts = json.loads(_call(reloaded.url, "GET", "/__mock/health")[1])
        finally:
            reloaded.stop()
    return {"first_write_s": round(first_write_s, 2), "file_mb": round(size_mb, 1),
            "patch_rps": round(scaled.rps), "patch_p99_ms": round(scaled.percentile(99), 2),
            "rss_mb": round(rss, 1), "startup_with_file_s": round(load_s, 2), "accounts": counts.get("accounts")}


def shared_savings(workers: int = 8) -> dict[str, Any]:
    """``-n 8``: one server per worker against one ``--tenancy token`` server with a tenant per worker."""
    starts, rss = [], []
    servers = []
    try:
        for _ in range(workers):
            started = time.perf_counter()
            mock = start_server(["--log", "quiet"])
            _call(mock.url, "POST", "/__mock/reset")
            starts.append(time.perf_counter() - started)
            servers.append(mock)
        time.sleep(0.2)
        rss = [rss_mb(m) for m in servers]
    finally:
        for mock in servers:
            mock.stop()
    started = time.perf_counter()
    shared = start_server(["--log", "quiet", "--tenancy", "token"])
    try:
        for worker in range(workers):
            _call(shared.url, "POST", "/__mock/reset", token=f"worker-{worker}")
            _call(shared.url, "GET", "/accounts", token=f"worker-{worker}")
        shared_start = time.perf_counter() - started
        time.sleep(0.2)
        shared_rss = rss_mb(shared)
    finally:
        shared.stop()
    return {"workers": workers, "per_worker_rss_mb": round(sum(rss), 1), "shared_rss_mb": round(shared_rss, 1),
            "per_worker_startup_s": round(sum(starts), 2),
            "per_worker_startup_each_s": round(statistics.median(starts), 2),
            "shared_startup_s": round(shared_start, 2)}


def main() -> int:
    """Run the three measurements on their own and print them."""
    load = {"connections": 16, "seconds": 1.5}
    print(json.dumps({"patch": patch_cost(load), "shared": shared_savings()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
