"""Bring any valid OpenAPI 3.0/3.1 document into the shape the loader serves.

The loader compiles schemas as JSON Schema 2020-12 (OpenAPI 3.1) and finds
operations by ``operationId``. Documents written for 3.0, or without
operationIds, are valid OpenAPI all the same, so ``prism mock`` serves them;
this module rewrites them (on a copy) instead of refusing them:

- 3.0 schema keywords become their 3.1 equivalents: ``nullable: true`` adds
  ``"null"`` to ``type`` (and ``null`` to an ``enum``); a boolean
  ``exclusiveMinimum``/``exclusiveMaximum`` becomes the number form.
- An operation without ``operationId`` gets one made of its method and path
  (``GET /pets/{petId}`` -> ``get_pets_petId``), unique in the document.
"""
from __future__ import annotations

import copy
import re
from typing import Any

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_NOT_WORD = re.compile(r"[^A-Za-z0-9]+")


def normalize(raw: dict[str, Any]) -> dict[str, Any]:
    """``raw``, or a rewritten copy when it needs one (``raw`` itself is left alone)."""
    doc = raw
    if str(doc.get("openapi", "")).startswith("3.0"):
        doc = _schemas_to_31(doc)  # a new tree
    elif _unnamed(doc):
        doc = copy.deepcopy(doc)  # 3.1 documents that need nothing (the bundled one) are not copied
    _name_operations(doc)
    return doc


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    paths = doc.get("paths")
    if not isinstance(paths, dict):
        return []
    return [
        (str(path), method, item[method])
        for path, item in paths.items() if isinstance(item, dict)
        for method in _METHODS if isinstance(item.get(method), dict)
    ]


def _unnamed(doc: dict[str, Any]) -> bool:
    return any(not op.get("operationId") for _, _, op in _operations(doc))


def _schemas_to_31(node: Any) -> Any:
    """Rewrite 3.0-only schema keywords wherever they appear (bottom-up)."""
    if isinstance(node, list):
        return [_schemas_to_31(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _schemas_to_31(v) for k, v in node.items()}
    if out.get("nullable") is True:
        del out["nullable"]
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        elif isinstance(kind, list) and "null" not in kind:
            out["type"] = [*kind, "null"]
        elif kind is None and ("$ref" in out or "allOf" in out or "oneOf" in out or "anyOf" in out):
            # A nullable composition: the value or null.
            inner = {k: v for k, v in out.items() if k not in ("description", "title", "example", "default")}
            out = {k: v for k, v in out.items() if k in ("description", "title", "example", "default")}
            out["anyOf"] = [inner, {"type": "null"}]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    elif out.get("nullable") is False:
        del out["nullable"]
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        flag = out.get(bound)
        if isinstance(flag, bool):
            if flag and limit in out:
                out[bound] = out.pop(limit)
            else:
                del out[bound]
    return out


def _name_operations(doc: dict[str, Any]) -> None:
    """Give every operation without an ``operationId`` one made of its method and path."""
    operations = _operations(doc)
    taken = {op.get("operationId") for _, _, op in operations}
    for path, method, op in operations:
        if op.get("operationId"):
            continue
        base = "_".join([method, *filter(None, _NOT_WORD.split(path))])
        name, n = base, 2
        while name in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name)
        op["operationId"] = name
