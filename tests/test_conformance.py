"""Schemathesis over every operation: in-process (ASGI) and against a real server.

Budget: the default profile is derandomized and small; ``make conformance``
(MOCK_TEST_PROFILE=deep) raises the number of examples and the stateful depth.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import schemathesis
import st_hooks  # noqa: F401  registers our check
import yaml
from hypothesis import HealthCheck, settings
from serverproc import running_server

from mock_server import Config, create_app
from mock_server.config import DEFAULT_SPEC

DEEP = os.environ.get("MOCK_TEST_PROFILE") == "deep"
# Every test here is a long property-based run (and building the cases takes ~18 s per process):
# `make conformance` runs them, and CI runs it after `make test`.
pytestmark = pytest.mark.conformance
MAX_EXAMPLES = 150 if DEEP else 5
CLI_EXAMPLES = 60 if DEEP else 4
TOKEN = "conformance"
# positive_data_acceptance: replaced by st_hooks.valid_requests_pass_validation (Togai answers 400
# when a valid request breaks a business rule). use_after_free: Togai's DELETE archives, and an
# archived customer or account stays readable with status ARCHIVED, so a 200 after DELETE is right.
EXCLUDED_CHECKS = ["positive_data_acceptance", "use_after_free"]
# With our hooks, ensure_resource_availability is replaced by st_hooks.created_resources_stay_available
# (the same check, but a wallet: an account has none until a top-up opens one).
OWN_EXCLUDED = [*EXCLUDED_CHECKS, "ensure_resource_availability"]
HERE = Path(__file__).resolve().parent


def _schema() -> schemathesis.schemas.BaseSchema:
    schema = schemathesis.openapi.from_path(DEFAULT_SPEC)
    schema.app = create_app(Config(seed=1, self_check=True, tokens=(TOKEN,), log="quiet"))
    schema.config.update(headers={"Authorization": f"Bearer {TOKEN}"})
    schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True)
    schema.config.checks.update(excluded_check_names=OWN_EXCLUDED)
    return schema


schema = _schema()


@schema.parametrize()
@settings(suppress_health_check=list(HealthCheck), deadline=None)
def test_every_operation_conforms_in_process(case: schemathesis.Case) -> None:
    case.call_and_validate()


class StatefulMachine(schema.as_state_machine()):  # type: ignore[misc]
    def setup(self) -> None:
        # Every run starts from the fixtures, so Hypothesis can replay and shrink it.
        schema.app.state.control.reset()


TestStatefulInProcess = StatefulMachine.TestCase
TestStatefulInProcess.settings = settings(
    max_examples=40 if DEEP else 6,
    stateful_step_count=20 if DEEP else 8,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


PUBLISHED = HERE / "data" / "togai-published.yaml"


def _operation_count(path: Path) -> int:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return sum(1 for item in doc["paths"].values() for method in item if method in ("get", "put", "post", "patch", "delete"))


@pytest.mark.parametrize(
    ("contract", "hooks"),
    [
        pytest.param(DEFAULT_SPEC, True, id="own-spec"),
        # Togai's published contract (facts only, DEVIATIONS.md applied). Our own check of
        # schema-valid requests stays with our spec: it writes down input rules stricter than
        # Togai's document (currency codes, non-empty ids), each listed in DEVIATIONS.md.
        pytest.param(PUBLISHED, False, id="published-contract"),
    ],
)
def test_schemathesis_cli_against_the_server_subprocess(tmp_path: Path, contract: Path, hooks: bool) -> None:
    """Every phase (examples, coverage, fuzzing, stateful) and every check, over HTTP."""
    with running_server("--self-check", "--token", TOKEN, "--log", "quiet", "--seed", "3") as (url, mock):
        env = {**os.environ, "PYTHONPATH": str(HERE)}
        if hooks:
            env["SCHEMATHESIS_HOOKS"] = "st_hooks"
        proc = subprocess.run(
            [
                sys.executable, "-m", "schemathesis.cli", "run", str(contract),
                "--url", url,
                "-H", f"Authorization: Bearer {TOKEN}",
                "--checks", "all",
                "--exclude-checks", ",".join(OWN_EXCLUDED if hooks else EXCLUDED_CHECKS),
                "--max-examples", str(CLI_EXAMPLES),
                "--generation-deterministic",
                # Generation speed depends on the machine's load, not on the mock.
                "--suppress-health-check", "too_slow,filter_too_much",
                "--no-color",
            ],
            capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path,
        )
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, output[-6000:]
        operations = _operation_count(contract)
        assert f"Selected: {operations}/{operations}" in output, output[-3000:]
        assert f"Tested: {operations}" in output, output[-3000:]
        assert mock.process.poll() is None, "the server died during the run"
        assert "self-check" not in mock.output()
