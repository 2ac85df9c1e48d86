"""The application: every verb module registered, every command dispatches to a handler, one
definition of the exit codes, and what the top level does with a missing or unknown command."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from nexus_temporal.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, build_parser, main
from nexus_temporal.cli._app import VERBS, commands
from tests.cli.helpers import assert_argparse_error, nexus
from tests.helpers.processes import BIN, ROOT, run_cli

HERE = Path(__file__).parent


def verb_name(module: Any) -> str:
    """``nexus_temporal.cli.signal_`` → ``signal``."""
    return str(module.__name__).rsplit(".", 1)[1].rstrip("_")


def test_every_command_has_a_handler() -> None:
    found = dict(commands(build_parser()))
    assert found, "no commands"
    missing = [" ".join(path) for path, handler in found.items() if not callable(handler)]
    assert not missing, f"commands without a handler: {missing}"
    # the nested ones are reached too
    for path in [("bench", "overhead"), ("bench", "resilience"), ("audit", "verify")]:
        assert path in found
    assert ("history", "export") in found and ("migrate", "stepfunctions") in found


def test_a_verb_without_a_handler_is_caught_here() -> None:
    def register(subparsers: Any) -> None:
        subparsers.add_parser("forgotten")  # no set_defaults(handler=...)

    parser = argparse.ArgumentParser(prog="nexus")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in [*VERBS[:1], SimpleNamespace(register=register)]:
        module.register(sub)
    assert dict(commands(parser))[("forgotten",)] is None


def test_every_verb_module_has_register_and_a_test_module() -> None:
    names = [verb_name(m) for m in VERBS]
    assert len(set(names)) == len(names)
    for module in VERBS:
        assert callable(getattr(module, "register", None)), module.__name__
        test_file = HERE / f"test_{verb_name(module).replace('-', '_')}.py"
        assert test_file.is_file(), f"{module.__name__} has no {test_file.relative_to(ROOT)}"


def test_every_top_level_command_comes_from_one_verb_module() -> None:
    top = {path[0] for path, _ in commands(build_parser())}
    assert top == {verb_name(m).replace("_", "-") for m in VERBS}


def test_exit_codes_are_defined_once() -> None:
    assert (EXIT_OK, EXIT_FAILED, EXIT_USAGE) == (0, 1, 2)
    where = []
    for path in sorted((ROOT / "nexus_temporal").rglob("*.py")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if re.match(r"EXIT_(OK|FAILED|USAGE)\s*=", line):
                where.append(str(path.relative_to(ROOT)))
    assert where == ["nexus_temporal/cli/_errors.py"] * 3, where


def test_help_lists_every_verb_in_order() -> None:
    result = nexus("--help")
    assert result.returncode == 0, result.stderr
    listed = re.findall(r"^    (\S+)", result.stdout, re.M)
    assert listed == [verb_name(m).replace("_", "-") for m in VERBS]


def test_missing_and_unknown_commands_are_usage_errors() -> None:
    assert_argparse_error(nexus(), "nexus", "the following arguments are required: COMMAND")
    assert_argparse_error(nexus("frobnicate"), "nexus", "invalid choice: 'frobnicate'")
    assert_argparse_error(nexus("bench"), "nexus bench", "required: BENCH")


def test_the_console_script_and_python_m_are_the_same_command() -> None:
    script = BIN / "nexus"
    by_module = run_cli([sys.executable, "-m", "nexus_temporal.cli", "--help"])
    assert by_module.returncode == 0
    if script.exists():
        by_script = run_cli([str(script), "--help"])
        assert by_script.returncode == 0
        assert by_script.stdout == by_module.stdout


def test_main_in_process_returns_the_exit_code(capsys: Any) -> None:
    assert main(["validate", str(ROOT / "examples" / "approval" / "workflow.yaml")]) == EXIT_OK
    assert main(["validate", str(ROOT / "tests" / "broken" / "choice_with_next.yaml")]) == 2
    assert "'next' has no effect on a choice state" in capsys.readouterr().err
