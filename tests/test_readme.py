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
