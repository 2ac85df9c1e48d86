"""examples/sfn_orders/workflow.yaml is the importer's output for statemachine.asl.json (with
its Lambda targets pointed at functions.py); the e2e example runner runs its scenarios."""

from __future__ import annotations

from pathlib import Path

import yaml

from nexus_temporal.dsl.compiler import compile_file, compile_text
from nexus_temporal.stepfunctions import convert_asl, retarget

FOLDER = Path(__file__).resolve().parents[2] / "examples" / "sfn_orders"


def test_example_is_the_importer_output() -> None:
    workflow = compile_file(FOLDER / "workflow.yaml")
    targets = yaml.safe_load((FOLDER / "workflow.yaml").read_text())["functions"]
    src = FOLDER / "statemachine.asl.json"
    result = convert_asl(src.read_text(), name="sfn-orders", source=str(src))
    assert all(item.kind == "converted" for item in result.report)
    fresh = compile_text(retarget(result.yaml_text, targets))
    # If this fails, regenerate workflow.yaml (README.md) and re-record its replay histories
    # (.venv/bin/python -m tests.histories.record examples/sfn_orders).
    assert fresh.hash == workflow.hash
