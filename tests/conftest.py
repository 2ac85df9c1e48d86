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
