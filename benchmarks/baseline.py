"""The floor: bare Starlette endpoints that parse the same JSON and answer canned bytes
of the same size as the mock, with no validation and no state.

Run as ``python -m benchmarks.baseline PORT SIZES_JSON``; it answers each path
with ``b"x"``-padded JSON of the size the mock answered during calibration.
"""
from __future__ import annotations

import json
import sys

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def build(sizes: dict[str, int]) -> Starlette:
    """One endpoint per benchmarked operation, answering ``sizes[name]`` bytes."""

    def canned(name: str, status: int = 200) -> bytes:
        size = sizes.get(name, 64)
        filler = max(size - len('{"pad":""}'), 0)
        return json.dumps({"pad": "x" * filler}).encode()

    bodies = {name: canned(name) for name in sizes}

    async def patch_account(request: Request) -> Response:
        json.loads(await request.body())
        return Response(bodies["patch_account"], media_type="application/json")

    async def create_group(request: Request) -> Response:
        body = json.loads(await request.body())
        if "address" not in body:
            return Response(bodies["rejected_group"], status_code=400, media_type="application/json")
        return Response(bodies["create_group"], media_type="application/json")

    async def get_account(request: Request) -> Response:
        return Response(bodies["get_account"], media_type="application/json")

    async def list_accounts(request: Request) -> Response:
        return Response(bodies["list_accounts"], media_type="application/json")

    async def ingest_batch(request: Request) -> Response:
        orjson.loads(await request.body())  # issue 25's parse-only floor: orjson
        return Response(b'{"success":true}', status_code=202, media_type="application/json")

    return Starlette(routes=[
        Route("/accounts/{account_id}", patch_account, methods=["PATCH"]),
        Route("/accounts/{account_id}", get_account, methods=["GET"]),
        Route("/accounts", list_accounts, methods=["GET"]),
        Route("/invoice_groups", create_group, methods=["POST"]),
        Route("/ingestBatch", ingest_batch, methods=["POST"]),
    ])


if __name__ == "__main__":
    port, sizes = int(sys.argv[1]), json.loads(sys.argv[2])
    print(f"http://127.0.0.1:{port}", flush=True)
    # The mock runs uvicorn without its X-Forwarded-* middleware (it reads neither client address nor scheme):
    # so does its floor, on equal terms.
    uvicorn.run(build(sizes), host="127.0.0.1", port=port, log_level="warning", access_log=False,
                proxy_headers=False)
