"""The layout of the Step Functions converter: one converter per ASL state type, in
``stepfunctions/states/<type>.py``, all reached through ``convert.CONVERTERS`` and each exercised
by the corpus; no module of ``stepfunctions/`` imports another's private names."""

from __future__ import annotations

import ast
import importlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import nexus_temporal.stepfunctions as sfn
from nexus_temporal.stepfunctions import AslError, convert_asl
from nexus_temporal.stepfunctions.context import StateContext
from nexus_temporal.stepfunctions.convert import CONVERTERS, STATE_TYPES

PACKAGE = Path(sfn.__file__).parent
STATES = PACKAGE / "states"
CORPUS = Path(__file__).parent / "corpus"


def _module_name(kind: str) -> str:
    """``states/<type>.py``, with a trailing ``_`` where the type is a Python keyword."""
    name = kind.lower()
    return f"{name}_" if (STATES / f"{name}_.py").is_file() else name


def test_every_accepted_state_type_has_a_converter() -> None:
    assert set(STATE_TYPES) == set(CONVERTERS)
    with pytest.raises(AslError) as exc:
        convert_asl({"StartAt": "A", "States": {"A": {"Type": "Bogus"}}}, name="x")
    (issue,) = exc.value.issues
    assert issue.code == "unknown-type"
    assert issue.hint == f"use one of {', '.join(STATE_TYPES)}"


@pytest.mark.parametrize("kind", STATE_TYPES)
def test_each_converter_lives_in_its_own_module(kind: str) -> None:
    name = _module_name(kind)
    assert (STATES / f"{name}.py").is_file()
    module = importlib.import_module(f"nexus_temporal.stepfunctions.states.{name}")
    assert CONVERTERS[kind] is module.convert


def test_no_module_of_states_without_a_converter() -> None:
    modules = {p.stem for p in STATES.glob("*.py") if p.stem != "__init__"}
    assert modules == {_module_name(kind) for kind in STATE_TYPES}


def test_the_corpus_exercises_every_converter(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: Counter[str] = Counter()
    for kind, convert in list(CONVERTERS.items()):

        def counted(ctx: StateContext, kind: str = kind, convert: Any = convert) -> Any:
            calls[kind] += 1
            return convert(ctx)

        monkeypatch.setitem(CONVERTERS, kind, counted)
    files = sorted(CORPUS.glob("*.json"))
    assert files
    for path in files:
        convert_asl(path.read_text(), name="corpus", source=str(path))
    assert {kind for kind in STATE_TYPES if not calls[kind]} == set()


def _python_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


@pytest.mark.parametrize("path", _python_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_private_name(path: Path) -> None:
    bad: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if any(_private(part) for part in module.split(".")):
                bad.append(f"line {node.lineno}: from {module}")
            bad += [
                f"line {node.lineno}: {alias.name} from {module}"
                for alias in node.names
                if _private(alias.name)
            ]
        elif isinstance(node, ast.Import):
            bad += [
                f"line {node.lineno}: import {alias.name}"
                for alias in node.names
                if any(_private(part) for part in alias.name.split("."))
            ]
    assert bad == []


@pytest.mark.parametrize("path", _python_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_over_600_lines(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= 600
