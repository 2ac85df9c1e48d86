"""How redrive recognises a map's units in earlier runs' histories (activities/lineage.py) and
hands a shard its part of them (interpreters/redrive.py). End to end: tests/e2e/test_redrive.py."""

from __future__ import annotations

from activities.lineage import is_invoke, unit_of
from interpreters.redrive import earlier_slice


def test_item_keys_name_their_unit_for_the_map_visit_only() -> None:
    prefix = "wf/Items/"
    assert unit_of("wf/Items/17", prefix, "") == "17"
    assert unit_of("wf/Items/10-19", prefix, "") == "10"
    assert unit_of("wf/Items/17/v2", prefix, "") is None  # another visit
    assert unit_of("wf/Items/17/v2", prefix, "/v2") == "17"
    assert unit_of("wf/Items/17", prefix, "/v2") is None
    assert unit_of("wf/Other/17", prefix, "") is None
    assert unit_of("wf/Items/1/compensate", prefix, "") is None  # a task state's key


def test_invoke_activity_types() -> None:
    assert is_invoke("nexus.invoke") and is_invoke("nexus.invoke:charge")
    assert not is_invoke("nexus.invoker") and not is_invoke("charge")


def test_a_shard_gets_only_its_range() -> None:
    prior = {"0": "a", "5": "b", "10": "c"}
    assert earlier_slice(prior, 0, 10) == {"0": "a", "5": "b"}
    assert earlier_slice(prior, 11, 20) is None
    assert earlier_slice(None, 0, 10) is None
