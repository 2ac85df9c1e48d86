"""Every state machine of the outside corpus (40 real ASL files from AWS samples, MIT-0; see
corpus/SOURCES.md) converts, and every result passes ``nexus validate``."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexus_temporal.dsl.compiler import compile_text
from nexus_temporal.stepfunctions import convert_asl
from nexus_temporal.stepfunctions.report import KINDS
from nexus_temporal.stepfunctions.sources import definition_name

CORPUS = Path(__file__).parent / "corpus"
FILES = sorted(p for p in CORPUS.iterdir() if p.suffix == ".json")


def test_the_corpus_is_complete() -> None:
    assert len(FILES) == 40
    assert (CORPUS / "SOURCES.md").is_file()


@pytest.mark.parametrize("path", FILES, ids=[definition_name(p)[-60:] for p in FILES])
def test_converts_and_validates(path: Path) -> None:
    result = convert_asl(path.read_text(), name=definition_name(path), source=str(path))
    plan = compile_text(result.yaml_text, f"{path.stem}.yaml")
    assert plan.name == definition_name(path)
    assert result.report and all(item.kind in KINDS for item in result.report)
    states = {item.state for item in result.report if item.state}
    import json

    asl = json.loads(path.read_text())

    def names(scope: dict) -> set[str]:
        out = set()
        for name, state in scope["States"].items():
            if not isinstance(state, dict):
                continue
            out.add(name)
            for branch in state.get("Branches", []):
                out |= names(branch)
            for key in ("ItemProcessor", "Iterator"):
                if key in state:
                    out |= names(state[key])
        return out

    # nothing is dropped silently: every ASL state has at least one report line
    assert names(asl) <= states
    # every function the user must supply is declared in the YAML
    assert set(result.functions) <= set(plan.definition.functions)
