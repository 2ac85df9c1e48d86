"""The second line of defence behind forged workflow state: a worker's ``nexus.invoke`` runs
only URIs its served definitions call, whatever request reaches it."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.config import ProvidersConfig
from activities.invoke import Invoker
from nexus_temporal.protocol import InvokeRequest
from tests.helpers.run import registry_of
from tests.security.test_continuation import APPROVAL


async def test_invoke_refuses_a_uri_no_definition_calls(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    served = {uri for plan in registry_of(APPROVAL).plans for uri in plan.uris()}
    invoker = Invoker(ProvidersConfig(), allowed=served)
    forged = InvokeRequest(
        function="Reserve", uri="python:os:system", payload=f"touch {marker}", state="Reserve"
    )
    with pytest.raises(ApplicationError) as info:
        await ActivityEnvironment().run(invoker.invoke, forged)
    assert info.value.type == "FunctionNotAllowed" and info.value.non_retryable
    assert "state 'Reserve'" in info.value.message
    assert not marker.exists()
    allowed = InvokeRequest(
        function="reserve", uri="python:tests.helpers.security_functions:reserve", payload={"n": 4}
    )
    assert await ActivityEnvironment().run(invoker.invoke, allowed) == {
        "reservation": "r-4",
        "n": 4,
    }
