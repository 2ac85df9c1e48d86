"""``nexus worker DIR_OR_FILE...``: serve definitions on a task queue until Ctrl-C or SIGTERM.

A production worker starts no emulator: a definition calling a cloud provider that is not
configured here (``--providers``/``NEXUS_PROVIDERS_FILE``) is refused, and so is the whole worker,
unless ``--skip-unservable`` is given: it then serves the others and names, one line each on
stderr, every definition it skipped and why. (``nexus dev`` starts the emulators an
``example.json`` beside a definition declares.)

Exit codes: 0 stopped; 1 the server is unreachable; 2 an invalid definition, a function that
does not import, a policy violation or a bad flag (before anything connects).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from activities.config import PROVIDER_SECTIONS
from nexus_temporal.cli._common import connect, connection_flags
from nexus_temporal.cli._errors import EXIT_OK, UsageError

if TYPE_CHECKING:
    from activities.config import ProvidersConfig
    from nexus_temporal.registry import Registry
    from workers.config import WorkerConfig

#: The emulator of each cloud scheme (``example.json`` ``emulators`` keys) and its provider.


class Server(Protocol):
    """What ``nexus dev`` starts next to the worker: stopped when the worker stops."""

    def stop(self) -> None: ...


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("worker", help="serve definitions on a task queue")
    add_arguments(p, dev=False)
    p.set_defaults(handler=handle)


def add_arguments(p: argparse.ArgumentParser, *, dev: bool) -> None:
    """The flags ``worker`` and ``dev`` share."""
    p.add_argument("paths", nargs="+", metavar="DIR_OR_FILE")
    p.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="register functions from this module",
    )
    connection_flags(p)
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
    p.add_argument(
        "--skip-unservable",
        action="store_true",
        help="serve the other definitions when one calls a target this worker cannot "
        "(naming each skipped one); without it the worker refuses to start",
    )
    from workers.observability import add_flags as add_observability_flags

    add_observability_flags(p, dev=dev)


def handle(args: argparse.Namespace) -> int:
    return asyncio.run(serve(args))


async def serve(
    args: argparse.Namespace,
    start_server: Callable[[argparse.Namespace], Server] | None = None,
    *,
    emulators: bool = False,
) -> int:
    """Check everything that can be checked offline, then (``start_server``: start a server,
    which may set ``args.address``) connect and serve until SIGINT or SIGTERM. With
    ``emulators`` (``nexus dev``), first start the emulators each definition's ``example.json``
    declares, for the clouds the provider settings do not configure."""
    with ExitStack() as stack:
        return await _serve(args, start_server, stack if emulators else None)


async def _serve(
    args: argparse.Namespace,
    start_server: Callable[[argparse.Namespace], Server] | None,
    emulators: ExitStack | None,
) -> int:
    from nexus_temporal.registry import load_registry
    from workers.config import WorkerConfig
    from workers.main import build_worker

    registry = load_registry(args.paths)  # invalid definitions stop us before any server
    config = WorkerConfig(
        definitions=[Path(p) for p in args.paths],
        task_queue=args.task_queue,
        imports=args.imports,
        providers_file=args.providers,
        policies=args.policies,
        allow_policy_violations=args.allow_policy_violations,
    )
    try:
        configured = config.provider_settings()
    except (OSError, ValueError, TypeError) as exc:
        raise UsageError(f"provider settings: {exc}") from None
    if emulators is not None:
        config.providers = start_declared_emulators(emulators, config.definitions, configured)
    # and so do functions that do not import, and targets this worker cannot call
    registry = servable(config, registry, skip=args.skip_unservable)
    from workers.observability import Observability

    observability = Observability.from_args(args)  # a bad OTEL_TRACES_EXPORTER stops us too
    server = start_server(args) if start_server is not None else None
    try:
        await observability.start()
        client = observability.instrument(await connect(args))
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
    return EXIT_OK


def _refusal_codes() -> frozenset[str]:
    """Start-up refusals that concern one definition: ``--skip-unservable`` skips it for them."""
    from nexus_temporal.dsl.errors import Code

    return frozenset(
        {
            Code.PROVIDER_NOT_CONFIGURED,
            Code.FUNCTION_NOT_FOUND,
            Code.SECRET_NOT_ALLOWED,
            Code.UNKNOWN_WORKFLOW,
            Code.EXPRESS_UNSERVED,
        }
    )


def servable(config: WorkerConfig, registry: Registry, *, skip: bool) -> Registry:
    """Import the functions and check every target (:func:`workers.main.prepare`). Without
    ``skip`` a definition this worker cannot serve refuses the worker (DefinitionError, exit 2);
    with it, that definition is left out and named on stderr, and so is one that calls it."""
    from nexus_temporal.dsl.errors import Code, DefinitionError
    from nexus_temporal.registry import Registry
    from workers.main import prepare

    codes = _refusal_codes()
    while True:
        try:
            prepare(config, registry)
            return registry
        except DefinitionError as exc:
            issues = exc.issues
            if not skip or any(i.code not in codes for i in issues):
                hint = (
                    "configure the provider (--providers FILE or NEXUS_PROVIDERS_FILE, "
                    "docs/providers.md); 'nexus dev' starts the emulators an example.json "
                    "declares; --skip-unservable serves the other definitions"
                )
                raise DefinitionError(
                    [
                        dataclasses.replace(i, hint=hint)
                        if i.code == Code.PROVIDER_NOT_CONFIGURED and not i.hint
                        else i
                        for i in issues
                    ]
                ) from None
            refused = {i.location.file: i for i in reversed(issues)}
            kept = [p for p in registry.plans if p.source not in refused]
            for plan in registry.plans:
                if plan.source in refused:
                    why = refused[plan.source]
                    state = f" (state '{why.state}')" if why.state else ""
                    print(
                        f"skipped {plan.name}@{plan.version} ({plan.source}): {why.message}{state}",
                        file=sys.stderr,
                        flush=True,
                    )
            if not kept or len(kept) == len(registry.plans):
                raise DefinitionError(issues) from None
            registry = Registry(kept)


def declared_emulators(definitions: list[Path]) -> dict[str, tuple[dict[str, Any], list[Path]]]:
    """The ``emulators`` the ``example.json`` beside each definition declares, merged by cloud
    (:func:`activities.emulators.harness.merge_specs`)."""
    from activities.emulators.harness import merge_specs
    from nexus_temporal.registry import definition_files

    folders = sorted({f.resolve().parent for f in definition_files(definitions)})
    try:
        return merge_specs(f / "example.json" for f in folders if (f / "example.json").is_file())
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def start_declared_emulators(
    stack: ExitStack, definitions: list[Path], configured: ProvidersConfig
) -> ProvidersConfig:
    """Start (until ``stack`` closes) the emulators the definitions' ``example.json`` files
    declare for clouds ``configured`` leaves out, printing one line per emulator; return the
    provider settings with those clouds pointed at them."""
    declared = declared_emulators(definitions)
    wanted = {
        cloud: spec
        for cloud, (spec, _) in declared.items()
        if cloud in PROVIDER_SECTIONS and not configured.configured(PROVIDER_SECTIONS[cloud])
    }
    if not wanted:
        return configured
    from activities.emulators.harness import start_emulators

    try:
        running = stack.enter_context(start_emulators(wanted))
    except (ImportError, ValueError, KeyError) as exc:
        raise UsageError(f"cannot start the emulators example.json declares: {exc}") from None
    cwd = Path.cwd()
    for name, emulator in running.emulators.items():
        cloud = name.split(":", 1)[0]
        files = ", ".join(
            str(f.relative_to(cwd)) if f.is_relative_to(cwd) else str(f) for f in declared[cloud][1]
        )
        print(f"emulator {name} started at {emulator.url} (declared by {files})", flush=True)
    return dataclasses.replace(
        configured,
        **{PROVIDER_SECTIONS[c]: getattr(running.providers, PROVIDER_SECTIONS[c]) for c in wanted},
    )
