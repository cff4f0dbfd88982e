"""Files: imported with the state, read through Togai's two file operations, downloaded from the mock itself."""
from __future__ import annotations

import base64
from pathlib import Path

import httpx
import togai_client
from conftest import Api, make_api

from mock_server import Config, create_app
from mock_server.fixtures import FixtureError

PDF = "file.invoiceACME1.pdf01"  # the demo tenant's invoice PDF
CSV = "file.usageExport.csv01"


def test_the_download_url_points_at_the_mock_itself(api: Api) -> None:
    r = api.get(f"/files/{PDF}/download_url")
    assert r.status_code == 200, r.text
    assert r.json() == {"downloadUrl": f"http://localhost/__mock/files/{PDF}"}
    moved = api.get(f"/files/{PDF}", follow_redirects=False)
    assert moved.status_code == 302 and moved.content == b""
    assert moved.headers["location"] == r.json()["downloadUrl"]


def test_the_control_route_answers_the_bytes(api: Api) -> None:
    pdf = api.get(f"/__mock/files/{PDF}", auth=False)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == 'attachment; filename="INV-ACME-0001.pdf"'
    assert pdf.content.startswith(b"%PDF-1.4") and pdf.content.rstrip().endswith(b"%%EOF")
    exported = next(f for f in api.get("/__mock/state").json()["files"] if f["id"] == PDF)
    assert pdf.content == base64.b64decode(exported["content"])
    csv = api.get(f"/__mock/files/{CSV}", auth=False)
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv.text.splitlines()[0] == "date,account,event,quantity"
    # Following Togai's redirect ends at the same bytes.
    assert api.get(f"/files/{PDF}").content == pdf.content


def test_unknown_files_are_404s(api: Api) -> None:
    for path in ("/files/file.nope.x", "/files/file.nope.x/download_url", "/__mock/files/file.nope.x"):
        r = api.get(path, follow_redirects=False)
        assert r.status_code == 404
        assert r.json() == {"message": "file_id: no file with id 'file.nope.x'"}


def test_an_imported_file_is_completed_and_checked(api: Api) -> None:
    state = api.get("/__mock/state").json()
    state["files"].append({"name": "note.txt", "contentType": "text/plain", "content": "hello"})
    assert api.request("PUT", "/__mock/state", json=state).status_code == 200
    new = api.get("/__mock/state").json()["files"][-1]
    assert new["id"].startswith("file.") and new["createdAt"]
    assert api.get(f"/__mock/files/{new['id']}").text == "hello"
    state["files"][-1] = {"name": "bad.bin", "contentType": "application/octet-stream", "encoding": "base64",
                          "content": "not base64!"}
    r = api.request("PUT", "/__mock/state", json=state)
    assert r.status_code == 400
    assert r.json()["message"] == "files[2].content: is not base64 (encoding: base64)"
    state["files"][-1] = {"name": "a\nb", "contentType": "text/plain", "content": ""}
    assert api.request("PUT", "/__mock/state", json=state).json()["message"] == \
        "files[2].name: must be printable ASCII (it is sent in a header)"


def test_a_fixture_file_is_checked_like_an_import(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text("files:\n  - {name: x.txt, contentType: text/plain, encoding: base64, content: '!'}\n")
    try:
        create_app(Config(fixtures=tmp_path))
    except FixtureError as exc:
        assert str(exc) == f"{tmp_path / 't.yaml'}: files[0].content: is not base64 (encoding: base64)"
    else:
        raise AssertionError("a broken fixture file was loaded")


def test_fixture_ids_of_files_are_kept_and_seeded_ids_repeat() -> None:
    ids = []
    for api in make_api():
        ids.append([f["id"] for f in api.get("/__mock/state").json()["files"]])
        ids.append([n["id"] for n in api.get("/__mock/state").json()["namedLicenses"]])
    for api in make_api():
        assert [f["id"] for f in api.get("/__mock/state").json()["files"]] == ids[0] == [PDF, "file.usageExport.csv01"]
        assert [n["id"] for n in api.get("/__mock/state").json()["namedLicenses"]] == ids[1]


def test_files_with_togais_client(sdk: togai_client.ApiClient) -> None:
    files = togai_client.FileStorageApi(sdk)
    url = files.get_download_url(PDF).download_url
    assert url.endswith(f"/__mock/files/{PDF}")
    # The link works for a plain HTTP client, with no token: what a browser does with it.
    downloaded = httpx.get(url)
    assert downloaded.status_code == 200 and downloaded.content.startswith(b"%PDF")
