"""Issue 14: no traceback, ever, for a user's mistake. Every command (the parser's list, so a new
verb is covered or this test fails) is run with bad arguments and with bad targets: an unknown
workflow id on a real server, an unreachable address, missing files, malformed JSON or YAML.
Each must end in exit 1 or 2 with no ``Traceback``. The bad targets run as real ``nexus``
processes in parallel threads; the bad arguments (refused by the parser before any verb code
runs) run in this process, which spares a process start each."""

from __future__ import annotations

import contextlib
import io
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from nexus_temporal.cli._app import build_parser, commands, main
from tests.helpers.processes import ROOT, nexus_cmd, run_cli

DOWN = "127.0.0.1:1"  # nothing listens there: connection refused at once
MISSING = "no/such/target.yaml"
UNKNOWN_ID = "no-such-workflow-id-14"
SAGA = str(ROOT / "examples" / "order_saga")


def bad_target_cases(server: str, tmp: Path) -> dict[tuple[str, ...], list[list[str]]]:
    """For each command, argument lists naming targets that are not there or not valid."""
    bad_json = tmp / "bad.json"
    bad_json.write_text('{"unterminated": [1, 2')
    bad_yaml = tmp / "bad.yaml"
    bad_yaml.write_text("name: [unclosed\nstates: {\n")
    history_dir = tmp / "histories"
    history_dir.mkdir()
    (history_dir / "bad.json").write_text("{not json")
    server_flags = ["--address", server]
    down = ["--address", DOWN]
    return {
        ("validate",): [[MISSING], [str(bad_yaml)]],
        ("schema",): [["extra-argument"]],
        ("graph",): [[MISSING], [str(bad_yaml)]],
        ("worker",): [[MISSING, *down], [str(bad_yaml), *down], [SAGA, *down]],
        ("dev",): [[MISSING, "--db", str(tmp / "dev.db")], [str(bad_yaml), "--db", str(tmp / "d")]],
        ("run",): [
            ["x", *down],
            ["x", "--input", "{bad", *down],
            ["x", "--input", f"@{MISSING}", *down],
            ["x", "--input", f"@{bad_json}", *down],
        ],
        ("start",): [["x", *down], ["x", "--input", "[1,", *down]],
        ("signal",): [
            [UNKNOWN_ID, "approve", *server_flags],
            [UNKNOWN_ID, "approve", *down],
            [UNKNOWN_ID, "approve", "--input", "{bad", *server_flags],
        ],
        ("redrive",): [
            [UNKNOWN_ID, *server_flags],
            [UNKNOWN_ID, *down],
            [UNKNOWN_ID, "--version", "2", *server_flags],
        ],
        ("rerun",): [
            [UNKNOWN_ID, "--from", "S", *server_flags],
            [UNKNOWN_ID, "--from", "S", *down],
            [UNKNOWN_ID, "--from", "S", "--input", "{bad", *server_flags],
        ],
        ("emulators",): [[MISSING], [str(bad_json)]],
        ("lint",): [[MISSING], [str(bad_yaml)]],
        ("audit", "export"): [[UNKNOWN_ID, *server_flags], [UNKNOWN_ID, *down]],
        ("audit", "verify"): [[MISSING], [str(bad_json)]],
        ("codec-server",): [
            ["--keys", MISSING, "--port", "0"],
            ["--keys", str(bad_json), "--port", "0"],
        ],
        ("ui",): [
            ["--port", "0", *down],
            ["--port", "0", "--definitions", MISSING, *server_flags],
            ["--port", "0", "--definitions", str(bad_yaml), *server_flags],
            ["--port", "0", "--codec-keys", str(bad_json), *server_flags],
        ],
        ("replay",): [
            ["--definitions", MISSING, "--history", str(history_dir)],
            ["--definitions", SAGA, "--history", MISSING],
            ["--definitions", SAGA, "--history", str(history_dir)],
            ["--definitions", SAGA, "--workflow-id", UNKNOWN_ID, *server_flags],
            ["--definitions", SAGA, "--workflow-id", UNKNOWN_ID, *down],
        ],
        ("diff",): [
            [MISSING, f"{SAGA}/workflow.yaml"],
            [f"{SAGA}/workflow.yaml", str(bad_yaml)],
            [f"{SAGA}/workflow.yaml", f"{SAGA}/workflow.yaml", "--histories", MISSING],
            [f"{SAGA}/workflow.yaml", f"{SAGA}/workflow.yaml", "--histories", str(history_dir)],
        ],
        ("history", "export"): [
            [UNKNOWN_ID, "--output", str(tmp / "out"), *server_flags],
            [UNKNOWN_ID, "--output", str(tmp / "out2"), *down],
            ["--query", "((not a query", "--output", str(tmp / "out3"), *server_flags],
        ],
        ("insights",): [
            ["--history", MISSING],
            ["--history", str(history_dir)],
            ["--workflow-id", UNKNOWN_ID, *server_flags],
            ["--workflow-id", UNKNOWN_ID, *down],
            ["--simulate", "no-such-scenario"],
        ],
        ("migrate", "stepfunctions"): [[MISSING], [str(bad_json)]],
        ("demo",): [[MISSING, "--db", str(tmp / "demo.db")]],
        ("bench", "overhead"): [[*down]],
        ("bench", "fanout"): [[*down]],
        ("bench", "resilience"): [[*down], ["--scenario", "no-such"], ["--seeds", "0"]],
    }


def check(argv: Sequence[str]) -> str | None:
    """None when ``nexus ARGV`` exits 1 or 2 without a traceback, else what went wrong."""
    try:
        result = run_cli(nexus_cmd(*argv), timeout=45)
    except subprocess.TimeoutExpired:
        return f"nexus {' '.join(argv)}: still running after 45 s"
    output = result.stdout + result.stderr
    if "Traceback" in output or result.returncode not in (1, 2):
        return f"nexus {' '.join(argv)}: exit {result.returncode}\n{output[-2000:]}"
    return None


def test_every_command_refuses_bad_arguments_in_one_usage_error() -> None:
    problems = []
    for path, _ in commands(build_parser()):
        argv = [*path, "--no-such-flag"]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code: object = main(argv)
            except SystemExit as exc:
                code = exc.code
        text = out.getvalue() + err.getvalue()
        last = err.getvalue().strip().splitlines()[-1:]
        if code != 2 or "Traceback" in text or not last or ": error: " not in last[0]:
            problems.append(f"nexus {' '.join(argv)}: exit {code}\n{text}")
    assert not problems, "\n\n".join(problems)


async def test_every_command_fails_on_bad_targets_without_a_traceback(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    server = env.client.service_client.config.target_host
    every = [path for path, _ in commands(build_parser())]
    cases = bad_target_cases(server, tmp_path)
    uncovered = sorted(set(every) - set(cases))
    assert not uncovered, f"commands without bad-target cases here: {uncovered}"
    runs = [[*path, *args] for path in every for args in cases[path]]
    with ThreadPoolExecutor(max_workers=8) as pool:
        problems = [p for p in pool.map(check, runs) if p is not None]
    assert not problems, "\n\n".join(problems)
