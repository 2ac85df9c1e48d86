"""Map item sources and result stores: local files (the embedded default) or S3 via boto3.

Activity code. Items are read in pages so no execution ever carries more than one page in a
payload; results are written as JSONL part files so big results never enter history.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import os
import stat
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from nexus_temporal.protocol import (
    COUNT_ITEMS,
    DEFAULT_STORE,
    READ_ITEMS,
    STORE_RESULTS,
    ReadItems,
    SourceRef,
    StoreResults,
    path_segment,
)

#: Operator setting: extra roots (local directories or ``s3://bucket/prefix``) item sources
#: may be read from besides the paths the definitions name literally; os.pathsep-separated.
ITEM_ROOTS_ENV = "NEXUS_ITEM_ROOTS"


def _refused(what: str, path: str, why: str) -> ApplicationError:
    return ApplicationError(
        f"{what} '{path}' is refused: {why} (docs/security.md, 'Item sources and result stores')",
        type="PathNotAllowed",
        non_retryable=True,
    )


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


@dataclass(frozen=True)
class ItemAccess:
    """The item sources and result stores this worker's item activities may touch.

    Sources: the paths the served definitions name literally (trusted, deployed with the
    worker), and files under the roots the operator configures (``NEXUS_ITEM_ROOTS``); local
    ones must be regular files, and a path under a root must not leave it through ``..`` or a
    symlink. Stores: the ``result_store`` values of the definitions (and the default); every
    part file stays under its store.
    """

    sources: frozenset[str] = frozenset()
    roots: tuple[str, ...] = ()
    stores: frozenset[str] = field(default_factory=lambda: frozenset({DEFAULT_STORE}))

    @classmethod
    def of(
        cls,
        sources: Iterable[str],
        stores: Iterable[str] = (),
        roots: Iterable[str] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> ItemAccess:
        """Access for these literal sources and stores, plus ``roots`` (default: from
        ``NEXUS_ITEM_ROOTS``)."""
        if roots is None:
            env = os.environ if environ is None else environ
            roots = [r for r in env.get(ITEM_ROOTS_ENV, "").split(os.pathsep) if r.strip()]
        return cls(
            sources=frozenset(_normal(s) for s in sources),
            roots=tuple(r if r.startswith("s3://") else os.path.realpath(r) for r in roots),
            stores=frozenset({DEFAULT_STORE, *stores}),
        )

    def check_source(self, path: str) -> None:
        """Raise ``PathNotAllowed`` unless ``path`` may be read as an item source."""
        if path.startswith("s3://"):
            if path in self.sources or any(
                r.startswith("s3://") and path.startswith(r.rstrip("/") + "/") for r in self.roots
            ):
                if "/../" not in path and not path.endswith("/.."):
                    return
            raise _refused("item source", path, "no definition names it and no root holds it")
        if _normal(path) in self.sources:
            real = path
        else:
            real = os.path.realpath(path)
            if not any(_within(real, r) for r in self.roots if not r.startswith("s3://")):
                raise _refused(
                    "item source", path, "no definition names it and no configured root holds it"
                )
        try:
            st = os.stat(real)
        except FileNotFoundError:
            raise _not_found(path) from None
        if not stat.S_ISREG(st.st_mode):
            raise _refused("item source", path, "it is not a regular file")

    def check_store(self, store: str, key: str) -> None:
        """Raise ``PathNotAllowed`` unless ``key`` names a part file inside ``store``."""
        if store not in self.stores:
            raise _refused("result store", store, "no definition names it")
        parts = key.split("/")
        if key.startswith("/") or "\\" in key or any(p in ("", ".", "..") for p in parts):
            raise _refused("result key", key, "it leaves the result store")
        if not store.startswith("s3://"):
            root = os.path.realpath(store)
            if not _within(os.path.realpath(os.path.join(root, key)), root):
                raise _refused("result key", key, "it leaves the result store")


def _normal(path: str) -> str:
    return path if path.startswith("s3://") else os.path.normpath(path)


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


#: Every STRIDE-th item's byte offset is indexed, so a page read seeks instead of scanning.
STRIDE = 1000


def cache_dir() -> Path:
    """Where S3 item sources are cached (``NEXUS_CACHE_DIR``), read when first needed."""
    return Path(os.environ.get("NEXUS_CACHE_DIR", ".nexus/cache"))


def _not_found(path: str) -> ApplicationError:
    return ApplicationError(
        f"item source {path} does not exist", type="ItemSourceNotFound", non_retryable=True
    )


def _local_copy(path: str) -> tuple[Path, str]:
    """A local file for ``path`` and its version tag (mtime/size, or the S3 ETag).

    S3 objects are downloaded once per worker and version into the cache directory, so shards
    read their pages from local disk instead of downloading the object again."""
    if not path.startswith("s3://"):
        p = Path(path)
        try:
            st = p.stat()
        except FileNotFoundError:
            raise _not_found(path) from None
        return p, f"{st.st_mtime_ns}:{st.st_size}"
    bucket, key = _s3_split(path)
    client = s3_client()
    try:
        etag = str(client.head_object(Bucket=bucket, Key=key)["ETag"]).strip('"')
    except client.exceptions.ClientError:
        raise _not_found(path) from None
    target = cache_dir() / "s3" / hashlib.sha256(f"{path}@{etag}".encode()).hexdigest()
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        client.download_file(bucket, key, str(tmp))
        tmp.replace(target)
    return target, etag


@dataclass
class _Index:
    """A line-oriented source (JSONL, or CSV with one record per line) and its offsets."""

    file: Path
    kind: str
    count: int
    offsets: list[int]
    header: list[str] | None


def _build_index(file: Path, kind: str) -> _Index:
    offsets: list[int] = []
    count = 0
    header = None
    with file.open("rb") as f:
        if kind == "csv":
            first = f.readline().decode("utf-8")
            header = next(csv.reader([first]), [])
        while True:
            pos = f.tell()
            line = f.readline()
            if not line:
                break
            if not line.strip():
                continue
            if count % STRIDE == 0:
                offsets.append(pos)
            count += 1
    return _Index(file, kind, count, offsets, header)


def _parse_line(line: bytes, index: _Index) -> Any:
    text = line.decode("utf-8")
    if index.kind == "jsonl":
        return json.loads(text)
    row = next(csv.reader([text]))
    return dict(zip(index.header or [], row, strict=False))


_CACHE: OrderedDict[tuple[str, str], Any] = OrderedDict()
_LOCK = threading.Lock()


def _cached(key: tuple[str, str], build: Callable[[], Any]) -> Any:
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    value = build()
    with _LOCK:
        _CACHE[key] = value
        while len(_CACHE) > 8:
            _CACHE.popitem(last=False)
    return value


def _invalid(source: SourceRef, exc: Exception) -> ApplicationError:
    return ApplicationError(
        f"item source {source.path} is not valid {source.kind}: {exc}",
        type="InvalidItemSource",
        non_retryable=True,
    )


def _source(source: SourceRef) -> _Index | list[Any]:
    """An index for JSONL/CSV (read by page), or the parsed list for a JSON file."""
    file, version = _local_copy(source.path)
    kind = source.kind

    def build() -> _Index | list[Any]:
        try:
            if kind == "json":
                items = json.loads(file.read_text("utf-8"))
                if not isinstance(items, list):
                    raise ValueError("a JSON item source must hold a list")
                return items
            return _build_index(file, kind)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _invalid(source, exc) from None

    return _cached((source.path + "#" + kind, version), build)


def count(source: SourceRef) -> int:
    src = _source(source)
    return len(src) if isinstance(src, list) else src.count


def page(source: SourceRef, start: int, size: int) -> list[Any]:
    """Items ``start .. start + size - 1`` without reading the rest of the source."""
    src = _source(source)
    if isinstance(src, list):
        return src[start : start + size]
    if start >= src.count or size <= 0:
        return []
    out: list[Any] = []
    with src.file.open("rb") as f:
        f.seek(src.offsets[start // STRIDE])
        skip = start % STRIDE
        while len(out) < size:
            line = f.readline()
            if not line:
                break
            if not line.strip():
                continue
            if skip:
                skip -= 1
                continue
            try:
                out.append(_parse_line(line, src))
            except (ValueError, UnicodeDecodeError) as exc:
                raise _invalid(source, exc) from None
    return out


def item_activities(access: ItemAccess) -> list[Callable[..., Any]]:
    """The item activities of a worker, each checking ``access`` before any I/O."""

    @activity.defn(name=COUNT_ITEMS)
    async def count_items(source: SourceRef) -> int:
        access.check_source(source.path)
        return await asyncio.to_thread(count, source)

    @activity.defn(name=READ_ITEMS)
    async def read_items(request: ReadItems) -> list[Any]:
        access.check_source(request.source.path)
        return await asyncio.to_thread(page, request.source, request.start, request.count)

    @activity.defn(name=STORE_RESULTS)
    async def store_results(request: StoreResults) -> dict[str, Any]:
        access.check_store(request.store, request.key)
        return await asyncio.to_thread(_store, request)

    return [count_items, read_items, store_results]


def _store(request: StoreResults) -> dict[str, Any]:
    """Write one JSONL part: a line ``{"index": i, "result": ...}`` per item (with
    ``indexes``: per item that ran, at its index)."""
    indexes = (
        range(request.start, request.start + len(request.results))
        if request.indexes is None
        else request.indexes
    )
    if len(indexes) != len(request.results):
        raise ApplicationError(
            f"{len(request.results)} results for {len(indexes)} indexes",
            type="InvalidStoreRequest",
            non_retryable=True,
        )
    body = "".join(
        json.dumps({"index": i, "result": r}, default=str) + "\n"
        for i, r in zip(indexes, request.results, strict=True)
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


__all__ = [
    "COUNT_ITEMS",
    "DEFAULT_STORE",
    "ITEM_ROOTS_ENV",
    "READ_ITEMS",
    "STORE_RESULTS",
    "ItemAccess",
    "ReadItems",
    "SourceRef",
    "StoreResults",
    "count",
    "item_activities",
    "page",
    "path_segment",
]
