"""Modules imported on first use, for what only some runs need.

httpx (with its TLS and HTTP/2 stack, and its command line's rich and click
when installed) costs about 12 MB and tens of milliseconds at every start-up,
and only ``--proxy``, ``--webhook`` and ``--record`` use it. The standard
library's :class:`importlib.util.LazyLoader` makes a module object whose
first attribute read runs the real import.
"""
from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """``name`` as a module that imports itself on first use (the one already imported, if it was)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
