"""Pytest fixtures for the scripted Azure OpenAI server.

One server is shared per session (start-up is cheap, but sharing keeps port
churn down); ``aoai_server`` hands it to each test freshly ``reset()`` and
fails the test if the server itself raised while answering.
Enable with ``pytest_plugins = ["tests.support.fixtures"]`` in the root conftest.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .aoai_server import ScriptedAOAI


@pytest.fixture(scope="session")
def aoai_server_session() -> Iterator[ScriptedAOAI]:
    with ScriptedAOAI() as server:
        yield server


@pytest.fixture
def aoai_server(aoai_server_session: ScriptedAOAI) -> Iterator[ScriptedAOAI]:
    aoai_server_session.reset()
    yield aoai_server_session
    errors = list(aoai_server_session.errors)
    aoai_server_session.reset()
    assert not errors, f"scripted AOAI server raised: {errors!r}"

