"""A map's output is always a list: an empty inner map nested in another map gives ``[]``, not
``null`` (JSONata's empty sequence), in both query languages. Pins issue 14's report; the
converted YAML, run on the dev server, already gives ``[]`` in these shapes."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.stepfunctions.run import converted, run_asl


def _nested(jsonata: bool) -> dict[str, Any]:
    inner_item = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}
    inner: dict[str, Any] = {"Type": "Map", "ItemProcessor": inner_item, "End": True}
    if jsonata:
        inner["Items"] = "{% $states.input.xs %}"
    else:
        inner["ItemsPath"] = "$.xs"
    outer_item = {"StartAt": "Inner", "States": {"Inner": inner}}
    outer: dict[str, Any] = {"Type": "Map", "ItemProcessor": outer_item, "End": True}
    if jsonata:
        outer["Items"] = "{% $states.input.groups %}"
    else:
        outer["ItemsPath"] = "$.groups"
    asl: dict[str, Any] = {"StartAt": "Outer", "States": {"Outer": outer}}
    if jsonata:
        asl["QueryLanguage"] = "JSONata"
    return asl


@pytest.mark.parametrize("jsonata", [False, True], ids=["jsonpath", "jsonata"])
async def test_an_empty_inner_map_gives_an_empty_list(
    env: WorkflowEnvironment, jsonata: bool
) -> None:
    data = {"groups": [{"xs": []}, {"xs": [1]}, {"xs": [1, 2]}]}
    result = await run_asl(env.client, _nested(jsonata), data)
    assert result == [[], [1], [1, 2]]


@pytest.mark.parametrize("jsonata", [False, True], ids=["jsonpath", "jsonata"])
async def test_an_empty_outer_map_gives_an_empty_list(
    env: WorkflowEnvironment, jsonata: bool
) -> None:
    assert await run_asl(env.client, _nested(jsonata), {"groups": []}) == []


@pytest.mark.parametrize("jsonata", [False, True], ids=["jsonpath", "jsonata"])
async def test_a_lone_empty_inner_map_gives_a_list_holding_an_empty_list(
    env: WorkflowEnvironment, jsonata: bool
) -> None:
    assert await run_asl(env.client, _nested(jsonata), {"groups": [{"xs": []}]}) == [[]]


def test_the_converted_yaml_compiles() -> None:
    for jsonata in (False, True):
        assert "type: map" in converted(_nested(jsonata), {})
