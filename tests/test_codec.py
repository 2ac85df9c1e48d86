"""The AES-GCM payload codec and its key configuration (no Temporal needed: pure codec)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError

from nexus_temporal.client import ConnectionSettings
from nexus_temporal.codec import (
    ENCODING,
    KEY_ID,
    CodecConfigError,
    CodecError,
    EncryptionCodec,
    KeyRing,
    UnknownKeyError,
    data_converter,
    new_key,
)

SECRET = "s3cr3t-hunter2-token"


def ring(*ids: str) -> tuple[KeyRing, dict[str, str]]:
    keys = {i: new_key() for i in ids}
    return KeyRing.parse(",".join(f"{i}:{k}" for i, k in keys.items())), keys


async def test_round_trip_hides_data_and_metadata() -> None:
    keys, _ = ring("k1")
    conv = data_converter(keys)
    value = {"token": SECRET, "n": [1, 2, 3]}
    [encoded] = await conv.encode([value])
    assert encoded.metadata["encoding"] == ENCODING
    assert encoded.metadata[KEY_ID] == b"k1"
    assert SECRET.encode() not in encoded.SerializeToString()
    assert b"json/plain" not in encoded.SerializeToString()  # the inner encoding is hidden too
    assert await conv.decode([encoded]) == [value]
    # a fresh nonce per payload: the same value never encrypts to the same bytes
    [again] = await conv.encode([value])
    assert again.data != encoded.data


async def test_rotation_new_key_encrypts_old_keys_still_decrypt() -> None:
    old_ring, old = ring("k1")
    [before] = await data_converter(old_ring).encode(["written under k1"])
    new = new_key()
    rotated = KeyRing.parse(f"k2:{new}\nk1:{old['k1']}  # retired, still decrypts")
    conv = data_converter(rotated)
    assert rotated.active_id == "k2" and rotated.ids == ("k2", "k1")
    assert await conv.decode([before]) == ["written under k1"]
    [after] = await conv.encode(["written under k2"])
    assert after.metadata[KEY_ID] == b"k2"
    # the old configuration cannot read what the new key wrote, and says which key it needs
    with pytest.raises(UnknownKeyError, match="key id 'k2'") as caught:
        await data_converter(old_ring).decode([after])
    assert caught.value.key_id == "k2"


async def test_unknown_key_error_names_the_key_not_the_material() -> None:
    keys, material = ring("prod-2024")
    [encoded] = await data_converter(keys).encode([SECRET])
    other, other_material = ring("dev")
    with pytest.raises(UnknownKeyError) as caught:
        EncryptionCodec(other).decrypt(encoded)
    text = str(caught.value)
    assert "'prod-2024'" in text and "configured: dev" in text
    assert material["prod-2024"] not in text and other_material["dev"] not in text
    assert other_material["dev"] not in repr(other) and "dev" in repr(other)


@pytest.mark.parametrize("where", ["nonce", "ciphertext", "tag", "key-id"])
async def test_tampering_is_detected(where: str) -> None:
    keys, _ = ring("k1", "k2")
    codec = EncryptionCodec(keys)
    encoded = codec.encrypt(Payload(metadata={"encoding": b"json/plain"}, data=b'"pay 10"'))
    data = bytearray(encoded.data)
    metadata = dict(encoded.metadata)
    if where == "nonce":
        data[0] ^= 1
    elif where == "ciphertext":
        data[14] ^= 1
    elif where == "tag":
        data[-1] ^= 1
    else:  # relabel as the other (configured) key: the id is authenticated data
        metadata[KEY_ID] = b"k2"
    tampered = Payload(metadata=metadata, data=bytes(data))
    with pytest.raises(CodecError, match="failed authentication"):
        codec.decrypt(tampered)


async def test_same_id_different_key_is_detected() -> None:
    keys, _ = ring("k1")
    [encoded] = await data_converter(keys).encode([SECRET])
    imposter, _ = ring("k1")
    with pytest.raises(CodecError, match="key id 'k1' failed authentication"):
        await data_converter(imposter).decode([encoded])


async def test_plain_payloads_pass_through_and_nothing_is_encrypted_twice() -> None:
    keys, _ = ring("k1")
    codec = EncryptionCodec(keys)
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b"1")
    assert codec.decrypt(plain) is plain
    once = codec.encrypt(plain)
    assert codec.encrypt(once) is once
    assert codec.decrypt(once) == plain


async def test_failure_message_and_stack_trace_are_encrypted() -> None:
    keys, _ = ring("k1")
    conv = data_converter(keys)
    try:
        raise ApplicationError(f"card {SECRET} declined", {"card": SECRET}, type="Declined")
    except ApplicationError as exc:
        error = exc
    failure = Failure()
    conv.failure_converter.to_failure(error, conv.payload_converter, failure)
    assert conv.payload_codec is not None
    await conv.payload_codec.encode_failure(failure)
    raw = failure.SerializeToString()
    assert SECRET.encode() not in raw
    assert failure.message == "Encoded failure" and failure.stack_trace == ""
    assert failure.application_failure_info.type == "Declined"  # types stay routable
    decoded = await conv.decode_failure(failure)
    assert isinstance(decoded, ApplicationError)
    assert decoded.message == f"card {SECRET} declined"
    assert decoded.details == ({"card": SECRET},)


def test_key_configuration_errors_are_clear_and_never_echo_keys() -> None:
    bare = base64.b64encode(os.urandom(32)).decode()
    cases = {
        bare: "without ':'",  # forgot the id: the key itself must not be printed
        "k1:": "no key after 'k1:'",
        ":" + bare: "without an id",
        "k1:not*base64": "not valid base64",
        f"k1:{base64.b64encode(b'short').decode()}": "is 5 bytes; AES-256 needs 32",
        f"k1:{bare},k1:{bare}": "given twice",
        f"bad/id:{bare}": "invalid key id",
        " , ": "no keys",
    }
    for text, expected in cases.items():
        with pytest.raises(CodecConfigError) as caught:
            KeyRing.parse(text)
        assert expected in str(caught.value), (text, str(caught.value))
        assert bare not in str(caught.value)


def test_keys_from_env_file_and_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = new_key()
    urlsafe = key.replace("+", "-").replace("/", "_").rstrip("=")
    assert KeyRing.load(environ={}) is None
    assert KeyRing.load(environ={"NEXUS_CODEC_KEYS": f"a:{urlsafe}"}) is not None
    file = tmp_path / "keys.txt"
    file.write_text(f"# rotated 2024-06\nk2:{new_key()}\nk1:{key}\n")
    loaded = KeyRing.load(file, environ={"NEXUS_CODEC_KEYS": f"env:{key}"})
    assert loaded is not None and loaded.ids == ("k2", "k1")  # the file wins over the env
    from_env_file = KeyRing.load(environ={"NEXUS_CODEC_KEYS_FILE": str(file)})
    assert from_env_file is not None and from_env_file.active_id == "k2"
    with pytest.raises(CodecConfigError, match="cannot read the codec key file"):
        KeyRing.load(tmp_path / "missing.txt")

    monkeypatch.delenv("NEXUS_CODEC_KEYS", raising=False)
    monkeypatch.delenv("NEXUS_CODEC_KEYS_FILE", raising=False)
    assert ConnectionSettings().resolved().data_converter() is DataConverter.default
    encrypted = ConnectionSettings(codec_keys=str(file)).resolved().data_converter()
    assert isinstance(encrypted.payload_codec, EncryptionCodec)
    monkeypatch.setenv("NEXUS_CODEC_KEYS_FILE", str(file))
    via_env = ConnectionSettings().resolved().data_converter()
    assert isinstance(via_env.payload_codec, EncryptionCodec)
    assert via_env.payload_codec.keys.ids == ("k2", "k1")


def test_decrypt_payloads_reaches_maps_lists_and_nested_messages() -> None:
    from temporalio.api.common.v1 import Memo, Payloads
    from temporalio.api.history.v1 import HistoryEvent

    from nexus_temporal.codec import decrypt_payloads

    keys, _ = ring("k1")
    codec = EncryptionCodec(keys)

    def sealed(text: str) -> Payload:
        return codec.encrypt(Payload(metadata={"encoding": b"json/plain"}, data=text.encode()))

    event = HistoryEvent(event_id=1)
    started = event.workflow_execution_started_event_attributes
    started.input.CopyFrom(Payloads(payloads=[sealed('"a"'), sealed('"b"')]))  # repeated
    started.memo.CopyFrom(Memo(fields={"m": sealed('"c"')}))  # a map
    started.continued_failure.encoded_attributes.CopyFrom(sealed('"d"'))  # nested
    started.continued_failure.cause.application_failure_info.details.payloads.append(sealed('"e"'))
    started.header.fields["plain"].CopyFrom(Payload(metadata={"encoding": b"json/plain"}))
    assert decrypt_payloads(event, codec) == 5
    assert ENCODING not in event.SerializeToString()
    assert [p.data for p in started.input.payloads] == [b'"a"', b'"b"']
    assert started.memo.fields["m"].data == b'"c"'
    assert started.continued_failure.encoded_attributes.data == b'"d"'
    assert decrypt_payloads(event, codec) == 0  # nothing left to decrypt
