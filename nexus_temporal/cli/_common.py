"""What several verbs share: the connection flags, connecting, fetching histories."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from nexus_temporal.cli._errors import UsageError
from nexus_temporal.client import (
    DEFAULT_TASK_QUEUE,
    add_connection_flags,
    connect_failure_reason,
    settings_from_args,
)

if TYPE_CHECKING:
    from temporalio.client import Client, WorkflowHistory

    from nexus_temporal.dsl.errors import DefinitionIssue
    from nexus_temporal.dsl.plan import Plan


def connection_flags(p: argparse.ArgumentParser, *, task_queue: bool = True) -> None:
    """The Temporal connection flags, and ``--task-queue`` unless ``task_queue`` is false."""
    add_connection_flags(p)
    if task_queue:
        p.add_argument("--task-queue", "-q", default=DEFAULT_TASK_QUEUE, help="[nexus]")


def output_flag(
    p: argparse.ArgumentParser, *formats: str, json_alias: bool = False, help_: str = ""
) -> None:
    """``--output text|json|...`` (dest ``output``, default ``text``): ``json`` is one JSON
    document on stdout and nothing else there. ``json_alias`` keeps ``--json`` as a synonym
    of ``--output json``."""
    choices = ("text", "json", *formats)
    p.add_argument(
        "--output",
        "-o",
        choices=choices,
        default="text",
        help=help_ or f"what stdout holds: {', '.join(choices)} (docs/operations.md) [text]",
    )
    if json_alias:
        p.add_argument(
            "--json", dest="output", action="store_const", const="json", help="--output json"
        )


async def connect(args: argparse.Namespace, *, codec_keys_first: bool = True) -> Client:
    """A client from the connection flags; ConnectionError (exit 1) if the server cannot be
    reached. With ``codec_keys_first`` unusable codec keys are a UsageError (exit 2) raised
    before connecting; without it (the read-only verbs) they fail the connection."""
    from nexus_temporal.client import connect as connect_client

    settings = settings_from_args(args).resolved()
    converter = None
    if codec_keys_first:
        from nexus_temporal.codec import CodecConfigError

        try:
            converter = settings.data_converter()  # payload encryption keys, if configured
        except CodecConfigError as exc:
            raise UsageError(str(exc)) from None
    try:
        return await connect_client(settings, data_converter=converter)
    except Exception as exc:
        raise ConnectionError(
            f"cannot connect to Temporal at {settings.address} "
            f"(namespace {settings.namespace}, {settings.address_source}): "
            f"{connect_failure_reason(exc)}; is `nexus dev` (or a Temporal server) running "
            "there? If not, point --address, TEMPORAL_ADDRESS or a --profile at one"
        ) from None


class _DropSdkCoreCodes:
    """Drops the SDK core's log lines carrying one of ``codes`` (``[TMPRL1103]``: payloads
    over the warning limit; ``[TMPRL1100]``: a nondeterminism error): the verb reports the
    same event in its own words."""

    def __init__(self, codes: frozenset[str]) -> None:
        self.codes = codes

    def filter(self, record: object) -> bool:
        import logging

        if not isinstance(record, logging.LogRecord):
            return True
        message = record.getMessage()
        return not any(code in message for code in self.codes)


def quiet_sdk_core(*codes: str) -> None:
    """Drop the SDK core's (``temporalio.core`` logger) lines with these ``TMPRL`` codes, for
    this process: for the verbs that report those events themselves."""
    import logging

    logger = logging.getLogger("temporalio.core")
    for existing in logger.filters:
        if isinstance(existing, _DropSdkCoreCodes):
            existing.codes |= frozenset(codes)
            return
    logger.addFilter(_DropSdkCoreCodes(frozenset(codes)))


def quiet_payload_size_warning() -> None:
    """For the client verbs (run, start, signal), not a worker: there the warning is news."""
    quiet_sdk_core("TMPRL1103")


async def fetch_histories(
    client: Client, workflow_ids: Sequence[str] = (), query: str | None = None
) -> list[WorkflowHistory]:
    """The latest run of each workflow id, or every execution ``query`` matches; a UsageError
    for an unknown workflow id or an invalid query."""
    from temporalio.service import RPCError, RPCStatusCode

    histories = []
    try:
        if query is not None:
            async for execution in client.list_workflows(query):
                handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
                histories.append(await handle.fetch_history())
        for workflow_id in workflow_ids:
            histories.append(await client.get_workflow_handle(workflow_id).fetch_history())
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise UsageError(f"not found: {exc.message}") from None
        if exc.status == RPCStatusCode.INVALID_ARGUMENT:
            raise UsageError(f"invalid query: {exc.message}") from None
        raise
    return histories


def compile_paths(paths: Sequence[str]) -> tuple[list[Plan], list[DefinitionIssue]]:
    """Compile every definition under ``paths`` (files or directories) into one registry.

    Returns the plans that compiled and were added, and every issue: of each file, "no
    definition files" when there are none, and a ``name@version`` defined twice with
    different content.
    """
    from nexus_temporal.dsl.compiler import compile_many
    from nexus_temporal.dsl.errors import Code, DefinitionError, DefinitionIssue, Location
    from nexus_temporal.registry import Registry, definition_files

    files = definition_files(paths)
    compiled, issues = compile_many(files)
    if not files:
        where = ", ".join(map(str, paths))
        issues.append(
            DefinitionIssue(
                Location(where), "no definition files (*.yaml, *.yml) found", code=Code.IO
            )
        )
    registry = Registry()
    plans = []
    for plan in compiled:
        try:
            registry.add(plan)
            plans.append(plan)
        except DefinitionError as exc:
            issues.extend(exc.issues)
    return plans, issues
