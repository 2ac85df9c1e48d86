"""One located-error type, shared by validate, lint, the worker and (later) migrate.

An error says what is wrong, where (file:line:column and state name) and what to do about it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


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
    code: str = "invalid"

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


class DefinitionError(Exception):
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
