"""Read YAML into plain data while remembering where every key and value came from.

Hostile input is bounded: only regular files are read, file size, node count after alias
expansion, nesting depth and the digits of an integer. Duplicate keys, which YAML silently
overwrites, are errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nexus_temporal.dsl.errors import Code, DefinitionError, DefinitionIssue, Location
from nexus_temporal.dsl.files import FileProblem, read_text_file

MAX_BYTES = 2 * 1024 * 1024
MAX_NODES = 200_000
MAX_DEPTH = 64
#: PyYAML's scanner slows down quadratically with the nesting of flow collections (``[[[...``:
#: 4,000 levels take ~10 s), so deep flow nesting is refused before parsing. Brackets are counted
#: naively (those in strings and comments count too), hence a bound well above MAX_DEPTH, which
#: the builder enforces exactly.
MAX_FLOW_BRACKETS = 4 * MAX_DEPTH
_FLOW_BRACKET = re.compile(r"[\[\]{}]")
#: Integers have at most this many digits. Python refuses to convert longer ones between text
#: and int (a traceback, not an error), and 640 is the lowest limit a process may set
#: (``sys.int_info.str_digits_check_threshold``): a longer integer would fail here, or later and
#: far from its line when a hash, a payload or a message is made. No definition needs one.
MAX_INT_DIGITS = 640
_INT_BOUND = 10**MAX_INT_DIGITS
_INT_TAG = "tag:yaml.org,2002:int"

PathKey = tuple[Any, ...]


@dataclass
class Document:
    """Parsed YAML plus positions: ``keys[path]`` is where a mapping key is written,
    ``values[path]`` where its value starts."""

    file: str
    data: Any
    keys: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    values: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def location(self, path: PathKey, *, key: bool = False) -> Location:
        """The best known location for ``path``, walking up to the nearest known parent.

        With ``key``, prefer where the key naming ``path`` is written; a list item or the root
        has no key, so it is located where its value starts.
        """
        tables = (self.keys, self.values) if key else (self.values, self.keys)
        probe = tuple(path)
        while True:
            for table in tables:
                if probe in table:
                    line, col = table[probe]
                    return Location(self.file, line, col)
            if not probe:
                return Location(self.file, 1, 1)
            probe = probe[:-1]


class _Builder:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.count = 0

    def fail(self, node: yaml.Node, message: str, hint: str | None = None) -> DefinitionError:
        loc = Location(self.doc.file, node.start_mark.line + 1, node.start_mark.column + 1)
        return DefinitionError([DefinitionIssue(loc, message, hint=hint, code=Code.YAML)])

    def build(self, node: yaml.Node, path: PathKey, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(
                node,
                f"document too large: more than {MAX_NODES} nodes after expanding aliases",
                "split the definition, or avoid YAML aliases that multiply content",
            )
        if depth > MAX_DEPTH:
            raise self.fail(node, f"document nested deeper than {MAX_DEPTH} levels")
        self.doc.values.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise self.fail(
                        key_node, "YAML merge keys ('<<') are not supported", "write the fields out"
                    )
                key = self.build(key_node, path + ("<key>",), depth + 1)
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    raise self.fail(key_node, "mapping keys must be plain scalars")
                key = str(key) if not isinstance(key, str) else key
                if key in result:
                    raise self.fail(
                        key_node, f"duplicate key '{key}'", "remove one of the two entries"
                    )
                self.doc.keys[path + (key,)] = (
                    key_node.start_mark.line + 1,
                    key_node.start_mark.column + 1,
                )
                result[key] = self.build(value_node, path + (key,), depth + 1)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        if node.tag == _INT_TAG:
            # Counted before converting: int() itself raises on more than ~4300 digits.
            digits = sum(ch.isdigit() for ch in node.value)
            if digits > MAX_INT_DIGITS:
                raise self._too_long(node, f"{digits} digits")
        try:
            value = _SCALARS.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            problem = exc.problem if isinstance(exc, yaml.MarkedYAMLError) else None
            raise self.fail(node, f"invalid value: {problem or exc}") from None
        except (ValueError, OverflowError) as exc:  # a scalar PyYAML resolves, cannot build
            # (a date like 2024-13-45; numbers too long were refused above)
            raise self.fail(
                node, f"invalid value: {str(exc)[:200]}", "quote it if it is meant as text"
            ) from None
        # Hexadecimal, octal and sexagesimal (1:30) integers reach large values in few digits.
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _INT_BOUND:
            raise self._too_long(node, f"more than {MAX_INT_DIGITS} digits written in decimal")
        return value

    def _too_long(self, node: yaml.Node, size: str) -> DefinitionError:
        return self.fail(
            node,
            f"number too large: {size} (an integer may have at most {MAX_INT_DIGITS})",
            _QUOTE_HINT,
        )


_SCALARS = yaml.SafeLoader("")
_QUOTE_HINT = "write a smaller number, or quote it if it is meant as text"


def _location_at(text: str, index: int, file: str) -> Location:
    before = text[:index]
    return Location(file, before.count("\n") + 1, len(before) - before.rfind("\n"))


def _too_deep_flow(text: str) -> int | None:
    """The index of the first flow bracket nested deeper than MAX_FLOW_BRACKETS, if any."""
    depth = 0
    for match in _FLOW_BRACKET.finditer(text):
        if match.group() in "[{":
            depth += 1
            if depth > MAX_FLOW_BRACKETS:
                return match.start()
        elif depth:
            depth -= 1
    return None


def load_yaml_text(text: str, file: str = "<input>") -> Document:
    """Parse YAML text into a :class:`Document`, raising :class:`DefinitionError` on any problem."""
    if len(text.encode("utf-8", errors="replace")) > MAX_BYTES:
        raise DefinitionError(
            [
                DefinitionIssue(
                    Location(file, 1, 1),
                    f"file larger than {MAX_BYTES} bytes",
                    hint="split the definition into several workflows",
                    code=Code.YAML,
                )
            ]
        )
    too_deep = _too_deep_flow(text)
    if too_deep is not None:
        raise DefinitionError(
            [
                DefinitionIssue(
                    _location_at(text, too_deep, file),
                    f"document nested deeper than {MAX_DEPTH} levels",
                    code=Code.YAML,
                )
            ]
        )
    doc = Document(file=file, data=None)
    try:
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file, 1, 1)
        problem = exc.problem or str(exc)
        if exc.context:
            problem = f"{problem} ({exc.context})"
        raise DefinitionError(
            [
                DefinitionIssue(
                    loc,
                    f"YAML syntax error: {problem}",
                    hint="check indentation and quoting near this position",
                    code=Code.YAML,
                )
            ]
        ) from None
    except yaml.YAMLError as exc:
        loc = Location(file, 1, 1)
        if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow
            loc = _location_at(text, exc.position, file)
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DefinitionError(
            [DefinitionIssue(loc, f"YAML error: {message}", code=Code.YAML)]
        ) from None
    except RecursionError:
        raise DefinitionError(
            [DefinitionIssue(Location(file, 1, 1), "YAML nested too deeply", code=Code.YAML)]
        ) from None
    if root is None:
        raise DefinitionError(
            [
                DefinitionIssue(
                    Location(file, 1, 1),
                    "the file is empty",
                    hint="a definition needs at least 'name' and 'states'",
                    code=Code.YAML,
                )
            ]
        )
    try:
        doc.data = _Builder(doc).build(root, (), 0)
    except RecursionError:
        raise DefinitionError(
            [DefinitionIssue(Location(file, 1, 1), "YAML nested too deeply", code=Code.YAML)]
        ) from None
    return doc


def load_yaml_file(path: str | Path) -> Document:
    """Read and parse a YAML file; unreadable files become located errors too.

    Only a regular file (after following symlinks) of at most MAX_BYTES is read: a FIFO or a
    device such as ``/dev/zero`` is refused without blocking (:mod:`nexus_temporal.dsl.files`).
    """
    p = Path(path)
    try:
        text = read_text_file(p, MAX_BYTES)
    except FileProblem as exc:
        raise DefinitionError(
            [
                DefinitionIssue(
                    Location(str(p), exc.line, exc.column), exc.message, hint=exc.hint, code=Code.IO
                )
            ]
        ) from None
    return load_yaml_text(text, str(p))
