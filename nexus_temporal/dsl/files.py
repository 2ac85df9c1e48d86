"""Read a file a user named (a definition, an ASL file, an audit trail) without trusting it.

A path that is checked with ``stat`` and then read with ``open`` can be swapped in between, and
a FIFO, a device (``/dev/zero``, ``/dev/stdin``) or a symlink to one reports size 0 and then
blocks or streams forever. So the file is opened non-blocking (opening a FIFO does not wait for a
writer), the *open descriptor* is checked to be a regular file, and at most ``limit + 1`` bytes
are read, so a file that grows after the check is caught too. Every caller uses this one helper.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from nexus_temporal.errors import NexusTemporalError

#: Read in chunks this large (the limits are a few MiB at most).
_CHUNK = 1 << 16


class FileProblem(NexusTemporalError):
    """A file that cannot be used: not a regular file, too large, unreadable or not UTF-8.

    ``message`` says what is wrong (without the path), ``hint`` what to do, ``line`` and
    ``column`` where (1-based; 0 for the file as a whole); callers raise their own located error.
    """

    def __init__(
        self, path: str, message: str, hint: str | None = None, line: int = 0, column: int = 0
    ) -> None:
        self.path = path
        self.message = message
        self.hint = hint
        self.line = line
        self.column = column
        where = f"{path}:{line}:{column}" if line else path
        super().__init__(f"{where}: {message}")


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "a special file"


def _not_regular(path: str, mode: int) -> FileProblem:
    try:
        linked = stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:
        linked = False
    what = f"a symlink to {_kind(mode)}" if linked else _kind(mode)
    return FileProblem(
        path,
        f"not a regular file: {what}",
        hint="name an ordinary file (or a symlink to one); FIFOs and devices are never read",
    )


def read_regular_file(path: str | Path, limit: int) -> bytes:
    """The contents of ``path``, which (after following symlinks) must be a regular file of at
    most ``limit`` bytes.

    Raises:
        FileProblem: not a regular file, larger than ``limit``, or unreadable.
    """
    name = str(path)
    try:
        # A first look before opening: opening some devices has side effects (a tape rewinds, a
        # terminal becomes the controlling one), so they are refused without being opened.
        before = os.stat(name)
        if not stat.S_ISREG(before.st_mode):
            raise _not_regular(name, before.st_mode)
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(name, flags)
    except OSError as exc:
        raise FileProblem(name, f"cannot read file: {exc.strerror or exc}") from None
    try:
        # The path may have been replaced since the stat: what counts is what was opened.
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise _not_regular(name, opened.st_mode)
        if opened.st_size > limit:
            raise _too_large(name, limit)
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:  # it grew after fstat
            raise _too_large(name, limit)
        return b"".join(chunks)
    except OSError as exc:
        raise FileProblem(name, f"cannot read file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def read_text_file(path: str | Path, limit: int) -> str:
    """:func:`read_regular_file`, decoded as UTF-8.

    Raises:
        FileProblem: as :func:`read_regular_file`, or the bytes are not UTF-8.
    """
    data = read_regular_file(path, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1  # in bytes: the text does not decode
        raise FileProblem(
            str(path), "file is not UTF-8 text", "save the file as UTF-8", line, column
        ) from None


def _too_large(path: str, limit: int) -> FileProblem:
    return FileProblem(
        path,
        f"file larger than {limit} bytes",
        hint="split it into several files",
    )


__all__ = ["FileProblem", "read_regular_file", "read_text_file"]
