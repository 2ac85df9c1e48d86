"""Every file in tests/broken/ is rejected by `nexus validate` with a located, readable error.

The first line of each corpus file says what to expect::

    # expect: LINE:COL <substring of the message>

Each file is validated by the real CLI in its own process (``python -m nexus_temporal.cli
validate FILE``). A fresh interpreter costs about a second of imports, too slow for a corpus of
sixty files, so by default one driver process imports the CLI once and forks a child per file;
the child runs the module as ``__main__`` with that argv, exactly as ``-m`` does, and its exit
status and output are checked. Set ``NEXUS_CORPUS_FRESH=1`` to start a fresh interpreter per
file instead (same assertions, slower). The entry points themselves (``-m`` and the ``nexus``
script) are also run fresh by the tests at the end of this module.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BROKEN = REPO / "tests" / "broken"
CORPUS = sorted(BROKEN.glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (?P<line>\d+):(?P<col>\d+) (?P<text>.+)$")
EXIT_INVALID = 2

# Runs in the driver process: import the CLI once, then fork one child per file. Each child
# points fds 1 and 2 at files and runs nexus_temporal.cli as __main__, like `python -m` does.
_DRIVER = r"""
import json, os, runpy, sys, tempfile, traceback
# Warm what the CLI imports, but not nexus_temporal.cli itself: runpy runs that as __main__.
import nexus_temporal.client, nexus_temporal.dsl.compiler, nexus_temporal.registry
import nexus_temporal.runner

def run(path):
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            sys.argv = ["nexus", "validate", path]
            try:
                runpy.run_module("nexus_temporal.cli", run_name="__main__", alter_sys=True)
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except BaseException:
                traceback.print_exc()
                code = 1
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        out.seek(0)
        err.seek(0)
        return {
            "file": path,
            "returncode": os.waitstatus_to_exitcode(status),
            "stdout": out.read().decode("utf-8", "replace"),
            "stderr": err.read().decode("utf-8", "replace"),
        }

results = [run(p) for p in sys.argv[1:]]
sys.stdout.write(json.dumps(results))
"""


@dataclass(frozen=True)
class Expectation:
    line: int
    column: int
    text: str


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


def expectation(path: Path) -> Expectation:
    first = path.read_text(encoding="utf-8", errors="replace").split("\n", 1)[0]
    match = EXPECT.match(first)
    assert match, f"{path.name}: first line must be '# expect: LINE:COL <message substring>'"
    return Expectation(int(match["line"]), int(match["col"]), match["text"])


def rel(path: Path) -> str:
    """The path as given on the command line, and so as printed in messages."""
    return str(path.relative_to(REPO))


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m nexus_temporal.cli ARGS`` in a fresh interpreter from the repo root."""
    return subprocess.run(
        [sys.executable, "-m", "nexus_temporal.cli", *args],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _validate_fresh(paths: list[Path]) -> dict[str, Result]:
    def one(path: Path) -> Result:
        done = cli("validate", rel(path))
        return Result(done.returncode, done.stdout, done.stderr)

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return dict(zip((rel(p) for p in paths), pool.map(one, paths), strict=True))


def _validate_forked(paths: list[Path]) -> dict[str, Result]:
    done = subprocess.run(
        [sys.executable, "-c", _DRIVER, *(rel(p) for p in paths)],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"corpus driver failed:\n{done.stderr}"
    return {
        r["file"]: Result(r["returncode"], r["stdout"], r["stderr"])
        for r in json.loads(done.stdout)
    }


@pytest.fixture(scope="module")
def corpus_results() -> dict[str, Result]:
    if os.environ.get("NEXUS_CORPUS_FRESH") == "1" or not hasattr(os, "fork"):
        return _validate_fresh(CORPUS)
    return _validate_forked(CORPUS)


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 25, f"only {len(CORPUS)} broken definitions in {BROKEN}"


def test_corpus_files_have_expectations() -> None:
    for path in CORPUS:
        expected = expectation(path)
        assert expected.line >= 1 and expected.column >= 1, path.name


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_broken_definition_is_rejected_with_location(
    path: Path, corpus_results: dict[str, Result]
) -> None:
    expected = expectation(path)
    result = corpus_results[rel(path)]
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert result.returncode == EXIT_INVALID, output
    where = f"{rel(path)}:{expected.line}:{expected.column}: error: "
    located = [line for line in result.stderr.splitlines() if line.startswith(where)]
    assert located, f"no issue at {where!r}; got:\n{result.stderr}"
    assert any(expected.text in line for line in located), (
        f"no issue at {where!r} mentions {expected.text!r}; got:\n{result.stderr}"
    )
    assert f"{rel(path)}: ok" not in result.stdout


def test_every_issue_line_is_well_formed(corpus_results: dict[str, Result]) -> None:
    """Each stderr line is either a located issue or an indented hint."""
    issue = re.compile(r"^\S.*:\d+:\d+: error: .+$")
    for file, result in corpus_results.items():
        for line in result.stderr.splitlines():
            assert issue.match(line) or line.startswith("    hint: "), f"{file}: {line!r}"


# --- the entry points themselves, each in a fresh interpreter --------------------------------


APPENDIX_B = BROKEN / "appendix_b_as_printed.yaml"


def test_module_entry_point_in_fresh_process() -> None:
    done = cli("validate", rel(APPENDIX_B))
    expected = expectation(APPENDIX_B)
    assert done.returncode == EXIT_INVALID
    assert "Traceback" not in done.stdout + done.stderr
    assert f"{rel(APPENDIX_B)}:{expected.line}:{expected.column}: error: " in done.stderr
    assert expected.text in done.stderr
    assert "(state 'ExecuteTransfer')" in done.stderr
    assert "    hint: " in done.stderr


def test_console_script_in_fresh_process() -> None:
    script = Path(sys.executable).with_name("nexus")
    if not script.exists():
        found = shutil.which("nexus")
        assert found is not None, "the 'nexus' console script is not installed (pip install -e .)"
        script = Path(found)
    path = BROKEN / "unknown_field_nxt.yaml"
    done = subprocess.run(
        [str(script), "validate", rel(path)],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    expected = expectation(path)
    assert done.returncode == EXIT_INVALID
    assert "Traceback" not in done.stdout + done.stderr
    assert f"{rel(path)}:{expected.line}:{expected.column}: error: {expected.text}" in done.stderr
    assert "hint: did you mean 'next'?" in done.stderr


def test_json_output_shape() -> None:
    path = BROKEN / "next_target_missing.yaml"
    expected = expectation(path)
    done = cli("validate", "--json", rel(path), "examples/order_saga/workflow.yaml")
    assert done.returncode == EXIT_INVALID
    assert "Traceback" not in done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert set(report) == {"valid", "definitions", "issues"}
    assert report["valid"] is False
    assert [d["name"] for d in report["definitions"]] == ["order-saga"]
    definition = report["definitions"][0]
    assert set(definition) == {"name", "version", "hash", "file"}
    assert re.fullmatch(r"[0-9a-f]{64}", definition["hash"])
    assert report["issues"], "an invalid file must report issues"
    for issue in report["issues"]:
        assert set(issue) == {"file", "line", "column", "state", "message", "hint", "code"}
        assert issue["file"] == rel(path)
        assert isinstance(issue["line"], int) and issue["line"] >= 1
        assert isinstance(issue["column"], int) and issue["column"] >= 1
        assert isinstance(issue["message"], str) and "\n" not in issue["message"]
        assert isinstance(issue["code"], str)
    first = report["issues"][0]
    assert (first["line"], first["column"]) == (expected.line, expected.column)
    assert expected.text in first["message"]
    assert first["state"] == "Charge"
    assert first["code"] == "unknown-state"
    assert first["hint"] == "did you mean 'Ship'?"


def test_valid_examples_pass_in_fresh_process() -> None:
    done = cli("validate", "examples")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.count(": ok (") == len(list((REPO / "examples").rglob("*.yaml")))
