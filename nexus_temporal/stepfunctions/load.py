"""Read ASL (JSON or YAML) into plain data, remembering where every key and value is written,
so that an invalid definition is reported as ``file:line:col: error: ...``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nexus_temporal.dsl.errors import DefinitionError, DefinitionIssue, Location

PathKey = tuple[Any, ...]


class AslError(Exception):
    """Invalid ASL: carries one located issue per problem (file, line, column, state)."""

    def __init__(self, issues: Sequence[DefinitionIssue]) -> None:
        self.issues = list(issues)
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join(issue.render() for issue in self.issues)


@dataclass
class AslDocument:
    """Parsed ASL plus ``positions[path] = (line, col)`` of each value (1-based)."""

    file: str
    data: Any
    positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def location(self, path: PathKey) -> Location:
        probe = tuple(path)
        while True:
            if probe in self.positions:
                line, col = self.positions[probe]
                return Location(self.file, line, col)
            if not probe:
                return Location(self.file, 1 if self.positions else 0, 1 if self.positions else 0)
            probe = probe[:-1]

    def error(
        self,
        path: PathKey,
        message: str,
        *,
        state: str | None = None,
        hint: str | None = None,
        code: str = "asl",
    ) -> AslError:
        return AslError([DefinitionIssue(self.location(path), message, state, hint, code)])


def load_text(text: str, file: str = "<asl>") -> AslDocument:
    """Parse ASL text: JSON when it starts with ``{``, else YAML.

    Raises:
        AslError: the text is not valid JSON/YAML, or its top level is not a mapping.
    """
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            loc = Location(file, exc.lineno, exc.colno)
            raise AslError(
                [DefinitionIssue(loc, f"invalid JSON: {exc.msg}", code="json")]
            ) from None
        doc = AslDocument(file, data)
        _JsonPositions(text, doc.positions).scan()
    else:
        from nexus_temporal.dsl.loader import load_yaml_text

        try:
            ydoc = load_yaml_text(text, file)
        except DefinitionError as exc:
            raise AslError(exc.issues) from None
        doc = AslDocument(file, ydoc.data, dict(ydoc.values))
    if not isinstance(doc.data, dict):
        raise doc.error((), "an ASL definition must be a JSON/YAML object", code="shape")
    return doc


def load_data(data: dict[str, Any], file: str = "<asl>") -> AslDocument:
    """Wrap already-parsed ASL (no positions: errors name the file only)."""
    if not isinstance(data, dict):
        raise AslError(
            [DefinitionIssue(Location(file), "an ASL definition must be an object", code="shape")]
        )
    return AslDocument(file, data)


class _JsonPositions:
    """A small scanner over valid JSON text that records where each value starts."""

    def __init__(self, text: str, out: dict[PathKey, tuple[int, int]]) -> None:
        self.text = text
        self.out = out
        self.i = 0
        self.line_starts = [0]
        for n, ch in enumerate(text):
            if ch == "\n":
                self.line_starts.append(n + 1)

    def _pos(self, index: int) -> tuple[int, int]:
        import bisect

        line = bisect.bisect_right(self.line_starts, index) - 1
        return line + 1, index - self.line_starts[line] + 1

    def _ws(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in " \t\r\n":
            self.i += 1

    def scan(self) -> None:
        self._ws()
        self._value(())

    def _value(self, path: PathKey) -> None:
        self._ws()
        self.out[path] = self._pos(self.i)
        ch = self.text[self.i]
        if ch == "{":
            self.i += 1
            self._ws()
            if self.text[self.i] == "}":
                self.i += 1
                return
            while True:
                self._ws()
                key_at = self.i
                key = self._string()
                self.out.setdefault(path + (key,), self._pos(key_at))
                self._ws()
                self.i += 1  # ':'
                self._value(path + (key,))
                self._ws()
                ch = self.text[self.i]
                self.i += 1
                if ch == "}":
                    return
        elif ch == "[":
            self.i += 1
            self._ws()
            if self.text[self.i] == "]":
                self.i += 1
                return
            n = 0
            while True:
                self._value(path + (n,))
                n += 1
                self._ws()
                ch = self.text[self.i]
                self.i += 1
                if ch == "]":
                    return
        elif ch == '"':
            self._string()
        else:
            while self.i < len(self.text) and self.text[self.i] not in ",]} \t\r\n":
                self.i += 1

    def _string(self) -> str:
        start = self.i
        self.i += 1
        while self.text[self.i] != '"':
            self.i += 2 if self.text[self.i] == "\\" else 1
        self.i += 1
        value: str = json.loads(self.text[start : self.i])
        return value
