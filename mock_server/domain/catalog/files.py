"""Files: documents Togai stores (invoice PDFs, exports), downloaded through the mock itself.

Togai's API only reads files: ``GET /files/{id}`` redirects to the file and
``GET /files/{id}/download_url`` says where it is. Files come into the mock
with the tenant's state (``PUT /__mock/state``, the fixtures): each record
holds its bytes. The download URL points at the mock's own control route
``GET /__mock/files/{id}``, which answers those bytes, so a frontend's
download link works offline. A record is the mock's own shape (Togai
publishes none): ``MockFile`` in ``spec/control.yaml``.
"""
from __future__ import annotations

import base64
import binascii
from typing import Any

from ...bindings.call import Answer, Call  # TEMPORARY: handlers move to mock_server/bindings
from ..core.errors import NotFound, Violation
from ..core.resource import IdScheme, ImportContext, Resource
from ..core.store import Record, Store

NAME = "files"
# Where the mock serves a file's bytes (a control route: spec/control.yaml, getMockFile).
ROUTE = "/__mock/files/"


def require_file(store: Store, file_id: str) -> Record:
    """The file, or a 404."""
    record: Record | None = store.collections[NAME].get(file_id)
    if record is None:
        raise NotFound.at("file_id", f"no file with id {file_id!r}")
    return record


def content(record: Record) -> bytes:
    """The file's bytes (``content`` is text, or base64 with ``encoding: base64``)."""
    if record.get("encoding") == "base64":
        return base64.b64decode(record["content"], validate=True)
    data: bytes = record["content"].encode("utf-8")
    return data


def download_url(call: Call, file_id: str) -> str:
    """The mock's own URL of the file, on the host the client called (so the link works where the client is)."""
    host = call.headers.get("host") or "127.0.0.1"
    return f"http://{host}{ROUTE}{file_id}"


def get_file(store: Store, call: Call) -> Answer:
    """``GET /files/{id}``: a redirect to the file's download URL."""
    record = require_file(store, call.params["file_id"])
    return Answer(None, {"location": download_url(call, record["id"])}, 302)


def get_download_url(store: Store, call: Call) -> dict[str, Any]:
    """``GET /files/{id}/download_url``."""
    record = require_file(store, call.params["file_id"])
    return {"downloadUrl": download_url(call, record["id"])}


def attachment(record: Record) -> tuple[str, str, bytes]:
    """The file as a download: its content type, a file name safe for a header, and its bytes."""
    name = record["name"].replace("\\", "_").replace('"', "_")
    return record["contentType"], name, content(record)


def check_import(ctx: ImportContext) -> None:
    """A base64 file decodes; a name and type fit in a header."""
    for i, record in enumerate(ctx.data[NAME]):
        where = f"{NAME}[{i}]"
        if record.get("encoding") == "base64":
            try:
                base64.b64decode(record["content"], validate=True)
            except (binascii.Error, ValueError):
                ctx.problems.append(Violation(f"{where}.content", "is not base64 (encoding: base64)"))
        for key in ("name", "contentType"):
            if not record[key].isprintable() or not record[key].isascii():
                ctx.problems.append(Violation(f"{where}.{key}", "must be printable ASCII (it is sent in a header)"))


RESOURCE = Resource(
    name=NAME,
    schema="MockFile",  # the mock's own record shape, in spec/control.yaml
    ids=IdScheme("file"),
    check_import=check_import,
)
