"""Payload encryption: an AES-256-GCM payload codec with key ids, so keys can be rotated.

Every payload a client or worker sends to Temporal (workflow and activity inputs and results,
signals, queries, memos, activity summaries, failure details) is replaced by::

    metadata: {encoding: binary/encrypted, encryption-key-id: <id>}
    data:     <96-bit random nonce> || AES-256-GCM(<the original Payload, serialized>)

The original payload's own metadata (its JSON encoding, say) is encrypted with it. The key id
is authenticated as associated data, so neither the ciphertext nor its key id can be changed
unnoticed. Failure messages and stack traces are moved into an encoded payload by
:func:`data_converter` (``encode_common_attributes``), so they are encrypted too.

Keys come from configuration, never from code: ``NEXUS_CODEC_KEYS`` (``k2:BASE64,k1:BASE64``)
or a key file (the same entries, one per line, ``#`` comments; ``--codec-keys FILE`` or
``NEXUS_CODEC_KEYS_FILE``). The first key encrypts; every key decrypts, so a rotation is: put
the new key first, keep the old ones until no history needs them. Key material is never logged
or shown in a ``repr``.

:func:`decrypt_history` decrypts a history fetched raw (for replay, audit or inspection).

The codec runs in the client and in the worker process outside the workflow sandbox (the SDK
encodes and decodes around workflow activations), so its random nonces do not affect replay.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import re
import secrets
import stat
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.client import WorkflowHistory
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverter,
    DefaultFailureConverterWithEncodedAttributes,
    FailureConverter,
    PayloadCodec,
    PayloadConverter,
)
from temporalio.exceptions import ApplicationError

from nexus_temporal.errors import NexusTemporalError

#: ``encoding`` metadata of an encrypted payload.
ENCODING = b"binary/encrypted"
#: Metadata naming the key a payload is encrypted with.
KEY_ID = "encryption-key-id"
#: Inline keys: ``id:base64key`` entries separated by commas (or whitespace), active first.
ENV_KEYS = "NEXUS_CODEC_KEYS"
#: A key file, when no ``--codec-keys`` flag is given (it wins over ``NEXUS_CODEC_KEYS``).
ENV_KEYS_FILE = "NEXUS_CODEC_KEYS_FILE"

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # 96 bits, GCM's standard nonce
TAG_BYTES = 16  # GCM's authentication tag, appended to the ciphertext
_AAD_PREFIX = b"nexus-codec/v1:"
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _valid_id(key_id: str) -> bool:
    """A well-formed key id that is not itself a key: URL-safe base64 of 32 bytes without
    padding (43 characters) is a valid id by its alphabet, and an entry with its id and key
    swapped must not get its key echoed in the error that names the id."""
    if not _KEY_ID.match(key_id):
        return False
    if len(key_id) in (43, 44):
        norm = key_id.replace("-", "+").replace("_", "/")
        try:
            decoded = base64.b64decode(norm + "=" * (-len(norm) % 4), validate=True)
        except (binascii.Error, ValueError):
            return True
        return len(decoded) != KEY_BYTES
    return True


class CodecError(NexusTemporalError):
    """A payload cannot be decrypted: unknown key id, wrong key, or tampered data."""


class UnknownKeyError(CodecError):
    """A payload names a key id that is not configured here."""

    def __init__(self, key_id: str, known: Sequence[str]) -> None:
        self.key_id = key_id
        super().__init__(
            f"payload is encrypted with key id '{key_id}', which is not configured here "
            f"(configured: {', '.join(known) or 'none'}); add that key to {ENV_KEYS} or the "
            "key file (after the active key) to read it"
        )


class CodecConfigError(NexusTemporalError, ValueError):
    """The key configuration is invalid (reported to the user in one line, exit code 2)."""


def new_key() -> str:
    """A fresh random AES-256 key, base64-encoded (for a key file or ``NEXUS_CODEC_KEYS``)."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


class KeyRing:
    """Named AES-256 keys; the first is the active one that encrypts, all of them decrypt."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise CodecConfigError("no encryption keys given")
        self._ids: tuple[str, ...] = tuple(k for k, _ in keys)
        self._ciphers: dict[str, AESGCM] = {}
        for key_id, key in keys:
            if not _valid_id(key_id):
                # not echoed: an invalid id may be a key given in the id's place
                raise CodecConfigError(
                    "invalid key id (not shown): use 1-64 letters, digits, '.', '_' or '-'"
                )
            if key_id in self._ciphers:
                raise CodecConfigError(f"key id '{key_id}' is given twice")
            if len(key) != KEY_BYTES:
                raise CodecConfigError(
                    f"key '{key_id}' is {len(key)} bytes; AES-256 needs {KEY_BYTES} "
                    "(make one with: openssl rand -base64 32)"
                )
            self._ciphers[key_id] = AESGCM(key)

    @property
    def active_id(self) -> str:
        """The id of the key new payloads are encrypted with."""
        return self._ids[0]

    @property
    def ids(self) -> tuple[str, ...]:
        """Every configured key id, active first."""
        return self._ids

    def cipher(self, key_id: str) -> AESGCM:
        try:
            return self._ciphers[key_id]
        except KeyError:
            raise UnknownKeyError(key_id, self._ids) from None

    def __repr__(self) -> str:  # ids only: key material never reaches a log
        return f"KeyRing(active={self.active_id!r}, ids={list(self._ids)!r})"

    @classmethod
    def parse(cls, text: str, source: str = ENV_KEYS) -> KeyRing:
        """Keys from ``id:base64key`` entries separated by commas, spaces or newlines; ``#``
        starts a comment. ``source`` names where the text came from, for error messages.

        An error names the source, the line and the entry, and the key id once it is known
        to be a valid id; never the text of an entry, which may be a key (a bare key, or an
        entry with its id and key swapped)."""
        entries: list[tuple[str, bytes]] = []
        number = 0
        for lineno, line in enumerate(text.splitlines(), 1):
            for entry in re.split(r"[,\s]+", line.split("#", 1)[0]):
                if not entry:
                    continue
                number += 1
                where = f"{source}: line {lineno}, entry {number}"
                key_id, sep, encoded = entry.partition(":")
                if not sep or not key_id:
                    what = "an entry without an id" if sep else "an entry without ':'"
                    raise CodecConfigError(
                        f"{where}: expected 'id:base64key' entries separated by commas or "
                        f"newlines (e.g. 'k1:<output of openssl rand -base64 32>'), got {what}"
                    )
                if not _valid_id(key_id):
                    raise CodecConfigError(
                        f"{where}: invalid key id (use 1-64 letters, digits, '.', '_' or '-'; "
                        "are the id and the key swapped? the form is 'id:base64key'); "
                        "the entry is not shown, it may hold a key"
                    )
                if not encoded:
                    raise CodecConfigError(f"{where}: no key after '{key_id}:'")
                norm = encoded.replace("-", "+").replace("_", "/")
                try:
                    key = base64.b64decode(norm + "=" * (-len(norm) % 4), validate=True)
                except (binascii.Error, ValueError):
                    raise CodecConfigError(f"{where}: key '{key_id}' is not valid base64") from None
                entries.append((key_id, key))
        if not entries:
            raise CodecConfigError(f"{source}: no keys (expected 'id:base64key' entries)")
        try:
            return cls(entries)
        except CodecConfigError as exc:
            raise CodecConfigError(f"{source}: {exc}") from None

    @classmethod
    def load(
        cls, file: str | Path | None = None, environ: Mapping[str, str] | None = None
    ) -> KeyRing | None:
        """The configured keys: ``file``, else ``$NEXUS_CODEC_KEYS_FILE``, else
        ``$NEXUS_CODEC_KEYS``; ``None`` when none is set (no encryption)."""
        env = os.environ if environ is None else environ
        path = file or env.get(ENV_KEYS_FILE)
        if path:
            warn_if_exposed(path, "codec key file")
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                raise CodecConfigError(
                    f"cannot read the codec key file {path}: {exc.strerror or exc}"
                ) from None
            return cls.parse(text, str(path))
        inline = env.get(ENV_KEYS, "").strip()
        return cls.parse(inline, ENV_KEYS) if inline else None


_warned: set[tuple[str, int]] = set()


def warn_if_exposed(path: str | Path, what: str) -> bool:
    """Warn on stderr (once per file and mode) when a secret file is readable or writable by
    its group or by others; True if so. The file is still used: refusing would break
    deployments whose mounted secrets have such modes, and the operator gets told how to fix
    it. A file that cannot be stat'ed is left to the caller's read to report."""
    if os.name == "nt":  # no POSIX modes to check
        return False
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return False
    if not mode & 0o077:
        return False
    if (str(path), mode) not in _warned:
        _warned.add((str(path), mode))
        print(
            f"nexus: WARNING: the {what} {path} has mode {mode:04o}: other users of this "
            f"machine can {'change' if mode & 0o022 else 'read'} it; run: chmod 600 {path}",
            file=sys.stderr,
            flush=True,
        )
    return True


def write_secret_file(path: str | Path, line: str) -> bool:
    """Append ``line`` to the secret file ``path``, creating it with mode 0600 if it does not
    exist (atomically: ``O_CREAT | O_EXCL`` with the mode, never a window with a wider one);
    True if the file was created."""
    data = (line.rstrip("\n") + "\n").encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        created = True
    except FileExistsError:
        warn_if_exposed(path, "codec key file")
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        created = False
        with open(path, "rb") as existing:  # start on a line of its own
            existing.seek(0, os.SEEK_END)
            if existing.tell():
                existing.seek(-1, os.SEEK_END)
                if existing.read(1) != b"\n":
                    data = b"\n" + data
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    return created


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM payload codec: encrypts with the active key, decrypts with the key each
    payload names. Payloads that are not encrypted pass through :meth:`decode` unchanged, and
    already encrypted ones through :meth:`encode`."""

    def __init__(self, keys: KeyRing) -> None:
        self.keys = keys

    def encrypt(self, payload: Payload) -> Payload:
        """``payload`` encrypted with the active key (unchanged if already encrypted)."""
        if payload.metadata.get("encoding") == ENCODING:
            return payload
        key_id = self.keys.active_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = self.keys.cipher(key_id).encrypt(
            nonce, payload.SerializeToString(deterministic=True), _AAD_PREFIX + key_id.encode()
        )
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID: key_id.encode()}, data=nonce + sealed
        )

    def decrypt(self, payload: Payload) -> Payload:
        """The original of an encrypted ``payload`` (others are returned unchanged).

        Raises:
            UnknownKeyError: the payload's key id is not configured.
            CodecError: the data was changed, or the key under that id is not the one used.
        """
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        if not key_id:
            raise CodecError(f"encrypted payload without the '{KEY_ID}' metadata")
        if not _KEY_ID.match(key_id):  # not echoed: it comes from whoever sent the payload
            raise CodecError(f"encrypted payload with an invalid '{KEY_ID}'")
        cipher = self.keys.cipher(key_id)
        data = payload.data
        if len(data) < NONCE_BYTES + TAG_BYTES:
            raise CodecError(
                f"payload encrypted with key id '{key_id}' is too short: {len(data)} bytes, "
                f"at least {NONCE_BYTES + TAG_BYTES} (nonce and tag) expected"
            )
        try:
            plain = cipher.decrypt(
                data[:NONCE_BYTES], data[NONCE_BYTES:], _AAD_PREFIX + key_id.encode()
            )
        except InvalidTag:
            raise CodecError(
                f"payload encrypted with key id '{key_id}' failed authentication: it was "
                f"altered, or the key configured as '{key_id}' is not the one that encrypted it"
            ) from None
        original = Payload()
        try:
            original.ParseFromString(plain)
        except DecodeError:  # authentic, so encrypted by a key holder, but not by this codec
            raise CodecError(
                f"payload encrypted with key id '{key_id}' does not hold a Temporal payload"
            ) from None
        return original

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]


class NexusFailureConverter(DefaultFailureConverter):
    """The default failure converter, except that an ``ApplicationError`` gets no stack trace.

    An ``ApplicationError`` is a failure raised on purpose: a NEXUS failure of the workflow
    (its type, message, state and details say everything), or a business error a function or a
    provider raises (``InsufficientFunds``). Its stack would only show the worker's local paths
    in the Web UI and ``temporal workflow show``. Any other exception (a ``ValueError`` from a
    bug in user code) keeps its stack in the failure, where it helps debugging. Stack traces are
    not part of Temporal's determinism check, so replaying older histories is unaffected.
    """

    def __init__(self, *, encode_common_attributes: bool = False) -> None:
        super().__init__(encode_common_attributes=False)
        self._encode_attributes = encode_common_attributes

    def to_failure(
        self, exception: BaseException, payload_converter: PayloadConverter, failure: Failure
    ) -> None:
        # Causes are converted through this method too, so each link of the chain is handled.
        super().to_failure(exception, payload_converter, failure)
        if isinstance(exception, ApplicationError):
            failure.stack_trace = ""
        if self._encode_attributes:  # as DefaultFailureConverter(encode_common_attributes=True)
            failure.encoded_attributes.CopyFrom(
                payload_converter.to_payloads(
                    [{"message": failure.message, "stack_trace": failure.stack_trace}]
                )[0]
            )
            failure.message = "Encoded failure"
            failure.stack_trace = ""


class NexusFailureConverterWithEncodedAttributes(NexusFailureConverter):
    """:class:`NexusFailureConverter` that moves message and stack trace into an encoded
    attribute payload (encrypted by the codec), like the SDK's ``...WithEncodedAttributes``."""

    def __init__(self) -> None:
        super().__init__(encode_common_attributes=True)


_NEXUS_FAILURES: dict[type[FailureConverter], type[FailureConverter]] = {
    DefaultFailureConverter: NexusFailureConverter,
    DefaultFailureConverterWithEncodedAttributes: NexusFailureConverterWithEncodedAttributes,
}


def nexus_failures(converter: DataConverter) -> DataConverter:
    """``converter`` with :class:`NexusFailureConverter` in place of the SDK's default failure
    converter (encoded attributes kept); a custom failure converter is left alone. The worker
    assembly applies it to its client's converter, so every worker shapes failures alike."""
    replacement = _NEXUS_FAILURES.get(converter.failure_converter_class)
    if replacement is None:
        return converter
    return dataclasses.replace(converter, failure_converter_class=replacement)


def data_converter(keys: KeyRing | None) -> DataConverter:
    """The data converter clients and workers share: the default one without keys; with keys,
    payloads encrypted by :class:`EncryptionCodec` and failure messages and stack traces moved
    into an encrypted payload. Workers use it through :func:`nexus_failures`."""
    if keys is None:
        return DataConverter.default
    return DataConverter(
        payload_codec=EncryptionCodec(keys),
        failure_converter_class=NexusFailureConverterWithEncodedAttributes,
    )


def decrypt_payloads(message: Message, codec: EncryptionCodec) -> int:
    """Decrypt, in place, every encrypted payload anywhere in ``message`` (a history event, a
    failure, ...); returns how many. Raises :class:`CodecError` as :meth:`EncryptionCodec.decrypt`.
    """
    if isinstance(message, Payload):
        original = codec.decrypt(message)
        if original is message:
            return 0
        message.CopyFrom(original)
        return 1
    count = 0
    for field, value in message.ListFields():
        if field.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        if isinstance(value, Message):
            items: list[Any] = [value]
        elif hasattr(value, "values"):  # a map field
            items = list(value.values())
        else:  # a repeated field
            items = list(value)
        for item in items:
            if isinstance(item, Message):
                count += decrypt_payloads(item, codec)
    return count


def decrypt_history(history: WorkflowHistory, codec: EncryptionCodec) -> WorkflowHistory:
    """A copy of ``history`` (fetched raw from the server or loaded from a file) with its
    payloads decrypted, for tools that read payloads themselves (replay, audit, export)."""
    events = []
    for event in history.events:
        copy = type(event)()
        copy.CopyFrom(event)
        decrypt_payloads(copy, codec)
        events.append(copy)
    return WorkflowHistory(history.workflow_id, events)
