"""Property tests: whatever text arrives, loading either yields a Plan or a located
DefinitionError, never any other exception."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nexus_temporal.dsl import DefinitionError, Plan, compile_text

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*/workflow.yaml"))

PROPERTY = settings(
    max_examples=200,
    deadline=None,
    database=None,  # leave no .hypothesis directory behind
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Words the format uses, so generated documents get past the first checks more often.
VOCABULARY = [
    "format",
    "name",
    "version",
    "description",
    "start_at",
    "defaults",
    "functions",
    "states",
    "type",
    "action",
    "next",
    "input",
    "output",
    "assign",
    "timeout",
    "retry",
    "max_attempts",
    "backoff",
    "catch",
    "errors",
    "as",
    "compensate",
    "on_failure",
    "choices",
    "when",
    "default",
    "duration",
    "until",
    "signal",
    "branches",
    "uri",
    "task",
    "choice",
    "pass",
    "set",
    "wait",
    "parallel",
    "succeed",
    "fail",
    "30s",
    "PT5M",
    "$now()",
    "python:a:b",
    "http:x",
    "activity:",
    "aws-lambda:f",
    "A",
    "B",
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(VOCABULARY)
)
keys = st.sampled_from(VOCABULARY) | st.text(max_size=10)
json_like = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5),
    max_leaves=30,
)
#: Smaller values for the definition-shaped documents, which nest several of them.
small_json = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=3),
    max_leaves=8,
)


def outcome(text: str) -> Plan | DefinitionError:
    """Compile ``text``; any exception other than DefinitionError fails the test."""
    try:
        return compile_text(text, "prop.yaml")
    except DefinitionError as exc:
        assert exc.issues, "a DefinitionError must carry at least one issue"
        for issue in exc.issues:
            assert issue.location.file == "prop.yaml"
            assert issue.location.line >= 1, issue.render()
            assert issue.location.column >= 1, issue.render()
            assert issue.message, issue.render()
            # One 'file:line:col: error: ...' line, plus one hint line if there is a hint.
            rendered = issue.render().splitlines()
            assert len(rendered) == (2 if issue.hint else 1), rendered
            assert rendered[0].startswith(f"{issue.location}: error: "), rendered
        return exc


@PROPERTY
@given(st.text(max_size=300))
def test_arbitrary_text(text: str) -> None:
    result = outcome(text)
    assert isinstance(result, (Plan, DefinitionError))


@PROPERTY
@given(st.lists(st.sampled_from(list(" \t\n-:[]{}'\"&*!|>#%@`,?") + VOCABULARY)).map("".join))
def test_yaml_punctuation_soup(text: str) -> None:
    result = outcome(text)
    assert isinstance(result, (Plan, DefinitionError))


@PROPERTY
@given(json_like)
def test_arbitrary_json_like_structures(data: Any) -> None:
    result = outcome(yaml.safe_dump(data, allow_unicode=True))
    assert isinstance(result, (Plan, DefinitionError))


@PROPERTY
@given(
    st.fixed_dictionaries(
        {
            "name": scalars,
            "states": st.lists(st.dictionaries(keys, small_json, max_size=6), max_size=4),
        },
        optional={"defaults": small_json, "functions": small_json, "start_at": scalars},
    )
)
def test_definition_shaped_structures(data: dict[str, Any]) -> None:
    result = outcome(yaml.safe_dump(data, allow_unicode=True))
    assert isinstance(result, (Plan, DefinitionError))


# --- mutations of the valid examples -------------------------------------------------------


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a mapping value or list item in ``node``."""
    found: list[tuple[Any, ...]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.append(prefix + (key,))
            found.extend(_paths(value, prefix + (key,)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.append(prefix + (i,))
            found.extend(_paths(value, prefix + (i,)))
    return found


def _parent(root: Any, path: tuple[Any, ...]) -> Any:
    node = root
    for part in path[:-1]:
        node = node[part]
    return node


@st.composite
def mutated_examples(draw: st.DrawFn) -> str:
    source = draw(st.sampled_from(EXAMPLE_FILES))
    data = copy.deepcopy(yaml.safe_load(source.read_text()))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(data, path)
        if draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(small_json)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=draw(st.booleans()))


def test_examples_compile_unmutated() -> None:
    assert len(EXAMPLE_FILES) >= 3
    for path in EXAMPLE_FILES:
        assert isinstance(outcome(path.read_text()), Plan), path


@PROPERTY
@given(mutated_examples())
def test_mutated_examples(text: str) -> None:
    result = outcome(text)
    assert isinstance(result, (Plan, DefinitionError))


@st.composite
def mutated_example_text(draw: st.DrawFn) -> str:
    """Line-level damage: drop, duplicate or re-indent one line of an example."""
    source = draw(st.sampled_from(EXAMPLE_FILES))
    lines = source.read_text().splitlines()
    i = draw(st.integers(min_value=0, max_value=len(lines) - 1))
    action = draw(st.sampled_from(["drop", "duplicate", "indent", "dedent", "insert"]))
    if action == "drop":
        del lines[i]
    elif action == "duplicate":
        lines.insert(i, lines[i])
    elif action == "indent":
        lines[i] = " " * draw(st.integers(1, 4)) + lines[i]
    elif action == "dedent":
        lines[i] = lines[i].lstrip()
    else:
        lines.insert(i, draw(st.text(max_size=30)))
    return "\n".join(lines) + "\n"


@PROPERTY
@given(mutated_example_text())
def test_line_damaged_examples(text: str) -> None:
    result = outcome(text)
    assert isinstance(result, (Plan, DefinitionError))
