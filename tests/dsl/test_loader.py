"""The YAML loader: positions, hostile input and the located errors it raises."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from nexus_temporal.dsl import DefinitionError, DefinitionIssue, Location, compile_text
from nexus_temporal.dsl.errors import did_you_mean
from nexus_temporal.dsl.loader import (
    MAX_BYTES,
    MAX_DEPTH,
    MAX_FLOW_BRACKETS,
    MAX_NODES,
    load_yaml_file,
    load_yaml_text,
)


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def load_error(text: str, file: str = "t.yaml") -> DefinitionIssue:
    with pytest.raises(DefinitionError) as info:
        load_yaml_text(text, file)
    assert len(info.value.issues) == 1
    return info.value.issues[0]


def compile_error(text: str) -> DefinitionError:
    with pytest.raises(DefinitionError) as info:
        compile_text(dedent(text), "t.yaml")
    return info.value


# --- positions -------------------------------------------------------------------------------


def test_positions_of_keys_and_values() -> None:
    doc = load_yaml_text(
        dedent(
            """
            name: demo
            states:
              - name: A
                next: B
            """
        ),
        "t.yaml",
    )
    assert doc.data == {"name": "demo", "states": [{"name": "A", "next": "B"}]}
    assert doc.keys[("name",)] == (1, 1)
    assert doc.values[("name",)] == (1, 7)
    assert doc.values[("states", 0)] == (3, 5)
    assert doc.keys[("states", 0, "next")] == (4, 5)
    assert doc.values[("states", 0, "next")] == (4, 11)


def test_location_walks_up_to_the_nearest_known_parent() -> None:
    doc = load_yaml_text("name: demo\nstates:\n  - name: A\n", "t.yaml")
    assert doc.location(("states", 0, "name")) == Location("t.yaml", 3, 11)
    assert doc.location(("states", 0, "name"), key=True) == Location("t.yaml", 3, 5)
    assert doc.location(("states", 0, "missing", 3)) == Location("t.yaml", 3, 5)
    # A list item has no key: located where the item starts, not at its parent's key.
    assert doc.location(("states", 0), key=True) == Location("t.yaml", 3, 5)
    assert doc.location((), key=True) == Location("t.yaml", 1, 1)


def test_location_renders_file_line_column() -> None:
    assert str(Location("f.yaml", 3, 7)) == "f.yaml:3:7"
    assert str(Location("f.yaml")) == "f.yaml"


def test_issue_render_and_json() -> None:
    issue = DefinitionIssue(
        Location("f.yaml", 3, 7), "unknown field 'nxt'", state="A", hint="did you mean 'next'?"
    )
    assert issue.render() == (
        "f.yaml:3:7: error: unknown field 'nxt' (state 'A')\n    hint: did you mean 'next'?"
    )
    assert issue.to_json() == {
        "file": "f.yaml",
        "line": 3,
        "column": 7,
        "state": "A",
        "message": "unknown field 'nxt'",
        "hint": "did you mean 'next'?",
        "code": "invalid",
    }
    error = DefinitionError([issue, issue])
    assert str(error) == error.render() == issue.render() + "\n" + issue.render()


# --- YAML problems ---------------------------------------------------------------------------


def test_syntax_error_is_located() -> None:
    issue = load_error("name: x\nstates:\n  - name: A\n     type: pass\n")
    assert issue.code == "yaml"
    assert issue.message.startswith("YAML syntax error: ")
    assert issue.location == Location("t.yaml", 4, 10)
    assert issue.hint


def test_unclosed_flow_sequence() -> None:
    issue = load_error("name: x\nstates: [a, b\n")
    assert issue.message.startswith("YAML syntax error: ")
    assert issue.location.line >= 2


def test_tab_indentation() -> None:
    issue = load_error("name: x\nstates:\n\t- name: A\n")
    assert "'\\t'" in issue.message
    assert issue.location == Location("t.yaml", 3, 1)


@pytest.mark.parametrize("text", ["", "   \n", "# only a comment\n", "\n\n"])
def test_empty_file(text: str) -> None:
    issue = load_error(text)
    assert issue.message == "the file is empty"
    assert issue.location == Location("t.yaml", 1, 1)


@pytest.mark.parametrize("text", ["---\n", "~\n", "42\n", "- a\n", "just text\n"])
def test_root_that_is_not_a_mapping(text: str) -> None:
    with pytest.raises(DefinitionError) as info:
        compile_text(text, "t.yaml")
    issue = info.value.issues[0]
    assert issue.code == "shape"
    assert issue.message.startswith("a definition must be a YAML mapping")
    assert issue.location.line >= 1


def test_several_documents_are_refused() -> None:
    issue = load_error("name: a\n---\nname: b\n")
    assert "expected a single document" in issue.message
    assert issue.location.line == 2


def test_duplicate_keys() -> None:
    issue = load_error("name: a\nstates: []\nname: b\n")
    assert issue.message == "duplicate key 'name'"
    assert issue.location == Location("t.yaml", 3, 1)


def test_duplicate_keys_of_different_scalar_types() -> None:
    # 1 and "1" are the same field once keys become text.
    issue = load_error("a:\n  1: x\n  '1': y\n")
    assert issue.message == "duplicate key '1'"


def test_merge_keys_are_refused() -> None:
    issue = load_error("base: &b {a: 1}\nother:\n  <<: *b\n")
    assert "merge keys" in issue.message
    assert issue.location == Location("t.yaml", 3, 3)


@pytest.mark.parametrize("key", ["[a, b]", "{a: 1}", "~"])
def test_complex_keys_are_refused(key: str) -> None:
    issue = load_error(f"? {key}\n: value\n")
    assert issue.message == "mapping keys must be plain scalars"


def test_python_tags_are_not_constructed() -> None:
    issue = load_error("name: !!python/name:os.system ''\n")
    assert issue.message.startswith("invalid value: could not determine a constructor")
    assert "\n" not in issue.message
    assert issue.location == Location("t.yaml", 1, 7)
    # On a collection the tag is ignored: plain data, nothing is called.
    doc = load_yaml_text("name: !!python/object/apply:os.system ['true']\n", "t.yaml")
    assert doc.data == {"name": ["true"]}


def test_control_characters_are_located() -> None:
    issue = load_error("name: x\nstates:\n  - name: A\x00\n")
    assert issue.message.startswith("YAML error: unacceptable character #x0000")
    assert issue.location == Location("t.yaml", 3, 12)


def test_byte_order_mark_is_accepted() -> None:
    doc = load_yaml_text("\ufeffname: x\n", "t.yaml")
    assert doc.data == {"name": "x"}


# --- limits ----------------------------------------------------------------------------------


def test_billion_laughs_is_bounded() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    previous = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
        previous = name
    issue = load_error("\n".join(lines) + "\n")
    assert f"more than {MAX_NODES} nodes" in issue.message
    assert issue.location.line >= 1


def test_aliases_within_the_limit_are_fine() -> None:
    doc = load_yaml_text("a: &x [1, 2]\nb: *x\n", "t.yaml")
    assert doc.data == {"a": [1, 2], "b": [1, 2]}


def test_depth_limit() -> None:
    ok = "x: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n"
    load_yaml_text(ok, "t.yaml")
    deep = "x: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n"
    issue = load_error(deep)
    assert f"nested deeper than {MAX_DEPTH} levels" in issue.message


def test_deep_flow_nesting_is_refused_before_parsing() -> None:
    # PyYAML needs ~15 s for this (quadratic in flow depth); the pre-scan refuses it at once.
    start = time.perf_counter()
    issue = load_error("x: " + "[" * 20_000 + "]" * 20_000 + "\n")
    assert time.perf_counter() - start < 2
    assert f"nested deeper than {MAX_DEPTH} levels" in issue.message
    assert issue.location == Location("t.yaml", 1, 4 + MAX_FLOW_BRACKETS)


def test_depth_that_exhausts_the_parser_stack() -> None:
    issue = load_error("- " * 100_000 + "x\n")
    assert issue.message == "YAML nested too deeply"
    assert issue.location == Location("t.yaml", 1, 1)


def test_root_that_is_not_a_mapping_line() -> None:
    with pytest.raises(DefinitionError) as info:
        compile_text("# comment\n- a\n", "t.yaml")
    assert info.value.issues[0].location == Location("t.yaml", 2, 1)


def test_size_limit() -> None:
    issue = load_error("# " + "x" * MAX_BYTES + "\n")
    assert f"larger than {MAX_BYTES} bytes" in issue.message


# --- files -----------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(DefinitionError) as info:
        load_yaml_file(path)
    issue = info.value.issues[0]
    assert issue.code == "io"
    assert issue.location.file == str(path)
    assert issue.message.startswith("cannot read file: ")


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError) as info:
        load_yaml_file(tmp_path)
    assert info.value.issues[0].code == "io"


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(DefinitionError) as info:
        load_yaml_file(path)
    assert info.value.issues[0].message == "file is not UTF-8 text"


def test_file_too_large(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * (MAX_BYTES + 1))
    with pytest.raises(DefinitionError) as info:
        load_yaml_file(path)
    assert "larger than" in info.value.issues[0].message


def test_file_positions_match_text(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("# comment\nname: w\n")
    doc = load_yaml_file(path)
    assert doc.file == str(path)
    assert doc.keys[("name",)] == (2, 1)


# --- unknown fields and did-you-mean ---------------------------------------------------------


def test_did_you_mean() -> None:
    assert did_you_mean("nxt", ["next", "name"]) == "did you mean 'next'?"
    assert did_you_mean("zzzz", ["next", "name"]) is None
    assert did_you_mean("anything", []) is None


@pytest.mark.parametrize(
    ("text", "field", "where", "hint"),
    [
        ("name: x\nstats: []\n", "stats", (2, 1), "did you mean 'states'?"),
        (
            "name: x\nstates:\n  - name: A\n    type: pass\n    nxt: B\n",
            "nxt",
            (5, 5),
            "did you mean 'next'?",
        ),
        (
            "name: x\nstates:\n  - name: A\n    action: a\n    retry:\n      max_atempts: 2\n",
            "max_atempts",
            (6, 7),
            "did you mean 'max_attempts'?",
        ),
        (
            "name: x\nstates:\n  - name: A\n    action: a\n    catch:\n      - nxt: A\n",
            "nxt",
            (6, 9),
            "did you mean 'next'?",
        ),
        (
            "name: x\ndefaults:\n  heartbeet: 5s\nstates:\n  - name: A\n    action: a\n",
            "heartbeet",
            (3, 3),
            "did you mean 'heartbeat'?",
        ),
        (
            "name: x\nstates:\n  - name: C\n    type: choice\n    choices:\n"
            "      - wen: a\n        next: C\n",
            "wen",
            (6, 9),
            "did you mean 'when'?",
        ),
        (
            "name: x\nfunctions:\n  f: {url: 'activity:x'}\nstates:\n  - name: A\n    action: f\n",
            "url",
            (3, 7),
            "did you mean 'uri'?",
        ),
    ],
    ids=["top-level", "state", "retry", "catch", "defaults", "choice-rule", "function"],
)
def test_unknown_field_did_you_mean(
    text: str, field: str, where: tuple[int, int], hint: str
) -> None:
    with pytest.raises(DefinitionError) as info:
        compile_text(text, "t.yaml")
    issue = next(i for i in info.value.issues if i.code == "unknown-field")
    assert issue.message == f"unknown field '{field}'"
    assert (issue.location.line, issue.location.column) == where
    assert issue.hint == hint


def test_unknown_field_without_close_match_lists_allowed_fields() -> None:
    error = compile_error(
        """
        name: x
        states:
          - name: A
            type: succeed
            zzzzzz: 1
        """
    )
    issue = error.issues[0]
    assert issue.message == "unknown field 'zzzzzz'"
    assert issue.hint is not None and issue.hint.startswith("allowed fields here: ")
    assert "output" in issue.hint


def test_unknown_state_type_did_you_mean() -> None:
    error = compile_error(
        """
        name: x
        states:
          - name: A
            type: sucseed
        """
    )
    issue = error.issues[0]
    assert issue.code == "unknown-type"
    assert issue.hint == "did you mean 'succeed'?"
    assert (issue.location.line, issue.location.column) == (4, 11)


def test_missing_type_is_located_at_the_state() -> None:
    error = compile_error(
        """
        name: x
        states:
          - name: A
            type: pass
            next: B
          - name: B
            next: A
        """
    )
    issue = error.issues[0]
    assert issue.code == "missing-type"
    assert issue.state == "B"
    assert (issue.location.line, issue.location.column) == (6, 5)


def test_missing_required_field_is_located_at_the_mapping() -> None:
    error = compile_error(
        """
        name: x
        states:
          - name: A
            type: choice
            default: A
        """
    )
    issue = error.issues[0]
    assert issue.code == "missing-field"
    assert issue.message == "missing required field 'choices'"
    assert (issue.location.line, issue.location.column) == (3, 5)
