"""``nexus ui``: its flags and refusals, and the real command serving the JSON API over a dev
server (the page itself in a browser: tests/e2e/test_nexus_ui.py)."""

from __future__ import annotations

import http.client
import json
import re
import signal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from tests.cli.helpers import (
    assert_argparse_error,
    assert_lists,
    assert_usage_error,
    help_text,
    nexus,
)
from tests.helpers.processes import ROOT, kill_group, nexus_cmd, spawn, wait_for_line
from tests.helpers.run import nexus_worker, start

SAGA_DIR = ROOT / "examples" / "order_saga"
UNDELIVERABLE = {"order_id": "o-2", "address": "Nowhere", "items": [{"sku": "a", "price": 20}]}


def test_help_lists_the_flags() -> None:
    assert_lists(
        help_text("ui"),
        "--port",
        "--host",
        "--definitions",
        "--web-ui",
        "--allowed-host",
        "--poll",
        "--address",
        "--namespace",
        "--codec-keys",
    )


def test_usage_errors_are_one_line(tmp_path: Path) -> None:
    assert_usage_error(nexus("ui", "--port", "70000"), "nexus: error: --port 70000")
    assert_usage_error(nexus("ui", "--web-ui", "javascript:alert(1)"), "--web-ui", "http://")
    assert_usage_error(nexus("ui", "--poll", "0"), "--poll 0")
    bad_keys = tmp_path / "keys"
    bad_keys.write_text("not a key line\n")
    result = nexus("ui", "--codec-keys", str(bad_keys), "--address", "127.0.0.1:1")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert_argparse_error(nexus("ui", "--port", "x"), "nexus ui", "invalid int value")


def test_missing_definitions_and_an_unreachable_server_fail_in_one_line() -> None:
    result = nexus("ui", "--definitions", "no/such/dir", "--address", "127.0.0.1:1")
    assert result.returncode == 2 and "no/such/dir" in result.stderr, result.stderr
    down = nexus("ui", "--address", "127.0.0.1:1", "--port", "0")
    assert down.returncode == 1, (down.stdout, down.stderr)
    assert "cannot connect to Temporal at 127.0.0.1:1" in down.stderr
    assert "Traceback" not in down.stderr


def _request(
    url: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    where = urlsplit(url)
    conn = http.client.HTTPConnection(where.hostname or "", where.port, timeout=30)
    data = None if body is None else json.dumps(body).encode()
    sent = {"Content-Type": "application/json"} if data is not None else {}
    conn.request(method, path, body=data, headers=sent | (headers or {}))
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    kind = response.getheader("Content-Type") or ""
    return response.status, json.loads(raw) if kind.startswith("application/json") else raw


async def test_nexus_ui_serves_the_api_for_a_failed_saga(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    client = env.client
    async with nexus_worker(client, (SAGA_DIR / "workflow.yaml").read_text()) as worker:
        saga = await start(client, worker, "order-saga", UNDELIVERABLE)
        with pytest.raises(WorkflowFailureError):
            await saga.result()
    server = client.service_client.config.target_host
    log = tmp_path / "ui.log"
    args = ["ui", "--port", "0", "--address", server, "--definitions", str(SAGA_DIR)]
    proc = spawn(nexus_cmd(*args), log)
    try:
        wait_for_line(log, "Ctrl-C stops it", proc)
        found = re.search(r"nexus ui on (http://\S+)", log.read_text())
        assert found, log.read_text()
        url = found.group(1)
        assert url.startswith("http://127.0.0.1:")  # loopback by default

        status, page = _request(url, "GET", "/")
        assert status == 200 and b"/static/app.js" in page
        status, info = _request(url, "GET", "/api/info")
        assert status == 200 and info["definitions"] == ["order-saga@1"], info

        status, rows = _request(url, "GET", "/api/executions?definition=order-saga&status=failed")
        assert status == 200
        row = next(r for r in rows if r["workflow_id"] == saga.id)
        assert (row["definition"], row["version"], row["status"]) == ("order-saga", "1", "failed")
        assert row["state"] == "AddressProblem"
        status, running = _request(
            url, "GET", "/api/executions?definition=order-saga&status=running"
        )
        assert status == 200 and saga.id not in [r["workflow_id"] for r in running]

        status, view = _request(url, "GET", f"/api/executions/{quote(saga.id, safe='')}")
        assert status == 200
        assert (view["definition"], view["version"], view["status"]) == (
            "order-saga",
            "1",
            "failed",
        )
        by_name = {s["name"]: s for s in view["states"]}
        assert by_name["AddressProblem"]["status"] == "failed"
        assert by_name["ReserveStock"]["status"] == "compensated"
        assert view["graph_source"] == "definition"

        # Refusals: unknown id, bad filter, foreign Host, cross-origin or non-JSON POSTs.
        assert _request(url, "GET", "/api/executions/no-such-id")[0] == 404
        assert _request(url, "GET", "/api/executions?status=weird")[0] == 400
        assert _request(url, "GET", "/api/executions?definition=x'%20OR%20'1")[0] == 400
        assert _request(url, "GET", "/api/info", headers={"Host": "evil.example"})[0] == 403
        assert _request(url, "GET", "/static/../server.py")[0] == 404
        redrive = f"/api/executions/{quote(saga.id, safe='')}/redrive"
        foreign = {"Origin": "http://evil.example"}
        assert _request(url, "POST", redrive, {"dry_run": True}, foreign)[0] == 403
        assert _request(url, "POST", redrive, None, {"Content-Type": "text/plain"})[0] == 415
        assert _request(url, "POST", redrive, {"bogus": 1})[0] == 400

        # The redrive button's endpoint: what it would do (dry run), from the failed state.
        status, plan = _request(url, "POST", redrive, {"dry_run": True})
        assert status == 200, plan
        assert plan["workflow_id"] == saga.id and plan["dry_run"] is True
        assert plan["description"]
        status, refused = _request(
            url, "POST", "/api/executions/no-such-id/rerun", {"from": "ChargeCard"}
        )
        assert status == 400 and "no-such-id" in refused["error"]
    finally:
        kill_group(proc, signal.SIGINT)
    assert proc.returncode == 0, log.read_text()
    assert "stopped" in log.read_text()
