"""Assemble a worker: load definitions, import their functions, register the generic workflow
and the activities, and check that every action can be served."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.config import PROVIDER_SECTIONS
from activities.http import HttpProvider
from activities.invoke import Invoker
from activities.items import ItemAccess, item_activities
from activities.python import as_activity, registered_functions, resolve
from interpreters.states.task import provider_options
from interpreters.workflow import NexusWorkflow, bind, make_resolve_activity
from nexus_temporal.codec import nexus_failures
from nexus_temporal.dsl.errors import Code, DefinitionError, DefinitionIssue, Location
from nexus_temporal.dsl.plan import Target
from nexus_temporal.dsl.schema import MapState, TaskState, WorkflowState
from nexus_temporal.registry import Registry, UnknownDefinition, definition_files, load_registry
from workers.config import WorkerConfig
from workers.interceptors import FailureLog, PayloadGuard
from workers.lineage import redrive_activities
from workers.logs import install_failure_log_filters
from workers.resilience import AdaptiveRetryInterceptor, ResilienceSettings

log = logging.getLogger("nexus.worker")
CLOUD_SCHEMES = tuple(PROVIDER_SECTIONS)


def import_functions(definitions: Sequence[Path], modules: Sequence[str]) -> None:
    """Import ``functions.py`` beside each definition, and the named modules.

    Importing registers their ``@nexus_temporal.function`` functions. The working directory is
    put on ``sys.path`` (as ``python -m`` does) so ``python:`` URIs can name project modules.
    """
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    for module in modules:
        importlib.import_module(module)
    seen: set[Path] = set()
    for f in definition_files(definitions):
        folder = f.resolve().parent
        candidate = folder / "functions.py"
        if candidate in seen or not candidate.exists():
            continue
        seen.add(candidate)
        name = f"nexus_functions_{abs(hash(str(candidate)))}"
        if name in sys.modules:  # already imported by this process
            continue
        spec = importlib.util.spec_from_file_location(name, candidate)
        assert spec and spec.loader
        module_obj = importlib.util.module_from_spec(spec)
        sys.modules[name] = module_obj
        spec.loader.exec_module(module_obj)


def _express_unserved(registry: Registry, served: Collection[str]) -> list[DefinitionIssue]:
    """Express tasks run as local activities, in this worker only: another SDK's worker on the
    task queue cannot serve them, so an activity type this worker lacks is an error here."""
    issues = []
    for plan in registry.plans:
        for state in plan.all_states():
            if isinstance(state, (TaskState, MapState)) and state.mode == "express":
                target = plan.target(state.action or "")
                if target.activity_type and target.activity_type not in served:
                    issues.append(
                        DefinitionIssue(
                            Location(plan.source),
                            f"express action '{target.activity_type}' is not registered on "
                            "this worker (local activities run in the worker itself)",
                            state=state.name,
                            code=Code.EXPRESS_UNSERVED,
                        )
                    )
    return issues


def _missing_children(registry: Registry) -> list[DefinitionIssue]:
    """Workflow states whose definition this worker does not serve."""
    issues = []
    for plan in registry.plans:
        for state in plan.all_states():
            if isinstance(state, WorkflowState):
                try:
                    registry.resolve(state.workflow)
                except UnknownDefinition as exc:
                    issues.append(
                        DefinitionIssue(
                            Location(plan.source),
                            str(exc),
                            state=state.name,
                            code=Code.UNKNOWN_WORKFLOW,
                        )
                    )
    return issues


def item_access(registry: Registry) -> ItemAccess:
    """What the item activities may read and write: the item sources and result stores the
    served definitions name, plus the operator's ``NEXUS_ITEM_ROOTS``."""
    sources: set[str] = set()
    stores: set[str] = set()
    for plan in registry.plans:
        for state in plan.all_states():
            if isinstance(state, MapState):
                src = state.item_source
                if src is not None:
                    sources.add(src if isinstance(src, str) else src.path)
                if state.result_store:
                    stores.add(state.result_store)
    return ItemAccess.of(sources, stores)


def activity_name(fn: Callable[..., Any]) -> str:
    defn = getattr(fn, "__temporal_activity_definition", None)
    return str(defn.name) if defn is not None else fn.__name__


def _target_problem(target: Target, invoker: Invoker | None) -> tuple[str, str] | None:
    """Why this worker cannot call ``target``, and the issue code; None: it can."""
    scheme = target.uri.split(":", 1)[0]
    if invoker is not None and scheme in CLOUD_SCHEMES:
        problem = invoker.problem(target.uri, provider_options(target.spec))
        return (problem, Code.PROVIDER_NOT_CONFIGURED) if problem else None
    if invoker is not None and isinstance(http := invoker.provider(scheme), HttpProvider):
        problem = http.headers_problem(target.uri, target.spec.headers)
        return (problem, Code.SECRET_NOT_ALLOWED) if problem else None
    if scheme == "python":
        try:
            resolve(target.uri)
        except LookupError as exc:
            return str(exc), Code.FUNCTION_NOT_FOUND
    return None


def check_targets(
    registry: Registry, functions: Collection[str], invoker: Invoker | None = None
) -> list[str]:
    """Raise for ``python:`` targets that do not import, cloud targets whose provider is not
    configured on this worker and headers that read variables the operator did not allow;
    return warnings for activity types this worker does not
    serve itself."""
    issues: list[DefinitionIssue] = _missing_children(registry)
    issues += _express_unserved(registry, functions)
    warnings: list[str] = []
    for plan in registry.plans:
        for state, action in plan.actions():
            target = plan.target(action)
            found = _target_problem(target, invoker)
            if found is not None:
                problem, code = found
                issues.append(
                    DefinitionIssue(
                        Location(plan.source),
                        f"function '{target.function}': {problem}",
                        state=state,
                        code=code,
                    )
                )
            elif target.activity_type and target.activity_type not in functions:
                warnings.append(
                    f"{plan.name}: state '{state}': activity type "
                    f"'{target.activity_type}' is not registered on this worker; "
                    "another worker on the task queue must serve it"
                )
    if issues:
        raise DefinitionError(issues)
    return sorted(set(warnings))


def prepare(
    config: WorkerConfig,
    registry: Registry,
    extra_activities: Sequence[Callable[..., Any]] = (),
    invoker: Invoker | None = None,
) -> dict[str, Callable[..., Any]]:
    """Import the definitions' functions and check every action can be served.

    Returns the registered functions. Raises DefinitionError for a ``python:`` target that
    does not import, a cloud target whose provider is not configured on the worker, or a
    definition that breaks an error rule of ``config.policies`` (unless
    ``config.allow_policy_violations``); logs a warning for an activity type no local function
    serves and for every policy violation it lets through.
    """
    if config.policies:  # before anything is imported: a refused definition runs nothing
        from policies.engine import refuse_violations

        for violation in refuse_violations(
            registry, config.policies, config.allow_policy_violations
        ):
            log.warning(violation.render())
    import_functions(config.definitions, config.imports)
    functions = registered_functions()
    served = set(functions) | {activity_name(a) for a in extra_activities}
    invoker = invoker or Invoker(config.provider_settings())
    for warning in check_targets(registry, served, invoker):
        log.warning(warning)
    return functions


def build_worker(
    client: Client,
    config: WorkerConfig,
    registry: Registry | None = None,
    extra_activities: Sequence[Callable[..., Any]] = (),
) -> Worker:
    """A ready-to-run worker for ``config`` (definitions are loaded unless given).

    The worker uses ``client``'s data converter, so it encrypts and decrypts payloads exactly
    as the client does (``nexus_temporal.client.connect`` sets it up from the codec keys),
    with :class:`~nexus_temporal.codec.NexusFailureConverter` as its failure converter: an
    ``ApplicationError`` (a NEXUS failure, a business error) carries no stack trace. Failed
    attempts are logged once each (:mod:`workers.logs`).
    """
    converter = nexus_failures(client.data_converter)
    if converter is not client.data_converter:
        settings = client.config()
        settings["data_converter"] = converter
        client = Client(**settings)
    install_failure_log_filters()
    if registry is None:
        registry = load_registry(config.definitions)
    invoker = Invoker(
        config.provider_settings(), allowed={uri for p in registry.plans for uri in p.uris()}
    )
    functions = prepare(config, registry, extra_activities, invoker)
    bind(client.namespace, config.task_queue, registry, search_attributes=config.search_attributes)
    activities = [
        invoker.invoke,
        make_resolve_activity(registry),
        *item_activities(item_access(registry)),
        *redrive_activities(client, registry),
        *extra_activities,
    ]
    activities += [as_activity(name, fn) for name, fn in functions.items()]
    return Worker(
        client,
        task_queue=config.task_queue,
        workflows=[NexusWorkflow],
        activities=activities,
        max_concurrent_activities=config.max_concurrent_activities,
        interceptors=[
            FailureLog(),
            PayloadGuard(),
            AdaptiveRetryInterceptor(invoker, config.resilience or ResilienceSettings.from_env()),
        ],
    )
