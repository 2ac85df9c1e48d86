"""What changed between two compiled definitions, per state, and which recorded executions a
change touches (``nexus diff OLD.yaml NEW.yaml [--histories PATH...]``).

The comparison is of compiled plans, not of text: comments, formatting, key order and
equivalent spellings (``retry: 3`` and ``retry: {max_attempts: 3}``) are no change. A state's
own fields are compared (the states of a parallel branch or a map's item states are states of
their own); a changed function is reported on every state that calls it; the rest of the
definition (``defaults``, ``description``...) under ``(definition)``. A history is affected
when it pinned the old definition's name and visited a changed or removed state (or any state,
for a change of ``defaults``, which every state reads).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import WorkflowHistory

from nexus_temporal.dsl.plan import Plan, plan_json
from nexus_temporal.history import pinned_definition, recorded_steps
from nexus_temporal.replay_data import ABSENT, differences, short

#: Definition keys that change what no execution does: never "affecting" one.
_INERT = frozenset({"name", "version", "description", "replaces", "states", "functions"})


@dataclass(frozen=True)
class FieldChange:
    """One leaf that differs: ``path`` (``input``, ``assign.reservation``, ``function
    reserve.uri``), the old and the new value (None where absent)."""

    path: str
    old: Any
    new: Any

    def render(self) -> str:
        return f"{self.path}: {_show(self.old)} -> {_show(self.new)}"


def _show(value: Any) -> str:
    if value is None:
        return "(absent)"
    if isinstance(value, str):  # expressions: as written, not JSON-escaped
        return f"'{value}'" if len(value) <= 100 else f"'{value[:99]}…'"
    return short(value, 100)


@dataclass(frozen=True)
class StateChange:
    """A state ``added``, ``removed`` or ``changed`` (with its field changes)."""

    state: str
    change: str
    fields: tuple[FieldChange, ...] = ()

    def render(self) -> str:
        mark = {"added": "+", "removed": "-", "changed": "~"}[self.change]
        if self.change != "changed":
            return f"{mark} {self.state}: {self.change}"
        return f"{mark} {self.state}: " + "; ".join(f.render() for f in self.fields)


@dataclass(frozen=True)
class Affected:
    """A recorded execution a change touches, and the changed states it visited."""

    workflow_id: str
    source: str | None
    states: tuple[str, ...]


@dataclass
class PlanDiff:
    """The changes from ``old`` to ``new``; ``affected``/``unaffected``: the histories given."""

    old: str
    new: str
    states: list[StateChange] = field(default_factory=list)
    definition: list[FieldChange] = field(default_factory=list)
    affected: list[Affected] = field(default_factory=list)
    unaffected: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.states or self.definition)

    def touched(self) -> set[str]:
        """The states a history must have visited to be affected."""
        return {s.state for s in self.states if s.change != "added"}

    def render(self, with_histories: bool) -> str:
        lines = [f"{self.old} -> {self.new}"]
        if not self.changed:
            lines.append("no change (the same compiled plan)")
        lines += [s.render() for s in self.states]
        if self.definition:
            lines.append("~ (definition): " + "; ".join(f.render() for f in self.definition))
        if with_histories:
            total = len(self.affected) + len(self.unaffected)
            lines.append(f"histories: {len(self.affected)} of {total} affected")
            for item in self.affected:
                where = f" ({item.source})" if item.source else ""
                lines.append(f"  {item.workflow_id}{where}: visited {', '.join(item.states)}")
            if self.other:
                lines.append(f"  ({len(self.other)} of another definition left out)")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "old": self.old,
            "new": self.new,
            "changed": self.changed,
            "states": [
                {
                    "state": s.state,
                    "change": s.change,
                    "fields": [{"path": f.path, "old": f.old, "new": f.new} for f in s.fields],
                }
                for s in self.states
            ],
            "definition": [{"path": f.path, "old": f.old, "new": f.new} for f in self.definition],
            "affected": [
                {"workflow_id": a.workflow_id, "source": a.source, "states": list(a.states)}
                for a in self.affected
            ],
            "unaffected": self.unaffected,
            "other_definition": self.other,
        }


def _label(plan: Plan) -> str:
    return f"{plan.name}@{plan.version} ({plan.hash[:12]})"


def _own(state: Any) -> dict[str, Any]:
    """A state's own fields as canonical JSON: nested states by name only."""
    data: dict[str, Any] = state.model_dump(
        mode="json", by_alias=True, exclude_none=True, exclude_defaults=True
    )
    data.pop("name", None)
    data["type"] = state.type
    if isinstance(data.get("branches"), list):
        for branch, model in zip(data["branches"], state.branches, strict=True):
            branch["states"] = [s.name for s in model.states]
    if isinstance(data.get("states"), list):
        data["states"] = [s.name for s in state.states]
    return data


def _changes(old: Any, new: Any, path: str = "") -> tuple[FieldChange, ...]:
    return tuple(
        FieldChange(where, None if a is ABSENT else a, None if b is ABSENT else b)
        for where, a, b in differences(old, new, path, limit=20)
    )


def diff_plans(old: Plan, new: Plan) -> PlanDiff:
    """Per state, what changed from ``old`` to ``new`` (states in ``new``'s order, then the
    removed ones); then the rest of the definition."""
    result = PlanDiff(_label(old), _label(new))
    before = {s.name: s for s in old.all_states()}
    after = {s.name: s for s in new.all_states()}
    old_fns = plan_json(old.definition).get("functions", {})
    new_fns = plan_json(new.definition).get("functions", {})
    for name, state in after.items():
        if name not in before:
            result.states.append(StateChange(name, "added"))
            continue
        fields = list(_changes(_own(before[name]), _own(state)))
        for action in sorted(set(before[name].actions()) | set(state.actions())):
            a, b = old_fns.get(action, ABSENT), new_fns.get(action, ABSENT)
            fields += _changes(a, b, f"function {action}")
        if fields:
            result.states.append(StateChange(name, "changed", tuple(fields)))
    result.states += [StateChange(n, "removed") for n in before if n not in after]
    old_doc, new_doc = plan_json(old.definition), plan_json(new.definition)
    for key in sorted((set(old_doc) | set(new_doc)) - {"states", "functions"}):
        a, b = old_doc.get(key, ABSENT), new_doc.get(key, ABSENT)
        result.definition += _changes(a, b, key)
    return result


def affected_histories(
    diff: PlanDiff,
    old: Plan,
    histories: Sequence[WorkflowHistory],
    sources: Sequence[str | None],
) -> None:
    """Sort ``histories`` into ``diff.affected``/``unaffected``/``other`` (another definition,
    by the name its pin records)."""
    touched = diff.touched()
    everything = any(f.path.split(".")[0] not in _INERT for f in diff.definition)
    for history, source in zip(histories, sources, strict=True):
        pin = pinned_definition(history)
        if pin is None or (pin.name != old.name and pin.hash != old.hash):
            diff.other.append(history.workflow_id)
            continue
        visited = {s.state for s in recorded_steps(history) if s.state}
        hit = sorted(visited if everything else visited & touched)
        if hit:
            diff.affected.append(Affected(history.workflow_id, source, tuple(hit)))
        else:
            diff.unaffected.append(history.workflow_id)


__all__ = ["Affected", "FieldChange", "PlanDiff", "StateChange", "affected_histories", "diff_plans"]
