"""Validation messages speak YAML, not the schema's classes, and hints suggest only fields that
are valid where they are suggested (issue 14)."""

from __future__ import annotations

import textwrap

import pytest

from nexus_temporal.dsl.compiler import compile_text
from nexus_temporal.dsl.errors import DefinitionError


def _errors(text: str) -> str:
    with pytest.raises(DefinitionError) as info:
        compile_text(textwrap.dedent(text), "x.yaml")
    return str(info.value)


@pytest.mark.parametrize("value", ["3", '"three"', "[3]"])
def test_defaults_retry_shorthand_names_no_class(value: str) -> None:
    text = _errors(
        f"""
        name: a
        defaults:
          retry: {value}
        states:
          - name: S
            type: succeed
        """
    )
    assert "defaults.retry" in text and "a retry mapping such as {max_attempts: 3}" in text
    assert "RetrySpec" not in text and "instance of" not in text


def test_no_message_of_the_corpus_style_names_a_class() -> None:
    text = _errors(
        """
        name: a
        states:
          - name: T
            action: f
            catch: [Timeout]
        functions:
          f: python:m:f
        """
    )
    assert "CatchSpec" not in text and "instance of" not in text
    assert "catch mapping" in text


@pytest.mark.parametrize(
    ("state", "extra"),
    [
        ("choice", "choices: [{when: 'true', next: S}]"),
        ("succeed", ""),
        ("fail", ""),
    ],
)
def test_unknown_field_hint_leaves_out_next_where_next_is_an_error(state: str, extra: str) -> None:
    text = _errors(
        f"""
        name: a
        states:
          - name: C
            type: {state}
            {extra}
            nxt: S
          - name: S
            type: succeed
        """
    )
    assert "unknown field 'nxt'" in text
    assert "'next'" not in text and ", next" not in text and "next," not in text


def test_unknown_field_hint_on_a_task_still_suggests_next() -> None:
    text = _errors(
        """
        name: a
        functions:
          f: python:m:f
        states:
          - name: T
            action: f
            nxt: S
          - name: S
            type: succeed
        """
    )
    assert "did you mean 'next'?" in text
