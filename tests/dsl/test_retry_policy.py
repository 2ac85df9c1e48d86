"""The ``retry.policy`` switch: adaptive or static, static by default without changing hashes."""

from __future__ import annotations

import pytest

from nexus_temporal.dsl.compiler import compile_text
from nexus_temporal.dsl.errors import DefinitionError
from nexus_temporal.dsl.plan import Plan
from nexus_temporal.dsl.schema import TaskState

BASE = """
name: policy-demo
{defaults}
functions:
  f:
    uri: python:tests.helpers.functions:echo
{fn_retry}
states:
  - name: A
    action: f
{state_retry}
"""


def plan(defaults: str = "", fn_retry: str = "", state_retry: str = "") -> Plan:
    return compile_text(
        BASE.format(defaults=defaults, fn_retry=fn_retry, state_retry=state_retry), "p.yaml"
    )


def policy_of(p: Plan) -> str:
    state = p.definition.states[0]
    assert isinstance(state, TaskState) and not isinstance(state.retry, int)
    assert state.retry is not None
    return state.retry.policy


def test_static_is_the_default_and_keeps_the_hash() -> None:
    implicit = plan(state_retry="    retry: {max_attempts: 4}")
    explicit = plan(state_retry="    retry: {max_attempts: 4, policy: static}")
    assert policy_of(implicit) == "static"
    assert implicit.hash == explicit.hash
    adaptive = plan(state_retry="    retry: {max_attempts: 4, policy: adaptive}")
    assert adaptive.hash != implicit.hash


def test_policy_follows_retry_precedence() -> None:
    assert policy_of(plan(defaults="defaults:\n  retry: {policy: adaptive}")) == "adaptive"
    assert policy_of(plan(fn_retry="    retry: {policy: adaptive}")) == "adaptive"
    state_wins = plan(
        defaults="defaults:\n  retry: {policy: adaptive}",
        state_retry="    retry: {max_attempts: 2}",
    )
    assert policy_of(state_wins) == "static"


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(DefinitionError) as err:
        plan(state_retry="    retry: {policy: hedged}")
    assert "policy" in str(err.value)
