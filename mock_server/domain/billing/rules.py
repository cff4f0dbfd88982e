"""The plan's pricing rules, run on a cycle's rate-card lines (README, "Invoices": pricing rules).

Togai's pricing-rules page: rules run "along with the computation of the
invoice", in their ``order``; each has a condition ("based on the values of a
variable in the price plan/invoice") and a computation (JSON-logic), and
either adds a line or updates an existing one; the variables "are the usage
and revenue data for the different rate cards configured in the price plan"
(``usage.`` / ``revenue.``), and "you cannot apply conditions, computations or
update In Advance rate cards". Its own example names them
``usage.urc.<usage meter id>``, ``revenue.urc.<usage meter id>`` and
``revenue.ff.<fixed fee add-on id>``; licences and entitlement overage follow
the same pattern as ``usage.lrc.<add-on id>`` / ``revenue.lrc.<add-on id>``
and ``usage.eorc.<feature id>`` / ``revenue.eorc.<feature id>`` (our decision).

What each rule did is recorded as a ``PricingRulesLog`` in the plan line's
``metadata.pricingRulesLogs`` (``GET /invoice/{id}/pricing_rules_logs`` answers
them): a condition or computation that fails, or gives no number, skips the
rule (``CONDITION_ERROR`` / ``COMPUTATION_ERROR`` with the reason); nothing
ever stops the invoice being made.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from ..core.money import exact, rounded, to_json
from ..usage import jsonlogic

ADD_TOTAL = "TOTAL_PRICING_RULE_ADDITION_AMOUNT"
ADD_LINE = "PRICING_RULE_ADDITION_AMOUNT"
REVENUE_UPDATE = "PRICING_RULE_REVENUE_UPDATE_AMOUNT"
USAGE_UPDATE = "PRICING_RULE_USAGE_UPDATE_AMOUNT"
LOGS = "pricingRulesLogs"  # the plan line's metadata key holding what each rule did
ZERO = Decimal(0)


@dataclass(slots=True)
class Target:
    """A rate-card line a rule may read and update: its usage key (None: a fee has no usage) and revenue key,
    and how to price a new quantity (None: its usage cannot be updated)."""

    line: dict[str, Any]
    usage_key: str | None
    revenue_key: str
    reprice: Callable[[Decimal], dict[str, Any]] | None


@lru_cache(maxsize=512)
def _compiled(text: str) -> jsonlogic.Program | str:
    """A rule's expression compiled once per text; the reason as a string when Togai's evaluator refuses it."""
    try:
        return jsonlogic.compile_logic(text)
    except jsonlogic.LogicError as error:
        return str(error)


def _names(node: Any, out: list[str]) -> list[str]:
    """The variable names an expression reads (``{"var": "name"}``), in order, each once."""
    if isinstance(node, dict):
        for op, args in node.items():
            first = args[0] if isinstance(args, list) and args else args
            if op == "var" and isinstance(first, str) and first not in out:
                out.append(first)
            _names(args, out)
    elif isinstance(node, list):
        for item in node:
            _names(item, out)
    return out


def _read(rule: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for key in ("condition", "computation"):
        if rule.get(key):
            try:
                _names(jsonlogic.parse(rule[key]), names)
            except ValueError:
                continue
    return names


def _evaluate(text: str, data: dict[str, Any]) -> tuple[Any, str | None]:
    """The expression's value for ``data``, or the reason it has none."""
    program = _compiled(text)
    if isinstance(program, str):
        return None, program
    try:
        return program(data), None
    except jsonlogic.EvalError as error:
        return None, str(error)


def apply(rules: list[dict[str, Any]], targets: list[Target], currency: str,
          ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Run ``rules`` (by ``order``) on the cycle's lines: UPDATE changes a target line in place, ADD makes a
    ``PRICING_RULE_ADDITION_AMOUNT`` line. Answers the ``TOTAL_PRICING_RULE_ADDITION_AMOUNT`` line of the
    additions (None without any) and the logs."""
    data: dict[str, Any] = {}
    by_key: dict[str, Target] = {}
    for card in targets:
        if card.usage_key is not None:
            data[card.usage_key] = exact(card.line.get("quantity", 0))
            by_key[card.usage_key] = card
        data[card.revenue_key] = exact(card.line["value"])
        by_key[card.revenue_key] = card
    added: list[dict[str, Any]] = []
    logs: list[dict[str, Any]] = []
    for rule in sorted(rules, key=lambda r: r["order"]):
        action = rule["action"]
        key = str(action.get("target") or action.get("id") or rule["id"])
        log: dict[str, Any] = {"id": f"prl.{rule['id']}", "order": rule["order"],
                               "rule": {k: rule[k] for k in ("id", "name", "condition", "computation") if k in rule},
                               "variablesValue": {n: {"name": n, "value": _text(data.get(n))} for n in _read(rule)}}
        logs.append(log)
        target = by_key.get(key) if action["type"] == "UPDATE" else None
        old = exact(target.line["value"]) if target is not None else ZERO
        log["changes"] = {"key": key, "keyName": str(target.line["description"] if target is not None
                                                    else action.get("description") or rule["name"]),
                          "oldRevenue": to_json(old), "newRevenue": to_json(old)}
        if rule.get("condition"):
            holds, error = _evaluate(rule["condition"], data)
            if error is not None:
                log["type"], log["changes"]["errorMessage"] = "CONDITION_ERROR", error
                continue
            if not jsonlogic.truthy(holds):
                log["type"] = "CONDITION_FALSE"
                continue
        log["type"] = "CONDITION_TRUE"
        value, error = _evaluate(rule["computation"], data)
        if error is None and not isinstance(value, Decimal):
            error = f"the computation gave {_text(value)}, not a number"
        if error is None and action["type"] == "UPDATE" and target is None:
            error = f"target {key!r} is no rate card of this invoice that a rule may update"
        if error is None and target is not None and key == target.usage_key and target.reprice is None:
            error = f"the usage of {key!r} cannot be updated (only a usage or overage rate card's)"
        if error is not None:
            log["type"], log["changes"]["errorMessage"] = "COMPUTATION_ERROR", error
            continue
        assert isinstance(value, Decimal)
        if target is None:  # ADD: a new line (a negative value is a discount)
            amount = rounded(value, currency)
            line: dict[str, Any] = {"description": str(action.get("description") or rule["name"]), "type": ADD_LINE,
                                    "value": to_json(amount), "metadata": {"pricingRuleId": rule["id"]}}
            if action.get("id"):
                line["metadata"]["actionId"] = action["id"]
            if rule.get("invoiceTiming"):
                line["metadata"]["invoiceTiming"] = rule["invoiceTiming"]
            added.append(line)
            log["changes"]["newRevenue"] = to_json(amount)
            continue
        _update(target, key, value, currency, rule, log)
        if target.usage_key is not None:
            data[target.usage_key] = exact(target.line.get("quantity", 0))
        data[target.revenue_key] = exact(target.line["value"])
    if not added:
        return None, logs
    total = sum((exact(x["value"]) for x in added), ZERO)
    return {"description": "Pricing rules", "type": ADD_TOTAL, "value": to_json(total), "lineItems": added}, logs


def _update(target: Target, key: str, value: Decimal, currency: str, rule: dict[str, Any],
            log: dict[str, Any]) -> None:
    """UPDATE ``target``: its revenue (``revenue.…``) becomes ``value``, or its usage (``usage.…``) becomes
    ``value`` priced again through its slabs. A line with leaves (slabs) keeps them and gets one more holding
    the change, so it still adds up; ``metadata.pricingRuleUpdates`` names the rule and the old value."""
    line = target.line
    old_value = exact(line["value"])
    leaf: dict[str, Any] = {"description": str(rule["name"]), "metadata": {"pricingRuleId": rule["id"]}}
    if key == target.usage_key:
        assert target.reprice is not None
        old_usage = exact(line.get("quantity", 0))
        new_value = exact(target.reprice(value)["value"])
        leaf.update(type=USAGE_UPDATE, quantity=to_json(value - old_usage), value=to_json(new_value - old_value))
        line["quantity"] = to_json(value)
        log["changes"].update(oldUsage=to_json(old_usage), newUsage=to_json(value))
    else:
        new_value = rounded(value, currency)
        leaf.update(type=REVENUE_UPDATE, value=to_json(new_value - old_value))
    line["value"] = to_json(new_value)
    line.setdefault("metadata", {}).setdefault("pricingRuleUpdates", []).append(
        {"pricingRuleId": rule["id"], "key": key, "oldValue": to_json(old_value)})
    if line.get("lineItems"):  # its leaves (slabs) still add up to it with the change as one more
        line["lineItems"].append(leaf)
    log["changes"]["newRevenue"] = to_json(new_value)


def _text(value: Any) -> str:
    """A variable's value as the log shows it (a string)."""
    if value is None:
        return "null"
    if isinstance(value, Decimal):
        return format(value.normalize() if value else ZERO, "f")
    return str(value)
