"""Work that makes many objects and no cycles runs with the cyclic garbage collector paused."""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector meanwhile.

    Records make no reference cycles, so the collector frees nothing of them;
    its passes over everything young (one per 700 new objects), and now and
    then over the whole heap, took 40% of ingestion and stopped a clock move
    for 0.3 s at a time. Reference counting still frees what is dropped.

    What the work made is then frozen (moved out of the collector's reach, as
    the CLI does after start-up): left young, it all fell to the first pass
    after the pause, which stalled the next request for 100 ms after a year's
    clock move. A reference cycle that is garbage by then, or becomes garbage
    later, waits for :func:`thaw`, which dropping state calls.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.freeze()
            gc.enable()


def thaw() -> None:
    """Give what :func:`collector_paused` (and the CLI, after start-up) froze back to the collector.

    Called where state is dropped (a store cleared or restored, a tenant forgotten, an app replaced
    by ``--watch``): what the dropped state held in reference cycles is then freed by the collector's
    next full pass, instead of staying frozen. Constant time: the frozen objects join the oldest
    generation as they are.
    """
    gc.unfreeze()
