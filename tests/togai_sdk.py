"""Togai's own Python client (``togai-client``) against a mock server subprocess.

The client is generated from Togai's published contract, so driving flows
through it checks that what the mock answers is what Togai's SDK can read.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest
import togai_client
from serverproc import running_server

from mock_server.pytest_plugin import TogaiMock


@pytest.fixture(scope="session")
def togai_server() -> Iterator[tuple[togai_client.ApiClient, TogaiMock]]:
    """A seeded, self-checking server with the demo tenant, and a client configured for it."""
    with running_server("--seed", "7", "--self-check", "--log", "quiet") as (url, mock):
        config = togai_client.Configuration(host=url, access_token="sdk-test-token")
        with togai_client.ApiClient(config) as client:
            yield client, mock


@pytest.fixture
def sdk(togai_server: tuple[togai_client.ApiClient, TogaiMock]) -> togai_client.ApiClient:
    """The client, on a freshly reset demo tenant."""
    client, mock = togai_server
    mock.reset()
    return client
