"""Create, read, list, update and delete for a resource without rules of its own beyond its declaration."""
from __future__ import annotations

from typing import Any

from ..domain.core.cursors import paginate
from ..domain.core.errors import Invalid, NotFound, Violation
from ..domain.core.resource import Resource, singular
from ..domain.core.store import Record, Store
from .binding import Binding
from .call import Call, Handler


def generic_handlers(resource: Resource, binding: Binding, schema: dict[str, Any]) -> dict[str, Handler]:
    """Create, read, list, update and delete of ``resource`` as ``binding`` exposes them.

    ``schema`` is the spec's (resolved) schema of a record: which fields it has,
    its statuses (an ARCHIVED one makes delete archive), its timestamps.
    """
    properties = schema.get("properties", {})
    status_enum = properties.get("status", {}).get("enum", [])
    archives = "ARCHIVED" in status_enum
    stamps = [name for name in ("createdAt", "updatedAt") if name in properties]
    name, param = resource.name, binding.path_param

    def require(store: Store, key: str) -> Record:
        record: Record | None = store.collections[name].get(key)
        if record is None:
            raise NotFound.at(param, f"no {singular(name)} with id {key!r}")
        return record

    def check_references(store: Store, body: dict[str, Any]) -> None:
        problems = [
            Violation(field_name, f"no {singular(target)} with id {body[field_name]!r}")
            for field_name, target in resource.references.items()
            if field_name in body and store.collections[target].get(body[field_name]) is None
        ]
        if problems:
            raise NotFound(problems)

    def derive(record: dict[str, Any]) -> None:
        for key, compute in resource.derived.items():
            record[key] = compute(record)

    def create(store: Store, call: Call) -> Any:
        body = {binding.shapes.renames.get(k, k): v for k, v in call.body.items()}
        check_references(store, body)
        collection = store.collections[name]
        key = ""
        if resource.ids is None:
            key = body["id"] if resource.writes.make_id is None else resource.writes.make_id(body)
            if collection.get(key) is not None:
                raise Invalid.at("id", f"a {singular(name)} with id {key!r} already exists")
        record: dict[str, Any] = {"id": key, **resource.defaults, **body}
        record["id"] = key  # a made id replaces the body's (settings)
        if resource.writes.check is not None:
            resource.writes.check(store, record)
        if resource.ids is not None:
            # Only now: a rejected request must not use up an id (the state includes the generator).
            record["id"] = key = store.new_id(resource.ids, collection)
        if status_enum and "status" not in record:
            record["status"] = status_enum[0]
        now = store.clock.now()
        for stamp in stamps:
            record[stamp] = now
        derive(record)
        collection.add(key, record)
        if resource.writes.on_write is not None:
            resource.writes.on_write(store, record, None)
        return dict(record)

    def read(store: Store, call: Call) -> Any:
        return dict(require(store, call.params[param]))

    item = binding.shapes.item or dict

    def list_(store: Store, call: Call) -> Any:
        asked = {key: call.params[p] for p, key in binding.shapes.filters.items() if call.params.get(p) is not None}
        keep = (lambda r: all(r.get(k) == v for k, v in asked.items())) if asked else None
        records, extra = paginate(
            store.collections[name],
            call.params.get("nextToken"),
            call.params.get("pageSize"),
            context=binding.shapes.context,
            limit=binding.shapes.max_page_size,
            keep=keep,
        )
        return {"data": [item(r) for r in records], **extra}

    def update(store: Store, call: Call) -> Any:
        record = require(store, call.params[param])
        if archives and record.get("status") == "ARCHIVED":
            raise Invalid.at(param, f"{singular(name)} {record['id']!r} is archived and cannot be changed")
        check_references(store, call.body)
        if resource.writes.check is not None:
            resource.writes.check(store, {**record, **call.body})
        # The update replaces fields, never edits them: a shallow copy is the record as it was.
        before = dict(record) if resource.writes.on_write is not None else None
        record.update(call.body)
        if "updatedAt" in stamps:
            record["updatedAt"] = store.clock.now()
        derive(record)
        if resource.writes.on_write is not None:
            resource.writes.on_write(store, record, before)
        return dict(record)

    def delete(store: Store, call: Call) -> Any:
        key = call.params[param]
        record = require(store, key)
        if archives:
            if record.get("status") == "ARCHIVED":
                raise Invalid.at(param, f"{singular(name)} {key!r} is already archived")
            record["status"] = "ARCHIVED"
            if "updatedAt" in stamps:
                record["updatedAt"] = store.clock.now()
        else:
            store.collections[name].remove(key)
        return {"success": True}

    by_role = {"create": create, "read": read, "list": list_, "update": update, "delete": delete}
    return {op_id: by_role[role] for role, op_id in binding.operations().items()}
