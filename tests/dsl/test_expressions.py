"""JSONata expressions: compiled and checked at load time, evaluated as templates."""

from __future__ import annotations

from typing import Any

import pytest

from nexus_temporal.dsl.expressions import (
    DEFAULT_BOUNDS,
    DEFAULT_STEPS,
    BoundExceeded,
    Bounds,
    EvaluationOverrun,
    ExpressionError,
    compile_expression,
    evaluate,
    evaluate_template,
    iter_template_errors,
)

DATA: dict[str, Any] = {
    "order_id": "o-1",
    "amount": 150,
    "items": [{"sku": "a", "price": 2}, {"sku": "b", "price": 3.5}],
    "customer": {"name": "Ada", "vip": True},
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("order_id", "o-1"),
        ("amount > 100", True),
        ("$sum(items.price)", 5.5),
        ("$count(items)", 2),
        ("items[price > 3].sku", "b"),
        ("customer.name & '!'", "Ada!"),
        ('"literal text"', "literal text"),
        ("$", DATA),
        ('{"id": order_id, "vip": customer.vip}', {"id": "o-1", "vip": True}),
        ("[amount, amount * 2]", [150, 300]),
    ],
)
def test_evaluate(expression: str, expected: Any) -> None:
    assert evaluate(expression, DATA) == expected


def test_missing_path_is_none() -> None:
    assert evaluate("no.such.path", DATA) is None


def test_bindings() -> None:
    bindings = {"data": {"total": 10}, "state": "Charge", "limit": 3}
    assert evaluate("$data.total * 2", DATA, bindings) == 20
    assert evaluate("$state", DATA, bindings) == "Charge"
    assert evaluate("amount > $limit", DATA, bindings) is True
    assert evaluate("$unbound", DATA, bindings) is None


def test_bindings_do_not_leak_between_calls() -> None:
    assert evaluate("$data", DATA, {"data": 1}) == 1
    assert evaluate("$data", DATA) is None


def test_dict_template() -> None:
    template = {
        "order": "order_id",
        "total": "$sum(items.price)",
        "customer": {"name": "customer.name", "label": '"VIP"'},
        "fixed": 7,
        "nothing": None,
        "flag": True,
    }
    assert evaluate_template(template, DATA) == {
        "order": "o-1",
        "total": 5.5,
        "customer": {"name": "Ada", "label": "VIP"},
        "fixed": 7,
        "nothing": None,
        "flag": True,
    }


def test_list_template() -> None:
    assert evaluate_template(["order_id", ["amount", 1], {"n": "$count(items)"}], DATA) == [
        "o-1",
        [150, 1],
        {"n": 2},
    ]
    assert evaluate_template(("amount",), DATA) == [150]


def test_template_with_bindings() -> None:
    template = {"was": "$data.amount", "now": "amount + $data.amount"}
    assert evaluate_template(template, DATA, {"data": {"amount": 1}}) == {"was": 1, "now": 151}


def test_non_string_template_is_returned_as_is() -> None:
    assert evaluate_template(42, DATA) == 42
    assert evaluate_template(None, DATA) is None


def test_template_does_not_mutate_the_data() -> None:
    data = {"a": {"b": [1, 2]}}
    evaluate_template({"x": "a", "y": "$append(a.b, 3)"}, data)
    assert data == {"a": {"b": [1, 2]}}


def test_compile_is_cached() -> None:
    assert compile_expression("amount + 1") is compile_expression("amount + 1")


@pytest.mark.parametrize("expression", ["amount +", "items[price > 3", "(", '"unclosed', "a b"])
def test_syntax_errors(expression: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression(expression)
    assert info.value.expression == expression
    assert info.value.message
    assert repr(expression) in str(info.value)


@pytest.mark.parametrize(
    ("expression", "function"),
    [
        ("$now()", "now"),
        ("$millis()", "millis"),
        ("$random()", "random"),
        ("$now ()", "now"),
        ('{"at": $now()}', "now"),
        ("$string($millis())", "millis"),
        ("($clock := $now; $clock())", "now"),
        ("$map([1, 2], $random)", "random"),
    ],
)
def test_nondeterministic_functions_are_refused(expression: str, function: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression(expression)
    assert f"${function}() is not deterministic" in info.value.message


@pytest.mark.parametrize("expression", ["$nowhere", "$randomize", "now", "$millisecond"])
def test_names_that_only_start_like_nondeterministic_functions(expression: str) -> None:
    compile_expression(expression)


def test_evaluation_errors_are_expression_errors() -> None:
    with pytest.raises(ExpressionError):
        evaluate("$notAFunction(1)", DATA)
    with pytest.raises(ExpressionError):
        evaluate("customer.name + 1", DATA)


def test_iter_template_errors_gives_paths() -> None:
    template = {"ok": "amount", "bad": ["items", "amount +"], "nested": {"now": "$now()"}, "n": 3}
    errors = dict(iter_template_errors(template))
    assert set(errors) == {("bad", 1), ("nested", "now")}
    assert all(isinstance(e, ExpressionError) for e in errors.values())
    assert list(iter_template_errors("amount")) == []
    assert [path for path, _ in iter_template_errors("amount +")] == [()]


# --- Bounds (docs/dsl.md, "Bounded expressions") ------------------------------------------------

RECURSION = "($f := function($x){ $x > 0 ? $f($x-1) : 0 }; $f(n))"


def _maxrss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _bound_error(expression: str, data: Any = None, bounds: Bounds = DEFAULT_BOUNDS) -> str:
    with pytest.raises(BoundExceeded) as info:
        evaluate(expression, data, bounds=bounds)
    assert info.value.expression == expression
    return info.value.bound


def test_a_tail_recursion_that_never_ends_stops_at_the_step_budget() -> None:
    # Tail calls are trampolined: no stack grows, only the step budget can stop it.
    with pytest.raises(BoundExceeded) as info:
        evaluate(RECURSION, {"n": 1e12})
    assert info.value.bound == "steps"
    assert f"bound of {DEFAULT_STEPS:,} evaluation steps" in info.value.message
    assert "defaults.expression_steps" in info.value.message


def test_the_bound_is_hit_at_the_same_step_every_time() -> None:
    messages = set()
    for _ in range(3):
        with pytest.raises(BoundExceeded) as info:
            evaluate(RECURSION, {"n": 1e12}, bounds=Bounds(steps=5_000))
        messages.add(info.value.message)
    assert len(messages) == 1 and "reached 5,001" in messages.pop()


def test_the_step_budget_is_configurable() -> None:
    assert evaluate(RECURSION, {"n": 1000}) == 0
    assert _bound_error(RECURSION, {"n": 1000}, Bounds(steps=1_000)) == "steps"


def test_a_range_bomb_is_refused_before_it_takes_memory() -> None:
    before = _maxrss_mb()
    assert _bound_error("[1..1e6].[1..1e6]") == "items"
    assert _bound_error("$count([1..9e6])") == "items"
    assert _maxrss_mb() - before < 200


def test_items_count_every_intermediate_result() -> None:
    assert evaluate("$sum([1..100000])", None) == 5000050000
    assert _bound_error("$sum([1..100000])", bounds=Bounds(items=150_000)) == "items"


def test_huge_strings_are_refused_before_they_are_built() -> None:
    before = _maxrss_mb()
    assert _bound_error('$pad("", 1e10, "x")') == "chars"
    assert _bound_error('$pad("", -1e10, "x")') == "chars"
    assert _bound_error(
        '($s := $pad("", 1e6, "x"); $join([$s,$s,$s,$s,$s,$s,$s,$s,$s,$s,$s]))'
    ) == ("chars")
    # A list of references to one string is small in memory, not as a string.
    shared = '($s := $pad("", 1e6, "x"); $string([$s,$s,$s,$s,$s,$s,$s,$s,$s,$s,$s]))'
    assert _bound_error(shared) == "chars"
    assert _bound_error('$replace($pad("", 1e5, "x"), "x", $pad("", 1000, "y"))') == "chars"
    assert _bound_error('$replace($pad("", 1e5, "x"), /x/, "$0$0$0$0")') == "chars"
    assert _maxrss_mb() - before < 200
    assert evaluate('$length($pad("", 3000000, "x"))', None) == 3_000_000
    assert evaluate('$replace("a-b-c", "-", "+")', None) == "a+b+c"
    assert evaluate('$join(["a", "b"], ", ")', None) == "a, b"


def test_doubling_a_string_stops_at_the_character_budget() -> None:
    doubling = '($f := function($s){ $f($s & $s) }; $f("x"))'
    assert _bound_error(doubling) == "chars"


def test_split_into_too_many_parts_is_refused() -> None:
    assert _bound_error('$split($pad("", 5e6, "x"), "")') == "items"
    assert evaluate('$split("a,b,c", ",")', None) == ["a", "b", "c"]


def test_distinct_is_charged_for_its_comparisons() -> None:
    assert _bound_error("$distinct([1..30000])") == "steps"
    assert evaluate("$count($distinct([1..2000]))", None) == 2000


def test_deep_recursion_stops_at_the_depth_bound_not_at_pythons_limit() -> None:
    deep = "($f := function($x){ $x > 0 ? 1 + $f($x-1) : 0 }; $f(n))"
    assert evaluate(deep, {"n": 300}) == 300
    with pytest.raises(BoundExceeded) as info:
        evaluate(deep, {"n": 100_000})
    assert info.value.bound == "depth" and "nested evaluations" in info.value.message


def test_errors_the_engine_wraps_still_report_the_bound() -> None:
    # $eval and and/or wrap the engine's errors into their own; the bound still shows.
    assert _bound_error('$eval("[1..1e6].[1..1e6]")') == "items"
    assert _bound_error("[1..1e6].[1..1e6] and true") == "items"


def test_a_template_shares_one_budget() -> None:
    heavy = "$sum($map([1..2000], function($v){ $v }))"
    bounds = Bounds(steps=5_000)  # one takes ~2,000
    assert evaluate_template(heavy, DATA, bounds=bounds) == 2001000
    with pytest.raises(BoundExceeded):
        evaluate_template({"a": heavy, "b": [heavy, heavy]}, DATA, bounds=bounds)


def test_without_bounds_an_expression_runs_as_before() -> None:
    # Only for replaying histories recorded before the bounds (interpreters/states/data.py).
    assert evaluate(RECURSION, {"n": 2_000}, bounds=None) == 0
    assert evaluate_template({"r": RECURSION}, {"n": 2_000}, bounds=None) == {"r": 0}


def test_jsonata_outside_evaluate_is_not_metered() -> None:
    import jsonata

    assert jsonata.Jsonata(RECURSION).evaluate({"n": 100_000}) == 0


def test_shuffle_is_refused_as_nondeterministic() -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression("$shuffle([1, 2, 3])")
    assert "$shuffle() is not deterministic" in info.value.message


def test_the_wall_clock_backstop_fails_the_task_not_the_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nexus_temporal.dsl import expressions

    monkeypatch.setattr(expressions, "BACKSTOP_SECONDS", -1.0)
    with pytest.raises(EvaluationOverrun) as info:
        evaluate(RECURSION, {"n": 10_000})
    assert not isinstance(info.value, ExpressionError)
    assert "NEXUS_EXPRESSION_BACKSTOP" in str(info.value)


def test_bounds_are_definition_defaults_left_out_of_the_plan_hash() -> None:
    from nexus_temporal.dsl.compiler import compile_text
    from nexus_temporal.dsl.plan import plan_json

    text = "name: b\nstates:\n  - name: S\n    type: succeed\n"
    plan = compile_text(text)
    assert plan.definition.defaults.expression_steps == DEFAULT_STEPS
    assert not any(
        k.startswith("expression_") for k in plan_json(plan.definition).get("defaults", {})
    )
    tuned = compile_text("defaults:\n  expression_steps: 5000\n  expression_items: 2000\n" + text)
    assert tuned.hash != plan.hash
    assert tuned.definition.defaults.expression_items == 2000


@pytest.mark.parametrize(
    "setting",
    ["expression_steps: 10", "expression_depth: 100000", "expression_chars: -1"],
)
def test_bounds_out_of_range_are_refused(setting: str) -> None:
    from nexus_temporal.dsl.compiler import compile_text
    from nexus_temporal.dsl.errors import DefinitionError

    with pytest.raises(DefinitionError):
        compile_text(f"defaults:\n  {setting}\nname: b\nstates:\n  - name: S\n    type: succeed\n")


def test_json_size_under_a_limit_is_exact_and_a_shared_reference_bomb_costs_little() -> None:
    import json

    from nexus_temporal.payloads import json_size

    value = {"a": [1, 2.5, "x", None, True], "é": {"b": "c"}}
    exact = len(json.dumps(value, separators=(",", ":")))
    assert json_size(value) == exact == json_size(value, 1_000)
    big = "x" * 1_000_000
    bomb = [[big] * 1000] * 1000  # 1e12 bytes of JSON, ~8 KB of memory
    before = _maxrss_mb()
    assert json_size(bomb, 1_900_000) > 1_900_000
    assert _maxrss_mb() - before < 50
