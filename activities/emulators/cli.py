"""``nexus emulators``: run the local cloud emulators an example declares, until Ctrl-C.

It writes a providers file pointing at them, so another terminal can serve the definitions::

    nexus emulators examples/multi_cloud --providers-out .nexus/providers.yaml
    NEXUS_PROVIDERS_FILE=.nexus/providers.yaml nexus dev examples/multi_cloud
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import threading
from pathlib import Path
from typing import Any

import yaml

from activities.config import ProvidersConfig


def providers_mapping(providers: ProvidersConfig) -> dict[str, Any]:
    """``providers`` as a providers file mapping (unconfigured providers left out; unset
    settings written as null, so a default such as ``key_env`` stays switched off)."""
    out: dict[str, Any] = {}
    for name in ("aws", "azure", "gcp"):
        section = getattr(providers, name)
        if section is not None:
            data = dataclasses.asdict(section)
            if "apps" in data:
                data["apps"] = {
                    app: {k: v for k, v in conf.items() if v is not None}
                    for app, conf in data["apps"].items()
                }
            out[name] = data
    return out


def register(subparsers: Any) -> None:
    """Add ``emulators`` to the ``nexus`` command line (``handler`` set as the default)."""
    p = subparsers.add_parser(
        "emulators", help="run the local AWS/Azure/GCP function emulators an example declares"
    )
    p.add_argument(
        "path", help="an example folder (its example.json 'emulators') or a JSON spec file"
    )
    p.add_argument(
        "--providers-out",
        default=".nexus/providers.yaml",
        help="where to write the providers file for the worker (default: %(default)s)",
    )
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from activities.emulators.harness import start_emulators

    path = Path(args.path)
    spec_file = path / "example.json" if path.is_dir() else path
    spec = json.loads(spec_file.read_text())
    spec = spec.get("emulators", spec) if isinstance(spec, dict) else spec
    if not spec:
        print(f"nexus: error: {spec_file} declares no emulators")
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with start_emulators(spec, spec_file.parent) as running:
        out = Path(args.providers_out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(yaml.safe_dump(providers_mapping(running.providers), sort_keys=False))
        for line in running.describe():
            print(f"  {line}", flush=True)
        print(f"providers file: {out}  (NEXUS_PROVIDERS_FILE={out} nexus dev ...)", flush=True)
        print("faults: POST <url>/_emulator/faults, stats: GET <url>/_emulator/stats", flush=True)
        print("Ctrl-C stops the emulators", flush=True)
        stop.wait()
    return 0
