"""Map item sources and result stores on S3, through real boto3 against moto's S3 server on
loopback."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from temporalio.testing import WorkflowEnvironment

from tests.helpers.run import execute, nexus_worker

FNS = "python:tests.helpers.functions"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("NEXUS_S3_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="nexus-test")
    yield client
    server.stop()


async def test_s3_item_source_and_result_store(env: WorkflowEnvironment, s3: Any) -> None:
    body = "".join(json.dumps({"n": i}) + "\n" for i in range(1200))
    s3.put_object(Bucket="nexus-test", Key="in/items.jsonl", Body=body.encode())
    yaml = f"""
    name: s3-map
    functions:
      work: {FNS}:maybe_fail
    states:
      - name: Each
        type: map
        item_source: s3://nexus-test/in/items.jsonl
        action: work
        max_concurrency: 100
        results: store
        result_store: s3://nexus-test/out
    """
    async with nexus_worker(env.client, yaml) as w:
        result = await execute(env.client, w, "s3-map", {})
    manifest = result["Each"]
    assert manifest["items"] == 1200 and manifest["parts"] == 2  # two shards, one part each
    keys = sorted(
        o["Key"] for o in s3.list_objects_v2(Bucket="nexus-test", Prefix="out/")["Contents"]
    )
    assert len(keys) == 2 and all(k.startswith(f"out/{manifest['prefix']}/part-") for k in keys)
    lines = [
        json.loads(line)
        for k in keys
        for line in s3.get_object(Bucket="nexus-test", Key=k)["Body"].read().decode().splitlines()
    ]
    assert [x["index"] for x in lines] == list(range(1200))
    assert lines[1199]["result"] == {"n": 1199, "double": 2398}
