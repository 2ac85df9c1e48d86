"""``nexus emulators PATH``: run the local cloud emulators an example declares, until Ctrl-C.

It writes a providers file pointing at them, so another terminal can serve the definitions::

    nexus emulators examples/multi_cloud --providers-out .nexus/providers.yaml
    NEXUS_PROVIDERS_FILE=.nexus/providers.yaml nexus dev examples/multi_cloud
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from nexus_temporal.cli._errors import EXIT_OK, usage_error


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


def _spec(path: Path) -> tuple[Path, dict[str, Any]] | str:
    """The emulator spec of an example folder or a spec file, or why there is none."""
    spec_file = path / "example.json" if path.is_dir() else path
    try:
        raw = json.loads(spec_file.read_text())
    except FileNotFoundError:
        return f"{spec_file} does not exist"
    except (OSError, ValueError) as exc:
        return f"cannot read {spec_file}: {exc}"
    # An example.json holds its emulators under 'emulators'; a spec file is the spec itself.
    if isinstance(raw, dict) and (path.is_dir() or "emulators" in raw):
        raw = raw.get("emulators")
    if not raw:
        return f"{spec_file} declares no emulators"
    if not isinstance(raw, dict):
        return f"{spec_file}: the emulators spec must be an object"
    return spec_file, raw


def handle(args: argparse.Namespace) -> int:
    import yaml

    from activities.emulators.harness import providers_mapping, start_emulators

    found = _spec(Path(args.path))
    if isinstance(found, str):
        return usage_error(found)
    spec_file, spec = found
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with ExitStack() as stack:
        try:
            running = stack.enter_context(start_emulators(spec, spec_file.parent))
        except (ValueError, KeyError, ImportError) as exc:  # a malformed spec, a missing extra
            return usage_error(f"{spec_file}: {exc}")
        out = Path(args.providers_out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(yaml.safe_dump(providers_mapping(running.providers), sort_keys=False))
        for line in running.describe():
            print(f"  {line}", flush=True)
        print(f"providers file: {out}  (NEXUS_PROVIDERS_FILE={out} nexus dev ...)", flush=True)
        print("faults: POST <url>/_emulator/faults, stats: GET <url>/_emulator/stats", flush=True)
        print("Ctrl-C stops the emulators", flush=True)
        stop.wait()
    return EXIT_OK
