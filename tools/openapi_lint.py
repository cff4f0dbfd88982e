"""``make lint``'s OpenAPI step: Redocly CLI's recommended rules over ``spec/openapi.yaml``.

Redocly exits with 0 on warnings; this fails on any problem, error or warning, so
the spec stays at zero of both (rules are switched off only in ``redocly.yaml``,
each with its reason). A missing linter is a failure too, never a skip.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    """Run ``argv[0]`` (the ``redocly`` binary) over the APIs of ``redocly.yaml``; 0 when nothing is found."""
    if len(argv) != 1:
        print("usage: python tools/openapi_lint.py PATH/TO/redocly", file=sys.stderr)
        return 2
    redocly = Path(argv[0])
    if not redocly.exists():
        print(f"openapi lint: {redocly} is missing: run `make lint`, which installs it with npm "
              "(Node.js and npm are needed: apt-get install -y nodejs npm)", file=sys.stderr)
        return 1
    # No telemetry or update check: the lint runs offline once installed, and says the same each time.
    env = {**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true"}
    proc = subprocess.run(
        [str(redocly), "lint", "--config", str(ROOT / "redocly.yaml"), "--format", "json"],
        cwd=ROOT, capture_output=True, text=True, env=env, check=False,
    )
    try:
        report = json.loads(proc.stdout)
        totals = report["totals"]
    except (ValueError, KeyError, TypeError):
        print(f"openapi lint: redocly failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}", file=sys.stderr)
        return 1
    for problem in report.get("problems", []):
        where = problem.get("location", [{}])[0]
        pointer = where.get("pointer", "")
        source = where.get("source", {}).get("ref", "spec")
        print(f"{Path(source).name}{pointer}: {problem.get('severity')} {problem.get('ruleId')}: "
              f"{problem.get('message')}", file=sys.stderr)
    found = totals["errors"] + totals["warnings"]
    if found or proc.returncode:
        print(f"openapi lint: {totals['errors']} error(s), {totals['warnings']} warning(s)", file=sys.stderr)
        return 1
    print(f"openapi lint: spec/openapi.yaml passes Redocly {report.get('version', '')} recommended rules")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
