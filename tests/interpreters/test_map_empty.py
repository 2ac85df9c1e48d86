"""A map over an empty list finishes at once with an empty result (it used to fail the
workflow task on ``workflow.wait([])`` and hang; found by the Step Functions differential
tests, case ``map_empty``)."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from tests.helpers.run import execute, nexus_worker

YAML = """
name: empty-map
functions:
  echo: python:tests.helpers.functions:echo
states:
  - name: Each
    type: map
    items: xs
    action: echo
    next: Nested
  - name: Nested
    type: map
    items: xs
    states:
      - name: Inner
        action: echo
"""


async def test_map_over_an_empty_list_gives_an_empty_list(env: WorkflowEnvironment) -> None:
    async with nexus_worker(env.client, YAML) as w:
        result = await execute(env.client, w, "empty-map", {"xs": []})
    assert result == {"xs": [], "Each": [], "Nested": []}
