"""Cost of single operations in-process (no HTTP), with the fixtures and with
100 000 accounts: shows that no operation scans the store.

``python -m benchmarks.inprocess``
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

from mock_server import Config, create_app
from mock_server.domain.parties import accounts

AUTH = [(b"host", b"bench"), (b"authorization", b"Bearer bench"), (b"content-type", b"application/json")]
CASES = {
    "GET /accounts/{id}": ("GET", "/accounts/ACME-US", b"", b""),
    "PATCH /accounts/{id}": ("PATCH", "/accounts/ACME-US", b'{"name": "Bench name", "tags": ["Bench"]}', b""),
    "GET /accounts?pageSize=10": ("GET", "/accounts", b"", b"pageSize=10"),
}


async def _time(app: Any, n: int, method: str, path: str, body: bytes, query: bytes) -> float:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(_: Any) -> None:
        return None

    headers = [*AUTH, (b"content-length", str(len(body)).encode())]
    started = time.perf_counter()
    for _ in range(n):
        scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(),
                 "query_string": query, "headers": headers}
        await app(scope, receive, send)
    return (time.perf_counter() - started) / n * 1e6


def main() -> None:
    app = create_app(Config(log="quiet"))
    store = app.state.store
    before = {name: asyncio.run(_time(app, 20_000, *case)) for name, case in CASES.items()}
    acme = store.collections["customers"].get("ACME")
    for i in range(100_000):
        fields = {"id": f"S{i}", "name": f"Scale account {i}", "invoiceCurrency": "USD"}
        accounts.insert_account(store, accounts.build_account(store, fields, acme, []))
    after = {name: asyncio.run(_time(app, 20_000, *case)) for name, case in CASES.items()}
    print(f"{'operation':<28}{'fixtures µs':>12}{'100k µs':>10}")
    for name in CASES:
        print(f"{name:<28}{before[name]:>12.1f}{after[name]:>10.1f}")


if __name__ == "__main__":
    main()
