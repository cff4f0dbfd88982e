"""Replace the whole tenant with exported data, after checking Togai's rules on it."""
from __future__ import annotations

from typing import Any

from .errors import Invalid, Violation
from .resource import Completer, ImportContext, singular
from .store import Store

# Ids are at most this long anywhere in Togai's contract (invoice-group ids).
_MAX_ID = 512


def import_state(store: Store, data: dict[str, Any], completers: dict[str, Completer] | None = None) -> None:
    """Load ``data`` (the shape of :meth:`Store.export`) or raise naming every problem.

    Records must already match the resources' schemas; this checks what
    relates them: unique ids, references between resources, timestamps in
    order, and each resource's own rules. Nothing changes unless everything
    is valid.

    With ``completers`` (:meth:`Registry.completers`), server-made fields a
    record leaves out are filled first, as creation would fill them, on
    copies of the records and from a scratch id generator and clock.
    """
    if completers:
        ctx = ImportContext({r.name: [dict(record) for record in data.get(r.name, [])] for r in store.registry})
        scratch = store.sibling()
        for resource in store.registry:  # in dependency order: accounts read their customers' ids
            complete = completers.get(resource.name)
            if complete is not None:
                complete(scratch, ctx)
    else:
        ctx = ImportContext({r.name: list(data.get(r.name, [])) for r in store.registry})
    for resource in store.registry:
        keys: set[str] = set()
        unique: dict[tuple[str, Any], str] = {}
        targets = {target: ctx.ids(target) for target in resource.references.values()}
        for i, record in enumerate(ctx.data[resource.name]):
            where = f"{resource.name}[{i}]"
            key_field = resource.exchange.key_field
            key = record.get(key_field)
            if not isinstance(key, str) or not 0 < len(key) <= _MAX_ID:
                ctx.problems.append(Violation(f"{where}.{key_field}", f"must be 1 to {_MAX_ID} characters"))
            elif key in keys:
                ctx.problems.append(Violation(f"{where}.{key_field}", f"{key!r} is used twice"))
            else:
                keys.add(key)
            for field_name in resource.exchange.unique:
                value = record.get(field_name)
                owner = unique.setdefault((field_name, value), where)
                if owner != where:
                    ctx.problems.append(Violation(f"{where}.{field_name}", f"{value!r} is also {owner}'s"))
            created, updated = record.get("createdAt"), record.get("updatedAt")
            if isinstance(created, str) and isinstance(updated, str) and updated < created:
                ctx.problems.append(Violation(f"{where}.updatedAt", "is before createdAt"))
            for field_name, target in resource.references.items():
                value = record.get(field_name)
                if value is not None and value not in targets[target]:
                    ctx.problems.append(Violation(f"{where}.{field_name}", f"no {singular(target)} {value!r}"))
        if resource.exchange.check_import is not None:
            resource.exchange.check_import(ctx)
    if ctx.problems:
        raise Invalid(_unique(ctx.problems))
    with store.lock:
        store.clear()
        for resource in store.registry:
            for record in ctx.data[resource.name]:
                if resource.exchange.restore is not None:
                    resource.exchange.restore(store, record)
                else:
                    stored = dict(record)
                    store.collections[resource.name].add(record[resource.exchange.key_field], stored)
                    if resource.writes.on_write is not None:
                        resource.writes.on_write(store, stored, None)
        for derived in store.registry.derived:
            derived.rebuild(store)


def _unique(problems: list[Violation]) -> list[Violation]:
    return list(dict.fromkeys(problems))
