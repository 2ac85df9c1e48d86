"""Choice states: first true rule wins, default, and no match without default."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from tests.helpers.run import execute, nexus_worker

YAML = """
name: chooser
states:
  - name: Pick
    type: choice
    choices:
      - when: n > 10
        next: Big
      - when: n > 5
        next: Medium
      - when: n < 0
        next: Negative
    default: Small
  - name: Big
    type: succeed
    output: '"big"'
  - name: Medium
    type: succeed
    output: '"medium"'
  - name: Small
    type: succeed
    output: '"small"'
  - name: Negative
    type: succeed
    output: '"negative"'
"""

NO_DEFAULT = """
name: strict-chooser
states:
  - name: Pick
    type: choice
    choices:
      - when: n = 1
        next: One
  - name: One
    type: succeed
"""


@pytest.mark.parametrize("n,expected", [(11, "big"), (6, "medium"), (3, "small"), (-1, "negative")])
async def test_choice_routes(env: WorkflowEnvironment, n: int, expected: str) -> None:
    async with nexus_worker(env.client, YAML) as w:
        assert await execute(env.client, w, "chooser", {"n": n}) == expected


async def test_no_rule_and_no_default_fails_naming_the_state(env: WorkflowEnvironment) -> None:
    async with nexus_worker(env.client, NO_DEFAULT) as w:
        assert await execute(env.client, w, "strict-chooser", {"n": 1}) == {"n": 1}
        with pytest.raises(WorkflowFailureError) as info:
            await execute(env.client, w, "strict-chooser", {"n": 2})
    assert "state 'Pick' failed: NoChoiceMatched" in str(info.value.cause)
