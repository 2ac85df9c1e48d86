"""Which ASL files to convert, and the definition name each becomes (``nexus migrate
stepfunctions``; the command line itself is :mod:`nexus_temporal.cli.migrate`)."""

from __future__ import annotations

from pathlib import Path

SUFFIXES = (".json", ".yaml", ".yml")


def definition_name(path: Path) -> str:
    """``order-flow.asl.json`` → ``order-flow``."""
    name = path.name
    for suffix in (".asl.json", ".asl.yaml", ".asl.yml", *SUFFIXES):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def asl_files(root: Path) -> list[Path]:
    """``root`` itself unless it is a directory, else the ASL files under it. A FIFO or device
    (or a symlink to one) is listed, not skipped, so that reading it reports it; a dangling
    symlink is skipped."""
    if not root.is_dir():
        return [root]
    return sorted(
        p for p in root.rglob("*") if p.suffix in SUFFIXES and p.exists() and not p.is_dir()
    )
