"""Read ASL (JSON or YAML) into plain data, remembering where every key and value is written,
so that an invalid definition is reported as ``file:line:col: error: ...``."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nexus_temporal.dsl.errors import Code, DefinitionError, DefinitionIssue, Location
from nexus_temporal.dsl.files import FileProblem, read_text_file
from nexus_temporal.dsl.loader import MAX_BYTES, MAX_INT_DIGITS
from nexus_temporal.errors import NexusTemporalError

PathKey = tuple[Any, ...]


class AslError(NexusTemporalError):
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
        code: str = Code.ASL,
    ) -> AslError:
        return AslError([DefinitionIssue(self.location(path), message, state, hint, code)])


def load_text(text: str, file: str = "<asl>") -> AslDocument:
    """Parse ASL text: JSON when it starts with ``{``, else YAML.

    Raises:
        AslError: the text is not valid JSON/YAML, or its top level is not a mapping.
    """
    if text.lstrip().startswith("{"):
        doc = _load_json(text, file)
    else:
        from nexus_temporal.dsl.loader import load_yaml_text

        try:
            ydoc = load_yaml_text(text, file)
        except DefinitionError as exc:
            raise AslError(exc.issues) from None
        doc = AslDocument(file, ydoc.data, dict(ydoc.values))
    if not isinstance(doc.data, dict):
        raise doc.error((), "an ASL definition must be a JSON/YAML object", code=Code.SHAPE)
    return doc


def read_file(path: str | Path) -> str:
    """The text of an ASL file a user named: a regular file (after following symlinks) of at
    most MAX_BYTES, UTF-8. A FIFO or a device is refused without blocking.

    Raises:
        AslError: the file cannot be used (named, located when the text is not UTF-8).
    """
    try:
        return read_text_file(path, MAX_BYTES)
    except FileProblem as exc:
        loc = Location(str(path), exc.line, exc.column)
        raise AslError([DefinitionIssue(loc, exc.message, hint=exc.hint, code=Code.IO)]) from None


def load_file(path: str | Path) -> AslDocument:
    """Read (see :func:`read_file`) and parse an ASL file."""
    return load_text(read_file(path), str(path))


class _BadNumber:
    """Left in the parsed data where a JSON number cannot be a value, to be located after the
    parse (the parser's hooks are not told where they are)."""

    def __init__(self, literal: str, message: str) -> None:
        self.literal = literal
        self.message = message


def _int(literal: str) -> int | _BadNumber:
    digits = len(literal.lstrip("-"))
    if digits > MAX_INT_DIGITS:  # int() itself raises on ~4300 digits, without a position
        return _BadNumber(
            literal,
            f"number too large: {digits} digits (an integer may have at most {MAX_INT_DIGITS})",
        )
    return int(literal)


def _float(literal: str) -> float | _BadNumber:
    value = float(literal)
    if not math.isfinite(value):  # 1e999: JSON has no infinity
        return _BadNumber(literal, f"number out of range: '{literal[:40]}' is not finite")
    return value


def _constant(literal: str) -> _BadNumber:
    # Python's json accepts NaN and Infinity; JSON (and Step Functions) does not.
    return _BadNumber(literal, f"'{literal}' is not a JSON value")


def _load_json(text: str, file: str) -> AslDocument:
    """Parse JSON ASL, locating every value, bad number and duplicate key."""
    try:
        data = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        loc = Location(file, exc.lineno, exc.colno)
        raise AslError([DefinitionIssue(loc, f"invalid JSON: {exc.msg}", code=Code.JSON)]) from None
    except RecursionError:
        raise AslError(
            [DefinitionIssue(Location(file, 1, 1), "JSON nested too deeply", code=Code.JSON)]
        ) from None
    doc = AslDocument(file, data)
    scanner = _JsonPositions(text, doc.positions)
    try:
        scanner.scan()
    except RecursionError:
        raise AslError(
            [DefinitionIssue(Location(file, 1, 1), "JSON nested too deeply", code=Code.JSON)]
        ) from None
    issues = [
        DefinitionIssue(
            Location(file, line, col),
            f"duplicate key '{key}'",
            hint="remove one of the two entries: JSON readers disagree on which one counts",
            code=Code.JSON,
        )
        for key, (line, col) in scanner.duplicates
    ]
    issues += [
        DefinitionIssue(doc.location(path), bad.message, hint=_NUMBER_HINT, code=Code.JSON)
        for path, bad in _bad_numbers(data)
    ]
    if issues:
        raise AslError(sorted(issues, key=lambda i: (i.location.line, i.location.column)))
    return doc


_NUMBER_HINT = "write a smaller, finite number, or quote it if it is meant as text"


def _bad_numbers(data: Any) -> list[tuple[PathKey, _BadNumber]]:
    """Where the parse left a :class:`_BadNumber`, in document order (no recursion: the JSON
    parser accepts deeper nesting than Python's stack)."""
    found: list[tuple[PathKey, _BadNumber]] = []
    todo: list[tuple[PathKey, Any]] = [((), data)]
    while todo:
        path, value = todo.pop()
        if isinstance(value, _BadNumber):
            found.append((path, value))
        elif isinstance(value, dict):
            todo.extend((path + (k,), v) for k, v in reversed(list(value.items())))
        elif isinstance(value, list):
            todo.extend((path + (i,), v) for i, v in reversed(list(enumerate(value))))
    return found


def load_data(data: dict[str, Any], file: str = "<asl>") -> AslDocument:
    """Wrap already-parsed ASL (no positions: errors name the file only)."""
    if not isinstance(data, dict):
        raise AslError(
            [
                DefinitionIssue(
                    Location(file), "an ASL definition must be an object", code=Code.SHAPE
                )
            ]
        )
    return AslDocument(file, data)


class _JsonPositions:
    """A small scanner over valid JSON text that records where each value starts."""

    def __init__(self, text: str, out: dict[PathKey, tuple[int, int]]) -> None:
        self.text = text
        self.out = out
        #: (key, (line, col)) of each key written twice in one object (json keeps the last).
        self.duplicates: list[tuple[str, tuple[int, int]]] = []
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
            keys: set[str] = set()
            while True:
                self._ws()
                key_at = self.i
                key = self._string()
                if key in keys:
                    self.duplicates.append((key, self._pos(key_at)))
                keys.add(key)
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
