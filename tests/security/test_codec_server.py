"""The codec server as an attacker meets it: raw sockets and HTTP requests against the real
``nexus codec-server`` process (or a :class:`CodecServer` on 127.0.0.1 when a test needs small
limits), never a mocked handler.

Attacks: DNS rebinding (forged ``Host``), bodies sent before authentication, oversized or
missing lengths, slow and half-open connections, malformed payloads, ``--cors-origin '*'``
with credentials, and tokens visible in the process list.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload

from nexus_temporal.codec import EncryptionCodec, KeyRing, new_key
from nexus_temporal.codec_server import CodecServer
from tests.helpers.processes import kill_group, nexus_cmd, run_cli, spawn, wait_for_line

SECRET = "qx-PLAINTEXT-31c9-never-to-a-stranger"
TOKEN = "tok-4f1d8a2b9c7e-codec"
ENV_ONLY_TOKEN = "tok-env-77aa1c"
PROXY_NAME = "codec.internal.example"


# -- the server under attack -------------------------------------------------------------------


@pytest.fixture(scope="module")
def keys_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("codec-keys") / "keys.txt"
    path.write_text(f"k1:{new_key()}\n")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def codec(keys_file: Path) -> EncryptionCodec:
    keys = KeyRing.load(keys_file)
    assert keys is not None
    return EncryptionCodec(keys)


class Served:
    def __init__(self, proc: subprocess.Popen[bytes], log: Path, url: str) -> None:
        self.proc, self.log, self.url = proc, log, url
        self.port = int(url.rsplit(":", 1)[1])

    def text(self) -> str:
        return self.log.read_text(errors="replace")


def _serve(log: Path, *args: str) -> Served:
    proc = spawn(nexus_cmd("codec-server", "--port", "0", *args), log)
    try:
        wait_for_line(log, "codec server listening on", proc, timeout=60)
    except BaseException:
        kill_group(proc)
        raise
    match = re.search(r"listening on (http://\S+)", log.read_text())
    assert match, log.read_text()
    return Served(proc, log, match.group(1))


def _stop(served: Served) -> None:
    os.killpg(served.proc.pid, signal.SIGTERM)
    try:
        served.proc.wait(timeout=30)
    finally:
        kill_group(served.proc)


@pytest.fixture(scope="module")
def server(keys_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``nexus codec-server`` as an operator runs it: the token from a file, one proxy name."""
    base = tmp_path_factory.mktemp("codec-server")
    token_file = base / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    served = _serve(
        base / "server.log",
        "--keys",
        str(keys_file),
        "--auth-token-file",
        str(token_file),
        "--allowed-host",
        PROXY_NAME,
    )
    try:
        yield served
        # no request of this module, however malformed, may print a traceback
        assert "Traceback" not in served.text(), served.text()
        assert SECRET not in served.text()  # nor a payload
    finally:
        _stop(served)


def _sealed(codec: EncryptionCodec, text: str = SECRET) -> dict[str, Any]:
    plain = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(text).encode())
    return json_format.MessageToDict(codec.encrypt(plain))


def _body(*payloads: dict[str, Any]) -> bytes:
    return json.dumps({"payloads": list(payloads)}).encode()


# -- raw HTTP, as an attacker's client speaks it ---------------------------------------------


def _connect(port: int, timeout: float = 5) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP response from ``sock`` (its head, then Content-Length bytes of body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a full response: {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest[:length]


def _request(
    method: str,
    path: str,
    host: str | None,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    length: bool = True,
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1"]
    if host is not None:
        lines.append(f"Host: {host}")
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if length and "Content-Length" not in (headers or {}):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _exchange(port: int, raw: bytes, timeout: float = 5) -> tuple[int, dict[str, str], bytes]:
    with _connect(port, timeout) as sock:
        sock.sendall(raw)
        return _read_response(sock)


def _closed_by_server(sock: socket.socket, within: float) -> bool:
    """Whether the server closes ``sock`` (EOF or reset) within ``within`` seconds; any bytes
    it sends first (a 408/503 answer) are read and ignored."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            if not sock.recv(65536):
                return True
        except TimeoutError:
            return False
        except OSError:
            return True
    return False


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


# -- 1. DNS rebinding: the Host header ---------------------------------------------------------


def test_forged_host_gets_403_and_no_plaintext(server: Served, codec: EncryptionCodec) -> None:
    """A page on evil.example, its name rebound to 127.0.0.1, reaches the port with
    ``Host: evil.example``; it gets a 403 and nothing decoded, even with a valid token."""
    body = _body(_sealed(codec))
    for forged in (
        f"evil.example:{server.port}",
        "evil.example",
        f"127.0.0.1.evil.example:{server.port}",
        f"localhost:{server.port + 1}",  # another port: another origin
        f"{PROXY_NAME}.evil.example",
        "",
    ):
        status, headers, reply = _exchange(
            server.port, _request("POST", "/decode", forged, _auth(), body)
        )
        assert status == 403, (forged, status, reply)
        assert headers["content-type"] == "application/json"
        assert json.loads(reply) == {"error": "Host not allowed"}
        assert SECRET.encode() not in reply
    # no Host at all (HTTP/1.0 style), and two of them
    status, _, _ = _exchange(server.port, _request("POST", "/decode", None, _auth(), body))
    assert status == 403
    twice = {**_auth(), "Host": "evil.example"}
    status, _, _ = _exchange(
        server.port, _request("POST", "/decode", f"127.0.0.1:{server.port}", twice, body)
    )
    assert status == 403
    # the preflight and GET are checked too
    status, _, _ = _exchange(server.port, _request("OPTIONS", "/decode", "evil.example", {}))
    assert status == 403
    assert "refused Host evil.example" in server.text()


def test_allowed_hosts_decode(server: Served, codec: EncryptionCodec) -> None:
    """The names of this machine with the listening port (what the Temporal CLI and a browser
    on this machine send) and ``--allowed-host`` names decode."""
    body = _body(_sealed(codec))
    for host in (
        f"127.0.0.1:{server.port}",
        f"localhost:{server.port}",
        f"LOCALHOST:{server.port}",
        f"[::1]:{server.port}",
        PROXY_NAME,  # behind a proxy on 443: no port
        f"{PROXY_NAME}:{server.port}",
    ):
        status, _, reply = _exchange(server.port, _request("POST", "/decode", host, _auth(), body))
        assert status == 200, (host, reply)
        [payload] = json.loads(reply)["payloads"]
        assert json.loads(base64.b64decode(payload["data"])) == SECRET


# -- 2. authentication before the body; bounded bodies -------------------------------------


def test_no_token_huge_body_rejected_before_it_is_sent(server: Served) -> None:
    """Headers announcing a 1 GiB body, without (or with a wrong) token: the answer is 401
    while the client has sent only the headers: the server never waited for the body."""
    host = f"127.0.0.1:{server.port}"
    for auth in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        headers = {**auth, "Content-Length": str(1 << 30), "Content-Type": "application/json"}
        with _connect(server.port, timeout=3) as sock:
            started = time.monotonic()
            sock.sendall(_request("POST", "/decode", host, headers))  # headers only
            status, got, reply = _read_response(sock)
            assert time.monotonic() - started < 2
            assert status == 401, reply
            assert got["www-authenticate"].startswith("Bearer")
            assert json.loads(reply)["error"] == "missing or wrong bearer token"
            assert got.get("connection") == "close"  # the unread body cannot be parsed as a request
            assert _closed_by_server(sock, within=3)


def test_body_length_is_checked_before_reading(server: Served) -> None:
    host = f"127.0.0.1:{server.port}"
    cases = [
        ({"Content-Length": str(8 * 1024 * 1024 + 1)}, 413),  # over the 8 MiB default
        ({"Content-Length": str(1 << 40)}, 413),
        ({"Content-Length": "12abc"}, 400),
        ({"Content-Length": "-1"}, 400),
        ({"Content-Length": "+5"}, 400),
        ({"Content-Length": "1_0"}, 400),
        ({"Transfer-Encoding": "chunked"}, 411),
        ({"Transfer-Encoding": "chunked", "Content-Length": "5"}, 411),  # smuggling shape
    ]
    for extra, expected in cases:
        with _connect(server.port, timeout=3) as sock:
            sock.sendall(_request("POST", "/decode", host, {**_auth(), **extra}, length=False))
            status, _, reply = _read_response(sock)  # answered with the headers only
            assert status == expected, (extra, status, reply)
            assert "error" in json.loads(reply)
    status, _, _ = _exchange(server.port, _request("POST", "/decode", host, _auth(), length=False))
    assert status == 411  # no Content-Length at all


def test_max_body_is_configurable(keys_file: Path, tmp_path: Path, codec: EncryptionCodec) -> None:
    served = _serve(tmp_path / "small.log", "--keys", str(keys_file), "--max-body-mib", "1")
    try:
        host = f"127.0.0.1:{served.port}"
        big = {"Content-Length": str(1024 * 1024 + 1)}
        status, _, _ = _exchange(served.port, _request("POST", "/decode", host, big, length=False))
        assert status == 413
        ok = _body(_sealed(codec))
        assert _exchange(served.port, _request("POST", "/decode", host, {}, ok))[0] == 200
    finally:
        _stop(served)
    bad = run_cli(nexus_cmd("codec-server", "--keys", str(keys_file), "--max-body-mib", "0"))
    assert bad.returncode == 2 and "must be greater than 0" in bad.stderr
    assert "Traceback" not in bad.stderr


# -- 3. slow and half-open connections -----------------------------------------------------


def test_fifty_half_open_connections_do_not_starve_the_server(
    server: Served, codec: EncryptionCodec
) -> None:
    host = f"127.0.0.1:{server.port}"
    held = []
    try:
        for i in range(50):
            sock = _connect(server.port)
            # a request that never ends: half its head, or all the head and part of the body
            if i % 2:
                sock.sendall(f"POST /decode HTTP/1.1\r\nHost: {host}\r\nX-Slow".encode())
            else:
                partial = _request("POST", "/decode", host, {**_auth(), "Content-Length": "500"})
                sock.sendall(partial + b'{"payl')
            held.append(sock)
        time.sleep(0.2)  # every one of them accepted and waiting in the server
        started = time.monotonic()
        with httpx.Client(timeout=5) as http:
            reply = http.post(
                f"{server.url}/decode", content=_body(_sealed(codec)), headers=_auth()
            )
        assert reply.status_code == 200, reply.text
        assert time.monotonic() - started < 2
    finally:
        for sock in held:
            sock.close()


def test_slow_clients_are_dropped_and_excess_connections_refused(codec: EncryptionCodec) -> None:
    """With 4 slots and a 1 s request deadline: 4 stalled clients (one of them trickling a
    byte every 0.2 s, which a per-read timeout alone would never drop) fill the slots; a fifth
    connection is refused at once rather than queued behind them; within the deadline the
    server drops them all and serves again."""
    with CodecServer(codec, port=0, max_connections=4, request_timeout=1.0) as srv:
        port = srv.bound_port
        host = f"127.0.0.1:{port}"
        silent = [_connect(port) for _ in range(3)]
        for sock in silent:
            sock.sendall(b"POST /decode HTTP/1.1\r\n")
        trickler = _connect(port)
        stop = threading.Event()

        def trickle() -> None:
            for byte in f"Host: {host}\r\nX-Padding: ".encode() + b"a" * 1000:
                if stop.is_set():
                    return
                try:
                    trickler.send(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.2)

        dripping = threading.Thread(target=trickle, daemon=True)
        dripping.start()
        try:
            time.sleep(0.3)
            started = time.monotonic()
            with _connect(port, timeout=3) as fifth:
                fifth.sendall(_request("POST", "/decode", host, {}, _body(_sealed(codec))))
                try:
                    status, _, reply = _read_response(fifth)
                    assert status == 503 and b"busy" in reply
                except (ConnectionError, OSError):
                    pass  # refused by a reset: refused just the same
            assert time.monotonic() - started < 1

            for sock in [*silent, trickler]:
                assert _closed_by_server(sock, within=3), "a slow client kept its connection"
            with httpx.Client(timeout=5) as http:
                ok = http.post(f"{srv.url}/decode", content=_body(_sealed(codec)))
            assert ok.status_code == 200
        finally:
            stop.set()
            for sock in [*silent, trickler]:
                sock.close()


# -- 4. malformed input: JSON 400, the connection stays usable -------------------------------


def _malformed(codec: EncryptionCodec, keys_file: Path) -> dict[str, bytes]:
    good = _sealed(codec)
    data = base64.b64decode(good["data"])
    enc = good["metadata"]["encoding"]

    def with_data(raw: bytes, key_id: bytes = b"k1") -> bytes:
        meta = {"encoding": enc, "encryption-key-id": base64.b64encode(key_id).decode()}
        return _body({"metadata": meta, "data": base64.b64encode(raw).decode()})

    key = base64.b64decode(keys_file.read_text().split(":", 1)[1].strip())
    nonce = os.urandom(12)
    not_a_payload = nonce + AESGCM(key).encrypt(nonce, b"\xff\xff\xff", b"nexus-codec/v1:k1")
    flipped = bytearray(data)
    flipped[-1] ^= 1
    return {
        "not JSON": b"not json",
        "not UTF-8": b"\xff\xfe\x00garbage",
        "empty": b"",
        "a list": b"[]",
        "payloads not a list": b'{"payloads": "x"}',
        "a payload not an object": b'{"payloads": [42]}',
        "metadata not base64": b'{"payloads": [{"metadata": {"encoding": "!!!"}}]}',
        "data not base64": b'{"payloads": [{"data": "%%%"}]}',
        "deeply nested": b'{"payloads": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}",
        "ciphertext of 0 bytes": with_data(b""),
        "ciphertext of 5 bytes": with_data(b"short"),
        "ciphertext shorter than nonce and tag": with_data(os.urandom(27)),
        "unknown key id": with_data(data, b"k9"),
        "no key id": _body({"metadata": {"encoding": enc}, "data": good["data"]}),
        "invalid key id": with_data(data, b"k1\n2024-01-01 INFO forged log line"),
        "failed authentication": with_data(bytes(flipped)),
        "authentic but not a payload": with_data(not_a_payload),
    }


def test_malformed_payloads_get_json_400_on_a_usable_connection(
    server: Served, codec: EncryptionCodec, keys_file: Path
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.connect()
        sock = conn.sock
        for name, body in _malformed(codec, keys_file).items():
            conn.request("POST", "/decode", body=body, headers=_auth())
            response = conn.getresponse()
            reply = response.read()
            assert response.status == 400, (name, response.status, reply)
            assert response.getheader("Content-Type") == "application/json", name
            error = json.loads(reply)["error"]
            assert isinstance(error, str) and error, name
            assert "Traceback" not in error and "forged log line" not in error, name
            assert not response.will_close and conn.sock is sock, f"{name}: connection closed"
        # the same connection still decodes
        conn.request("POST", "/decode", body=_body(_sealed(codec)), headers=_auth())
        response = conn.getresponse()
        assert response.status == 200 and conn.sock is sock
        [payload] = json.loads(response.read())["payloads"]
        assert json.loads(base64.b64decode(payload["data"])) == SECRET
    finally:
        conn.close()
    log = server.text()
    assert "Traceback" not in log
    assert "\n2024-01-01 INFO forged log line" not in log  # control characters neutralised
    assert "too short" in log and "failed authentication" in log


def test_protocol_errors_are_json_too(server: Served) -> None:
    host = f"127.0.0.1:{server.port}"
    with _connect(server.port) as sock:  # one word: an HTTP/0.9 request, answered by a body
        sock.sendall(b"GARBAGE\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert json.loads(answer) == {"error": "Bad Request"}
    many = {f"X-H{i}": "v" for i in range(200)}
    status, _, reply = _exchange(server.port, _request("POST", "/decode", host, many))
    assert status == 431 and json.loads(reply)["error"]
    status, _, reply = _exchange(server.port, _request("PUT", "/decode", host, _auth()))
    assert status == 501 and json.loads(reply)["error"]
    status, _, reply = _exchange(server.port, _request("POST", "/elsewhere", host, _auth()))
    assert status == 404 and json.loads(reply)["error"]


# -- 5. CORS: '*' never with credentials ---------------------------------------------------


def test_cors_star_with_a_token_is_a_usage_error(keys_file: Path, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    token_file.chmod(0o600)
    for token_args in (["--auth-token-file", str(token_file)], ["--auth-token", TOKEN]):
        refused = run_cli(
            nexus_cmd("codec-server", "--keys", str(keys_file), "--cors-origin", "*", *token_args)
        )
        assert refused.returncode == 2, refused.stderr
        errors = [ln for ln in refused.stderr.splitlines() if ln.startswith("nexus: error:")]
        assert len(errors) == 1 and "'*' cannot be combined with auth tokens" in errors[0]
        assert "Traceback" not in refused.stderr and TOKEN not in errors[0]


def test_cors_origins(codec: EncryptionCodec) -> None:
    """A listed origin is echoed with credentials; '*' (no token) is answered '*' without
    credentials; an unlisted origin gets no CORS header at all."""
    ui, evil = "http://localhost:8233", "http://evil.example"
    body = _body(_sealed(codec))
    with CodecServer(codec, port=0, origins=[ui], tokens=[TOKEN]) as listed:
        host = f"127.0.0.1:{listed.bound_port}"
        _, headers, _ = _exchange(
            listed.bound_port, _request("POST", "/decode", host, {**_auth(), "Origin": ui}, body)
        )
        assert headers["access-control-allow-origin"] == ui
        assert headers["access-control-allow-credentials"] == "true"
        _, headers, _ = _exchange(
            listed.bound_port, _request("OPTIONS", "/decode", host, {"Origin": evil})
        )
        assert "access-control-allow-origin" not in headers
    with CodecServer(codec, port=0, origins=["*"]) as anyone:
        host = f"127.0.0.1:{anyone.bound_port}"
        _, headers, _ = _exchange(
            anyone.bound_port, _request("POST", "/decode", host, {"Origin": evil}, body)
        )
        assert headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in headers


# -- 6. the token stays out of the process list --------------------------------------------


def _argv(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_token_from_file_is_not_in_the_process_list(server: Served, codec: EncryptionCodec) -> None:
    assert TOKEN not in _argv(server.proc.pid)
    assert "--auth-token-file" in _argv(server.proc.pid)
    body = _body(_sealed(codec))
    with httpx.Client(timeout=5) as http:
        assert http.post(f"{server.url}/decode", content=body).status_code == 401
        assert http.post(f"{server.url}/decode", content=body, headers=_auth()).status_code == 200


def test_token_from_environment(
    keys_file: Path, tmp_path: Path, codec: EncryptionCodec, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEXUS_CODEC_AUTH_TOKEN", ENV_ONLY_TOKEN)
    served = _serve(tmp_path / "env.log", "--keys", str(keys_file))
    try:
        assert ENV_ONLY_TOKEN not in _argv(served.proc.pid)
        body = _body(_sealed(codec))
        with httpx.Client(timeout=5) as http:
            assert http.post(f"{served.url}/decode", content=body).status_code == 401
            good = {"Authorization": f"Bearer {ENV_ONLY_TOKEN}"}
            assert http.post(f"{served.url}/decode", content=body, headers=good).status_code == 200
        assert "auth: bearer token" in served.text()
        assert ENV_ONLY_TOKEN not in served.text()
    finally:
        _stop(served)


def test_token_on_the_command_line_warns(keys_file: Path, tmp_path: Path) -> None:
    served = _serve(tmp_path / "argv.log", "--keys", str(keys_file), "--auth-token", TOKEN)
    try:
        assert "--auth-token puts the token in the process list" in served.text()
        assert "--auth-token-file" in served.text()
    finally:
        _stop(served)


def test_unusable_token_files_are_usage_errors(keys_file: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n\n")
    for path, message in ((empty, "holds no token"), (tmp_path / "nope", "cannot read")):
        result = run_cli(
            nexus_cmd("codec-server", "--keys", str(keys_file), "--auth-token-file", str(path))
        )
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    loose = tmp_path / "loose-token"
    loose.write_text(TOKEN)
    loose.chmod(0o644)
    served = _serve(
        tmp_path / "loose.log", "--keys", str(keys_file), "--auth-token-file", str(loose)
    )
    try:
        assert f"the auth token file {loose} has mode 0644" in served.text()
        assert f"chmod 600 {loose}" in served.text() and TOKEN not in served.text()
    finally:
        _stop(served)
