"""A small asyncio HTTP/1.1 load generator over raw keep-alive sockets.

Used when ``wrk`` is not installed. Each connection sends a request, reads the
whole answer, and records the latency; requests come from a factory so every
request can differ (each POST /invoice_groups needs fresh accounts).
"""
from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

RequestFactory = Callable[[int], bytes]


@dataclass
class LoadResult:
    """What one run measured."""

    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """Latency percentile in milliseconds."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def http_request(method: str, path: str, body: bytes = b"", token: str = "bench") -> bytes:
    """The bytes of one HTTP/1.1 keep-alive request."""
    head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


async def _connection(host: str, port: int, make: RequestFactory, counter: list[int],
                      deadline: float, result: LoadResult, record: bool, limit: int | None = None) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline and (limit is None or counter[0] < limit):
            index = counter[0]
            counter[0] += 1
            started = time.perf_counter()
            writer.write(make(index))
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            if record:
                result.latencies.append(time.perf_counter() - started)
                result.statuses[status] += 1
                result.requests += 1
    finally:
        writer.close()


async def _run(url: str, make: RequestFactory, connections: int, seconds: float, warmup: float,
               limit: int | None = None) -> LoadResult:
    host, port = url.removeprefix("http://").split(":")
    counter = [0]
    result = LoadResult()
    if warmup:
        end = time.perf_counter() + warmup
        await asyncio.gather(*(_connection(host, int(port), make, counter, end, result, False) for _ in range(connections)))
    started = time.perf_counter()
    end = started + seconds
    await asyncio.gather(*(_connection(host, int(port), make, counter, end, result, True, limit) for _ in range(connections)))
    result.seconds = time.perf_counter() - started
    return result


def run_load(url: str, make: RequestFactory, connections: int = 16, seconds: float = 3.0, warmup: float = 0.5,
             limit: int | None = None) -> LoadResult:
    """Drive ``url`` with ``connections`` keep-alive connections for ``seconds`` (or ``limit`` requests)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run(_run(url, make, connections, seconds, warmup, limit))
    return uvloop.run(_run(url, make, connections, seconds, warmup, limit))
