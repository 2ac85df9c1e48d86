"""Validation reports every independent error of a file in one pass: an unknown state type
does not hide a JSONata error elsewhere, unknown fields do not hide graph errors, and nothing
that merely follows from an error already reported is added."""

from __future__ import annotations

import textwrap

import pytest

from nexus_temporal.dsl import DefinitionError, compile_text


def issues(text: str) -> list[tuple[int, int, str, str]]:
    with pytest.raises(DefinitionError) as info:
        compile_text(textwrap.dedent(text).lstrip("\n"), "t.yaml")
    return [(i.location.line, i.location.column, i.code, i.message) for i in info.value.issues]


def codes(found: list[tuple[int, int, str, str]]) -> list[tuple[int, str]]:
    return [(line, code) for line, _, code, _ in found]


def test_an_unknown_state_type_does_not_hide_a_jsonata_syntax_error() -> None:
    found = issues(
        """
        name: t
        states:
          - name: A
            type: taks
            next: B
          - name: B
            type: pass
            output: '$.a +'
        """
    )
    assert codes(found) == [(4, "unknown-type"), (8, "jsonata")], found


def test_an_unknown_type_in_a_branch_adds_nothing_about_its_branch() -> None:
    found = issues(
        """
        name: t
        states:
          - name: FanOut
            type: parallel
            branches:
              - name: b1
                states:
                  - name: X
                    type: succed
        """
    )
    assert codes(found) == [(9, "unknown-type")], found


def test_a_schema_error_does_not_hide_a_jsonata_error_in_another_state() -> None:
    found = issues(
        """
        name: t
        functions:
          f: python:m:f
        states:
          - name: A
            action: f
            retry: -1
            next: B
          - name: B
            type: choice
            choices:
              - when: '$.x ='
                next: C
            default: C
          - name: C
            type: succeed
        """
    )
    assert [c for _, c in codes(found)] == ["invalid-value", "jsonata"], found


def test_an_unknown_top_level_field_does_not_hide_graph_errors() -> None:
    found = issues(
        """
        name: t
        descripton: typo
        states:
          - name: A
            type: pass
            next: Missing
          - name: Orphan
            type: succeed
        """
    )
    assert codes(found) == [(2, "unknown-field"), (6, "unknown-state"), (7, "unreachable")], found


def test_an_unknown_field_in_a_state_keeps_its_independent_errors_only() -> None:
    """``nxt`` is probably a misspelt ``next``: that B is unreachable follows from it, so only
    the unknown field and the unrelated bad target are reported."""
    found = issues(
        """
        name: t
        states:
          - name: A
            type: pass
            nxt: B
          - name: B
            type: pass
            next: Nowhere
        """
    )
    assert codes(found) == [(5, "unknown-field"), (8, "unknown-state")], found
