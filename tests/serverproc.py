"""Start the server as a subprocess for a test, with the plugin's own launcher."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mock_server.pytest_plugin import TogaiMock, start_server


@contextmanager
def running_server(*args: str) -> Iterator[tuple[str, TogaiMock]]:
    mock = start_server(list(args))
    try:
        yield mock.url, mock
    finally:
        mock.stop()
