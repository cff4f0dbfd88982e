"""The wheel carries the spec and the fixtures, and the server runs from it alone."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    [built] = out.glob("*.whl")
    return built


def test_wheel_contains_spec_fixtures_and_entry_points(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "mock_server/_data/spec/openapi.yaml" in names
    assert "mock_server/_data/fixtures/tenant.yaml" in names
    # The dashboard works offline from the wheel: its pages, scripts, and the vendored chart library with its licence.
    for asset in ("index.html", "common.js", "dashboard.js", "dashboard.css", "account.html", "account.js",
                  "vendor/uPlot.iife.min.js", "vendor/uPlot.min.css", "vendor/uPlot.LICENSE"):
        assert f"mock_server/dashboard/static/{asset}" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "mock-server = mock_server.cli:main" in text


def test_server_starts_from_the_unpacked_wheel(wheel: Path, tmp_path: Path) -> None:
    zipfile.ZipFile(wheel).extractall(tmp_path)
    code = (
        "from mock_server.config import DEFAULT_SPEC, DEFAULT_FIXTURES;"
        "from mock_server import create_app;"
        "app = create_app();"
        "print(DEFAULT_SPEC); print(len(app.state.store.collections['accounts']))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    spec_path, accounts = proc.stdout.split()
    assert spec_path == str(tmp_path / "mock_server" / "_data" / "spec" / "openapi.yaml")
    assert int(accounts) == 6
