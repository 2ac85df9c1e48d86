"""Exit codes and usage errors of the ``nexus`` command line: the one place that defines them.

Exit codes: 0 success; 1 a workflow, a run or a check failed, the server is unreachable or
refused the operation (an id already running, an unknown or completed workflow, an input over
its size limit); 2 a usage error or an invalid definition; 130 interrupted (Ctrl-C); 141 stdout
closed early (``nexus ... | head``: nothing more is printed).
A user mistake never prints a Python traceback: a verb raises :class:`UsageError` (or returns
:func:`usage_error`) or :class:`OperationFailed`, and the dispatcher prints it as one
``nexus: error: ...`` line.
"""

from __future__ import annotations

import sys

# UsageError lives below the CLI (nexus_temporal.runner): the client helpers (parse_input) and
# the worker's flag checks (workers.observability) raise it too, and they may not import the CLI.
from nexus_temporal.runner import OperationFailed, UsageError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a command cut off by `head`

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "OperationFailed",
    "UsageError",
    "usage_error",
]


def usage_error(message: str, prog: str = "nexus") -> int:
    """Print ``PROG: error: MESSAGE`` on stderr (one line); return :data:`EXIT_USAGE`."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return EXIT_USAGE
