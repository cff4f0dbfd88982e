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

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import Violation
from .observers import Observer

if TYPE_CHECKING:
    from .store import Store


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
class Layout:
    """Slotted records (a third of a dict's memory), for the big collections (accounts, groups)."""

    list_fields: tuple[str, ...] = ()  # fields a slotted record keeps as tuples
    computed: tuple[str, ...] = ()  # fields of the schema derived when rendered, never stored


@dataclass(frozen=True)
class Writes:
    """Rules the generic create and update apply to a resource without handlers of its own."""

    check: Callable[[Store, dict[str, Any]], None] | None = None  # Togai's rules on a record about to be written
    make_id: Callable[[dict[str, Any]], str] | None = None  # the id built from the create body (settings)
    # Called after a generic create or update, and after an import adds a record (when the resource
    # has no ``restore`` of its own: that hook keeps its indexes itself), with the record as stored
    # and as it was before (None when new): how such a resource keeps its ``indexes`` in step with
    # every write. Not called by the generic delete: a resource with this hook must not be
    # deletable through it (features are not).
    on_write: Callable[[Store, dict[str, Any], dict[str, Any] | None], None] | None = None


@dataclass(frozen=True)
class Exchange:
    """How a resource's records leave the store (export) and come back (import, state file, fixtures)."""

    export: Callable[[Store, Any], dict[str, Any]] | None = None  # a stored record as the API shows it
    check_import: Callable[[ImportContext], None] | None = None  # Togai's rules over a whole document
    restore: Callable[[Store, dict[str, Any]], None] | None = None  # insert an imported record (and its indexes)
    # Server-made fields besides the generic ones (id, timestamps, status, derived) that an
    # import may leave out, and the hook that fills them in ctx.data[name] as creation would.
    generated: tuple[str, ...] = ()
    complete_import: Callable[[Store, ImportContext], None] | None = None
    not_exported: tuple[str, ...] = ()  # fields of the schema that are derived, never imported
    # Fields the answers hide but the export carries (a meter's eventSchemaName), with their JSON schema.
    hidden: dict[str, Any] = field(default_factory=dict)
    # String fields a stored record keeps beside its schema: the records it hangs on, which the API
    # names in the path, not in the answer (a feature credit entry's accountId and featureId).
    owner_fields: tuple[str, ...] = ()
    key_field: str = "id"  # the record field that is unique and keys an imported record (an alias: its value)
    unique: tuple[str, ...] = ()  # server-made fields no two records share (togaiAccountId)


@dataclass(frozen=True)
class Resource:
    """One kind of record the tenant keeps: its storage, its rules on writes, and its import/export.

    How the API reaches it is its :class:`~mock_server.bindings.binding.Binding`. What only a few
    resources need sits in the optional parts (``layout``, ``writes``, ``exchange``).
    """

    name: str  # the collection, and its key in exports, fixtures and health
    schema: str  # the spec's component schema of a stored (exported) record
    ids: IdScheme | None = None  # server-made ``id``s; None: the client gives the id
    references: dict[str, str] = field(default_factory=dict)  # field -> the resource it names
    defaults: dict[str, Any] = field(default_factory=dict)  # fields a new record gets unless given
    derived: dict[str, Callable[[dict[str, Any]], Any]] = field(default_factory=dict)  # computed on write
    indexes: tuple[str, ...] = ()  # named lookup tables this resource's rules keep in the store
    layout: Layout | None = None  # slotted records, or plain dicts
    writes: Writes = field(default_factory=Writes)
    exchange: Exchange = field(default_factory=Exchange)

    def generated_fields(self, schema: dict[str, Any]) -> tuple[str, ...]:
        """The fields of ``schema`` (the resource's) that the server makes, so an import may leave out."""
        properties = schema.get("properties", {})
        generic = ["id"] if self.ids is not None else []
        generic += [stamp for stamp in _STAMPS if stamp in properties]
        if properties.get("status", {}).get("enum"):
            generic.append("status")
        return tuple(dict.fromkeys([*generic, *self.derived, *self.defaults, *self.exchange.generated]))

    def to_json(self, store: Store, record: Any) -> dict[str, Any]:
        """A stored record as an exported (API-shaped) document."""
        if self.exchange.export is not None:
            return self.exchange.export(store, record)
        return record.to_dict() if hasattr(record, "to_dict") else dict(record)


@dataclass(frozen=True)
class Derived:
    """State computed from the records (aggregates), kept in ``Store.derived[name]``.

    It is never exported or imported: a store starts it empty (``make``), a
    snapshot carries it, and an import rebuilds it from the records it
    restored (``rebuild``). The operations that read it are bound in :mod:`mock_server.bindings`.
    """

    name: str
    make: Callable[[], Any]
    rebuild: Callable[[Store], None]


class Registry:
    """The resources, in dependency order (a resource only refers to earlier ones), the derived state,
    and the observers of usage and of the clock."""

    def __init__(
        self,
        resources: list[Resource],
        derived: list[Derived] | None = None,
        observers: list[Observer] | None = None,
    ) -> None:
        self.resources = list(resources)
        self.derived = list(derived or ())
        # Areas told of usage counted and of clock moves (core/observers.py).
        self.observers = list(observers or ())
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
        if resource.exchange.complete_import is not None:
            resource.exchange.complete_import(store, ctx)
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
