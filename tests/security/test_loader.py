"""Definition and ASL files as an attacker would plant them, through the real command line.

Each hostile file is a thing a loader once blocked on, read until memory ran out, or crashed
on with a traceback: a ``*.yaml`` symlink to ``/dev/zero``, a FIFO, a ``version:`` of 100,000
digits, an ASL number of 5,000 digits. Every command must refuse quickly with exit 2 and a
message naming the file (``file:line:col`` where the problem has a position), never a
traceback. Every child runs under an address-space limit and a timeout, so a regression fails
the test instead of exhausting the machine or hanging the run.
"""

from __future__ import annotations

import os
import resource
import stat
import subprocess
from pathlib import Path

import pytest

from nexus_temporal.dsl.errors import DefinitionError
from nexus_temporal.dsl.files import FileProblem, read_regular_file
from nexus_temporal.dsl.loader import MAX_INT_DIGITS, load_yaml_text
from nexus_temporal.registry import load_registry
from tests.helpers.processes import ROOT, nexus_cmd

#: A hang guard, not a performance assertion: each command finishes in a second or two.
TIMEOUT = 60
#: Far above what the CLI needs, far below what reading /dev/zero "until done" would take.
ADDRESS_SPACE = 2 << 30
EXIT_INVALID = 2

GOOD = """\
name: good
version: "1"
states:
  - name: Done
    type: succeed
"""
OTHER = GOOD.replace("name: good", "name: linked")


def _bounded() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def nexus(*args: str) -> subprocess.CompletedProcess[str]:
    """The real ``nexus`` command, memory- and time-bounded."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    environ["PYTHONPATH"] = str(ROOT) + os.pathsep + environ.get("PYTHONPATH", "")
    done = subprocess.run(
        nexus_cmd(*args),
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        preexec_fn=_bounded,
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    return done


def huge_version(digits: int = 100_000) -> str:
    return f"version: {'9' * digits}\nname: huge\nstates:\n  - name: Done\n    type: succeed\n"


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """A definitions directory as an attacker leaves it, beside two good definitions (one of
    them a symlink to a regular file elsewhere, which must still load)."""
    root = tmp_path / "definitions"
    root.mkdir()
    (root / "good.yaml").write_text(GOOD)
    elsewhere = tmp_path / "shared" / "linked.yaml"
    elsewhere.parent.mkdir()
    elsewhere.write_text(OTHER)
    (root / "link.yaml").symlink_to(elsewhere)
    (root / "evil.yaml").symlink_to("/dev/zero")
    os.mkfifo(root / "fifo.yaml")
    (root / "nested").mkdir()
    (root / "nested" / "huge_version.yaml").write_text(huge_version())
    return root


def assert_hostile_refused(root: Path, stderr: str) -> None:
    assert f"{root / 'evil.yaml'}: error: not a regular file: a symlink to a character device" in (
        stderr
    )
    assert f"{root / 'fifo.yaml'}: error: not a regular file: a FIFO" in stderr
    assert (
        f"{root / 'nested' / 'huge_version.yaml'}:1:10: error: number too large: 100000 digits"
        in stderr
    )
    assert "hint: " in stderr


def test_validate_refuses_every_hostile_file_and_still_checks_the_good_ones(
    hostile: Path,
) -> None:
    done = nexus("validate", str(hostile))
    assert done.returncode == EXIT_INVALID, done.stderr
    assert_hostile_refused(hostile, done.stderr)
    assert f"{hostile / 'good.yaml'}: ok (good@1" in done.stdout
    assert f"{hostile / 'link.yaml'}: ok (linked@1" in done.stdout


def test_validate_refuses_hostile_files_named_directly(hostile: Path) -> None:
    named = [hostile / "evil.yaml", hostile / "fifo.yaml", hostile / "nested" / "huge_version.yaml"]
    done = nexus("validate", *map(str, named))
    assert done.returncode == EXIT_INVALID
    assert_hostile_refused(hostile, done.stderr)


def test_worker_refuses_to_start(hostile: Path) -> None:
    # Nothing listens on port 1: a worker that got past the definitions would fail to connect
    # (exit 1), so exit 2 shows it stopped at the files.
    done = nexus("worker", str(hostile), "--address", "127.0.0.1:1")
    assert done.returncode == EXIT_INVALID, done.stderr
    assert_hostile_refused(hostile, done.stderr)


def test_lint_and_graph_refuse_too(hostile: Path) -> None:
    done = nexus("lint", str(hostile))
    assert done.returncode == EXIT_INVALID, done.stdout + done.stderr
    assert_hostile_refused(hostile, done.stderr)
    done = nexus("graph", str(hostile / "fifo.yaml"))
    assert done.returncode == EXIT_INVALID
    assert "fifo.yaml: error: not a regular file: a FIFO" in done.stderr


def test_normal_definitions_and_symlinks_to_regular_files_load(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(GOOD)
    target = tmp_path / "elsewhere.txt"
    target.write_text(OTHER)
    (tmp_path / "link.yaml").symlink_to(target)
    # A dangling symlink (what an editor leaves as a lock file) is not a definition.
    (tmp_path / ".#good.yaml").symlink_to("user@host.1234:1700000000")
    done = nexus("validate", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(": ok (") == 2
    assert sorted(load_registry([tmp_path]).names()) == ["good", "linked"]


def test_integers_are_bounded_in_every_notation() -> None:
    limit = "9" * MAX_INT_DIGITS
    assert load_yaml_text(f"n: {limit}\n").data == {"n": int(limit)}
    for text, where in (
        (f"n: {limit}9\n", (1, 4)),  # one digit more
        (f"a:\n  - {{x: -{'1_' * 5000}1}}\n", (2, 9)),  # underscores do not hide digits
        (f"n: 0x{'f' * 600}\n", (1, 4)),  # few digits, a large value
        (f"n: 0b{'1' * 2200}\n", (1, 4)),
        (f"n: {':'.join(['59'] * 400)}\n", (1, 4)),  # YAML 1.1 base 60
        (f"? {'7' * 5000}\n: key\n", (1, 3)),  # a key is a value too
    ):
        with pytest.raises(DefinitionError) as info:
            load_yaml_text(text, "n.yaml")
        issue = info.value.issues[0]
        assert "number too large" in issue.message, issue.message
        assert (issue.location.line, issue.location.column) == where, text[:40]


def test_a_scalar_yaml_cannot_build_is_located() -> None:
    with pytest.raises(DefinitionError) as info:
        load_yaml_text("name: x\ndescription: 2024-02-30\n", "d.yaml")
    issue = info.value.issues[0]
    assert (issue.location.line, issue.location.column) == (2, 14)
    assert issue.message.startswith("invalid value: day is out of range")


def test_the_reader_never_reads_past_its_limit() -> None:
    # A /proc file is a regular file whose size says 0 but which has content: the same shape
    # as a file that grows after it was checked. Only limit + 1 bytes may be read.
    status = Path("/proc/self/status")
    assert stat.S_ISREG(status.stat().st_mode) and status.stat().st_size == 0
    with pytest.raises(FileProblem, match="file larger than 16 bytes"):
        read_regular_file(status, 16)
    assert b"Name:" in read_regular_file(status, 1 << 20)


# --- Step Functions import --------------------------------------------------------------------


def asl_json(result: str) -> str:
    return (
        '{\n  "StartAt": "A",\n  "States": {\n    "A": {"Type": "Pass", "Result": '
        + result
        + ', "End": true}\n  }\n}\n'
    )


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("big.asl.json", asl_json("7" * 5000), "4:37: error: number too large: 5000 digits"),
        ("neg.asl.json", asl_json("-" + "7" * 5000), "4:37: error: number too large: 5000"),
        ("inf.asl.json", asl_json("[1, 1e999]"), "4:41: error: number out of range: '1e999'"),
        ("nan.asl.json", asl_json("NaN"), "4:37: error: 'NaN' is not a JSON value"),
        (
            "dup.asl.json",
            '{"StartAt": "A",\n "StartAt": "B", "States": {"A": {"Type": "Pass", "End": true}}}',
            "2:2: error: duplicate key 'StartAt'",
        ),
        (
            "big.asl.yaml",
            "StartAt: A\nStates:\n  A:\n    Type: Wait\n    Seconds: " + "7" * 5000 + "\n",
            "5:14: error: number too large: 5000 digits",
        ),
    ],
)
def test_migrate_reports_bad_numbers_located(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    done = nexus("migrate", "stepfunctions", str(path))
    assert done.returncode == EXIT_INVALID, done.stderr
    assert f"{path}:{expected}" in done.stderr, done.stderr


def test_migrate_refuses_fifos_and_devices(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.asl.json")
    (tmp_path / "zero.asl.json").symlink_to("/dev/zero")
    for name, kind in (("fifo.asl.json", "a FIFO"), ("zero.asl.json", "a symlink to a char")):
        done = nexus("migrate", "stepfunctions", str(tmp_path / name))
        assert done.returncode == EXIT_INVALID
        assert f"{tmp_path / name}: error: not a regular file: {kind}" in done.stderr
    (tmp_path / "ok.asl.json").write_text(asl_json("1"))
    done = nexus("migrate", "stepfunctions", str(tmp_path), "-o", str(tmp_path / "out"))
    assert done.returncode == EXIT_INVALID  # the directory's FIFO and device are reported...
    assert "fifo.asl.json: error: not a regular file" in done.stderr
    assert (tmp_path / "out" / "ok.yaml").exists()  # ...and the good file still converted


def test_migrate_still_converts_a_symlinked_regular_file(tmp_path: Path) -> None:
    (tmp_path / "real.json").write_text(asl_json("7" * 20))
    (tmp_path / "flow.asl.json").symlink_to(tmp_path / "real.json")
    done = nexus("migrate", "stepfunctions", str(tmp_path / "flow.asl.json"))
    assert done.returncode == 0, done.stderr
    assert "name: flow" in done.stdout and "7" * 20 in done.stdout
