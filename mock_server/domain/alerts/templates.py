"""Alert templates: the kinds of alert the mock evaluates, built in and read-only.

Togai documents eight templates (docs.togai.com, "Alerts" introduction); the
mock serves the four whose condition it can measure from its state (README,
"Alerts and incidents"): a usage breach, a low credit or wallet balance, and
an account's unpaid invoices reaching an amount.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..core.cursors import page_of
from ..core.errors import NotFound

# Templates exist before any tenant: their timestamps are the seeded epoch.
CREATED_AT = "2024-01-01T00:00:00.000Z"
DEFAULT_INTERVAL = 30  # minutes: Togai's minimum, and its steps


@dataclass(frozen=True)
class Template:
    """One kind of alert: what it watches (entity), whose (owner), its parameters, and how it is measured."""

    id: str
    name: str
    description: str
    entity_type: str | None  # USAGE_METER, CREDIT, WALLET
    entity: tuple[str, ...]  # required fields of entityDetails
    owner: tuple[str, ...]  # required fields of ownerDetails
    parameters: tuple[str, ...]  # required fields of parameters
    auto_resolves: bool  # an open incident resolves itself once the condition no longer holds
    breach_when_below: bool  # the condition: the measure drops below the threshold (else reaches it)
    measure: str  # the report data's name for what is measured: usageValue or balance


def _object_schema(fields: tuple[str, ...], kind: str) -> str:
    """The JSON schema (as text) of a details object whose ``fields`` are all required and of ``kind``."""
    extra = {"minimum": 0} if kind == "number" else {}
    schema = {"type": "object", "required": list(fields), "properties": {f: {"type": kind, **extra} for f in fields}}
    return json.dumps(schema, separators=(",", ":"))


TEMPLATES: tuple[Template, ...] = (
    Template(
        id="usage_breach",
        name="Usage breach",
        description="Opens an incident when an account's usage of a meter in the current month reaches the threshold.",
        entity_type="USAGE_METER",
        entity=("usageMeterId",),
        owner=("accountId",),
        parameters=("threshold",),
        auto_resolves=False,
        breach_when_below=False,
        measure="usageValue",
    ),
    Template(
        id="credit_low_balance",
        name="Credit low balance",
        description="Opens an incident when an account's available credit balance drops below the threshold; "
                    "resolved once it is back at or above it.",
        entity_type="CREDIT",
        entity=(),
        owner=("accountId",),
        parameters=("threshold",),
        auto_resolves=True,
        breach_when_below=True,
        measure="balance",
    ),
    Template(
        id="wallet_low_balance",
        name="Wallet low balance",
        description="Opens an incident when an account's wallet balance drops below the threshold; resolved once "
                    "it is back at or above it.",
        entity_type="WALLET",
        entity=(),
        owner=("accountId",),
        parameters=("threshold",),
        auto_resolves=True,
        breach_when_below=True,
        measure="balance",
    ),
    Template(
        id="unpaid_invoice_amount_breach",
        name="Unpaid invoice amount breach",
        description="Opens an incident when what an account owes on its DUE and PARTIALLY_PAID invoices reaches "
                    "the threshold; resolved once it is below it.",
        entity_type=None,
        entity=(),
        owner=("accountId",),
        parameters=("threshold",),
        auto_resolves=True,
        breach_when_below=False,
        measure="unpaidAmount",
    ),
)
BY_ID = {t.id: t for t in TEMPLATES}


def render(template: Template) -> dict[str, Any]:
    """The template as the API shows it (``AlertTemplate``)."""
    out: dict[str, Any] = {
        "id": template.id,
        "name": template.name,
        "description": template.description,
        "interval": DEFAULT_INTERVAL,
        "ownerType": "ACCOUNT",
        "ownerSchema": _object_schema(template.owner, "string"),
        "parametersSchema": _object_schema(template.parameters, "number"),
        "createdAt": CREATED_AT,
        "updatedAt": CREATED_AT,
    }
    if template.entity_type is not None:
        out["entityType"] = template.entity_type
        out["entitySchema"] = _object_schema(template.entity, "string")
    return out


RENDERED = [render(t) for t in TEMPLATES]


def require_template(template_id: str, field: str = "alert_template_id") -> Template:
    """The template ``template_id``, or :class:`NotFound` at ``field``."""
    found = BY_ID.get(template_id)
    if found is None:
        known = ", ".join(BY_ID)
        raise NotFound.at(field, f"no alert template {template_id!r} (the mock has {known})")
    return found


def page(next_token: str | None, page_size: int | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A page of the templates, in their fixed order."""
    return page_of(RENDERED, next_token, page_size)
