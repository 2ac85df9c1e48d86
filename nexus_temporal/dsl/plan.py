"""The compiled, immutable plan the generic workflow walks.

A plan is the normalised definition (every default applied, every shorthand expanded) plus an
index of its scopes. Its content hash identifies a definition version: two files that compile to
the same plan have the same hash, whatever their comments or key order.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from nexus_temporal.dsl.schema import Definition, FunctionSpec, State
from nexus_temporal.dsl.targets import URI_SCHEMES as URI_SCHEMES  # derived: one registry

_URI = re.compile(r"^([a-z][a-z0-9+.-]*):")


@dataclass(frozen=True)
class Target:
    """What a task's action resolves to.

    ``activity_type`` set: schedule that activity type directly (any SDK's worker may serve it).
    Otherwise the nexus ``nexus.invoke`` activity calls ``uri`` with the provider for its scheme.
    """

    function: str
    uri: str
    spec: FunctionSpec
    activity_type: str | None


@dataclass(frozen=True)
class Scope:
    """A sequence of states: the top level, or one branch of a parallel state."""

    id: str
    start: str
    states: Mapping[str, State]


@dataclass(frozen=True)
class Plan:
    definition: Definition
    hash: str
    source: str = "<input>"
    scopes: Mapping[str, Scope] = field(default_factory=dict)
    #: Resolved targets by action: a pure function of the definition, computed once.
    _targets: dict[str, Target] = field(default_factory=dict, compare=False, repr=False)

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def version(self) -> str:
        return self.definition.version

    @property
    def root(self) -> Scope:
        return self.scopes[""]

    def all_states(self) -> Iterator[State]:
        """Every state of every scope (top level, parallel branches, map items)."""
        for scope in self.scopes.values():
            yield from scope.states.values()

    def actions(self) -> list[tuple[str, str]]:
        """(state, action) for every action the definition calls: task actions and their
        fallbacks, compensations and map actions. Nothing else may run for this plan."""
        return [(state.name, action) for state in self.all_states() for action in state.actions()]

    def uris(self) -> frozenset[str]:
        """The URIs of every action the definition calls (see :meth:`actions`)."""
        return frozenset(self.target(action).uri for _, action in self.actions())

    def state(self, name: str) -> State:
        for scope in self.scopes.values():
            if name in scope.states:
                return scope.states[name]
        raise KeyError(name)

    def target(self, action: str) -> Target:
        """Resolve an action name or URI to a :class:`Target`."""
        found = self._targets.get(action)
        if found is None:
            found = self._targets[action] = self._resolve_target(action)
        return found

    def _resolve_target(self, action: str) -> Target:
        fn = self.definition.functions.get(action)
        if fn is not None:
            spec = fn if isinstance(fn, FunctionSpec) else FunctionSpec(uri=fn)
            name = action
        else:
            spec = FunctionSpec(uri=action if uri_scheme(action) else f"activity:{action}")
            name = action
        scheme = uri_scheme(spec.uri)
        activity_type = spec.uri[len("activity:") :] if scheme == "activity" else None
        return Target(function=name, uri=spec.uri, spec=spec, activity_type=activity_type)

    def to_json(self) -> dict[str, Any]:
        return plan_json(self.definition)


def uri_scheme(text: str) -> str | None:
    """The URI scheme of ``text`` if it is one nexus knows how to read, else None."""
    match = _URI.match(text)
    if not match:
        return None
    scheme = match.group(1)
    if scheme in ("http", "https") and not text.startswith(f"{scheme}://"):
        return None
    return scheme


def plan_json(definition: Definition) -> dict[str, Any]:
    """The plan as canonical JSON. Fields at their default value are left out, so a release
    that adds a field with a default does not change the hash of existing definitions (which
    would strand executions pinned to them)."""
    return definition.model_dump(
        mode="json", by_alias=True, exclude_none=True, exclude_defaults=True
    )


def content_hash(definition: Definition) -> str:
    canonical = json.dumps(plan_json(definition), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def freeze(states: Mapping[str, State]) -> Mapping[str, State]:
    return MappingProxyType(dict(states))
