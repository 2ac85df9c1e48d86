"""Map item sources and result stores: local files (the embedded default) or S3 via boto3.

Activity code. Items are read in pages so no execution ever carries more than one page in a
payload; results are written as JSONL part files so big results never enter history.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

COUNT_ITEMS = "nexus.count_items"
READ_ITEMS = "nexus.read_items"
STORE_RESULTS = "nexus.store_results"
DEFAULT_STORE = ".nexus/results"


@dataclass
class SourceRef:
    path: str
    format: str | None = None

    @property
    def kind(self) -> str:
        if self.format:
            return self.format
        lower = self.path.lower()
        return "jsonl" if lower.endswith(".jsonl") else "csv" if lower.endswith(".csv") else "json"


@dataclass
class ReadItems:
    source: SourceRef
    start: int
    count: int


@dataclass
class StoreResults:
    store: str
    key: str
    start: int
    results: list[Any]


def _s3_split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def s3_client() -> Any:
    """A boto3 S3 client; ``NEXUS_S3_ENDPOINT_URL`` points it at a local S3 (e.g. moto)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=os.environ.get("NEXUS_S3_ENDPOINT_URL") or None,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def _read_bytes(path: str) -> tuple[bytes, str]:
    """The source's bytes and a version tag (mtime/ETag) for the cache."""
    if path.startswith("s3://"):
        bucket, key = _s3_split(path)
        obj = s3_client().get_object(Bucket=bucket, Key=key)
        return obj["Body"].read(), str(obj.get("ETag"))
    p = Path(path)
    return p.read_bytes(), f"{p.stat().st_mtime_ns}:{p.stat().st_size}"


def _parse(data: bytes, kind: str) -> list[Any]:
    text = data.decode("utf-8")
    if kind == "jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if kind == "csv":
        return list(csv.DictReader(io.StringIO(text)))
    items = json.loads(text)
    if not isinstance(items, list):
        raise ValueError("a JSON item source must hold a list")
    return items


_CACHE: OrderedDict[tuple[str, str], list[Any]] = OrderedDict()
_LOCK = threading.Lock()


def load_items(source: SourceRef) -> list[Any]:
    """Parsed items, cached per process by path and version (shards of one map share it)."""
    try:
        data, version = _read_bytes(source.path)
    except FileNotFoundError:
        raise ApplicationError(
            f"item source {source.path} does not exist",
            type="ItemSourceNotFound",
            non_retryable=True,
        ) from None
    key = (source.path, version)
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    try:
        items = _parse(data, source.kind)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApplicationError(
            f"item source {source.path} is not valid {source.kind}: {exc}",
            type="InvalidItemSource",
            non_retryable=True,
        ) from None
    with _LOCK:
        _CACHE[key] = items
        while len(_CACHE) > 4:
            _CACHE.popitem(last=False)
    return items


@activity.defn(name=COUNT_ITEMS)
async def count_items(source: SourceRef) -> int:
    return len(await asyncio.to_thread(load_items, source))


@activity.defn(name=READ_ITEMS)
async def read_items(request: ReadItems) -> list[Any]:
    items = await asyncio.to_thread(load_items, request.source)
    return items[request.start : request.start + request.count]


@activity.defn(name=STORE_RESULTS)
async def store_results(request: StoreResults) -> dict[str, Any]:
    return await asyncio.to_thread(_store, request)


def _store(request: StoreResults) -> dict[str, Any]:
    """Write one JSONL part: a line ``{"index": i, "result": ...}`` per item."""
    body = "".join(
        json.dumps({"index": request.start + i, "result": r}, default=str) + "\n"
        for i, r in enumerate(request.results)
    ).encode()
    if request.store.startswith("s3://"):
        bucket, prefix = _s3_split(request.store.rstrip("/"))
        key = f"{prefix}/{request.key}" if prefix else request.key
        s3_client().put_object(Bucket=bucket, Key=key, Body=body)
        location = f"s3://{bucket}/{key}"
    else:
        target = Path(request.store) / request.key
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(body)
        tmp.replace(target)  # atomic: a retried attempt never leaves a half-written part
        location = str(target)
    return {"part": location, "items": len(request.results)}


ACTIVITIES: list[Callable[..., Any]] = [count_items, read_items, store_results]
