"""Item sources read by page through an offset index; result parts written atomically."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError

from activities import items
from activities.items import SourceRef, StoreResults, _store, count, page


@pytest.fixture(autouse=True)
def small_stride(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(items, "STRIDE", 3)


def test_jsonl_pages_skip_blank_lines_and_cross_index_strides(tmp_path: Path) -> None:
    f = tmp_path / "items.jsonl"
    f.write_text(
        "".join(json.dumps({"n": i}) + ("\n\n" if i % 4 == 0 else "\n") for i in range(20))
    )
    src = SourceRef(str(f))
    assert count(src) == 20
    assert [x["n"] for x in page(src, 0, 5)] == [0, 1, 2, 3, 4]
    assert [x["n"] for x in page(src, 7, 6)] == list(range(7, 13))
    assert [x["n"] for x in page(src, 18, 10)] == [18, 19]
    assert page(src, 25, 3) == []


def test_csv_rows_become_objects(tmp_path: Path) -> None:
    f = tmp_path / "rows.csv"
    f.write_text('id,city\n1,Amsterdam\n2,"Paris, FR"\n3,Berlin\n4,Rome\n')
    src = SourceRef(str(f))
    assert count(src) == 4
    assert page(src, 1, 2) == [{"id": "2", "city": "Paris, FR"}, {"id": "3", "city": "Berlin"}]


def test_json_list_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "list.json"
    good.write_text(json.dumps(list(range(10))))
    assert count(SourceRef(str(good))) == 10 and page(SourceRef(str(good)), 8, 5) == [8, 9]
    bad = tmp_path / "obj.json"
    bad.write_text('{"not": "a list"}')
    with pytest.raises(ApplicationError) as info:
        count(SourceRef(str(bad)))
    assert info.value.type == "InvalidItemSource" and info.value.non_retryable
    with pytest.raises(ApplicationError) as missing:
        count(SourceRef(str(tmp_path / "nope.jsonl")))
    assert missing.value.type == "ItemSourceNotFound"


def test_store_writes_indexed_jsonl_part(tmp_path: Path) -> None:
    out = _store(
        StoreResults(
            store=str(tmp_path),
            key="wf/Each/part-0000000005.jsonl",
            start=5,
            results=[{"a": 1}, None],
        )
    )
    lines = (tmp_path / "wf/Each/part-0000000005.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in lines] == [
        {"index": 5, "result": {"a": 1}},
        {"index": 6, "result": None},
    ]
    assert out == {"part": str(tmp_path / "wf/Each/part-0000000005.jsonl"), "items": 2}
