"""Issue 14, the Temporal conventions: connection settings also come from Temporal's
environment configuration (the Temporal CLI's ``temporal.toml`` profiles, ``TEMPORAL_PROFILE``,
``TEMPORAL_CONFIG_FILE``, ``--profile``, ``--config-file``), in the Temporal CLI's order: flags,
then environment variables, then the profile, then the defaults. The cannot-connect line says
where the address came from."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from tests.helpers.processes import ROOT, nexus_cmd

DEAD = "127.0.0.1:1"  # nothing listens there


def nexus_with(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The real ``nexus``, with exactly the ``TEMPORAL_*`` variables in ``env``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    environ["PYTHONPATH"] = str(ROOT) + os.pathsep + environ.get("PYTHONPATH", "")
    environ["HOME"] = "/nonexistent"  # no temporal.toml of the user running the tests
    environ.pop("XDG_CONFIG_HOME", None)
    return subprocess.run(
        nexus_cmd(*args),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=environ | env,
    )


def write_config(tmp_path: Path, address: str) -> Path:
    config = tmp_path / "temporal.toml"
    config.write_text(
        f'[profile.default]\naddress = "{DEAD}"\nnamespace = "default"\n\n'
        f'[profile.dev]\naddress = "{address}"\nnamespace = "default"\n'
    )
    return config


async def start(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    wid = f"envconfig-{uuid.uuid4().hex[:8]}"
    # No worker needed: start returns once the server has accepted the workflow.
    return await asyncio.to_thread(
        nexus_with, env, "start", "nothing-serves-this", "--id", wid, "-o", "id", *args
    )


async def test_a_profile_reaches_the_server(env: WorkflowEnvironment, tmp_path: Path) -> None:
    address = env.client.service_client.config.target_host
    config = write_config(tmp_path, address)
    by_flag = await start({"TEMPORAL_CONFIG_FILE": str(config)}, "--profile", "dev")
    assert by_flag.returncode == 0, by_flag.stderr
    wid = by_flag.stdout.strip()
    described = await env.client.get_workflow_handle(wid).describe()
    assert described.id == wid
    by_env = await start({"TEMPORAL_CONFIG_FILE": str(config), "TEMPORAL_PROFILE": "dev"})
    assert by_env.returncode == 0, by_env.stderr
    by_file_flag = await start({}, "--config-file", str(config), "--profile", "dev")
    assert by_file_flag.returncode == 0, by_file_flag.stderr


async def test_flags_and_variables_override_the_profile(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    address = env.client.service_client.config.target_host
    config = write_config(tmp_path, address)
    # The default profile points nowhere: --address and TEMPORAL_ADDRESS win over it.
    flag = await start({"TEMPORAL_CONFIG_FILE": str(config)}, "--address", address)
    assert flag.returncode == 0, flag.stderr
    variable = await start({"TEMPORAL_CONFIG_FILE": str(config), "TEMPORAL_ADDRESS": address})
    assert variable.returncode == 0, variable.stderr
    # ...and over a profile that works: the flag's dead address is used, and said.
    dead = await start({"TEMPORAL_CONFIG_FILE": str(config)}, "--profile", "dev", "--address", DEAD)
    assert dead.returncode == 1
    assert f"cannot connect to Temporal at {DEAD} (namespace default, from --address)" in (
        dead.stderr
    )


def test_the_cannot_connect_line_says_where_the_address_came_from(tmp_path: Path) -> None:
    config = write_config(tmp_path, DEAD)
    cases = [
        ({"TEMPORAL_CONFIG_FILE": str(config)}, (), f"from profile 'default' in {config}"),
        (
            {"TEMPORAL_CONFIG_FILE": str(config), "TEMPORAL_PROFILE": "dev"},
            (),
            f"from profile 'dev' in {config}",
        ),
        ({"TEMPORAL_ADDRESS": DEAD}, (), "from TEMPORAL_ADDRESS"),
        ({}, ("--address", DEAD), "from --address"),
    ]
    for variables, flags, source in cases:
        result = nexus_with(variables, "start", "x", *flags)
        assert result.returncode == 1, (variables, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
        assert f"cannot connect to Temporal at {DEAD} (namespace default, {source})" in lines[0]


def test_a_missing_profile_or_config_file_is_a_usage_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, DEAD)
    missing = nexus_with({"TEMPORAL_CONFIG_FILE": str(config)}, "start", "x", "--profile", "nope")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert "profile 'nope' from --profile" in missing.stderr, missing.stderr
    no_file = nexus_with({"TEMPORAL_CONFIG_FILE": str(tmp_path / "none.toml")}, "start", "x")
    assert no_file.returncode == 2
    assert f"no Temporal config file {tmp_path / 'none.toml'} (from TEMPORAL_CONFIG_FILE)" in (
        no_file.stderr
    )


def test_help_lists_profile_and_config_file() -> None:
    result = nexus_with({}, "start", "--help")
    assert "--profile" in result.stdout and "--config-file" in result.stdout
