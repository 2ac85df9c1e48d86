"""One located-error type, shared by validate, lint, the worker and (later) migrate.

An error says what is wrong, where (file:line:column and state name) and what to do about it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from nexus_temporal.errors import NexusTemporalError


class Code:
    """Every :attr:`DefinitionIssue.code`: stable, machine-readable, documented in docs/dsl.md
    ("Validation error codes"; tests/dsl/test_error_codes.py checks both ways).

    Plain ``str`` constants (not an Enum): codes are compared, formatted and serialised as the
    strings they are.
    """

    # Reading files (loader)
    YAML = "yaml"
    IO = "io"
    JSON = "json"
    SHAPE = "shape"
    # State types, before the schema
    MISSING_TYPE = "missing-type"
    UNKNOWN_TYPE = "unknown-type"
    # The schema
    UNKNOWN_FIELD = "unknown-field"
    MISSING_FIELD = "missing-field"
    INVALID_VALUE = "invalid-value"
    INVALID = "invalid"
    # The graph
    DUPLICATE_STATE = "duplicate-state"
    DUPLICATE_BRANCH = "duplicate-branch"
    UNKNOWN_STATE = "unknown-state"
    UNREACHABLE = "unreachable"
    NO_END = "no-end"
    # States
    USELESS_NEXT = "useless-next"
    WAIT_KIND = "wait-kind"
    FAIL_KIND = "fail-kind"
    MAP = "map"
    EXPRESS_TIMEOUT = "express-timeout"
    EXPRESS_HEARTBEAT = "express-heartbeat"
    JSONATA = "jsonata"
    # Actions and functions
    BAD_URI = "bad-uri"
    UNKNOWN_FUNCTION = "unknown-function"
    # Registries of definitions (worker, validate of several files)
    VERSION_CONFLICT = "version-conflict"
    REPLACES_CONFLICT = "replaces-conflict"
    # Policy rules (nexus lint)
    POLICY = "policy"
    # Worker start-up
    EXPRESS_UNSERVED = "express-unserved"
    UNKNOWN_WORKFLOW = "unknown-workflow"
    PROVIDER_NOT_CONFIGURED = "provider-not-configured"
    SECRET_NOT_ALLOWED = "secret-not-allowed"
    FUNCTION_NOT_FOUND = "function-not-found"
    # Step Functions import (nexus migrate)
    ASL = "asl"
    ASL_EXPRESSION = "asl-expression"

    @classmethod
    def all(cls) -> dict[str, str]:
        """Every code by constant name."""
        return {k: v for k, v in vars(cls).items() if k.isupper() and isinstance(v, str)}


@dataclass(frozen=True)
class Location:
    """A position in a source file; line and column are 1-based, 0 when unknown."""

    file: str = "<input>"
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.column}"
        return self.file


@dataclass(frozen=True)
class DefinitionIssue:
    """One problem found in a definition.

    Attributes:
        location: where the problem is.
        message: what is wrong, in one line.
        state: the state it belongs to, if any.
        hint: what to do about it, in one line.
        code: a stable machine-readable kind, e.g. ``unknown-field``.
    """

    location: Location
    message: str
    state: str | None = None
    hint: str | None = None
    code: str = Code.INVALID

    def render(self) -> str:
        where = f" (state '{_one_line(self.state)}')" if self.state else ""
        text = f"{self.location}: error: {_one_line(self.message)}{where}"
        if self.hint:
            text += f"\n    hint: {_one_line(self.hint)}"
        return text

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.location.file,
            "line": self.location.line,
            "column": self.location.column,
            "state": self.state,
            "message": self.message,
            "hint": self.hint,
            "code": self.code,
        }


class DefinitionError(NexusTemporalError):
    """A definition failed to load or compile; carries every issue found."""

    def __init__(self, issues: Sequence[DefinitionIssue]) -> None:
        self.issues = list(issues)
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join(issue.render() for issue in self.issues)


def _one_line(text: str) -> str:
    """Escape line breaks and other control characters (which may come from the user's own
    names), so that every issue renders as one ``file:line:col: error:`` line."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """Return a 'did you mean' hint for a misspelt name, or None."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None
