"""How the API reaches a resource: its operations, path parameter, list options and fixture shape.

A :class:`Binding` is the HTTP half of a resource (the domain half is its
:class:`~mock_server.domain.core.resource.Resource`): which operationIds
create, read, list, update and delete it, the handlers of its other
operations, and what the generic handlers and the fixture loader need to
know of the API's shapes. :class:`Bindings` joins them to the registry.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .call import Handler


@dataclass(frozen=True)
class Shapes:
    """Where a resource's requests and answers differ from its stored record (for the generic handlers)."""

    renames: dict[str, str] = field(default_factory=dict)  # create-body field -> record field (Togai renames some)
    filters: dict[str, str] = field(default_factory=dict)  # list query parameter -> record field it must equal
    item: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # list items, when not the record
    context: bool = True  # False where the list schema is closed without Togai's paging ``context``
    max_page_size: int | None = None  # where the list schema holds fewer items than ``pageSize`` allows


@dataclass(frozen=True)
class FixtureShape:
    """What a fixture entry of the resource is: the request body of ``op`` (default: the create), with
    ``params`` (path parameters) beside the body; ``created_path`` says where the new record is in
    the answer when it is not the answer itself (credits: ``("credits", 0)``)."""

    params: tuple[str, ...] = ()
    op: str | None = None
    created_path: tuple[str | int, ...] = ()


@dataclass(frozen=True)
class Binding:
    """The operations of one resource (named by ``resource``, the registry's collection name)."""

    resource: str
    path_param: str  # the path parameter that names one record
    path_field: str = "id"  # the record field the path parameter holds (a wallet: its accountId)
    create: str | None = None  # operationIds
    read: str | None = None
    list: str | None = None
    update: str | None = None
    delete: str | None = None  # archives when the records have an ARCHIVED status, else removes
    handlers: dict[str, Handler] = field(default_factory=dict)  # operations with rules, by operationId
    shapes: Shapes = field(default_factory=Shapes)
    fixtures: FixtureShape = field(default_factory=FixtureShape)

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
