"""Every extension point's registry agrees with the one place it derives from.

Each section checks one extension point: whatever names a member of it (a handler table, a
check table, the docs, the tests) must name exactly the members the source of truth has.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from interpreters.states import HANDLERS
from nexus_temporal.dsl import checks
from nexus_temporal.dsl.compiler import compile_file
from nexus_temporal.dsl.loader import load_yaml_file
from nexus_temporal.dsl.schema import STATE_MODELS, STATE_TYPES, StateBase, type_names, walk

ROOT = Path(__file__).resolve().parents[1]
DSL_DOC = (ROOT / "docs" / "dsl.md").read_text()

# --- states: the source of truth is the schema's `State` union (schema.STATE_MODELS) ----------

#: Test files named other than tests/interpreters/test_<type>.py.
STATE_TEST_FILES = {
    "succeed": "test_succeed_fail.py",
    "fail": "test_succeed_fail.py",
    "workflow": "test_workflow_state.py",
}
#: Python modules named other than <type>.py (keywords).
STATE_MODULES = {"pass": "pass_"}


def _primary(model: type[StateBase]) -> str:
    return type_names(model)[0]


STATE_IDS = [_primary(m) for m in STATE_MODELS]


def test_state_types_are_the_union_literals() -> None:
    assert STATE_TYPES == tuple(t for m in STATE_MODELS for t in type_names(m))
    assert len(set(STATE_TYPES)) == len(STATE_TYPES)


def test_handlers_are_keyed_by_every_state_type() -> None:
    assert tuple(HANDLERS) == STATE_TYPES


def test_checks_are_keyed_by_every_state_type() -> None:
    assert tuple(checks.CHECKS) == STATE_TYPES
    assert tuple(m.MODEL for m in checks.MODULES) == STATE_MODELS


@pytest.mark.parametrize("model", STATE_MODELS, ids=STATE_IDS)
def test_state_type_has_a_check_module(model: type[StateBase]) -> None:
    kind = _primary(model)
    module = STATE_MODULES.get(kind, kind)
    path = ROOT / "nexus_temporal" / "dsl" / "checks" / f"{module}.py"
    assert path.is_file(), f"no check module {path.relative_to(ROOT)} for '{kind}'"
    (found,) = [m for m in checks.MODULES if m.MODEL is model]
    assert found.__name__ == f"nexus_temporal.dsl.checks.{module}"
    for name in type_names(model):
        assert checks.CHECKS[name] is found.check


@pytest.mark.parametrize("model", STATE_MODELS, ids=STATE_IDS)
def test_state_type_has_a_handler_module(model: type[StateBase]) -> None:
    kind = _primary(model)
    path = ROOT / "interpreters" / "states"
    assert any((path / f"{name}.py").is_file() for name in (kind, f"{kind}_")), (
        f"no handler module interpreters/states/{kind}.py"
    )
    assert len({HANDLERS[name] for name in type_names(model)}) == 1


@pytest.mark.parametrize("model", STATE_MODELS, ids=STATE_IDS)
def test_state_type_has_a_docs_section(model: type[StateBase]) -> None:
    """docs/dsl.md titles each type's section ``### 9.N `type``` (synonyms in the title)."""
    names = type_names(model)
    heading = re.search(rf"^### 9\.\d+ `{re.escape(names[0])}`(.*)$", DSL_DOC, re.M)
    assert heading, f"docs/dsl.md has no '### 9.N `{names[0]}`' section"
    for synonym in names[1:]:
        assert f"`{synonym}`" in heading.group(1), f"'{synonym}' missing from: {heading[0]}"


@pytest.mark.parametrize("model", STATE_MODELS, ids=STATE_IDS)
def test_state_type_has_a_test_file(model: type[StateBase]) -> None:
    kind = _primary(model)
    name = STATE_TEST_FILES.get(kind, f"test_{kind}.py")
    assert (ROOT / "tests" / "interpreters" / name).is_file(), f"no tests/interpreters/{name}"


def test_written_children_follow_children() -> None:
    """The pre-schema walk (``written_children``) finds the scopes ``children`` has."""
    kinds: set[str] = set()
    for path in sorted((ROOT / "examples").rglob("*.yaml")):
        plan = compile_file(path)
        raw_doc = load_yaml_file(path).data
        for walked in walk(plan.definition.states):
            raw = raw_doc
            for part in walked.path:
                raw = raw[part]
            children = walked.state.children()
            written = type(walked.state).written_children(raw)
            assert [rel for _, rel in written] == [c.path for c in children], walked.path
            kinds.update(c.kind for c in children)
    assert kinds == {"branch", "item"}


def test_no_stale_exceptions() -> None:
    assert set(STATE_TEST_FILES) <= set(STATE_TYPES)
    assert set(STATE_MODULES) <= set(STATE_TYPES)


# --- providers -------------------------------------------------------------------------------
