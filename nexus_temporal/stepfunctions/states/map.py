"""ASL Map states (inline, legacy ``Iterator``, distributed with ItemReader, ItemBatcher,
ResultWriter and tolerated failures) → NEXUS ``map`` with ``states``.

Each item runs with the data ``{"value": <item input>, "vars": <the map's variables>}``; the
map's result is the list of the items' ``value``.
"""

from __future__ import annotations

from typing import Any

from nexus_temporal.stepfunctions.context import StateContext
from nexus_temporal.stepfunctions.jsonata_mode import default_states, jsonata_value
from nexus_temporal.stepfunctions.paths import Env, reference, template

_FORMATS = {"CSV": "csv", "JSON": "json", "JSONL": "jsonl"}


def _item_source(ctx: StateContext, reader: dict[str, Any]) -> str | dict[str, Any]:
    resource = str(reader.get("Resource", ""))
    params = reader.get("Parameters") or reader.get("Arguments") or {}
    config = reader.get("ReaderConfig") or {}
    fmt = _FORMATS.get(str(config.get("InputType", "JSON")).upper())
    bucket, key = params.get("Bucket"), params.get("Key")
    if "getObject" not in resource:
        ctx.unsupported(
            f"ItemReader '{resource}' (e.g. listing S3 objects) has no "
            "NEXUS equivalent: write the item list to a JSON/JSONL/CSV file and "
            "set 'item_source' to it (the generated one is a placeholder)",
        )
        return "s3://REPLACE-BUCKET/REPLACE-ITEMS.json"
    if (
        not isinstance(bucket, str)
        or not isinstance(key, str)
        or bucket.startswith("{%")
        or (key.startswith("{%"))
    ):
        ctx.unsupported(
            "ItemReader with a Bucket/Key computed at run time: NEXUS "
            "reads a fixed 'item_source'; set it (the generated one is a "
            "placeholder)",
        )
        return {"path": "s3://REPLACE-BUCKET/REPLACE-KEY", "format": fmt or "json"}
    if config.get("CSVHeaderLocation") == "GIVEN" or "MaxItems" in config:
        ctx.approx(
            "ReaderConfig CSVHeaders/MaxItems are not carried: the CSV's "
            "first row names the columns and every item is read",
        )
    ctx.ok(f"ItemReader → item_source s3://{bucket}/{key}")
    return {"path": f"s3://{bucket}/{key}", "format": fmt or "json"}


def convert(ctx: StateContext) -> list[dict[str, Any]]:
    s = ctx.state
    jsonata = ctx.jsonata
    processor_key = "ItemProcessor" if "ItemProcessor" in s else "Iterator"
    processor = s[processor_key]
    distributed = (processor.get("ProcessorConfig") or {}).get("Mode") == "DISTRIBUTED"
    out: dict[str, Any] = {"name": ctx.name, "type": "map"}
    eff = "$data.value" if jsonata else ctx.effective_input()
    # items
    reader = s.get("ItemReader")
    if isinstance(reader, dict):
        out["item_source"] = _item_source(ctx, reader)
    elif jsonata:
        out["items"] = ctx.jsonata_expr(s["Items"]) if "Items" in s else "$data.value"
    else:
        items_path = s.get("ItemsPath", "$")
        out["items"] = reference(items_path, ctx.env.at(eff)) if items_path != "$" else eff
    # item input
    selector_key = "ItemSelector" if "ItemSelector" in s else "Parameters"
    item_env = Env(
        base=eff,
        item="$item",
        index="$index",
        state=ctx.asl_name,
        seeds=ctx.env.seeds,
        variables=ctx.env.variables,
    )
    if jsonata:
        context = '$merge([$context, {"Map": {"Item": {"Value": $item, "Index": $index}}}])'
        states = default_states(item_env, context=context)
        item = (
            jsonata_value(s["ItemSelector"], item_env, states) if "ItemSelector" in s else "$item"
        )
    elif selector_key in s:
        item = template(s[selector_key], item_env)
    else:
        item = "$item"
    batcher = s.get("ItemBatcher")
    if isinstance(batcher, dict):
        size = batcher.get("MaxItemsPerBatch")
        if not isinstance(size, int) or "items" not in out:
            ctx.unsupported(
                "ItemBatcher over an ItemReader (or with a computed batch "
                "size) is not carried: each item runs on its own; adapt the item "
                "processor, which expects {Items, BatchInput}",
            )
        else:
            out["items"] = f"$states_array_partition({out['items']}, {size})"
            batch_input = (
                template(batcher["BatchInput"], ctx.env.at(eff))
                if "BatchInput" in batcher
                else None
            )
            if item != "$item":
                ctx.approx(
                    "ItemSelector together with ItemBatcher: the selector is "
                    "not applied to batched items",
                )
            item = (
                '{"Items": $item' + (f', "BatchInput": {batch_input}' if batch_input else "") + "}"
            )
            ctx.ok(f"ItemBatcher → items partitioned into batches of {size}")
        if "MaxInputBytesPerBatch" in batcher:
            ctx.approx(
                "MaxInputBytesPerBatch is not carried: batches are bounded "
                "by MaxItemsPerBatch only",
            )
    out["input"] = f'($item := $; {{"value": {item}, "vars": $data.vars}})'
    # the item processor
    out["states"] = ctx.convert_scope(processor, processor_key)
    concurrency = s.get("MaxConcurrency", 0)
    if not isinstance(concurrency, int):
        ctx.approx("a computed MaxConcurrency is not carried (using 40)")
        concurrency = 0
    if "MaxConcurrencyPath" in s:
        ctx.approx("MaxConcurrencyPath is not carried (using 40)")
    out["max_concurrency"] = (
        min(concurrency, 1000) if concurrency else (1000 if distributed else 40)
    )
    if "ToleratedFailurePercentage" in s and isinstance(
        s["ToleratedFailurePercentage"], (int, float)
    ):
        out["tolerated_failures"] = f"{s['ToleratedFailurePercentage']}%"
    elif "ToleratedFailureCount" in s and isinstance(s["ToleratedFailureCount"], int):
        out["tolerated_failures"] = s["ToleratedFailureCount"]
    if any(k in s for k in ("ToleratedFailurePercentagePath", "ToleratedFailureCountPath")) or (
        any(
            isinstance(s.get(k), str)
            for k in ("ToleratedFailurePercentage", "ToleratedFailureCount")
        )
    ):
        ctx.approx("a computed failure tolerance is not carried (none tolerated)")
    declared = [k for k in s if k.startswith("ToleratedFailure")]
    if not declared:
        # A failed item fails the Map with that item's error, as in Step Functions; a declared
        # tolerance, once exceeded, fails it with States.ExceedToleratedFailureThreshold
        # (MapToleranceExceeded).
        out["on_item_failure"] = "item_error"
    if "tolerated_failures" in out:
        ctx.approx(
            "tolerated failures: a failed item's output is null in the "
            "result list (Step Functions leaves the failed item's error)",
        )
    writer = s.get("ResultWriter")
    collect = True
    if isinstance(writer, dict):
        params = writer.get("Parameters") or writer.get("Arguments") or {}
        bucket, prefix = params.get("Bucket"), params.get("Prefix", "")
        out["results"] = "store"
        if isinstance(bucket, str) and not bucket.startswith("{%"):
            out["result_store"] = f"s3://{bucket}/{prefix}".rstrip("/")
        ctx.approx(
            "ResultWriter → results: store (JSONL parts and a NEXUS "
            "manifest, not Step Functions' manifest.json and result files)",
        )
        collect = False
    collected = '$states_pluck($res, "value")' if collect else "$res"
    ctx.apply_result(out, collected)
    if s.get("Retry"):
        ctx.approx(
            "Retry on a Map state is not carried (NEXUS retries the actions "
            "inside items); add retries to the item tasks",
        )
    ctx.set_next(out)
    kind = (
        "distributed"
        if distributed
        else ("legacy Iterator" if processor_key == "Iterator" else "inline")
    )
    ctx.ok(f"Map ({kind}) → map with states")
    return [out]
