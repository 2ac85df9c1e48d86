"""Committed histories of every example replay deterministically on the current interpreter."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexus_temporal.dsl.compiler import compile_file
from nexus_temporal.registry import Registry, load_registry
from nexus_temporal.replay import load_history, replay

ROOT = Path(__file__).resolve().parents[2]
HISTORIES = sorted((ROOT / "tests" / "histories").glob("*.json"))


def test_every_example_has_recorded_histories() -> None:
    examples = {p.parent.name.replace("_", "-") for p in (ROOT / "examples").rglob("*.yaml")}
    recorded = {h.name for h in HISTORIES}
    for example in examples:
        assert any(name.startswith(example) for name in recorded), example


@pytest.mark.parametrize("path", HISTORIES, ids=[h.stem for h in HISTORIES])
async def test_history_replays(path: Path) -> None:
    [report] = await replay([load_history(path)], load_registry([ROOT / "examples"]))
    assert report.ok, report.problem


async def test_definition_changed_in_place_does_not_replay(tmp_path: Path) -> None:
    source = ROOT / "examples" / "payment_reconciliation" / "workflow.yaml"
    changed = tmp_path / "workflow.yaml"
    changed.write_text(source.read_text().replace("retry: 3", "retry: 4"))
    history = next(h for h in HISTORIES if h.name.startswith("payment-reconciliation-a-covered"))
    [report] = await replay([load_history(history)], Registry([compile_file(changed)]))
    assert not report.ok
    assert "content changed under the same version label" in (report.problem or "")
