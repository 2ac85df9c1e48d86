"""Task states: input/output/assign data flow, retries, catch by type, timeouts, http."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.config import HttpSettings, ProvidersConfig
from tests.helpers.run import execute, nexus_worker

FNS = "python:tests.helpers.functions"


async def test_input_output_assign(env: WorkflowEnvironment) -> None:
    yaml = f"""
    name: flow
    functions:
      add: {FNS}:add
    states:
      - name: Add
        action: add
        input: '{{"a": x, "b": y}}'
        output: sum * 10
        assign:
          total: $
          doubled: $ * 2
        next: Keep
      - name: Keep
        action: add
        input: '{{"a": total, "b": 1}}'
    """
    async with nexus_worker(env.client, yaml) as w:
        result = await execute(env.client, w, "flow", {"x": 2, "y": 3})
    assert result["total"] == 50 and result["doubled"] == 100
    assert result["Keep"] == {"sum": 51}
    assert "Add" not in result  # assign replaces the default data[<state>] placement


async def test_retry_then_success(env: WorkflowEnvironment) -> None:
    yaml = f"""
    name: retrying
    functions:
      flaky: {FNS}:flaky
    states:
      - name: Flaky
        action: flaky
        retry: {{max_attempts: 4, initial_interval: 10ms}}
    """
    async with nexus_worker(env.client, yaml) as w:
        result = await execute(env.client, w, "retrying", {"key": "retry-ok", "fail_times": 2})
    assert result["Flaky"] == {"attempts": 3, "activity_attempt": 3}


async def test_retries_exhausted_is_catchable_by_type(env: WorkflowEnvironment) -> None:
    yaml = f"""
    name: exhausted
    functions:
      flaky: {FNS}:flaky
    states:
      - name: Flaky
        action: flaky
        retry: {{max_attempts: 2, initial_interval: 10ms}}
        catch:
          - errors: [Flaky]
            next: Handle
            as: problem
      - name: Handle
        type: pass
    """
    async with nexus_worker(env.client, yaml) as w:
        result = await execute(env.client, w, "exhausted", {"key": "never", "fail_times": 99})
    assert result["problem"]["type"] == "Flaky"
    assert result["problem"]["state"] == "Flaky"
    assert "attempt 2" in result["problem"]["message"]


async def test_catch_filters_by_type(env: WorkflowEnvironment) -> None:
    yaml = f"""
    name: filtering
    functions:
      boom: {FNS}:boom
    states:
      - name: Boom
        action: boom
        catch:
          - errors: [Other]
            next: Wrong
          - errors: [Expected]
            next: Right
      - name: Wrong
        type: fail
        error: Wrong
      - name: Right
        type: succeed
        output: error
    """
    async with nexus_worker(env.client, yaml) as w:
        result = await execute(env.client, w, "filtering", {"kind": "Expected"})
        with pytest.raises(WorkflowFailureError) as info:
            await execute(env.client, w, "filtering", {"kind": "Unexpected"})
    assert result["type"] == "Expected" and result["details"] == {"payload": {"kind": "Expected"}}
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "Unexpected"
    assert "state 'Boom' failed" in cause.message


async def test_python_exception_type_is_its_class_name(env: WorkflowEnvironment) -> None:
    yaml = f"""
    name: pyerror
    functions:
      bad: {FNS}:value_error
    states:
      - name: Bad
        action: bad
        retry: 1
        catch:
          - errors: [ValueError]
            next: Caught
      - name: Caught
        type: succeed
    """
    async with nexus_worker(env.client, yaml) as w:
        result = await execute(env.client, w, "pyerror", {})
    assert result["error"]["type"] == "ValueError"


async def test_timeout_is_a_catchable_error(env: WorkflowEnvironment) -> None:
    yaml = f"""
    name: slow
    functions:
      slow: {FNS}:sleep_then_echo
    states:
      - name: Slow
        action: slow
        timeout: 300ms
        retry: 1
        catch:
          - errors: [Timeout]
            next: TooSlow
      - name: TooSlow
        type: succeed
    """
    async with nexus_worker(env.client, yaml) as w:
        result = await execute(env.client, w, "slow", {"seconds": 3})
    assert result["error"]["type"] == "Timeout"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/reject":
            self.send_response(400)
            self.end_headers()
            self.wfile.write(b"bad request")
            return
        reply = {
            "got": body,
            "key": self.headers.get("Idempotency-Key"),
            "auth": self.headers.get("Authorization"),
        }
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def http_url() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


async def test_http_function(
    env: WorkflowEnvironment, http_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEXUS_TEST_TOKEN", "s3cret")
    yaml = f"""
    name: http-call
    functions:
      hello:
        uri: {http_url}/hello
        headers:
          Authorization: "Bearer ${{env:NEXUS_TEST_TOKEN}}"
      reject: {http_url}/reject
    states:
      - name: Hello
        action: hello
        input: '{{"n": n}}'
        next: Reject
      - name: Reject
        action: reject
        catch:
          - errors: [HttpError]
            next: Done
      - name: Done
        type: succeed
    """
    # The operator allows the header's variable (docs/providers.md, `http.env_allow`).
    allowed = ProvidersConfig(http=HttpSettings(env_allow=("NEXUS_TEST_TOKEN",)))
    async with nexus_worker(env.client, yaml, providers=allowed) as w:
        handle_result = await execute(env.client, w, "http-call", {"n": 7})
    hello = handle_result["Hello"]
    assert hello["got"] == {"n": 7}
    # The endpoint got the secret and echoed it; the echo is scrubbed before it reaches history.
    assert hello["auth"] == "Bearer ***"
    assert hello["key"].endswith("/Hello/1")
    assert handle_result["error"]["details"]["status"] == 400


async def test_oversized_input_fails_the_state_with_a_clear_error(env: WorkflowEnvironment) -> None:
    yaml = f"""
    name: too-big
    functions:
      echo: {FNS}:echo
    states:
      - name: Build
        type: set
        assign:
          blob: '$pad("", 1000000, "x")'
        next: Grow
      - name: Grow
        type: set
        assign:
          more: '$pad("", 1000000, "y")'
        next: Send
      - name: Send
        action: echo
        catch:
          - errors: [PayloadTooLarge]
            next: Done
      - name: Done
        type: succeed
        output: error
    """
    async with nexus_worker(env.client, yaml) as w:
        result = await execute(env.client, w, "too-big", {})
    assert result["type"] == "PayloadTooLarge" and result["state"] == "Send"
    assert "over Temporal's 2 MB payload limit" in result["message"]


async def test_oversized_result_fails_the_state_with_a_clear_error(
    env: WorkflowEnvironment,
) -> None:
    yaml = f"""
    name: too-big-result
    functions:
      huge: {FNS}:huge
    states:
      - name: Produce
        action: huge
        catch:
          - errors: [PayloadTooLarge]
            next: Done
      - name: Done
        type: succeed
        output: error
    """
    async with nexus_worker(env.client, yaml) as w:
        result = await execute(env.client, w, "too-big-result", {})
    assert result["type"] == "PayloadTooLarge" and result["state"] == "Produce"
    assert "the result of 'Produce' is 2.5 MB" in result["message"]
