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

from ..core import lookup
from ..core.errors import Violation
from ..core.resource import Exchange, IdScheme, ImportContext, Resource
from ..core.store import Record, Store

NAME = "files"
# Where the mock serves a file's bytes (a control route: spec/control.yaml, getMockFile).
ROUTE = "/__mock/files/"


def require_file(store: Store, file_id: str) -> Record:
    """The file, or a :class:`NotFound`."""
    record: Record = lookup.require(store, NAME, file_id, "file_id", "file")
    return record


def content(record: Record) -> bytes:
    """The file's bytes (``content`` is text, or base64 with ``encoding: base64``)."""
    if record.get("encoding") == "base64":
        return base64.b64decode(record["content"], validate=True)
    data: bytes = record["content"].encode("utf-8")
    return data


def download_path(store: Store, file_id: str, expiry: int | None = None) -> str:
    """Where the mock serves the file's bytes, below whatever host the client called (it must exist).

    ``expiry`` (seconds, ``download_url?expiry``): the link works until then by the mock's clock; it
    carries the instant as ``expires`` (epoch seconds), as a pre-signed URL carries its own end.
    """
    path = f"{ROUTE}{require_file(store, file_id)['id']}"
    if expiry is None:
        return path
    return f"{path}?expires={int(store.clock.instant().timestamp()) + expiry}"


def link_expired(store: Store, expires: int) -> bool:
    """Whether a download link that ends at ``expires`` (epoch seconds) has ended by the mock's clock."""
    return store.clock.instant().timestamp() >= expires


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
    exchange=Exchange(
        check_import=check_import,
    ),
)
