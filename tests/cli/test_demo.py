"""``nexus demo`` (every example run end to end: ``make demo``, tests/e2e/test_examples.py)."""

from __future__ import annotations

import json
import signal
import socket
import time
import urllib.request
from pathlib import Path

from tests.cli.helpers import assert_lists, help_text, nexus
from tests.helpers.processes import kill_group, nexus_cmd, spawn, wait_for_line


def test_help_lists_the_flags() -> None:
    assert_lists(help_text("demo"), "[path]", "--db DB", "--keep", "--no-keep")


def test_an_invalid_example_stops_it_before_any_server(tmp_path: Path) -> None:
    (tmp_path / "workflow.yaml").write_text("name: x\nstates: []\n")
    result = nexus("demo", str(tmp_path), "--db", str(tmp_path / "t.db"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "Temporal dev server" not in result.stdout
    assert result.stderr.startswith(f"{tmp_path / 'workflow.yaml'}:")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _one_example(tmp_path: Path) -> Path:
    root = tmp_path / "examples" / "hello"
    root.mkdir(parents=True)
    (root / "workflow.yaml").write_text(
        "name: demo-hello\nstates:\n  - name: Done\n    type: succeed\n"
    )
    (root / "example.json").write_text(
        json.dumps({"runs": [{"title": "t", "workflow": "demo-hello", "expect": "succeeded"}]})
    )
    return root.parent


def test_without_a_terminal_it_stops_and_says_how_to_browse_again(tmp_path: Path) -> None:
    """CI has no terminal: the demo never blocks, and prints no link to a server it stopped."""
    root = _one_example(tmp_path)
    port, ui = _free_port(), _free_port()
    db = tmp_path / "t.db"
    address = f"127.0.0.1:{port}"
    result = nexus(
        "demo",
        str(root),
        "--db",
        str(db),
        "--address",
        address,
        "--ui-port",
        str(ui),
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith(f"The dev server has stopped; the executions are kept in {db}."), last
    assert f"'nexus dev {root} --db {db} --address {address} --ui-port {ui}'" in last
    assert f"Web UI: http://localhost:{ui}/namespaces/default/workflows" in last
    assert db.exists()  # the history a later `nexus dev` serves


def test_keep_serves_the_web_ui_until_ctrl_c(tmp_path: Path) -> None:
    root = _one_example(tmp_path)
    port, ui = _free_port(), _free_port()
    log = tmp_path / "demo.log"
    proc = spawn(
        nexus_cmd(
            "demo",
            str(root),
            "--db",
            str(tmp_path / "t.db"),
            "--keep",
            "--address",
            f"127.0.0.1:{port}",
            "--ui-port",
            str(ui),
        ),
        log,
    )
    try:
        wait_for_line(log, "Ctrl-C stops it", proc, timeout=120)
        assert f"Web UI: http://localhost:{ui}/namespaces/default/workflows" in log.read_text()
        deadline = time.monotonic() + 30
        while True:  # the link works now: the UI answers
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{ui}/", timeout=5) as page:
                    assert page.status == 200
                break
            except OSError:
                assert time.monotonic() < deadline, "the Web UI does not answer"
                time.sleep(0.5)
    finally:
        kill_group(proc, signal.SIGINT)
    assert proc.returncode == 0, log.read_text()
    assert log.read_text().rstrip().endswith("stopped")
