"""Shared fixtures: one real Temporal dev server per test session (the pip-installed CLI),
and a time-skipping test server for timer-heavy tests. Nothing here mocks Temporal."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from interpreters.workflow import SEARCH_ATTRIBUTES
from nexus_temporal.devserver import temporal_binary, test_server_binary


@pytest.fixture(scope="session")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_log_level="error",
    )
    async with environment:
        yield environment


@pytest.fixture(scope="session")
async def skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=test_server_binary()
    )
    async with environment:
        yield environment


_EXIT_STATUS: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _EXIT_STATUS.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave without interpreter teardown once pytest has reported everything.

    The Temporal SDK's native runtime keeps threads that can abort a normal interpreter
    shutdown ('PyGILState_Release ... finalizing'), which would turn a green run red. Every
    server and worker is stopped by its fixture before this point.
    """
    import os
    import sys

    if _EXIT_STATUS:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT_STATUS[-1])
