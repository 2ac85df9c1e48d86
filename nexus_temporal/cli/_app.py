"""The ``nexus`` application: the parser built from the verb modules, and the one dispatch.

Each verb module exposes ``register(subparsers)``, which adds its parser(s) and sets ``handler``
with ``set_defaults(handler=...)``; :func:`main` calls ``args.handler(args)`` and turns what a
user can get wrong into one line and an exit code (:mod:`nexus_temporal.cli._errors`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from types import ModuleType

from nexus_temporal.cli import (
    audit,
    bench,
    codec_server,
    demo,
    dev,
    diff,
    emulators,
    graph,
    history,
    insights,
    lint,
    migrate,
    redrive,
    replay,
    rerun,
    run_,
    schema,
    signal_,
    start,
    ui,
    validate,
    worker,
)
from nexus_temporal.cli._errors import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    UsageError,
)

#: The verbs, in the order ``nexus --help`` lists them.
VERBS: tuple[ModuleType, ...] = (
    validate,
    schema,
    graph,
    worker,
    dev,
    run_,
    start,
    signal_,
    redrive,
    rerun,
    emulators,
    lint,
    audit,
    codec_server,
    ui,
    replay,
    diff,
    history,
    insights,
    migrate,
    demo,
    bench,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nexus", description="Declarative NEXUS YAML workflows on Temporal."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for verb in VERBS:
        verb.register(sub)
    return parser


def commands(
    parser: argparse.ArgumentParser,
    path: tuple[str, ...] = (),
    inherited: Callable[[argparse.Namespace], int] | None = None,
) -> Iterator[tuple[tuple[str, ...], Callable[[argparse.Namespace], int] | None]]:
    """Every command a user can type (``("validate",)``, ``("bench", "fanout")``...) and the
    handler it dispatches to: ``None`` would be a bug, which tests/cli/test_app.py catches."""
    handler = parser.get_default("handler") or inherited
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups and path:
        yield path, handler
    for group in groups:
        for name, child in group.choices.items():
            yield from commands(child, (*path, name), handler)


_core_logs_routed = False


def _core_logs_to_python_logging() -> None:
    """The SDK core logs to stdout by default; route it through Python logging (stderr) so
    stdout carries only what a command prints (e.g. ``--json``). Once per process: ``main()``
    may run several times in one (tests, embedding)."""
    global _core_logs_routed
    if _core_logs_routed:
        return
    _core_logs_routed = True
    from temporalio.runtime import (
        LogForwardingConfig,
        LoggingConfig,
        Runtime,
        TelemetryConfig,
        TelemetryFilter,
    )

    logger = logging.getLogger("temporalio.core")
    Runtime.set_default(
        Runtime(
            telemetry=TelemetryConfig(
                logging=LoggingConfig(
                    filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                    forwarding=LogForwardingConfig(logger=logger),
                )
            )
        ),
        error_if_already_set=False,
    )


def main(argv: Sequence[str] | None = None) -> int:
    # Like `python -m`: python: targets and emulator handlers name modules of the project the
    # command runs in.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _core_logs_to_python_logging()
    from temporalio.exceptions import WorkflowAlreadyStartedError
    from temporalio.service import RPCError

    from nexus_temporal.dsl.errors import DefinitionError

    try:
        code = int(args.handler(args))
        sys.stdout.flush()  # a closed pipe shows here, while BrokenPipeError is still handled
        return code
    except BrokenPipeError:
        return _stdout_closed()
    except DefinitionError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"nexus: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except WorkflowAlreadyStartedError as exc:
        print(
            f"nexus: error: a workflow with id '{exc.workflow_id}' is already running",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except RPCError as exc:  # a verb that does not say better what the server refused
        print(
            f"nexus: error: the Temporal server refused the request: {exc.message} "
            f"({exc.status.name})",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except (ConnectionError, RuntimeError, OSError) as exc:
        message = str(exc)
        if message.startswith("Failed client connect"):  # a verb connecting on its own
            from nexus_temporal.client import connect_failure_reason

            where = getattr(args, "address", None) or os.environ.get("TEMPORAL_ADDRESS")
            message = (
                f"cannot connect to Temporal{f' at {where}' if where else ''}: "
                f"{connect_failure_reason(exc)}; is `nexus dev` (or a Temporal server) "
                "running there? If not, point --address or TEMPORAL_ADDRESS at one"
            )
        print(f"nexus: error: {message}", file=sys.stderr)
        return EXIT_FAILED


def _stdout_closed() -> int:
    """``nexus ... | head``: the reader went away. Say nothing (it is not an error of the
    command) and point stdout at /dev/null, so that the final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    return EXIT_BROKEN_PIPE


def run() -> None:
    """Console entry point: exit without interpreter teardown once output is flushed.

    The Temporal client's native runtime keeps threads that can abort a normal interpreter
    shutdown; nothing of ours is left to finalise at this point (servers and workers are
    stopped in ``finally`` blocks), so a plain ``_exit`` keeps the exit code the user sees.
    """
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
