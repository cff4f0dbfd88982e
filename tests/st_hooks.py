"""Schemathesis checks of our own, loaded in-process and by the CLI (SCHEMATHESIS_HOOKS).

Schemathesis' ``positive_data_acceptance`` treats every 4xx to a schema-valid
request as a failure, but Togai answers 400 when a valid request breaks a
business rule (an archived account, a currency mismatch...). The mock says
which stage refused a request in ``X-Mock-Rejected-By``; this check fails only
when a schema-valid request is refused by the *schema* stages, which is the
disagreement between mock and spec that matters.
"""
from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis.specs.openapi.checks import ensure_resource_availability


def _header(response: Any, name: str) -> str | None:
    value = response.headers.get(name)
    if isinstance(value, list):
        return value[0] if value else None
    return value


@schemathesis.check
def valid_requests_pass_validation(ctx: Any, response: Any, case: Any) -> bool | None:
    """A schema-valid request is never refused by parameter or body validation."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    stage = _header(response, "x-mock-rejected-by")
    if stage in ("parameters", "body"):
        raise AssertionError(
            f"schema-valid request refused by the {stage} stage: {response.status_code} {response.text[:300]}"
        )
    return None


# Sub-resources that another operation creates: an account has no wallet until a top-up opens one,
# so a 404 for the wallet of an account just created is the answer Togai gives, not a lost account.
MADE_ELSEWHERE = ("/accounts/{account_id}/wallet",)


@schemathesis.check
def created_resources_stay_available(ctx: Any, response: Any, case: Any) -> bool | None:
    """Schemathesis' ``ensure_resource_availability``, except for sub-resources made by another operation."""
    if case.operation.path.startswith(MADE_ELSEWHERE):
        return None
    return ensure_resource_availability(ctx, response, case)  # type: ignore[no-any-return]
