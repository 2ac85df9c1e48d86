"""The definitions a worker serves, by name, version and content hash."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from nexus_temporal.dsl.compiler import compile_file
from nexus_temporal.dsl.errors import (
    Code,
    DefinitionError,
    DefinitionIssue,
    Location,
    did_you_mean,
)
from nexus_temporal.dsl.plan import Plan
from nexus_temporal.errors import NexusTemporalError

YAML_SUFFIXES = (".yaml", ".yml")


def slug(name: str) -> str:
    """``Payment Reconciliation`` -> ``payment-reconciliation``: an alias for the CLI."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def version_key(version: str) -> tuple[tuple[int, object], ...]:
    """Sort versions naturally: ``2`` < ``10``, ``1.2`` < ``1.10``."""
    parts = re.split(r"[.\-_]", version)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


class UnknownDefinition(NexusTemporalError, LookupError):
    pass


class Registry:
    """Plans by name and version. A ``name@version`` loaded twice with different content is
    refused: the content hash is the identity of a version."""

    def __init__(self, plans: Iterable[Plan] = ()) -> None:
        self._by_hash: dict[str, Plan] = {}
        self._versions: dict[str, dict[str, Plan]] = {}
        self._aliases: dict[str, str] = {}
        #: Earlier content hashes (or prefixes) a plan declares it `replaces`.
        self._replaced: dict[str, Plan] = {}
        for plan in plans:
            self.add(plan)

    def add(self, plan: Plan) -> None:
        versions = self._versions.setdefault(plan.name, {})
        old = versions.get(plan.version)
        if old is not None and old.hash != plan.hash:
            raise DefinitionError(
                [
                    DefinitionIssue(
                        Location(plan.source),
                        f"'{plan.name}@{plan.version}' is also defined in "
                        f"{old.source} with different content",
                        hint="give the changed definition a new 'version'",
                        code=Code.VERSION_CONFLICT,
                    )
                ]
            )
        for prefix in plan.definition.replaces:
            other = self._replaced.get(prefix)
            if other is not None and other.hash != plan.hash:
                raise DefinitionError(
                    [
                        DefinitionIssue(
                            Location(plan.source),
                            f"'{plan.name}@{plan.version}' replaces {prefix}, which "
                            f"{other.source} replaces too",
                            hint="only one definition may take over an earlier content",
                            code=Code.REPLACES_CONFLICT,
                        )
                    ]
                )
            self._replaced[prefix] = plan
        versions[plan.version] = plan
        self._by_hash[plan.hash] = plan
        self._aliases.setdefault(slug(plan.name), plan.name)

    @property
    def plans(self) -> list[Plan]:
        return [p for versions in self._versions.values() for p in versions.values()]

    def names(self) -> list[str]:
        return sorted(self._versions)

    def by_hash(self, content_hash: str) -> Plan | None:
        """The plan with this content, else the one that declares it ``replaces`` it."""
        found = self._by_hash.get(content_hash)
        if found is None and content_hash:
            for prefix, plan in self._replaced.items():
                if content_hash.startswith(prefix):
                    return plan
        return found

    def resolve(self, reference: str) -> Plan:
        """Resolve ``name`` (latest version) or ``name@version``; names match case and
        punctuation-insensitively through their slug."""
        name, _, version = reference.partition("@")
        real = name if name in self._versions else self._aliases.get(slug(name))
        if real is None:
            known = ", ".join(self.names()) or "none"
            hint = did_you_mean(name, self.names())
            raise UnknownDefinition(
                f"no definition named '{name}' on this worker"
                f"{'; ' + hint if hint else ''} (known: {known})"
            )
        versions = self._versions[real]
        if version:
            if version not in versions:
                hint = did_you_mean(version, versions)
                raise UnknownDefinition(
                    f"'{real}' has no version '{version}' on this worker"
                    f"{'; ' + hint if hint else ''} "
                    f"(known: {', '.join(sorted(versions, key=version_key))})"
                )
            return versions[version]
        return versions[max(versions, key=version_key)]


def definition_files(paths: Sequence[str | Path]) -> list[Path]:
    """YAML files named directly or found under directories, in a stable order.

    A ``*.yaml`` entry under a directory that is not a directory itself is listed even when it
    is a FIFO, a device or a symlink to one, so that loading it reports it (the loader reads
    regular files only, without blocking) instead of silently serving fewer definitions. A
    dangling symlink (an editor's lock file, ``.#w.yaml``) is skipped, as before.
    """
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files.extend(
                sorted(
                    f
                    for f in p.rglob("*")
                    if f.suffix in YAML_SUFFIXES and f.exists() and not f.is_dir()
                )
            )
        else:
            files.append(p)
    return files


def load_registry(paths: Sequence[str | Path]) -> Registry:
    """Compile every definition under ``paths``; raise one DefinitionError listing all issues."""
    registry = Registry()
    issues: list[DefinitionIssue] = []
    files = definition_files(paths)
    if not files:
        raise DefinitionError(
            [
                DefinitionIssue(
                    Location(", ".join(map(str, paths))),
                    "no definition files (*.yaml, *.yml) found",
                    code=Code.IO,
                )
            ]
        )
    for f in files:
        try:
            registry.add(compile_file(f))
        except DefinitionError as exc:
            issues.extend(exc.issues)
    if issues:
        raise DefinitionError(issues)
    return registry
