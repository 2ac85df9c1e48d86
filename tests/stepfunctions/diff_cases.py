"""The differential cases: ASL machines with an input, run by moto and by NEXUS.

Each case is data: an ASL definition, its execution input, and, for values that are random by
definition (``States.UUID``, ``States.MathRandom``), a ``checks`` entry that says which output
keys hold such values and what they must look like; those keys are checked on both sides and
then left out of the equality comparison. Lambda tasks name stubs from ``diff_stubs``.
``diff_expected.json`` holds moto's outcome of every case, recorded with
``python -m tests.stepfunctions.asl_oracle --record`` and checked by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: A Lambda function ARN served by the stub of that name.
ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"
INVOKE = "arn:aws:states:::lambda:invoke"


@dataclass(frozen=True)
class Case:
    """One ASL machine and one input."""

    id: str
    family: str
    asl: dict[str, Any]
    input: Any = field(default_factory=dict)
    #: output key -> "uuid" | "int:LO:HI": random values, checked by shape, not compared
    checks: dict[str, str] = field(default_factory=dict)
    #: compare a failed execution's cause too (set where a Fail state gives a fixed Cause)
    compare_cause: bool = False
    #: where moto is known to differ from AWS: AWS's outcome (``status``, ``output`` /
    #: ``error``) and a ``note`` saying why; NEXUS is compared with this instead of moto
    aws: dict[str, Any] | None = None


def machine(*states: tuple[str, dict[str, Any]], comment: str = "") -> dict[str, Any]:
    """A machine whose states run in the order given; the last one ends it unless it says."""
    named = dict(states)
    names = [n for n, _ in states]
    for i, (_name, state) in enumerate(states):
        terminal = state["Type"] in ("Choice", "Succeed", "Fail")
        if not terminal and "Next" not in state and "End" not in state:
            if i + 1 < len(states):
                state["Next"] = names[i + 1]
            else:
                state["End"] = True
    out: dict[str, Any] = {"StartAt": names[0], "States": named}
    if comment:
        out["Comment"] = comment
    return out


def branch(*states: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """A Parallel branch or Map iterator: like ``machine``."""
    return machine(*states)


def task(fn: str, **fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": ARN.format(fn), **fields}


def invoke(fn: str, **fields: Any) -> dict[str, Any]:
    params = fields.pop("Parameters", {"FunctionName": ARN.format(fn), "Payload.$": "$"})
    return {"Type": "Task", "Resource": INVOKE, "Parameters": params, **fields}


def pass_(**fields: Any) -> dict[str, Any]:
    return {"Type": "Pass", **fields}


def mark(label: str) -> dict[str, Any]:
    """A Pass state recording which branch a Choice took under ``$.branch``."""
    return {"Type": "Pass", "Result": label, "ResultPath": "$.branch", "End": True}


CASES: list[Case] = []


def case(id: str, family: str, asl: dict[str, Any], input: Any = None, **kw: Any) -> None:
    CASES.append(Case(id, family, asl, {} if input is None else input, **kw))


# --------------------------------------------------------------------------- Pass & data flow
ORDER = {
    "order": {"id": "o-1", "total": 42.5, "items": [{"sku": "a", "q": 1}, {"sku": "b", "q": 3}]},
    "user": {"name": "Ann", "tier": "gold"},
    "flag": True,
}
case("pass_identity", "pass", machine(("P", pass_())), ORDER)
case("pass_result", "pass", machine(("P", pass_(Result={"x": 1, "y": [1, 2]}))), ORDER)
case(
    "pass_result_resultpath",
    "pass",
    machine(("P", pass_(Result="hello", ResultPath="$.greeting"))),
    {"a": 1},
)
case(
    "pass_resultpath_creates_nested",
    "pass",
    machine(("P", pass_(Result={"deep": True}, ResultPath="$.a.b.c"))),
    {"a": {"keep": 1}},
)
case(
    "pass_resultpath_null",
    "pass",
    machine(("P", pass_(Result={"x": 1}, ResultPath=None))),
    {"a": 1},
)
case(
    "pass_resultpath_replaces_existing",
    "pass",
    machine(("P", pass_(Result=[1, 2], ResultPath="$.user"))),
    ORDER,
)
case(
    "pass_parameters_paths",
    "pass",
    machine(
        (
            "P",
            pass_(
                Parameters={
                    "id.$": "$.order.id",
                    "who.$": "$.user.name",
                    "static": "literal",
                    "nested": {"tier.$": "$.user.tier", "n": 3},
                    "skus.$": "$.order.items[*].sku",
                    "second.$": "$.order.items[1]",
                }
            ),
        )
    ),
    ORDER,
)
case(
    "pass_parameters_context",
    "pass",
    machine(
        (
            "Shape",
            pass_(
                Parameters={
                    "state.$": "$$.State.Name",
                    "original.$": "$$.Execution.Input.user",
                    "v.$": "$.v",
                }
            ),
        ),
    ),
    {"v": 1, "user": {"name": "Ann"}},
)
case(
    "pass_inputpath",
    "pass",
    machine(("P", pass_(InputPath="$.order.items[0]"))),
    ORDER,
)
case(
    "pass_outputpath",
    "pass",
    machine(("P", pass_(OutputPath="$.user"))),
    ORDER,
)
case(
    "pass_full_pipeline",
    "pass",
    machine(
        (
            "P",
            pass_(
                InputPath="$.order",
                Parameters={"id.$": "$.id", "count.$": "States.ArrayLength($.items)"},
                ResultPath="$.summary",
                OutputPath="$.summary",
            ),
        )
    ),
    ORDER,
)
case(
    "pass_resultpath_merges_into_raw_input",
    "pass",
    machine(
        ("P", pass_(InputPath="$.user", Parameters={"n.$": "$.name"}, ResultPath="$.out")),
    ),
    ORDER,
)
case(
    "pass_outputpath_scalar",
    "pass",
    machine(("P", pass_(Result={"r": 7}, ResultPath="$.res", OutputPath="$.res.r"))),
    {"a": 1},
)
case(
    "pass_chain_accumulates",
    "pass",
    machine(
        ("A", pass_(Result=1, ResultPath="$.a")),
        ("B", pass_(Parameters={"a.$": "$.a", "b": 2}, ResultPath="$.ab")),
        ("C", pass_(Parameters={"sum.$": "States.MathAdd($.ab.a, $.ab.b)"})),
    ),
    {},
)
case("pass_array_input", "pass", machine(("P", pass_())), [1, 2, 3])
case(
    "pass_succeed_state",
    "pass",
    machine(
        ("P", pass_(Result="x", ResultPath="$.p")),
        ("Done", {"Type": "Succeed", "OutputPath": "$.p"}),
    ),
    {"a": 1},
)

# --------------------------------------------------------------------------- Choice
YES_NO = ("Yes", mark("yes")), ("No", mark("no"))


def choice_case(id: str, rule: dict[str, Any], inputs: list[Any]) -> None:
    asl = machine(
        ("Decide", {"Type": "Choice", "Choices": [{**rule, "Next": "Yes"}], "Default": "No"}),
        *YES_NO,
    )
    for i, data in enumerate(inputs):
        case(f"{id}_{i}", "choice", asl, data)


choice_case("choice_string_equals", {"Variable": "$.s", "StringEquals": "abc"}, [{"s": "abc"}])
choice_case(
    "choice_string_order",
    {
        "And": [
            {"Variable": "$.s", "StringGreaterThan": "abc"},
            {"Variable": "$.s", "StringLessThanEquals": "abd"},
        ]
    },
    [{"s": "abd"}, {"s": "abc"}],
)
choice_case(
    "choice_string_matches",
    {"Variable": "$.file", "StringMatches": "log-*.txt"},
    [{"file": "log-2024-01.txt"}, {"file": "log-2024.csv"}],
)
choice_case(
    "choice_string_equals_path",
    {"Variable": "$.a", "StringEqualsPath": "$.b"},
    [{"a": "x", "b": "x"}, {"a": "x", "b": "y"}],
)
choice_case(
    "choice_numeric",
    {
        "Or": [
            {"Variable": "$.n", "NumericLessThan": 0},
            {"Variable": "$.n", "NumericGreaterThanEquals": 100},
            {"Variable": "$.n", "NumericEquals": 42},
        ]
    },
    [{"n": 42}, {"n": 50}, {"n": 100.0}],
)
choice_case(
    "choice_numeric_path",
    {"Variable": "$.price", "NumericLessThanEqualsPath": "$.budget"},
    [{"price": 10, "budget": 10}, {"price": 10.5, "budget": 10}],
)
choice_case(
    "choice_boolean",
    {"Variable": "$.ok", "BooleanEquals": True},
    [{"ok": True}, {"ok": False}],
)
choice_case(
    "choice_timestamp",
    {"Variable": "$.t", "TimestampGreaterThan": "2024-01-01T00:00:00Z"},
    [{"t": "2024-06-01T12:00:00Z"}, {"t": "2023-12-31T23:59:59Z"}],
)
choice_case(
    "choice_timestamp_path",
    {"Variable": "$.start", "TimestampLessThanPath": "$.end"},
    [{"start": "2024-01-01T00:00:00Z", "end": "2024-01-02T00:00:00Z"}],
)
choice_case(
    "choice_is_present_null",
    {
        "And": [
            {"Variable": "$.x", "IsPresent": True},
            {"Not": {"Variable": "$.x", "IsNull": True}},
        ]
    },
    [{"x": 1}, {"x": None}, {"y": 1}],
)
choice_case(
    "choice_type_tests",
    {
        "And": [
            {"Variable": "$.n", "IsNumeric": True},
            {"Variable": "$.s", "IsString": True},
            {"Variable": "$.b", "IsBoolean": True},
            {"Variable": "$.t", "IsTimestamp": True},
        ]
    },
    [{"n": 1, "s": "a", "b": False, "t": "2024-01-01T00:00:00Z"}, {"n": "1", "s": "a", "b": 1}],
)
choice_case(
    "choice_type_mismatch_is_false",
    {"Variable": "$.n", "StringEquals": "5"},
    [{"n": 5}],
)
case(
    "choice_first_match_wins",
    "choice",
    machine(
        (
            "Decide",
            {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"},
                    {"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Small"},
                ],
                "Default": "No",
            },
        ),
        ("Big", mark("big")),
        ("Small", mark("small")),
        ("No", mark("no")),
    ),
    {"n": 20},
)
case(
    "choice_no_match_fails",
    "choice",
    machine(
        (
            "Decide",
            {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "Yes"}],
            },
        ),
        ("Yes", mark("yes")),
    ),
    {"n": 2},
    aws={
        "status": "FAILED",
        "error": "States.NoChoiceMatched",
        "note": "moto fails with States.Runtime; AWS names this error States.NoChoiceMatched",
    },
)
case(
    "choice_missing_variable_fails",
    "choice",
    machine(
        (
            "Decide",
            {
                "Type": "Choice",
                "Choices": [{"Variable": "$.missing", "NumericEquals": 1, "Next": "Yes"}],
                "Default": "No",
            },
        ),
        *YES_NO,
    ),
    {"n": 2},
    aws={
        "status": "FAILED",
        "error": "States.Runtime",
        "note": "moto treats a missing Variable path as false and takes the Default; AWS fails "
        "the execution with States.Runtime ('Invalid path ... references an invalid value')",
    },
)
case(
    "choice_loop_counter",
    "choice",
    machine(
        ("Init", pass_(Result=0, ResultPath="$.i")),
        (
            "Check",
            {
                "Type": "Choice",
                "Choices": [{"Variable": "$.i", "NumericGreaterThanEquals": 3, "Next": "Done"}],
                "Default": "Inc",
            },
        ),
        ("Inc", pass_(Parameters={"i.$": "States.MathAdd($.i, 1)"}, Next="Check")),
        ("Done", {"Type": "Succeed"}),
    ),
    {},
)

# --------------------------------------------------------------------------- Tasks & data flow
case("task_echo", "task", machine(("T", task("echo"))), ORDER)
case(
    "task_pipeline",
    "task",
    machine(
        (
            "T",
            task(
                "wrap",
                InputPath="$.order",
                Parameters={"id.$": "$.id", "second.$": "$.items[1]", "k": "v"},
                ResultSelector={"sent.$": "$.got", "id.$": "$.got.id"},
                ResultPath="$.call",
                OutputPath="$.call",
            ),
        )
    ),
    ORDER,
)
case(
    "task_resultpath_null",
    "task",
    machine(("T", task("wrap", ResultPath=None))),
    {"a": 1},
)
case(
    "task_resultpath_nested",
    "task",
    machine(("T", task("add", ResultPath="$.math.result"))),
    {"a": 2, "b": 3},
)
case(
    "task_chain",
    "task",
    machine(
        ("Add", task("add", ResultPath="$.r")),
        ("Double", task("double", InputPath="$.r.sum", ResultPath="$.doubled")),
    ),
    {"a": 4, "b": 5},
)
case(
    "task_invoke_resultselector",
    "task",
    machine(("T", invoke("wrap", ResultSelector={"p.$": "$.Payload"}, ResultPath="$.res"))),
    {"a": 1},
)
case(
    "task_invoke_outputpath_payload",
    "task",
    machine(
        (
            "T",
            invoke(
                "add",
                Parameters={
                    "FunctionName": ARN.format("add"),
                    "Payload": {"a.$": "$.x", "b": 10},
                },
                OutputPath="$.Payload",
            ),
        )
    ),
    {"x": 5},
)
case(
    "task_invoke_function_name_only",
    "task",
    machine(
        (
            "T",
            invoke(
                "echo",
                Parameters={"FunctionName": "echo", "Payload": {"const": [1, 2], "v.$": "$.v"}},
                ResultSelector={"p.$": "$.Payload"},
            ),
        )
    ),
    {"v": "x"},
)
case(
    "task_resultselector_intrinsic",
    "task",
    machine(
        (
            "T",
            task(
                "echo",
                ResultSelector={"n.$": "States.ArrayLength($.xs)", "first.$": "$.xs[0]"},
                ResultPath="$.stats",
            ),
        )
    ),
    {"xs": [9, 8, 7]},
)

case(
    "jsonpath_index_then_field",
    "task",
    machine(("P", pass_(Parameters={"sku.$": "$.items[0].sku", "q.$": "$.items[1].q"}))),
    {"items": [{"sku": "a", "q": 1}, {"sku": "b", "q": 3}]},
    aws={
        "status": "SUCCEEDED",
        "output": {"sku": "a", "q": 3},
        "note": "moto wraps a path that selects a field of an indexed element in a list "
        '(["a"]); AWS evaluates such definite paths to the value itself ("a")',
    },
)

# --------------------------------------------------------------------------- Intrinsics
INTR_INPUT = {
    "name": "Ann",
    "n": 3,
    "xs": [1, 2, 2, 3, 3, 3],
    "obj": {"a": 1, "b": {"c": 2}},
    "other": {"b": {"d": 4}, "e": 5},
    "json": '{"k": [1, 2], "s": "t"}',
    "csv": "a,b,,c",
    "text": "hello world",
    "b64": "aGVsbG8gd29ybGQ=",
}


def intrinsic_case(id: str, params: dict[str, Any], **kw: Any) -> None:
    case(id, "intrinsic", machine(("F", pass_(Parameters=params))), INTR_INPUT, **kw)


intrinsic_case(
    "intrinsic_format",
    {
        "a.$": "States.Format('Hello, {}! You have {} items.', $.name, $.n)",
        "b.$": "States.Format('{} and {}', $.xs[0], $.obj.b.c)",
        "c.$": "States.Format('no placeholders')",
    },
)
intrinsic_case(
    "intrinsic_string_to_json",
    {"parsed.$": "States.StringToJson($.json)", "num.$": "States.StringToJson('12')"},
)
intrinsic_case(
    "intrinsic_json_to_string",
    {"s.$": "States.JsonToString($.obj)", "t.$": "States.JsonToString($.xs)"},
)
intrinsic_case(
    "intrinsic_array",
    {"arr.$": "States.Array($.name, $.n, 'lit', $.obj)", "empty.$": "States.Array()"},
)
intrinsic_case(
    "intrinsic_array_partition",
    {
        "p2.$": "States.ArrayPartition($.xs, 2)",
        "p4.$": "States.ArrayPartition($.xs, 4)",
    },
)
intrinsic_case(
    "intrinsic_array_contains",
    {
        "yes.$": "States.ArrayContains($.xs, 2)",
        "no.$": "States.ArrayContains($.xs, 7)",
    },
)
intrinsic_case(
    "intrinsic_array_range",
    {
        "up.$": "States.ArrayRange(1, 9, 2)",
        "fives.$": "States.ArrayRange(0, 10, 5)",
        "one.$": "States.ArrayRange(5, 5, 1)",
    },
)
intrinsic_case(
    "intrinsic_array_get_item",
    {"third.$": "States.ArrayGetItem($.xs, 2)", "first.$": "States.ArrayGetItem($.xs, 0)"},
)
intrinsic_case(
    "intrinsic_array_length",
    {"n.$": "States.ArrayLength($.xs)", "zero.$": "States.ArrayLength(States.Array())"},
)
intrinsic_case("intrinsic_array_unique", {"u.$": "States.ArrayUnique($.xs)"})
intrinsic_case(
    "intrinsic_base64",
    {"enc.$": "States.Base64Encode($.text)", "dec.$": "States.Base64Decode($.b64)"},
)
intrinsic_case(
    "intrinsic_hash",
    {
        "md5.$": "States.Hash($.text, 'MD5')",
        "sha1.$": "States.Hash($.text, 'SHA-1')",
        "sha256.$": "States.Hash($.text, 'SHA-256')",
        "sha384.$": "States.Hash($.text, 'SHA-384')",
        "sha512.$": "States.Hash($.text, 'SHA-512')",
    },
)
intrinsic_case(
    "intrinsic_json_merge",
    {
        "shallow.$": "States.JsonMerge($.obj, $.other, false)",
    },
)
intrinsic_case(
    "intrinsic_math_add",
    {"a.$": "States.MathAdd($.n, 4)", "b.$": "States.MathAdd($.n, -10)"},
)
intrinsic_case(
    "intrinsic_string_split",
    {"parts.$": "States.StringSplit($.csv, ',')", "words.$": "States.StringSplit($.text, ' ')"},
)
intrinsic_case(
    "intrinsic_math_random",
    {"r.$": "States.MathRandom(1, 10)", "n.$": "$.n"},
    checks={"r": "int:1:10"},
)
intrinsic_case(
    "intrinsic_uuid",
    {"id.$": "States.UUID()", "n.$": "$.n"},
    checks={"id": "uuid"},
)
intrinsic_case(
    "intrinsic_nested_calls",
    {
        "x.$": "States.ArrayLength(States.ArrayUnique(States.Array(1, 1, 2)))",
        "y.$": "States.Format('{}', States.JsonToString(States.Array($.n)))",
    },
)

# --------------------------------------------------------------------------- Map
ITEMS = {"items": [{"n": 1}, {"n": 2}, {"n": 3}], "k": "shared"}
case(
    "map_iterator_pass",
    "map",
    machine(
        (
            "M",
            {
                "Type": "Map",
                "ItemsPath": "$.items",
                "Iterator": branch(("I", pass_(Parameters={"v.$": "$.n"}))),
            },
        )
    ),
    ITEMS,
)
case(
    "map_itemprocessor_task",
    "map",
    machine(
        (
            "M",
            {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    **branch(("Double", task("double"))),
                },
                "ResultPath": "$.doubled",
            },
        )
    ),
    ITEMS,
)
case(
    "map_parameters_context",
    "map",
    machine(
        (
            "M",
            {
                "Type": "Map",
                "ItemsPath": "$.items",
                "Parameters": {
                    "idx.$": "$$.Map.Item.Index",
                    "val.$": "$$.Map.Item.Value",
                    "k.$": "$.k",
                },
                "Iterator": branch(("I", pass_())),
            },
        )
    ),
    ITEMS,
)
case(
    "map_itemselector",
    "map",
    machine(
        (
            "M",
            {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemSelector": {"value.$": "$$.Map.Item.Value.n", "k.$": "$.k"},
                "ItemProcessor": branch(("W", task("wrap"))),
                "ResultPath": "$.out",
                "OutputPath": "$.out",
            },
        )
    ),
    ITEMS,
)
case(
    "map_max_concurrency_1",
    "map",
    machine(
        (
            "M",
            {
                "Type": "Map",
                "ItemsPath": "$.xs",
                "MaxConcurrency": 1,
                "Iterator": branch(("D", task("double"))),
            },
        )
    ),
    {"xs": [5, 6, 7, 8]},
)
case(
    "map_resultselector",
    "map",
    machine(
        (
            "M",
            {
                "Type": "Map",
                "ItemsPath": "$.xs",
                "Iterator": branch(("D", task("double"))),
                "ResultSelector": {"count.$": "States.ArrayLength($)", "all.$": "$"},
                "ResultPath": "$.stats",
            },
        )
    ),
    {"xs": [1, 2]},
)
case(
    "map_empty",
    "map",
    machine(
        (
            "M",
            {
                "Type": "Map",
                "ItemsPath": "$.xs",
                "Iterator": branch(("D", task("double"))),
                "ResultPath": "$.out",
            },
        )
    ),
    {"xs": []},
)
case(
    "map_nested",
    "map",
    machine(
        (
            "Outer",
            {
                "Type": "Map",
                "ItemsPath": "$.rows",
                "Iterator": branch(
                    (
                        "Inner",
                        {
                            "Type": "Map",
                            "ItemsPath": "$",
                            "Iterator": branch(("D", task("double"))),
                        },
                    )
                ),
            },
        )
    ),
    {"rows": [[1, 2], [3], []]},
)
case(
    "map_iterator_choice",
    "map",
    machine(
        (
            "M",
            {
                "Type": "Map",
                "ItemsPath": "$.xs",
                "Iterator": branch(
                    (
                        "Sign",
                        {
                            "Type": "Choice",
                            "Choices": [{"Variable": "$", "NumericGreaterThan": 0, "Next": "Pos"}],
                            "Default": "Neg",
                        },
                    ),
                    ("Pos", pass_(Result="positive", End=True)),
                    ("Neg", pass_(Result="not positive", End=True)),
                ),
            },
        )
    ),
    {"xs": [3, -1, 0]},
)
case(
    "map_item_failure_caught",
    "map",
    machine(
        (
            "M",
            {
                "Type": "Map",
                "ItemsPath": "$.items",
                "Iterator": branch(("Check", task("fail_if"))),
                "Catch": [{"ErrorEquals": ["BadItem"], "ResultPath": "$.err", "Next": "Report"}],
            },
        ),
        ("Report", pass_(Parameters={"error.$": "$.err.Error", "count.$": "$.count"})),
    ),
    {"items": [{"n": 1}, {"n": 2, "bad": True}], "count": 2},
)
case(
    "map_item_failure_uncaught",
    "map",
    machine(
        (
            "M",
            {
                "Type": "Map",
                "ItemsPath": "$.items",
                "Iterator": branch(("Check", task("fail_if"))),
            },
        )
    ),
    {"items": [{"n": 1, "bad": True}]},
)

# --------------------------------------------------------------------------- Parallel
case(
    "parallel_pass_branches",
    "parallel",
    machine(
        (
            "P",
            {
                "Type": "Parallel",
                "Branches": [
                    branch(("A", pass_(Result={"a": 1}))),
                    branch(("B", pass_(InputPath="$.x"))),
                ],
            },
        )
    ),
    {"x": {"b": 2}},
)
case(
    "parallel_task_branches",
    "parallel",
    machine(
        (
            "P",
            {
                "Type": "Parallel",
                "Branches": [
                    branch(("Add", task("add"))),
                    branch(("Wrap", task("wrap")), ("Shape", pass_(OutputPath="$.got.a"))),
                ],
                "ResultPath": "$.results",
            },
        )
    ),
    {"a": 1, "b": 2},
)
case(
    "parallel_resultselector",
    "parallel",
    machine(
        (
            "P",
            {
                "Type": "Parallel",
                "Branches": [
                    branch(("One", pass_(Result={"x": 1}))),
                    branch(("Two", pass_(Result={"y": 2}))),
                ],
                "ResultSelector": {
                    "first.$": "$[0]",
                    "second.$": "$[1]",
                    "n.$": "States.ArrayLength($)",
                },
            },
        )
    ),
    {},
)
case(
    "parallel_branch_fail_caught",
    "parallel",
    machine(
        (
            "P",
            {
                "Type": "Parallel",
                "Branches": [
                    branch(("Ok", pass_())),
                    branch(
                        (
                            "Bad",
                            {"Type": "Fail", "Error": "BranchFailed", "Cause": "branch two broke"},
                        )
                    ),
                ],
                "Catch": [
                    {"ErrorEquals": ["BranchFailed"], "ResultPath": "$.error", "Next": "Recover"}
                ],
            },
        ),
        ("Recover", pass_()),
    ),
    {"v": 1},
)
case(
    "parallel_branch_fail_uncaught",
    "parallel",
    machine(
        (
            "P",
            {
                "Type": "Parallel",
                "Branches": [
                    branch(("Ok", pass_())),
                    branch(("Bad", {"Type": "Fail", "Error": "BranchFailed", "Cause": "boom"})),
                ],
            },
        )
    ),
    {"v": 1},
    compare_cause=True,
)
case(
    "parallel_with_map",
    "parallel",
    machine(
        (
            "P",
            {
                "Type": "Parallel",
                "Branches": [
                    branch(
                        (
                            "M",
                            {
                                "Type": "Map",
                                "ItemsPath": "$.xs",
                                "Iterator": branch(("D", task("double"))),
                            },
                        )
                    ),
                    branch(("Len", pass_(Parameters={"n.$": "States.ArrayLength($.xs)"}))),
                ],
                "OutputPath": "$[0]",
            },
        )
    ),
    {"xs": [1, 2, 3]},
)

# --------------------------------------------------------------------------- Errors
case(
    "error_catch_resultpath",
    "error",
    machine(
        (
            "T",
            task(
                "fail",
                Parameters={"error": "Declined", "message": "card declined"},
                Catch=[{"ErrorEquals": ["Declined"], "ResultPath": "$.err", "Next": "Handle"}],
            ),
        ),
        ("Handle", pass_(Parameters={"error.$": "$.err.Error", "v.$": "$.v"})),
    ),
    {"v": 1},
)
case(
    "error_catch_order",
    "error",
    machine(
        (
            "T",
            task(
                "fail",
                Parameters={"error": "Declined"},
                Catch=[
                    {"ErrorEquals": ["Other"], "Next": "WrongHandler"},
                    {"ErrorEquals": ["Declined", "Another"], "Next": "RightHandler"},
                    {"ErrorEquals": ["States.ALL"], "Next": "WrongHandler"},
                ],
            ),
        ),
        ("WrongHandler", pass_(Parameters={"handler": "wrong", "e.$": "$.Error"}, End=True)),
        ("RightHandler", pass_(Parameters={"handler": "right", "e.$": "$.Error"}, End=True)),
    ),
    {"v": 1},
)
case(
    "error_catch_states_all_resultpath_null",
    "error",
    machine(
        (
            "T",
            task(
                "fail",
                Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": "After"}],
            ),
        ),
        ("After", pass_(Result="recovered", ResultPath="$.status")),
    ),
    {"v": 1},
)
case(
    "error_catch_task_failed",
    "error",
    machine(
        (
            "T",
            task(
                "fail",
                Parameters={"error": "SomeLambdaError"},
                Catch=[
                    {"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.e", "Next": "After"}
                ],
            ),
        ),
        ("After", pass_(Parameters={"caught.$": "$.e.Error"})),
    ),
    {},
)
case(
    "error_catch_default_resultpath",
    "error",
    machine(
        ("T", task("fail", Catch=[{"ErrorEquals": ["States.ALL"], "Next": "After"}])),
        ("After", pass_(Parameters={"keys.$": "$.Error"})),
    ),
    {"v": 1},
)
case(
    "error_uncaught_task",
    "error",
    machine(("T", task("fail", Parameters={"error": "Unhandled.Thing"}))),
    {},
)
case(
    "error_fail_state",
    "error",
    machine(
        ("P", pass_(Result=1, ResultPath="$.x")),
        ("F", {"Type": "Fail", "Error": "OrderRejected", "Cause": "the order was rejected"}),
    ),
    {},
    compare_cause=True,
)
case(
    "error_fail_state_paths",
    "error",
    machine(("F", {"Type": "Fail", "ErrorPath": "$.code", "CausePath": "$.why"})),
    {"code": "E42", "why": "because"},
    compare_cause=True,
)
case(
    "error_catch_fail_in_choice_branch",
    "error",
    machine(
        (
            "Decide",
            {
                "Type": "Choice",
                "Choices": [{"Variable": "$.ok", "BooleanEquals": False, "Next": "F"}],
                "Default": "Fine",
            },
        ),
        ("F", {"Type": "Fail", "Error": "NotOk"}),
        ("Fine", pass_()),
    ),
    {"ok": False},
)
case(
    "retry_then_success",
    "retry",
    machine(
        (
            "T",
            task(
                "flaky",
                Parameters={"key": "retry_then_success", "fail_times": 2},
                Retry=[
                    {
                        "ErrorEquals": ["Flaky"],
                        "IntervalSeconds": 1,
                        "MaxAttempts": 2,
                        "BackoffRate": 1,
                    }
                ],
                ResultPath="$.result",
            ),
        )
    ),
    {"v": 1},
)
case(
    "retry_exhausted_then_caught",
    "retry",
    machine(
        (
            "T",
            task(
                "flaky",
                Parameters={"key": "retry_exhausted_then_caught", "fail_times": 5},
                Retry=[{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 1}],
                Catch=[{"ErrorEquals": ["Flaky"], "ResultPath": "$.err", "Next": "Caught"}],
            ),
        ),
        ("Caught", pass_(Parameters={"error.$": "$.err.Error"})),
    ),
    {},
)
case(
    "retry_max_attempts_zero",
    "retry",
    machine(
        (
            "T",
            task(
                "flaky",
                Parameters={"key": "retry_max_attempts_zero", "fail_times": 1},
                Retry=[{"ErrorEquals": ["Flaky"], "MaxAttempts": 0}],
                Catch=[{"ErrorEquals": ["Flaky"], "ResultPath": "$.err", "Next": "Caught"}],
            ),
        ),
        ("Caught", pass_(Parameters={"error.$": "$.err.Error"})),
    ),
    {},
)
case(
    "retry_other_error_not_retried",
    "retry",
    machine(
        (
            "T",
            task(
                "flaky",
                Parameters={"key": "retry_other_error_not_retried", "fail_times": 1},
                Retry=[{"ErrorEquals": ["SomethingElse"], "IntervalSeconds": 1, "MaxAttempts": 3}],
                Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Caught"}],
            ),
        ),
        ("Caught", pass_(Parameters={"error.$": "$.err.Error"})),
    ),
    {},
)
case(
    "retry_no_retrier_fails",
    "retry",
    machine(("T", task("flaky", Parameters={"key": "retry_no_retrier_fails", "fail_times": 1}))),
    {},
)

# --------------------------------------------------------------------------- JSONata states
# moto's ASL interpreter evaluates JSONata through a JVM bridge it does not ship; the oracle
# plugs in jsonata-python there (asl_oracle.py). The ASL semantics around the expressions
# ($states.input/result/errorOutput/context, Arguments, Output, Assign, Condition, Items)
# remain moto's.


def jsonata_machine(*states: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"QueryLanguage": "JSONata", **machine(*states)}


JSONATA_FLOW = jsonata_machine(
    (
        "Totals",
        pass_(
            Output={"total": "{% $sum($states.input.xs) %}", "n": "{% $count($states.input.xs) %}"},
            Assign={"who": "{% $states.input.name %}"},
        ),
    ),
    (
        "Add",
        {
            "Type": "Task",
            "Resource": INVOKE,
            "Arguments": {
                "FunctionName": ARN.format("add"),
                "Payload": {"a": "{% $states.input.total %}", "b": 100},
            },
            "Output": "{% $states.result.Payload %}",
        },
    ),
    (
        "Size",
        {
            "Type": "Choice",
            "Choices": [{"Condition": "{% $states.input.sum > 110 %}", "Next": "Big"}],
            "Default": "Small",
        },
    ),
    (
        "Big",
        pass_(
            Output={"size": "big", "who": "{% $who %}", "sum": "{% $states.input.sum %}"},
            End=True,
        ),
    ),
    ("Small", pass_(Output="{% 'small for ' & $who %}", End=True)),
)
case("jsonata_flow_big", "jsonata", JSONATA_FLOW, {"xs": [5, 6, 7], "name": "Ann"})
case("jsonata_flow_small", "jsonata", JSONATA_FLOW, {"xs": [1, 2], "name": "Bob"})
case(
    "jsonata_lambda_arn_task",
    "jsonata",
    jsonata_machine(
        (
            "Wrap",
            task(
                "wrap",
                Arguments={
                    "v": "{% $states.input.v * 2 %}",
                    "state": "{% $states.context.State.Name %}",
                },
                Output={"sent": "{% $states.result.got %}", "orig": "{% $states.input.v %}"},
            ),
        )
    ),
    {"v": 21},
)
case(
    "jsonata_map",
    "jsonata",
    jsonata_machine(
        (
            "Each",
            {
                "Type": "Map",
                "Items": "{% $states.input.xs %}",
                "ItemSelector": {
                    "v": "{% $states.context.Map.Item.Value %}",
                    "i": "{% $states.context.Map.Item.Index %}",
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Sq",
                    "States": {
                        "Sq": pass_(
                            Output="{% $states.input.v * $states.input.v + $states.input.i %}",
                            End=True,
                        )
                    },
                },
                "Output": {"squares": "{% $states.result %}"},
            },
        )
    ),
    {"xs": [2, 3, 4]},
)
case(
    "jsonata_catch_error_output",
    "jsonata",
    jsonata_machine(
        (
            "Call",
            task(
                "fail",
                Arguments={"error": "Declined"},
                Catch=[
                    {
                        "ErrorEquals": ["Declined"],
                        "Output": {
                            "error": "{% $states.errorOutput.Error %}",
                            "input": "{% $states.input %}",
                        },
                        "Next": "Handled",
                    }
                ],
            ),
        ),
        ("Handled", pass_()),
    ),
    {"order": 7},
)
case(
    "jsonata_fail_state",
    "jsonata",
    jsonata_machine(
        (
            "Stop",
            {
                "Type": "Fail",
                "Error": "{% 'E_' & $string($states.input.code) %}",
                "Cause": "{% 'code ' & $string($states.input.code) & ' rejected' %}",
            },
        )
    ),
    {"code": 42},
    compare_cause=True,
)
case(
    "jsonata_parallel_assign",
    "jsonata",
    jsonata_machine(
        ("Init", pass_(Assign={"base": "{% $states.input.base %}"})),
        (
            "Both",
            {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "Inc",
                        "States": {"Inc": pass_(Output="{% $base + 1 %}", End=True)},
                    },
                    {
                        "StartAt": "Dec",
                        "States": {"Dec": pass_(Output="{% $base - 1 %}", End=True)},
                    },
                ],
                "Output": {"results": "{% $states.result %}", "base": "{% $base %}"},
            },
        ),
    ),
    {"base": 10},
)
