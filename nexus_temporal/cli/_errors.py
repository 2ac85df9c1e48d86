"""Exit codes and usage errors of the ``nexus`` command line: the one place that defines them.

Exit codes: 0 success; 1 a workflow, a run or a check failed (or the server is unreachable);
2 a usage error or an invalid definition; 130 interrupted (Ctrl-C).
A user mistake never prints a Python traceback: a verb raises :class:`UsageError` (or returns
:func:`usage_error`) and the dispatcher prints it as one ``nexus: error: ...`` line.
"""

from __future__ import annotations

import sys

# UsageError lives below the CLI (nexus_temporal.runner): the client helpers (parse_input) and
# the worker's flag checks (workers.observability) raise it too, and they may not import the CLI.
from nexus_temporal.runner import UsageError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "UsageError", "usage_error"]


def usage_error(message: str, prog: str = "nexus") -> int:
    """Print ``PROG: error: MESSAGE`` on stderr (one line); return :data:`EXIT_USAGE`."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return EXIT_USAGE
