"""Payload encryption end to end: with the codec on, no plaintext of a secret input reaches the
server's history (inputs, results, failure messages, details, causes), and ``nexus
codec-server`` decodes it, for direct HTTP calls and for the Temporal CLI's
``--codec-endpoint``. Real dev server, real ``nexus`` and ``temporal`` processes."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import re
import signal
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.history.v1 import History
from temporalio.client import Client, WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from nexus_temporal.codec import (
    ENCODING,
    EncryptionCodec,
    KeyRing,
    data_converter,
    decrypt_history,
    new_key,
)
from nexus_temporal.devserver import DevServer, temporal_binary
from nexus_temporal.replay import replay
from tests.helpers.processes import ROOT, kill_group, nexus_cmd, spawn, wait_for_line
from tests.helpers.run import nexus_worker, registry_of, start

SECRET = "zq-SECRET-7f3a91c2-do-not-leak"
TOKEN = "codec-test-token"
ENCRYPTED = base64.b64encode(b"binary/encrypted").decode()

DEFINITION = """
name: secret-keeper
functions:
  echo: python:tests.helpers.functions:echo
  check: python:tests.helpers.secret_functions:check_token
states:
  - name: Echo
    action: echo
    input: '{"token": token}'
    next: Check
  - name: Check
    action: check
    input: '{"token": token, "strict": strict}'
"""


@pytest.fixture(scope="module")
def keys_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("codec") / "keys.txt"
    path.write_text(f"# active first\nk2:{new_key()}\nk1:{new_key()}\n")
    return path


@pytest.fixture(scope="module")
def codec_server(keys_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``nexus codec-server`` as a user runs it; yields its URL."""
    log = tmp_path_factory.mktemp("codec-log") / "codec-server.log"
    proc = spawn(
        nexus_cmd("codec-server", "--port", "0", "--keys", str(keys_file), "--auth-token", TOKEN),
        log,
    )
    try:
        wait_for_line(log, "codec server listening on", proc, timeout=60)
        match = re.search(r"listening on (http://\S+)", log.read_text())
        assert match, log.read_text()
        yield match.group(1)
        os.killpg(proc.pid, signal.SIGTERM)  # stops cleanly on SIGTERM
        proc.wait(timeout=30)
        assert "stopped" in log.read_text()
    finally:
        kill_group(proc)


def _codec_client(env: WorkflowEnvironment, keys_file: Path) -> Client:
    config = env.client.config()
    config["data_converter"] = data_converter(KeyRing.load(keys_file))
    return Client(**config)


def _address(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


async def _run(*args: str, timeout: float = 90) -> tuple[int, str, str]:
    """A command run without blocking the event loop the in-process worker polls on, with no
    ``TEMPORAL_*`` / ``NEXUS_CODEC_*`` settings inherited from the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "NEXUS_CODEC_"))}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = await asyncio.create_subprocess_exec(
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode or 0, out.decode(), err.decode()


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _decoded_strings(document: Any) -> Iterator[str]:
    """Every string of a JSON document, and the text of those that are base64 (payload data
    is base64 in the JSON form of a history)."""
    for s in _strings(document):
        yield s
        try:
            yield base64.b64decode(s, validate=True).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            pass


def _mentions(document: Any, secret: str) -> list[str]:
    """Strings of a JSON document that hold ``secret``, as text or base64."""
    return [s for s in _decoded_strings(document) if secret in s]


async def _raw_history(env: WorkflowEnvironment, workflow_id: str) -> tuple[bytes, dict[str, Any]]:
    """The history as stored by the server, fetched by a client without the codec."""
    fetched = await env.client.get_workflow_handle(workflow_id).fetch_history()
    history = History(events=fetched.events)
    return history.SerializeToString(), json_format.MessageToDict(history)


def _payloads(document: Any, encoding: str = ENCRYPTED) -> list[dict[str, Any]]:
    """The payloads in a JSON document (with this base64 ``encoding``; "": any)."""
    found = []
    if isinstance(document, dict):
        meta = document.get("metadata")
        if isinstance(meta, dict) and "encoding" in meta and "data" in document:
            if not encoding or meta["encoding"] == encoding:
                found.append(document)
        for v in document.values():
            found += _payloads(v, encoding)
    elif isinstance(document, list):
        for v in document:
            found += _payloads(v, encoding)
    return found


async def _run_both(client: Client, worker: Any) -> tuple[str, str, Any, str]:
    """Run the definition once to success and once to a failure; (ids, result, error)."""
    ok = await start(client, worker, "secret-keeper", {"token": SECRET, "strict": False})
    result = await ok.result()
    failing = await start(client, worker, "secret-keeper", {"token": SECRET, "strict": True})
    with pytest.raises(WorkflowFailureError) as caught:
        await failing.result()
    return ok.id, failing.id, result, str(caught.value.cause)


async def test_no_plaintext_in_history_and_codec_server_decodes(
    env: WorkflowEnvironment, keys_file: Path, codec_server: str
) -> None:
    # Control: without the codec the same runs put the secret into the raw history, so the
    # checks below can fail.
    async with nexus_worker(env.client, DEFINITION) as plain_worker:
        plain_ok, plain_fail, _, _ = await _run_both(env.client, plain_worker)
    for wid in (plain_ok, plain_fail):
        raw, _ = await _raw_history(env, wid)
        assert SECRET.encode() in raw
    _, plain_failed = await _raw_history(env, plain_fail)
    assert any(f"token {SECRET} rejected" in s for s in _strings(plain_failed))

    client = _codec_client(env, keys_file)
    async with nexus_worker(client, DEFINITION) as worker:
        ok_id, fail_id, result, error = await _run_both(client, worker)
    # clients with the codec see plaintext ...
    assert result["Check"] == {"accepted": SECRET} and result["Echo"] == {"token": SECRET}
    assert f"token {SECRET} rejected" in error

    # ... the server never does
    payloads: list[dict[str, Any]] = []
    for wid in (ok_id, fail_id):
        raw, document = await _raw_history(env, wid)
        assert SECRET.encode() not in raw, wid
        assert _mentions(document, SECRET) == [], wid
        payloads += _payloads(document)
    _, failed = await _raw_history(env, fail_id)
    messages = [e for e in _decoded_strings(failed) if "rejected" in e or "upstream" in e]
    assert messages == []  # failure messages and causes are encrypted too
    assert "Encoded failure" in list(_strings(failed))
    key_ids = {p["metadata"]["encryption-key-id"] for p in payloads}
    assert key_ids == {base64.b64encode(b"k2").decode()}  # the active key
    assert len(payloads) >= 6  # inputs, results, failures, details, summaries

    # Temporal CLI without the codec: nothing; with our codec server: the secret
    base = [temporal_binary(), "workflow", "show", "--address", _address(env), "-o", "json"]
    code, out, err = await _run(*base, "-w", fail_id)
    assert code == 0, err
    assert _mentions(json.loads(out), SECRET) == []
    code, out, err = await _run(
        *base, "-w", fail_id, "--codec-endpoint", codec_server, "--codec-auth", f"Bearer {TOKEN}"
    )
    assert code == 0, err
    decoded_by_cli = _mentions(json.loads(out), SECRET)
    assert decoded_by_cli, out[:2000]
    assert any(f"token {SECRET} rejected" in s for s in _decoded_strings(json.loads(out)))
    shown = _payloads(json.loads(out), "")
    assert shown and all(p["metadata"]["encoding"] != ENCRYPTED for p in shown)

    # Tools that read payloads from a raw history (replay, audit) decrypt it first
    keys = KeyRing.load(keys_file)
    assert keys is not None
    encrypted = await env.client.get_workflow_handle(fail_id).fetch_history()
    readable = decrypt_history(encrypted, EncryptionCodec(keys))
    text = History(events=readable.events).SerializeToString()
    assert f"token {SECRET} rejected".encode() in text and ENCODING not in text
    assert ENCODING in History(events=encrypted.events).SerializeToString()  # a copy
    [report] = await replay([readable], registry_of(DEFINITION))
    assert report.ok, report

    # The remote codec protocol as the Web UI speaks it
    async with httpx.AsyncClient(timeout=30) as http:
        reply = await http.post(
            f"{codec_server}/decode",
            json={"payloads": payloads},
            headers={
                "Authorization": f"Bearer {TOKEN}",
                "X-Namespace": "default",
                "Origin": "http://localhost:8233",
            },
        )
    assert reply.status_code == 200, reply.text
    assert reply.headers["access-control-allow-origin"] == "http://localhost:8233"
    decoded = reply.json()["payloads"]
    assert len(decoded) == len(payloads)
    assert all(p["metadata"]["encoding"] != ENCRYPTED for p in decoded)
    texts = [base64.b64decode(p.get("data", "")).decode() for p in decoded]
    assert any(json.loads(t) == {"token": SECRET, "strict": True} for t in texts if t)
    assert any(f"token {SECRET} rejected" in t for t in texts)  # a failure's encoded message
    assert any(f"upstream refused {SECRET}" in t for t in texts)  # its cause


async def test_codec_server_cors_auth_and_errors(codec_server: str) -> None:
    ui = "http://localhost:8233"
    plain: dict[str, Any] = {
        "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
        "data": base64.b64encode(json.dumps(SECRET).encode()).decode(),
    }
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(timeout=30) as http:
        pre = await http.options(
            f"{codec_server}/decode",
            headers={
                "Origin": ui,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,x-namespace,authorization",
            },
        )
        assert pre.status_code in (200, 204)
        assert pre.headers["access-control-allow-origin"] == ui
        allowed = pre.headers["access-control-allow-headers"].lower()
        assert "x-namespace" in allowed and "authorization" in allowed
        assert "POST" in pre.headers["access-control-allow-methods"]
        other = await http.options(f"{codec_server}/decode", headers={"Origin": "http://evil"})
        assert "access-control-allow-origin" not in other.headers

        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            denied = await http.post(
                f"{codec_server}/encode", json={"payloads": [plain]}, headers=headers
            )
            assert denied.status_code == 401

        enc = await http.post(f"{codec_server}/encode", json={"payloads": [plain]}, headers=auth)
        assert enc.status_code == 200
        [sealed] = enc.json()["payloads"]
        assert sealed["metadata"]["encoding"] == ENCRYPTED
        assert SECRET not in json.dumps(sealed) and _mentions(sealed, SECRET) == []
        dec = await http.post(
            f"{codec_server}/codec/decode", json={"payloads": [sealed]}, headers=auth
        )
        assert dec.json() == {"payloads": [plain]}

        unknown = dict(sealed, metadata={**sealed["metadata"], "encryption-key-id": "azk="})
        bad = await http.post(f"{codec_server}/decode", json={"payloads": [unknown]}, headers=auth)
        assert bad.status_code == 400 and "key id 'k9'" in bad.json()["error"]
        garbage = await http.post(f"{codec_server}/decode", content=b"not json", headers=auth)
        assert garbage.status_code == 400


async def test_nexus_run_and_start_encrypt_with_codec_keys(
    env: WorkflowEnvironment, keys_file: Path, tmp_path: Path
) -> None:
    client = _codec_client(env, keys_file)
    data = json.dumps({"token": SECRET, "strict": False})
    async with nexus_worker(client, DEFINITION) as worker:
        wid = f"enc-cli-{uuid.uuid4().hex[:8]}"
        code, out, err = await _run(
            *nexus_cmd("run", "secret-keeper", "--input", data, "--id", wid),
            "--address",
            _address(env),
            "--task-queue",
            worker.task_queue,
            "--codec-keys",
            str(keys_file),
        )
        assert code == 0, err
        assert SECRET in out  # the CLI decrypts the result it prints
    raw, document = await _raw_history(env, wid)
    assert SECRET.encode() not in raw and _mentions(document, SECRET) == []
    assert _payloads(document)

    # nexus replay reads the pin and function names from the payloads: it decrypts them
    definition = tmp_path / "secret-keeper.yaml"
    definition.write_text(DEFINITION)
    replay_cmd = [*nexus_cmd("replay", "-d", str(definition), "--workflow-id", wid)]
    replay_cmd += ["--address", _address(env)]
    code, out, err = await _run(*replay_cmd, "--codec-keys", str(keys_file))
    assert code == 0 and "compatible" in out, out + err
    code, out, err = await _run(*replay_cmd)  # without the keys it cannot read the history
    assert code != 0 and "Traceback" not in err, out + err

    # a key configuration mistake is a usage error naming the problem, never a traceback
    bad = tmp_path / "bad-keys.txt"
    bad.write_text("k1:c2hvcnQ=\n")
    code, out, err = await _run(
        *nexus_cmd("start", "secret-keeper", "--codec-keys", str(bad)), "--address", "x:1"
    )
    assert code == 2 and "key 'k1' is 5 bytes" in err and "Traceback" not in err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_dev_server_points_the_web_ui_at_the_codec_server(codec_server: str) -> None:
    """What ``nexus dev --ui-codec-endpoint URL`` starts: the Web UI's settings name the codec
    server, so the browser sends payloads there to decode them."""
    server = DevServer(
        port=_free_port(), ui_port=_free_port(), db_file=None, ui_codec_endpoint=codec_server
    )
    await asyncio.to_thread(server.start)
    try:
        settings: dict[str, Any] = {}
        async with httpx.AsyncClient(timeout=5) as http:
            for _ in range(100):  # the UI starts a moment after the frontend
                try:
                    reply = await http.get(f"{server.ui_url}/api/v1/settings")
                    if reply.status_code == 200:
                        settings = reply.json()
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.3)
        assert settings.get("Codec", {}).get("Endpoint") == codec_server, settings
    finally:
        await asyncio.to_thread(server.stop)
