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
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

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
_AAD_PREFIX = b"nexus-codec/v1:"
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class CodecError(Exception):
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


class CodecConfigError(ValueError):
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
            if not _KEY_ID.match(key_id):
                raise CodecConfigError(
                    f"invalid key id '{key_id[:64]}': use 1-64 letters, digits, '.', '_' or '-'"
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
        starts a comment. ``source`` names where the text came from, for error messages."""
        entries: list[tuple[str, bytes]] = []
        for line in text.splitlines():
            for entry in re.split(r"[,\s]+", line.split("#", 1)[0]):
                if not entry:
                    continue
                key_id, sep, encoded = entry.partition(":")
                if not sep or not key_id or not encoded:
                    # never echo the entry: without ':' it may be a bare key
                    what = (
                        "an entry without ':'"
                        if not sep
                        else "an entry without an id"
                        if not key_id
                        else f"no key after '{key_id[:64]}:'"
                    )
                    raise CodecConfigError(
                        f"{source}: expected 'id:base64key' entries separated by commas or "
                        f"newlines (e.g. 'k1:<output of openssl rand -base64 32>'), got {what}"
                    )
                norm = encoded.replace("-", "+").replace("_", "/")
                try:
                    key = base64.b64decode(norm + "=" * (-len(norm) % 4), validate=True)
                except (binascii.Error, ValueError):
                    raise CodecConfigError(
                        f"{source}: key '{key_id}' is not valid base64"
                    ) from None
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
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                raise CodecConfigError(
                    f"cannot read the codec key file {path}: {exc.strerror or exc}"
                ) from None
            return cls.parse(text, str(path))
        inline = env.get(ENV_KEYS, "").strip()
        return cls.parse(inline, ENV_KEYS) if inline else None


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
        cipher = self.keys.cipher(key_id)
        data = payload.data
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
        original.ParseFromString(plain)
        return original

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]


def data_converter(keys: KeyRing | None) -> DataConverter:
    """The data converter clients and workers share: the default one without keys; with keys,
    payloads encrypted by :class:`EncryptionCodec` and failure messages and stack traces moved
    into an encrypted payload."""
    if keys is None:
        return DataConverter.default
    return DataConverter(
        payload_codec=EncryptionCodec(keys),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
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
