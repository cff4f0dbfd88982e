"""In-memory state and the business rules of each resource.

``state`` holds the collections, ids, clock and lock; ``customers``,
``accounts`` and ``invoice_groups`` hold Togai's rules for each resource.
Every rule function checks everything first and only then changes state, so a
rejected request changes nothing.
"""
from .state import Store

__all__ = ["Store"]
