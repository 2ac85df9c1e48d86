"""The page's redrive and rerun buttons: :func:`nexus_temporal.redrive.redrive` and
:func:`~nexus_temporal.redrive.rerun`, called with what the page sends (checked here: the
request is untrusted) and answered as JSON."""

from __future__ import annotations

import dataclasses
import importlib.util
from typing import Any

from nexus_temporal.errors import NexusTemporalError
from nexus_temporal.ui.source import Source


class ActionError(NexusTemporalError, ValueError):
    """A redrive or rerun refused, or a malformed request for one (answered 400)."""


def redrive_available() -> bool:
    """Whether this installation has redrive and rerun (``nexus_temporal.redrive``)."""
    return importlib.util.find_spec("nexus_temporal.redrive") is not None


async def run_action(
    source: Source, verb: str, workflow_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    """Redrive (``{"version": V}`` optional) or rerun (``{"from": STATE, "input": ...}``)."""
    from nexus_temporal.redrive import RedriveRefused, redrive, rerun

    try:
        if verb == "redrive":
            unknown = set(body) - {"version", "dry_run"}
            version = body.get("version")
            if unknown or not (version is None or isinstance(version, str)):
                raise ActionError('redrive takes {"version": "V"} (optional), nothing else')
            result: Any = await redrive(
                source.client,
                workflow_id,
                version=version or None,
                definitions=source.registry,
                dry_run=bool(body.get("dry_run")),
                reason="nexus ui redrive",
            )
        else:
            unknown = set(body) - {"from", "input", "dry_run"}
            state = body.get("from")
            if unknown or not isinstance(state, str) or not state:
                raise ActionError('rerun takes {"from": "STATE", "input": ...} ("input" optional)')
            options: dict[str, Any] = {"dry_run": bool(body.get("dry_run"))}
            if "input" in body:
                options["input"] = body["input"]
            result = await rerun(source.client, workflow_id, state, **options)
    except RedriveRefused as exc:
        raise ActionError(str(exc)) from None
    out = dataclasses.asdict(result)
    out["web_ui"] = source.web_ui_link(result.workflow_id, result.run_id)
    return out
