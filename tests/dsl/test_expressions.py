"""JSONata expressions: compiled and checked at load time, evaluated as templates."""

from __future__ import annotations

from typing import Any

import pytest

from nexus_temporal.dsl.expressions import (
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
