"""The ``nexus`` command line: one module per verb, one dispatch (:mod:`._app`), one place for
exit codes and usage errors (:mod:`._errors`).

Exit codes: 0 success; 1 a workflow or run failed; 2 a usage error or an invalid definition.
A user mistake never prints a Python traceback.
"""

from nexus_temporal.cli._app import build_parser, main, run
from nexus_temporal.cli._errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "UsageError", "build_parser", "main", "run"]
