"""The resources of the tenant, each declared once.

A :class:`Resource` says what a collection holds (the spec schema of its
records), how its ids are made, which operations create, read, list, update
and delete it, what it refers to, and the hooks for the few rules Togai has
beyond that. Everything that handles "all the state" -- the store's
collections, reset, export, import, health counts, fixtures -- iterates the
:class:`Registry` and has no per-resource code.

A simple resource needs nothing but its declaration: :func:`generic_handlers`
serves its operations (create with defaults and timestamps, read, list in
pages, update, archive or delete).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import Invalid, NotFound, Violation

if TYPE_CHECKING:
    from .store import Record, Store


@dataclass(frozen=True, slots=True)
class Call:
    """A validated request: typed parameters, the decoded body, and its headers (lowercase names).

    Few handlers need the headers: those whose answer depends on the caller
    (``authenticate`` reads the bearer token) or on where the mock is served
    (a file's download URL names the request's ``Host``).
    """

    params: dict[str, Any]
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Answer:
    """A handler's answer when the body alone is not enough: extra headers, or another status.

    ``getFile`` answers a redirect: status 302, no body, a ``Location``; a batch of events with some
    refused answers 207.
    """

    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    status: int | None = None  # None: the operation's success status


Handler = Callable[["Store", Call], Any]


@dataclass(frozen=True, slots=True)
class IdScheme:
    """Togai-shaped ids: ``prefix.<random first part>.<scrambled sequence>``."""

    prefix: str
    first: int = 11
    second: int = 5
    mixed_case: bool = True


@dataclass(slots=True)
class ImportContext:
    """An exported document being checked before it replaces the tenant."""

    data: dict[str, list[dict[str, Any]]]
    problems: list[Violation] = field(default_factory=list)

    def ids(self, resource: str, key: str = "id") -> dict[str, dict[str, Any]]:
        """The records of ``resource`` in the document, by ``key``."""
        return {r[key]: r for r in self.data.get(resource, []) if key in r}


@dataclass(frozen=True)
class Resource:
    """One kind of record the tenant keeps, and how the API reaches it."""

    name: str  # the collection, and its key in exports, fixtures and health
    schema: str  # the spec's component schema of a stored (exported) record
    path_param: str  # the path parameter that names one record
    path_field: str = "id"  # the record field the path parameter holds (a wallet: its accountId)
    key_field: str = "id"  # the record field that is unique and keys an imported record (an alias: its value)
    ids: IdScheme | None = None  # server-made ``id``s; None: the client gives the id
    create: str | None = None  # operationIds
    read: str | None = None
    list: str | None = None
    update: str | None = None
    delete: str | None = None  # archives when the records have an ARCHIVED status, else removes
    references: dict[str, str] = field(default_factory=dict)  # body field -> resource name
    check: Callable[[Store, dict[str, Any]], None] | None = None  # Togai's rules on a record about to be written
    make_id: Callable[[dict[str, Any]], str] | None = None  # the id built from the create body (settings)
    renames: dict[str, str] = field(default_factory=dict)  # create-body field -> record field (Togai renames some)
    filters: dict[str, str] = field(default_factory=dict)  # list query parameter -> record field it must equal
    list_item: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # list items, when not the record
    list_context: bool = True  # False where the list schema is closed without Togai's paging ``context``
    created_path: tuple[str | int, ...] = ()  # where the new record is in the create answer (credits: a list)
    max_page_size: int | None = None  # where the list schema holds fewer items than ``pageSize`` allows
    defaults: dict[str, Any] = field(default_factory=dict)
    derived: dict[str, Callable[[dict[str, Any]], Any]] = field(default_factory=dict)  # computed on write
    handlers: dict[str, Handler] = field(default_factory=dict)  # Togai's rules, by operationId
    unique: tuple[str, ...] = ()  # server-made fields no two records share (togaiAccountId)
    indexes: tuple[str, ...] = ()  # named lookup tables this resource's rules keep in the store
    compact: bool = False  # slotted records (a third of a dict's memory) for the big collections
    list_fields: tuple[str, ...] = ()  # fields a compact record keeps as tuples
    computed: tuple[str, ...] = ()  # fields of the schema derived when rendered, never stored
    fixture_params: tuple[str, ...] = ()  # path parameters a fixture entry names beside the body (account_id)
    fixture_op: str | None = None  # the operation a fixture entry is a request body of (default: create)
    not_exported: tuple[str, ...] = ()  # fields of the schema that are derived, never imported
    # Fields the answers hide but the export carries (a meter's eventSchemaName), with their JSON schema.
    hidden: dict[str, Any] = field(default_factory=dict)
    # String fields a stored record keeps beside its schema: the records it hangs on, which the API
    # names in the path, not in the answer (a feature credit entry's accountId and featureId).
    owner_fields: tuple[str, ...] = ()
    export: Callable[[Store, Any], dict[str, Any]] | None = None
    check_import: Callable[[ImportContext], None] | None = None
    restore: Callable[[Store, dict[str, Any]], None] | None = None  # insert an imported record
    # Server-made fields besides the generic ones (id, timestamps, status, derived) that an
    # import may leave out, and the hook that fills them in ctx.data[name] as creation would.
    generated: tuple[str, ...] = ()
    complete_import: Callable[[Store, ImportContext], None] | None = None

    def operations(self) -> dict[str, str]:
        """The declared operationIds by role."""
        roles = {
            "create": self.create,
            "read": self.read,
            "list": self.list,
            "update": self.update,
            "delete": self.delete,
        }
        return {role: op for role, op in roles.items() if op is not None}

    def generated_fields(self, schema: dict[str, Any]) -> tuple[str, ...]:
        """The fields of ``schema`` (the resource's) that the server makes, so an import may leave out."""
        properties = schema.get("properties", {})
        generic = ["id"] if self.ids is not None else []
        generic += [stamp for stamp in _STAMPS if stamp in properties]
        if properties.get("status", {}).get("enum"):
            generic.append("status")
        return tuple(dict.fromkeys([*generic, *self.derived, *self.defaults, *self.generated]))

    def to_json(self, store: Store, record: Any) -> dict[str, Any]:
        """A stored record as an exported (API-shaped) document."""
        if self.export is not None:
            return self.export(store, record)
        return record.to_dict() if hasattr(record, "to_dict") else dict(record)


@dataclass(frozen=True)
class Derived:
    """State computed from the records (aggregates), kept in ``Store.derived[name]``.

    It is never exported or imported: a store starts it empty (``make``), a
    snapshot carries it, and an import rebuilds it from the records it
    restored (``rebuild``). ``handlers`` are the operations that read it.
    """

    name: str
    make: Callable[[], Any]
    rebuild: Callable[[Store], None]
    handlers: dict[str, Handler] = field(default_factory=dict)


class Registry:
    """The resources, in dependency order (a resource only refers to earlier ones), the derived state,
    and the computed operations."""

    def __init__(
        self,
        resources: list[Resource],
        derived: list[Derived] | None = None,
        computed: dict[str, Handler] | None = None,
    ) -> None:
        """``computed``: operations answered from the request and the state, storing nothing
        (``authenticate``, ``getCustomerPortalDelegateToken``), by operationId."""
        self.resources = list(resources)
        self.derived = list(derived or ())
        self.computed = dict(computed or {})
        self.by_name = {r.name: r for r in self.resources}
        if len(self.by_name) != len(self.resources):
            raise ValueError("two resources share a name")
        if len({d.name for d in self.derived}) != len(self.derived):
            raise ValueError("two derived states share a name")
        for resource in self.resources:
            for field_name, target in resource.references.items():
                if self.resources.index(self.by_name[target]) >= self.resources.index(resource):
                    raise ValueError(f"{resource.name}.{field_name} refers to {target}, declared later")

    def __iter__(self) -> Iterator[Resource]:
        return iter(self.resources)

    def indexes(self) -> list[str]:
        """Every index name the resources declare."""
        return [name for r in self.resources for name in r.indexes]

    def handlers(self, schemas: dict[str, Any]) -> dict[str, Handler]:
        """Every bound operation: the rules' own handlers, else the generic ones.

        ``schemas`` are the spec's (resolved) component schemas; generic
        handlers use them to know which fields a record has.
        """
        out: dict[str, Handler] = {}
        for resource in self.resources:
            generic = generic_handlers(resource, schemas.get(resource.schema, {}))
            for op_id in resource.operations().values():
                if op_id not in resource.handlers:
                    out[op_id] = generic[op_id]
            out.update(resource.handlers)
        for derived in self.derived:
            out.update(derived.handlers)
        out.update(self.computed)
        return out


    def completers(self, schemas: dict[str, Any]) -> dict[str, Completer]:
        """For each resource, what fills the server-made fields an imported record left out."""
        return {r.name: generic_completer(r, schemas.get(r.schema, {})) for r in self.resources}


Completer = Callable[["Store", ImportContext], None]
_STAMPS = ("createdAt", "updatedAt")


def generic_completer(resource: Resource, schema: dict[str, Any]) -> Completer:
    """Fill what creation would have made in each record of ``ctx.data[resource.name]``.

    The resource's own hook runs first (``togaiCustomerId``, ``billingAddress``
    ...), then the generic part: a new id, timestamps (``updatedAt`` defaults
    to ``createdAt``), the first status, defaults and derived fields. Ids and
    times come from ``store``, a scratch store, so a rejected import leaves
    the real id generator untouched.
    """
    properties = schema.get("properties", {})
    status_enum = properties.get("status", {}).get("enum", [])
    stamps = [stamp for stamp in _STAMPS if stamp in properties]

    def complete(store: Store, ctx: ImportContext) -> None:
        if resource.complete_import is not None:
            resource.complete_import(store, ctx)
        for record in ctx.data.get(resource.name, []):
            if resource.ids is not None and "id" not in record:
                record["id"] = store.new_id(resource.ids)
            if stamps and any(stamp not in record for stamp in stamps):
                now = record.get("createdAt") or record.get("updatedAt") or store.clock.now()
                for stamp in stamps:
                    record.setdefault(stamp, now)
            if status_enum and "status" not in record:
                record["status"] = status_enum[0]
            for key, value in resource.defaults.items():
                record.setdefault(key, value)
            for key, compute in resource.derived.items():
                if key not in record:
                    record[key] = compute(record)

    return complete


def generic_handlers(resource: Resource, schema: dict[str, Any]) -> dict[str, Handler]:
    """Create, read, list, update and delete for a resource without rules of its own."""
    from .cursors import paginate

    properties = schema.get("properties", {})
    status_enum = properties.get("status", {}).get("enum", [])
    archives = "ARCHIVED" in status_enum
    stamps = [name for name in ("createdAt", "updatedAt") if name in properties]
    name, param = resource.name, resource.path_param

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
        body = {resource.renames.get(k, k): v for k, v in call.body.items()}
        check_references(store, body)
        collection = store.collections[name]
        key = ""
        if resource.ids is None:
            key = body["id"] if resource.make_id is None else resource.make_id(body)
            if collection.get(key) is not None:
                raise Invalid.at("id", f"a {singular(name)} with id {key!r} already exists")
        record: dict[str, Any] = {"id": key, **resource.defaults, **body}
        record["id"] = key  # a made id replaces the body's (settings)
        if resource.check is not None:
            resource.check(store, record)
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
        return dict(record)

    def read(store: Store, call: Call) -> Any:
        return dict(require(store, call.params[param]))

    item = resource.list_item or dict

    def list_(store: Store, call: Call) -> Any:
        asked = {key: call.params[p] for p, key in resource.filters.items() if call.params.get(p) is not None}
        keep = (lambda r: all(r.get(k) == v for k, v in asked.items())) if asked else None
        records, extra = paginate(
            store.collections[name],
            call.params.get("nextToken"),
            call.params.get("pageSize"),
            context=resource.list_context,
            limit=resource.max_page_size,
            keep=keep,
        )
        return {"data": [item(r) for r in records], **extra}

    def update(store: Store, call: Call) -> Any:
        record = require(store, call.params[param])
        if archives and record.get("status") == "ARCHIVED":
            raise Invalid.at(param, f"{singular(name)} {record['id']!r} is archived and cannot be changed")
        check_references(store, call.body)
        if resource.check is not None:
            resource.check(store, {**record, **call.body})
        record.update(call.body)
        if "updatedAt" in stamps:
            record["updatedAt"] = store.clock.now()
        derive(record)
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
    return {op_id: by_role[role] for role, op_id in resource.operations().items()}


def singular(name: str) -> str:
    """A collection name as one record is called in messages (``addOns`` -> ``add-on``)."""
    words = {
        "addOns": "add-on",
        "invoiceGroups": "invoice group",
        "aliases": "alias",
        "accountAliases": "account alias",
        "customerContacts": "customer contact",
        "featureCreditEntries": "feature credit entry",
        "purchaseProposals": "purchase proposal",
    }
    return words.get(name, name[:-1] if name.endswith("s") else name)
