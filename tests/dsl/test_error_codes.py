"""Every DefinitionIssue code is a constant of errors.Code, and docs/dsl.md explains each one."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from nexus_temporal.dsl.errors import Code, DefinitionIssue, Location

ROOT = Path(__file__).resolve().parents[2]
#: Trees whose issues users see.
TREES = ("nexus_temporal", "policies", "workers")
#: Files (path prefixes) that still spell codes as literals, pending their move to the Code
#: constants. Remove an entry once its files use the constants; never add one.
PENDING: tuple[str, ...] = ()


def _pending(rel: str) -> bool:
    return rel.startswith(PENDING)


def _documented() -> dict[str, str]:
    text = (ROOT / "docs" / "dsl.md").read_text()
    section = text.split("### Validation error codes", 1)[1].split("\n#", 1)[0]
    return dict(re.findall(r"^\| `([a-z-]+)` \| (.+?) \|$", section, re.M))


def _literal_codes() -> list[tuple[str, int, str]]:
    """(file, line, code) of every string literal given as a ``code`` argument or default."""
    found: list[tuple[str, int, str]] = []
    for tree in TREES:
        for path in sorted((ROOT / tree).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            for node in ast.walk(ast.parse(path.read_text(), rel)):
                values: list[ast.expr] = []
                if isinstance(node, ast.keyword) and node.arg == "code":
                    values.append(node.value)
                elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    args = node.args
                    pos = list(zip(reversed(args.args), reversed(args.defaults), strict=False))
                    kw = list(zip(args.kwonlyargs, args.kw_defaults, strict=True))
                    values += [d for a, d in pos + kw if a.arg == "code" and d is not None]
                for value in values:
                    if isinstance(value, ast.Constant) and isinstance(value.value, str):
                        found.append((rel, value.lineno, value.value))
    return found


def test_codes_are_unique_strings() -> None:
    codes = Code.all()
    assert codes and all(isinstance(v, str) for v in codes.values())
    assert len(set(codes.values())) == len(codes)
    assert DefinitionIssue(Location(), "m").code == Code.INVALID


@pytest.mark.parametrize("name", sorted(Code.all()))
def test_every_code_is_documented(name: str) -> None:
    code = Code.all()[name]
    assert code in _documented(), f"docs/dsl.md 'Validation error codes' lacks `{code}`"


def test_every_documented_code_exists() -> None:
    assert set(_documented()) <= set(Code.all().values())


def test_no_literal_codes() -> None:
    literals = [(f, line, c) for f, line, c in _literal_codes() if not _pending(f)]
    assert not literals, f"use nexus_temporal.dsl.errors.Code constants: {literals}"


def test_pending_literals_are_known_codes() -> None:
    known = set(Code.all().values())
    unknown = [(f, line, c) for f, line, c in _literal_codes() if c not in known]
    assert not unknown, f"codes missing from nexus_temporal.dsl.errors.Code: {unknown}"


def test_pending_is_not_stale() -> None:
    files = {f for f, _, _ in _literal_codes()}
    stale = [p for p in PENDING if not any(f.startswith(p) for f in files)]
    assert not stale, f"no literal codes left under {stale}: remove them from PENDING"
