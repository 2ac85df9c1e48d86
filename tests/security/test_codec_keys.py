"""Key files: a mistake in one never prints key material; a key file other users can read is
called out loudly; key files the tool writes are created 0600 (never a window with a wider
mode). Through the real ``nexus codec-server`` command where the CLI is the attack surface."""

from __future__ import annotations

import base64
import os
import re
import signal
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from nexus_temporal.codec import CodecConfigError, KeyRing, new_key
from tests.helpers.processes import kill_group, nexus_cmd, run_cli, spawn, wait_for_line


def _material() -> tuple[str, list[str]]:
    """A key, and every form of it that must never appear in an error: standard base64 and
    URL-safe base64 without padding, and long pieces of each."""
    key = new_key()
    urlsafe = key.replace("+", "-").replace("/", "_").rstrip("=")
    return key, [key, urlsafe, key[:16], urlsafe[-16:], key[8:24]]


def _leaks(text: str, forms: list[str]) -> list[str]:
    return [f for f in forms if f in text]


def _key_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_malformed_entries_never_echo_key_material() -> None:
    key, forms = _material()
    urlsafe = forms[1]
    other = new_key()
    cases = {
        f"{key}:k1": "invalid key id",  # id and key swapped
        f"{urlsafe}:k1": "invalid key id",  # swapped, URL-safe: an id by its alphabet alone
        f"k2:{other}\n{key}:k1": "line 2, entry 2: invalid key id",
        f"{key}": "without ':'",  # the id forgotten
        f":{key}": "without an id",
        f"{key}:": "invalid key id",
        f"k1:{key[:20]}": "is 15 bytes",  # a truncated key
        f"k1:{key}:{key}": "not valid base64",
        f"k1:{key}\nk1:{other}": "given twice",
        f"k1 {key}": "without ':'",  # a space instead of the colon
    }
    for text, expected in cases.items():
        with pytest.raises(CodecConfigError) as caught:
            KeyRing.parse(text, "keys.txt")
        message = str(caught.value)
        assert expected in message, (text, message)
        assert message.startswith("keys.txt"), message  # names where, not what
        assert _leaks(message, forms + [other]) == [], (text, message)
    # programmatic key rings: the same rule for an id that is a key
    with pytest.raises(CodecConfigError) as caught:
        KeyRing([(urlsafe, os.urandom(32))])
    assert _leaks(str(caught.value), forms) == []


def test_reversed_key_file_entry_through_the_cli(tmp_path: Path) -> None:
    key, forms = _material()
    keys = _key_file(tmp_path / "keys.txt", f"# rotated\nk2:{new_key()}\n{key}:k1\n")
    result = run_cli(nexus_cmd("codec-server", "--keys", str(keys), "--port", "0"))
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("nexus: error:") and f"{keys}: line 3, entry 2" in line, line
    assert "swapped" in line
    assert _leaks(result.stderr + result.stdout, forms) == []
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("mode", [0o666, 0o644, 0o640, 0o604])
def test_loose_key_file_modes_warn(
    tmp_path: Path, mode: int, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = _key_file(tmp_path / f"keys-{mode:o}.txt", f"k1:{new_key()}\n", mode)
    assert KeyRing.load(keys) is not None  # still used: the operator is told, not stopped
    err = capsys.readouterr().err
    assert f"{keys} has mode {mode:04o}" in err, err
    assert f"chmod 600 {keys}" in err and "WARNING" in err
    assert ("change" in err) == bool(mode & 0o022)  # writable by others: they can swap keys
    assert keys.read_text().split(":")[1].strip() not in err


def test_private_key_file_does_not_warn(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for mode in (0o600, 0o400):
        keys = _key_file(tmp_path / f"keys-{mode:o}.txt", f"k1:{new_key()}\n", mode)
        assert KeyRing.load(keys) is not None
        assert KeyRing.load(environ={"NEXUS_CODEC_KEYS_FILE": str(keys)}) is not None
    assert capsys.readouterr().err == ""


@pytest.fixture
def loose_server(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    keys = _key_file(tmp_path / "world.txt", f"k1:{new_key()}\n", 0o666)
    log = tmp_path / "server.log"
    proc = spawn(nexus_cmd("codec-server", "--port", "0", "--keys", str(keys)), log)
    try:
        wait_for_line(log, "codec server listening on", proc, timeout=60)
        yield keys, log.read_text()
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        kill_group(proc)


def test_codec_server_warns_about_a_world_readable_key_file(
    loose_server: tuple[Path, str],
) -> None:
    keys, output = loose_server
    [warning] = [line for line in output.splitlines() if "WARNING" in line]
    assert f"the codec key file {keys} has mode 0666" in warning
    assert f"chmod 600 {keys}" in warning
    key = keys.read_text().split(":", 1)[1].strip()
    assert key not in output


def test_new_key_file_is_created_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    keys = tmp_path / "new-keys.txt"
    old = os.umask(0)  # the children inherit it: the mode must come from os.open itself
    try:
        first = run_cli(nexus_cmd("codec-server", "--new-key", "k1", "--add-to", str(keys)))
    finally:
        os.umask(old)
    assert first.returncode == 0, first.stderr
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    assert "created (mode 0600)" in first.stdout
    key = keys.read_text().strip().split(":", 1)[1]
    assert len(base64.b64decode(key)) == 32
    assert key not in first.stdout + first.stderr  # the key goes to the file only

    second = run_cli(nexus_cmd("codec-server", "--new-key", "k2", "--add-to", str(keys)))
    assert second.returncode == 0 and "appended to" in second.stdout, second.stderr
    ring = KeyRing.load(keys)
    assert ring is not None and ring.ids == ("k1", "k2")  # added last: k1 still encrypts
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600

    again = run_cli(nexus_cmd("codec-server", "--new-key", "k1", "--add-to", str(keys)))
    assert again.returncode == 2 and "already has a key 'k1'" in again.stderr
    broken = _key_file(tmp_path / "broken.txt", f"{new_key()}:k1\n")
    refused = run_cli(nexus_cmd("codec-server", "--new-key", "k3", "--add-to", str(broken)))
    assert refused.returncode == 2 and "not adding to it" in refused.stderr
    assert broken.read_text().count("\n") == 1  # left as it was
    assert "Traceback" not in again.stderr + refused.stderr


def test_new_key_on_stdout_and_invalid_ids(tmp_path: Path) -> None:
    printed = run_cli(nexus_cmd("codec-server", "--new-key", "prod-2025"))
    assert printed.returncode == 0
    assert re.fullmatch(r"prod-2025:[A-Za-z0-9+/]{43}=\n", printed.stdout), printed.stdout
    bad = run_cli(nexus_cmd("codec-server", "--new-key", "bad/id"))
    assert bad.returncode == 2 and "invalid key id" in bad.stderr
    stray = run_cli(nexus_cmd("codec-server", "--add-to", str(tmp_path / "k.txt")))
    assert stray.returncode == 2 and "--add-to goes with --new-key" in stray.stderr
