"""A function whose endpoint stays down ends with its own error type, not ``CircuitOpen``: the
breaker refusing the retry policy's last attempt reports the target's last real error (the
breaker named in the message, no "retry in"), so ``catch: [HttpError]`` works (issue 14)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from activities.breaker import BREAKERS
from tests.helpers.run import execute, nexus_worker, start


class _Down(BaseHTTPRequestHandler):
    hits = 0

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        type(self).hits += 1
        body = b'{"error": "down"}'
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def down() -> Iterator[tuple[str, type[_Down]]]:
    handler = type("Down", (_Down,), {"hits": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # A path of its own per test: one breaker per target.
        yield f"http://127.0.0.1:{server.server_address[1]}/{uuid.uuid4().hex[:8]}", handler
    finally:
        server.shutdown()
        server.server_close()


def _yaml(url: str, catch: bool) -> str:
    handled = (
        """
    catch:
      - errors: [HttpError]
        next: Handled
  - name: Handled
    type: succeed"""
        if catch
        else ""
    )
    return f"""
name: down-{"caught" if catch else "plain"}
functions:
  call:
    uri: {url}
    circuit_breaker:
      window_size: 2
      minimum_calls: 2
      failure_rate: 50
      open_duration: 60s
states:
  - name: Call
    action: call
    timeout: 5s
    retry: {{max_attempts: 3, initial_interval: 50ms, backoff_coefficient: 1}}{handled}
"""


async def test_down_endpoint_ends_with_its_own_error_type(
    env: WorkflowEnvironment, down: tuple[str, type[_Down]]
) -> None:
    url, handler = down
    async with nexus_worker(env.client, _yaml(url, catch=False)) as w:
        handle = await start(env.client, w, "down-plain", {})
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()
    # attempts 1 and 2 reach the endpoint and open the breaker; the last one is refused
    assert handler.hits == 2
    cause = info.value.cause
    assert getattr(cause, "type", None) == "HttpError"
    message = str(cause)
    assert "HTTP 503" in message and "circuit breaker is open" in message
    assert "retry in" not in message and "CircuitOpen" not in message
    found = BREAKERS.find(url)
    assert found is not None and found.state.value == "open"


async def test_catch_on_the_function_error_type_catches_the_final_error(
    env: WorkflowEnvironment, down: tuple[str, type[_Down]]
) -> None:
    url, handler = down
    async with nexus_worker(env.client, _yaml(url, catch=True)) as w:
        result = await execute(env.client, w, "down-caught", {})
    assert handler.hits == 2
    error = result["error"]
    assert error["type"] == "HttpError" and error["state"] == "Call"
    assert error["details"] == {"status": 503}
    assert "retry in" not in error["message"]
