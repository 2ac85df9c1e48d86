"""Pass/set states shape data with JSONata, with $input and $workflow bindings."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from tests.helpers.run import execute, nexus_worker

YAML = """
name: shaper
states:
  - name: Shape
    type: set
    assign:
      full: first & " " & last
      count: $count(tags)
      wf: $workflow.type
    next: Replace
  - name: Replace
    type: pass
    output: '{"who": full, "n": count, "orig": $input.first, "wf": wf}'
"""


async def test_set_and_pass(env: WorkflowEnvironment) -> None:
    async with nexus_worker(env.client, YAML) as w:
        result = await execute(
            env.client, w, "shaper", {"first": "Ada", "last": "Lovelace", "tags": ["a", "b"]}
        )
    assert result == {"who": "Ada Lovelace", "n": 2, "orig": "Ada", "wf": "shaper"}


async def test_runtime_expression_error_is_catchable(env: WorkflowEnvironment) -> None:
    yaml = """
    name: bad-expr
    functions:
      echo: python:tests.helpers.functions:echo
    states:
      - name: Call
        action: echo
        input: '$error("no amount given")'
        catch:
          - errors: [ExpressionError]
            next: Fallback
      - name: Fallback
        type: succeed
        output: error
    """
    async with nexus_worker(env.client, yaml) as w:
        result = await execute(env.client, w, "bad-expr", {})
    assert result["type"] == "ExpressionError" and result["state"] == "Call"
    assert "no amount given" in result["message"]
