"""The README's table of operations that answer canned lists exactly the operations without a handler."""
from __future__ import annotations

import re

from conftest import ROOT

from mock_server.config import DEFAULT_SPEC
from mock_server.handlers import bind
from mock_server.openapi.spec import load_spec

HEADING = "### Operations that still answer canned, and why"


def canned_table() -> dict[str, str]:
    """operationId -> the tag its row names, from the README table."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(HEADING, 1)[1].split("\n#", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[1].startswith("`"):
            continue
        for op_id in re.findall(r"`([^`]+)`", cells[1]):
            assert op_id not in rows, f"{op_id} is listed twice"
            rows[op_id] = cells[0]
    return rows


def test_the_readme_lists_exactly_the_canned_operations() -> None:
    spec = load_spec(DEFAULT_SPEC)
    handlers = bind(spec)
    tags = {
        op["operationId"]: op.get("tags", ["?"])[0]
        for item in spec.document["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    }
    canned = {op_id: tag for op_id, tag in tags.items() if op_id not in handlers}
    listed = canned_table()
    assert sorted(set(listed) - set(canned)) == [], "listed in the README but stateful (or not in the spec)"
    assert sorted(set(canned) - set(listed)) == [], "canned but missing from the README table"
    assert {op: listed[op] for op in canned} == canned, "listed under another tag"
    intro = (ROOT / "README.md").read_text(encoding="utf-8")
    if canned:
        assert f"The other {len(canned)} operations" in intro
    else:
        assert "Every operation has a handler" in intro


# -- the README's first session, run (issue 24, item 7) ---------------------------------------------
import json  # noqa: E402
import shlex  # noqa: E402
from typing import Any  # noqa: E402

from starlette.testclient import TestClient  # noqa: E402

from mock_server.app import create_app  # noqa: E402
from mock_server.config import Config  # noqa: E402

FIRST_SESSION = ("## A first session", "## Command line")
# `"key":value` in an answer comment, a value written out in full (no "…").
_PAIR = re.compile(r'"(\w+)":("[^"…]*"|\[[^\]…]*\]|-?\d+(?:\.\d+)?|true|false|null)(?=[,}])')


def _section(start: str, end: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split(start, 1)[1].split(end, 1)[0]


def _commands(section: str) -> list[tuple[str, list[str]]]:
    """Each `curl` of the section's sh blocks, as bash would split it, with the comment lines after it."""
    out: list[tuple[str, list[str]]] = []
    variables: dict[str, str] = {}
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        lines = block.replace("\\\n", " ").splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            assignment = re.fullmatch(r"(\w+)='([^']*)'", line.strip())
            if assignment:
                variables[assignment[1]] = assignment[2]
            if not line.startswith("curl "):
                i += 1
                continue
            command = line
            while command.count("'") % 2:  # a quoted body over several lines
                i += 1
                command += "\n" + lines[i]
            notes = []
            while i + 1 < len(lines) and lines[i + 1].startswith("# "):
                i += 1
                notes.append(lines[i][2:])
            for name, value in variables.items():
                command = command.replace(f'"${name}"', shlex.quote(value))
            out.append((command, notes))
            i += 1
    return out


def _run(client: TestClient, command: str) -> Any:
    """One `curl` (the flags the README uses) against the in-process app."""
    args = shlex.split(command)[1:]
    method, headers, data, url = "GET", {}, None, ""
    while args:
        arg = args.pop(0)
        if arg == "-X":
            method = args.pop(0)
        elif arg == "-H":
            name, _, value = args.pop(0).partition(":")
            headers[name.strip()] = value.strip()
        elif arg == "-d":
            data = args.pop(0)
            method = "POST" if method == "GET" else method
        elif arg.startswith("-"):
            assert arg in ("-s", "-si", "-i"), f"a curl flag the test does not know: {arg}"
        else:
            url = arg
    assert url.startswith("http://127.0.0.1:4010/"), url
    return client.request(method, url.removeprefix("http://127.0.0.1:4010"), headers=headers, content=data)


def test_every_curl_of_the_first_session_answers_what_the_readme_says() -> None:
    client = TestClient(create_app(Config(log="quiet", self_check=True)), base_url="http://127.0.0.1:4010")
    commands = _commands(_section(*FIRST_SESSION))
    assert len(commands) >= 5
    for command, notes in commands:
        response = _run(client, command)
        said = re.search(r"answers (\d{3})", command + " ".join(notes))
        status_line = next((n for n in notes if n.startswith("HTTP/1.1 ")), None)
        expected = int(status_line.split()[1]) if status_line else int(said[1]) if said else None
        assert response.status_code == (expected or response.status_code) and response.status_code < 500, command
        if expected is None:
            assert response.status_code == 200, (command, response.text)
        for note in notes:
            name, sep, value = note.partition(": ")
            if sep and name.lower().startswith("x-mock-"):
                assert response.headers[name] == value, (command, name)
            if note.startswith("{"):
                answer = response.json()
                for key, text in _PAIR.findall(note):
                    assert answer.get(key) == json.loads(text), (command, key, answer.get(key))


def test_the_first_session_comments_are_checked_at_all() -> None:
    notes = [n for _, ns in _commands(_section(*FIRST_SESSION)) for n in ns]
    assert sum(len(_PAIR.findall(n)) for n in notes if n.startswith("{")) >= 6
    assert any(n.startswith("x-mock-violations: ") for n in notes)


def test_no_stale_words_where_a_newcomer_reads_first() -> None:
    import subprocess
    import sys
    import tomllib

    stale = "accounts and invoice-groups API"
    help_text = subprocess.run([sys.executable, "-m", "mock_server", "--help"], capture_output=True, text=True).stdout
    description = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["description"]
    package_doc = (ROOT / "mock_server" / "__init__.py").read_text()
    assert stale not in help_text and stale not in description and stale not in package_doc
    assert "billing API" in help_text and "billing API" in description
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for words in ("<git-host>", "../shared/", "of the issue", "(on in every test)", "494 MB"):
        assert words not in readme, words
    # The documents a user reads name nothing they do not have: the project's ../shared/ is not shipped.
    for path in ("spec/DEVIATIONS.md", "spec/openapi.yaml", "spec/control.yaml"):
        assert "../shared/" not in (ROOT / path).read_text(encoding="utf-8"), path


def test_the_readme_health_and_state_examples_name_every_resource_or_say_they_are_cut() -> None:
    client = TestClient(create_app(Config(log="quiet")), base_url="http://127.0.0.1:4010")
    health = client.get("/__mock/health").json()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [row] = [line for line in readme.splitlines() if line.startswith("| `GET /__mock/health` |")]
    assert f"{len(health) - 1} with the bundled spec" in row
    [row] = [line for line in readme.splitlines() if line.startswith("| `GET /__mock/records/")]
    page = client.get("/__mock/records/customers?pageSize=1").json()
    assert all(f'"{key}"' in row for key in page)
