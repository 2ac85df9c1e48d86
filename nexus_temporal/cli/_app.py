"""The ``nexus`` command line.

Exit codes: 0 success; 1 a workflow or run failed; 2 a usage error or an invalid definition.
A user mistake never prints a Python traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nexus_temporal.client import DEFAULT_TASK_QUEUE, add_connection_flags, settings_from_args

EXIT_FAILED = 1
EXIT_USAGE = 2


def _connection_flags(p: argparse.ArgumentParser) -> None:
    add_connection_flags(p)
    p.add_argument("--task-queue", "-q", default=DEFAULT_TASK_QUEUE, help="[nexus]")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nexus", description="Declarative NEXUS YAML workflows on Temporal."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check definitions without running them")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print issues as JSON")

    sub.add_parser("schema", help="print the JSON Schema of the NEXUS format")

    p = sub.add_parser("graph", help="print a definition as a Mermaid flowchart")
    p.add_argument("file", metavar="FILE")

    for name, text in (
        ("worker", "serve definitions on a task queue"),
        ("dev", "embedded Temporal dev server + worker (Ctrl-C stops both)"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("paths", nargs="+", metavar="DIR_OR_FILE")
        p.add_argument(
            "--import",
            dest="imports",
            action="append",
            default=[],
            metavar="MODULE",
            help="register functions from this module",
        )
        _connection_flags(p)
        p.add_argument(
            "--policy",
            dest="policies",
            action="append",
            type=Path,
            default=[],
            metavar="FILE",
            help="refuse definitions that break an error rule of this policy file "
            "('default': the built-in rules); repeatable",
        )
        p.add_argument(
            "--allow-policy-violations",
            action="store_true",
            help="serve them anyway, logging every violation",
        )
        p.add_argument(
            "--providers",
            type=Path,
            metavar="FILE",
            help="cloud provider settings (docs/providers.md) [NEXUS_PROVIDERS_FILE]",
        )
        from workers.observability import add_flags as add_observability_flags

        add_observability_flags(p, dev=name == "dev")
        if name == "dev":
            p.add_argument("--db", default=".nexus/temporal.db", help="[.nexus/temporal.db]")
            p.add_argument("--ui-port", type=int, default=8233)
            p.add_argument(
                "--ui-codec-endpoint",
                metavar="URL",
                help="the Web UI decodes payloads with this codec server (nexus codec-server)",
            )

    for name, text in (
        ("run", "start a workflow and follow it to its result"),
        ("start", "start a workflow and return at once"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("reference", metavar="NAME[@VERSION]")
        p.add_argument("--input", "-i", help="JSON text, or @file.json")
        p.add_argument("--workflow-id", "--id", dest="workflow_id")
        _connection_flags(p)

    p = sub.add_parser("signal", help="send a signal to a running workflow (e.g. an approval)")
    p.add_argument("workflow_id")
    p.add_argument("name")
    p.add_argument("--input", "-i", help="JSON text, or @file.json")
    _connection_flags(p)

    from activities.emulators.cli import register as register_emulators

    register_emulators(sub)
    from nexus_temporal.audit_cli import register as register_audit
    from nexus_temporal.lint_cli import register as register_lint

    register_lint(sub)
    register_audit(sub)
    from nexus_temporal.codec_cli import register as register_codec

    register_codec(sub)
    from nexus_temporal.replay_cli import register as register_replay

    register_replay(sub)
    from nexus_temporal.insights_cli import register as register_insights

    register_insights(sub)
    from nexus_temporal.stepfunctions.cli import register as register_migrate

    register_migrate(sub)

    p = sub.add_parser("demo", help="run every example on the embedded dev server")
    p.add_argument("path", nargs="?", default="examples")
    p.add_argument("--db", default=".nexus/temporal.db")

    p = sub.add_parser("bench", help="benchmarks")
    bsub = p.add_subparsers(dest="bench", required=True, metavar="BENCH")
    b = bsub.add_parser("overhead", help="interpreter vs hand-written workflow, ms per state")
    b.add_argument("--states", type=int, default=50)
    b.add_argument("--rounds", type=int, default=7)
    b.add_argument("--express", action="store_true", help="tasks as local activities")
    b.add_argument("--json", action="store_true")
    b.add_argument("--address", help="use this server instead of starting one")
    b = bsub.add_parser("fanout", help="an N-item map vs a hand-written fan-out, items/s")
    b.add_argument("--items", type=int, default=10000)
    b.add_argument("--batch", type=int, default=1)
    b.add_argument("--concurrency", type=int, default=200)
    b.add_argument("--json", action="store_true")
    b.add_argument("--address", help="use this server instead of starting one")
    from nexus_temporal.bench_resilience import register as register_resilience

    register_resilience(bsub)
    return parser


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
    from nexus_temporal.dsl.errors import DefinitionError
    from nexus_temporal.runner import UsageError

    try:
        return int(_dispatch(args) or 0)
    except DefinitionError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"nexus: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except (ConnectionError, RuntimeError, OSError) as exc:
        print(f"nexus: error: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _dispatch(args: argparse.Namespace) -> int:
    cmd = args.command
    if cmd == "validate":
        return _validate(args)
    if cmd == "schema":
        from nexus_temporal.dsl.schema import Definition

        print(json.dumps(Definition.model_json_schema(by_alias=True), indent=2))
        return 0
    if cmd == "graph":
        from nexus_temporal.dsl.compiler import compile_file
        from nexus_temporal.graph import to_mermaid

        print(to_mermaid(compile_file(args.file)), end="")
        return 0
    if cmd in ("worker", "dev"):
        return asyncio.run(_serve(args))
    if cmd in ("run", "start"):
        return asyncio.run(_run(args))
    if cmd == "signal":
        return asyncio.run(_signal(args))
    if cmd in (
        "emulators",
        "lint",
        "audit",
        "codec-server",
        "replay",
        "history",
        "insights",
        "migrate",
    ):
        return int(args.handler(args))
    if cmd == "demo":
        from nexus_temporal.demo import demo

        return asyncio.run(demo(Path(args.path), Path(args.db)))
    if cmd == "bench":
        return _bench(args)
    raise AssertionError(cmd)


def _bench(args: argparse.Namespace) -> int:
    if args.bench == "resilience":
        return int(args.handler(args))
    if args.bench == "overhead":
        from nexus_temporal.bench import overhead

        report = asyncio.run(
            overhead(
                states=args.states,
                rounds=args.rounds,
                address=args.address,
                express=args.express,
            )
        )
        text = (
            f"interpreter {report['interpreter_median_ms']:.1f} ms, hand-written "
            f"{report['baseline_median_ms']:.1f} ms, ratio {report['ratio']:.3f}"
        )
    else:
        from nexus_temporal.bench_fanout import fanout

        report = asyncio.run(fanout(args.items, args.batch, args.concurrency, args.address))
        text = (
            f"interpreter {report['interpreter_items_per_s']:.0f} items/s, hand-written "
            f"{report['baseline_items_per_s']:.0f} items/s, ratio {report['ratio']:.3f}, "
            f"largest history {report['largest_history_events']} events, peak RSS "
            f"{report['peak_worker_rss_mib']:.0f} MiB"
        )
    print(json.dumps(report, indent=2) if args.json else text)
    return 0


def _validate(args: argparse.Namespace) -> int:
    from nexus_temporal.dsl.compiler import compile_many
    from nexus_temporal.dsl.errors import DefinitionError, DefinitionIssue, Location
    from nexus_temporal.registry import Registry, definition_files

    files = definition_files(args.files)
    compiled, issues = compile_many(files)
    if not files:
        where = ", ".join(args.files)
        issues.append(
            DefinitionIssue(Location(where), "no definition files (*.yaml, *.yml) found", code="io")
        )
    registry = Registry()  # the same name@version twice with different content is an error
    plans = []
    for plan in compiled:
        try:
            registry.add(plan)
            plans.append(plan)
        except DefinitionError as exc:
            issues.extend(exc.issues)
    if args.json:
        print(
            json.dumps(
                {
                    "valid": not issues,
                    "definitions": [
                        {"name": p.name, "version": p.version, "hash": p.hash, "file": p.source}
                        for p in plans
                    ],
                    "issues": [i.to_json() for i in issues],
                },
                indent=2,
            )
        )
    else:
        for plan in plans:
            print(f"{plan.source}: ok ({plan.name}@{plan.version}, {plan.hash[:12]})")
        for issue in issues:
            print(issue.render(), file=sys.stderr)
    return EXIT_USAGE if issues or not files else 0


async def _connect(args: argparse.Namespace) -> Any:
    from nexus_temporal.client import connect
    from nexus_temporal.codec import CodecConfigError
    from nexus_temporal.runner import UsageError

    settings = settings_from_args(args).resolved()
    try:
        converter = settings.data_converter()  # payload encryption keys, if configured
    except CodecConfigError as exc:
        raise UsageError(str(exc)) from None
    try:
        return await connect(settings, data_converter=converter)
    except Exception as exc:
        raise ConnectionError(
            f"cannot connect to Temporal at {settings.address} "
            f"(namespace {settings.namespace}): {exc}"
        ) from None


async def _serve(args: argparse.Namespace) -> int:
    from nexus_temporal.registry import load_registry
    from workers.config import WorkerConfig
    from workers.main import build_worker, prepare

    registry = load_registry(args.paths)  # invalid definitions stop us before any server
    config = WorkerConfig(
        definitions=[Path(p) for p in args.paths],
        task_queue=args.task_queue,
        imports=args.imports,
        providers_file=args.providers,
        policies=args.policies,
        allow_policy_violations=args.allow_policy_violations,
    )
    prepare(config, registry)  # and so do functions that do not import
    from workers.observability import Observability

    observability = Observability.from_args(args)  # a bad OTEL_TRACES_EXPORTER stops us too
    server = None
    if args.command == "dev":
        from nexus_temporal.devserver import DevServer

        host, _, port = (args.address or "127.0.0.1:7233").partition(":")
        server = DevServer(
            host=host,
            port=int(port or 7233),
            ui_port=args.ui_port,
            db_file=Path(args.db),
            ui_codec_endpoint=args.ui_codec_endpoint,
        ).start()
        args.address = server.address
        print(
            f"Temporal dev server {'reused' if server.reused else 'started'} at "
            f"{server.address}; Web UI {server.ui_url}",
            flush=True,
        )
    try:
        await observability.start()
        client = observability.instrument(await _connect(args))
        from nexus_temporal.devserver import ensure_search_attributes

        sa = await ensure_search_attributes(client)
        if not sa:
            logging.getLogger("nexus").warning(
                "search attributes NexusDefinition/NexusVersion/NexusState are not registered "
                "and could not be added; running without them"
            )
        config.search_attributes = sa
        worker = build_worker(client, config, registry)
        observability.watch(client, worker)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        names = ", ".join(f"{p.name}@{p.version}" for p in registry.plans)
        print(f"worker serving task queue '{args.task_queue}': {names}", flush=True)
        if observability.describe():
            print(f"observability: {observability.describe()}", flush=True)
        async with worker:
            await stop.wait()
        print("stopped", flush=True)
    finally:
        await observability.stop()
        if server is not None:
            server.stop()
    return 0


async def _run(args: argparse.Namespace) -> int:
    from nexus_temporal.runner import follow, parse_input, start

    data = parse_input(args.input)
    client = await _connect(args)
    handle = await start(
        client, args.reference, data, task_queue=args.task_queue, workflow_id=args.workflow_id
    )
    print(f"started {args.reference} as workflow id {handle.id}", flush=True)
    if args.command == "start":
        return 0
    last = [0.0]

    def show_progress(line: str) -> None:
        if sys.stdout.isatty():
            print("\r" + line, end="", flush=True)
        elif time.monotonic() - last[0] >= 2:  # logs and CI: a line every 2 s
            last[0] = time.monotonic()
            print(line, flush=True)

    outcome = await follow(
        handle, emit=lambda line: print(line, flush=True), progress=show_progress
    )
    if outcome.ok:
        print(json.dumps(outcome.result, indent=2, sort_keys=True))
        return 0
    err = outcome.error
    print(
        f"FAILED in state '{err.get('state')}': {err.get('type')}: "
        f"{err.get('message', err.get('summary'))}",
        file=sys.stderr,
    )
    for comp in err.get("compensations", []) or []:
        print(
            f"  compensation {comp['action']} for {comp['state']}: {comp['status']}",
            file=sys.stderr,
        )
    return EXIT_FAILED


async def _signal(args: argparse.Namespace) -> int:
    from nexus_temporal.runner import parse_input

    data = parse_input(args.input)
    client = await _connect(args)
    await client.get_workflow_handle(args.workflow_id).signal(args.name, data)
    print(f"signal '{args.name}' sent to {args.workflow_id}")
    return 0


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


if __name__ == "__main__":
    run()
