"""The compiler: normalisation, content hashes, immutability and the checks it reports."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pydantic
import pytest

from nexus_temporal.dsl import DefinitionError, Plan, compile_file, compile_many, compile_text
from nexus_temporal.dsl.compiler import DEFAULT_TIMEOUT
from nexus_temporal.dsl.schema import (
    CompensationSpec,
    ParallelState,
    RetrySpec,
    TaskState,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
APPENDIX_B_FIXED = EXAMPLES / "payment_reconciliation" / "workflow.yaml"


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def compile_ok(text: str) -> Plan:
    return compile_text(dedent(text), "test.yaml")


def compile_bad(text: str) -> DefinitionError:
    with pytest.raises(DefinitionError) as info:
        compile_text(dedent(text), "test.yaml")
    return info.value


def task(plan: Plan, name: str) -> TaskState:
    state = plan.state(name)
    assert isinstance(state, TaskState)
    return state


def retry_of(plan: Plan, name: str) -> RetrySpec:
    """A task's retry policy, which the compiler always expands into a RetrySpec."""
    retry = task(plan, name).retry
    assert isinstance(retry, RetrySpec)
    return retry


# --- Appendix B ----------------------------------------------------------------------------


def test_appendix_b_fixed_compiles() -> None:
    plan = compile_file(APPENDIX_B_FIXED)
    assert plan.name == "Payment Reconciliation"
    assert plan.version == "1.0"
    assert plan.source == str(APPENDIX_B_FIXED)
    assert plan.root.start == "ValidateUser"
    assert list(plan.root.states) == [
        "ValidateUser",
        "CheckBalance",
        "ExecuteTransfer",
        "LogTransaction",
    ]
    assert set(plan.scopes) == {""}
    validate = task(plan, "ValidateUser")
    assert validate.retry == RetrySpec(
        max_attempts=3, initial_interval=1.0, backoff_coefficient=2.0, maximum_interval=60.0
    )
    assert validate.on_failure is None, "the shorthand is expanded away"
    assert validate.compensate is None
    assert validate.timeout == DEFAULT_TIMEOUT
    check = task(plan, "CheckBalance")
    assert check.compensate == CompensationSpec(
        action="refund-user", retry=RetrySpec(max_attempts=5)
    )
    transfer = task(plan, "ExecuteTransfer")
    assert isinstance(transfer.compensate, CompensationSpec)
    assert transfer.compensate.action == "reverse-transfer"
    assert transfer.next == "LogTransaction"
    assert task(plan, "LogTransaction").next is None
    # No functions: section, so bare actions are activity types.
    target = plan.target("validate-user-function")
    assert target.activity_type == "validate-user-function"
    assert target.uri == "activity:validate-user-function"


def test_appendix_b_as_printed_names_the_missing_state() -> None:
    text = APPENDIX_B_FIXED.read_text()
    printed = text[: text.index("  - name: LogTransaction")]
    error = compile_bad(printed)
    assert len(error.issues) == 1
    issue = error.issues[0]
    assert issue.code == "unknown-state"
    assert issue.state == "ExecuteTransfer"
    assert "'next' goes to 'LogTransaction'" in issue.message
    line = printed.splitlines()[issue.location.line - 1]
    assert line.strip() == "next: LogTransaction"
    assert line[issue.location.column - 1 :] == "LogTransaction"


@pytest.mark.parametrize(
    "path", sorted(EXAMPLES.glob("*/workflow.yaml")), ids=lambda p: p.parent.name
)
def test_examples_compile(path: Path) -> None:
    plan = compile_file(path)
    assert plan.hash == compile_file(path).hash


def test_compile_many_collects_every_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nstates:\n  - name: A\n    type: pass\n    next: Nowhere\n")
    missing = tmp_path / "missing.yaml"
    plans, issues = compile_many([APPENDIX_B_FIXED, bad, missing])
    assert [p.name for p in plans] == ["Payment Reconciliation"]
    assert {i.location.file for i in issues} == {str(bad), str(missing)}
    assert any(i.code == "io" for i in issues)


# --- content hash ----------------------------------------------------------------------------

BASE = """
name: hash-demo
version: "3"
defaults:
  timeout: 30s
functions:
  charge: python:billing.cards:charge
states:
  - name: Charge
    action: charge
    retry: 2
    next: Done
  - name: Done
    type: succeed
"""

REORDERED = """
# Same content: keys in another order, comments, quoting and flow style changed.
states:
  - action: charge   # the function
    next: Done
    retry: {max_attempts: 2}
    name: Charge
  - type: succeed
    name: "Done"
functions: {charge: "python:billing.cards:charge"}
defaults:
  timeout: 30000ms
version: '3'
name: hash-demo
"""


def test_hash_is_a_sha256_hex_digest() -> None:
    plan = compile_ok(BASE)
    assert len(plan.hash) == 64
    int(plan.hash, 16)


def test_hash_is_stable_across_key_order_comments_and_style() -> None:
    assert compile_ok(BASE).hash == compile_ok(REORDERED).hash


def test_hash_ignores_the_file_name() -> None:
    a = compile_text(dedent(BASE), "a.yaml")
    b = compile_text(dedent(BASE), "elsewhere/b.yaml")
    assert a.hash == b.hash
    assert a.source != b.source


def test_hash_of_shorthand_equals_hash_of_expanded_fields() -> None:
    shorthand = """
    name: p
    states:
      - name: A
        action: do-it
        on_failure:
          retry: 3
          backoff: exponential
          compensate: undo-it
    """
    expanded = """
    name: p
    states:
      - name: A
        type: task
        action: do-it
        retry:
          max_attempts: 3
          backoff_coefficient: 2
        compensate:
          action: undo-it
          retry: {max_attempts: 5}
        timeout: 60s
    """
    assert compile_ok(shorthand).hash == compile_ok(expanded).hash


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('version: "3"', 'version: "4"'),
        ("timeout: 30s", "timeout: 31s"),
        ("retry: 2", "retry: 3"),
        ("name: hash-demo", "name: hash-demo-2"),
        ("python:billing.cards:charge", "python:billing.cards:charge_card"),
        ("type: succeed", "type: succeed\n    output: '\"done\"'"),
    ],
)
def test_hash_changes_when_content_changes(old: str, new: str) -> None:
    assert old in BASE
    assert compile_ok(BASE).hash != compile_ok(BASE.replace(old, new)).hash


# --- immutability ----------------------------------------------------------------------------


def test_plan_is_immutable() -> None:
    plan = compile_file(APPENDIX_B_FIXED)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.hash = "0" * 64  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        plan.definition.name = "other"  # type: ignore[misc]
    state = task(plan, "ValidateUser")
    with pytest.raises(pydantic.ValidationError):
        state.next = "LogTransaction"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        retry_of(plan, "ValidateUser").max_attempts = 10  # type: ignore[misc]
    with pytest.raises(TypeError):
        plan.root.states["Extra"] = state  # type: ignore[index]
    with pytest.raises(TypeError):
        plan.scopes["extra"] = plan.root  # type: ignore[index]
    assert isinstance(plan.definition.states, tuple)
    with pytest.raises(AttributeError):
        plan.definition.states.append(state)  # type: ignore[attr-defined]


# --- on_failure and other shorthands ------------------------------------------------------


def test_retry_number_is_max_attempts() -> None:
    plan = compile_ok(
        """
        name: r
        states:
          - name: A
            action: do-it
            retry: 7
        """
    )
    assert task(plan, "A").retry == RetrySpec(max_attempts=7)


def test_on_failure_retry_number_is_max_attempts() -> None:
    plan = compile_ok(
        """
        name: r
        states:
          - name: A
            action: do-it
            on_failure:
              retry: 3
        """
    )
    retry = retry_of(plan, "A")
    assert retry.max_attempts == 3
    assert retry.backoff_coefficient == 2.0


@pytest.mark.parametrize(
    ("backoff", "coefficient"),
    [("exponential", 2.0), ("fixed", 1.0), ("constant", 1.0)],
)
def test_on_failure_backoff_sets_coefficient(backoff: str, coefficient: float) -> None:
    plan = compile_ok(
        f"""
        name: r
        defaults:
          retry:
            max_attempts: 4
            backoff_coefficient: 1.5
        states:
          - name: A
            action: do-it
            on_failure:
              backoff: {backoff}
        """
    )
    retry = retry_of(plan, "A")
    assert retry.backoff_coefficient == coefficient
    assert retry.max_attempts == 4, "the defaults' policy is kept, only the coefficient changes"


def test_on_failure_compensate_string_becomes_compensation_spec() -> None:
    plan = compile_ok(
        """
        name: r
        states:
          - name: A
            action: do-it
            on_failure:
              compensate: undo-it
        """
    )
    compensate = task(plan, "A").compensate
    assert isinstance(compensate, CompensationSpec)
    assert compensate.action == "undo-it"
    assert compensate.retry == RetrySpec(max_attempts=5)
    assert compensate.input is None


def test_task_compensate_string_becomes_compensation_spec() -> None:
    plan = compile_ok(
        """
        name: r
        states:
          - name: A
            action: do-it
            compensate: undo-it
        """
    )
    assert task(plan, "A").compensate == CompensationSpec(
        action="undo-it", retry=RetrySpec(max_attempts=5)
    )


def test_task_settings_win_over_on_failure() -> None:
    plan = compile_ok(
        """
        name: r
        states:
          - name: A
            action: do-it
            retry: 9
            compensate: own-undo
            catch:
              - errors: [Own]
                next: B
            on_failure:
              retry: 2
              compensate: shorthand-undo
              catch:
                - errors: [Shorthand]
                  next: B
          - name: B
            type: fail
        """
    )
    a = task(plan, "A")
    assert retry_of(plan, "A").max_attempts == 9
    assert isinstance(a.compensate, CompensationSpec) and a.compensate.action == "own-undo"
    assert [c.errors for c in a.catch] == [("Shorthand",), ("Own",)], "shorthand catch first"
    assert a.on_failure is None


def test_retry_and_timeout_precedence() -> None:
    plan = compile_ok(
        """
        name: r
        defaults:
          timeout: 45s
          retry: {max_attempts: 4}
          task_queue: default-queue
        functions:
          slow:
            uri: activity:slow-thing
            timeout: 5m
            retry: {max_attempts: 8}
            task_queue: slow-queue
          plain: activity:plain-thing
        states:
          - name: A
            action: slow
            next: B
          - name: B
            action: plain
            timeout: 250ms
            next: C
          - name: C
            action: plain
        """
    )
    a, b, c = task(plan, "A"), task(plan, "B"), task(plan, "C")
    assert (a.timeout, a.task_queue) == (300.0, "slow-queue")
    assert retry_of(plan, "A").max_attempts == 8
    assert (b.timeout, b.task_queue) == (0.25, "default-queue")
    assert retry_of(plan, "B").max_attempts == 4
    assert c.timeout == 45.0
    assert plan.target("slow").activity_type == "slow-thing"


def test_action_without_type_is_a_task() -> None:
    implicit = compile_ok("name: t\nstates:\n  - name: A\n    action: do-it\n")
    explicit = compile_ok("name: t\nstates:\n  - name: A\n    type: task\n    action: do-it\n")
    assert isinstance(implicit.state("A"), TaskState)
    assert implicit.hash == explicit.hash


def test_version_number_becomes_text() -> None:
    plan = compile_ok("name: t\nversion: 2\nstates:\n  - name: A\n    type: succeed\n")
    assert plan.version == "2"


def test_parallel_branches_are_scopes() -> None:
    plan = compile_ok(
        """
        name: p
        states:
          - name: FanOut
            type: parallel
            branches:
              - name: left
                states:
                  - name: L1
                    action: do-left
                    retry: 2
              - name: right
                states:
                  - name: R1
                    type: pass
                    next: R2
                  - name: R2
                    type: succeed
            next: Done
          - name: Done
            type: succeed
        """
    )
    assert set(plan.scopes) == {"", "FanOut/left", "FanOut/right"}
    assert plan.scopes["FanOut/right"].start == "R1"
    assert isinstance(plan.state("FanOut"), ParallelState)
    assert retry_of(plan, "L1").max_attempts == 2, "branch tasks are normalised too"
    with pytest.raises(KeyError):
        plan.state("Nope")


# --- checks ----------------------------------------------------------------------------------


def test_all_problems_are_reported_at_once_in_line_order() -> None:
    error = compile_bad(
        """
        name: many
        states:
          - name: A
            type: pass
            next: Missing
          - name: B
            type: pass
            output: 'a +'
          - name: C
            type: choice
            choices:
              - when: x = 1
                next: Gone
        """
    )
    codes = [i.code for i in error.issues]
    assert "unknown-state" in codes and "jsonata" in codes and "unreachable" in codes
    lines = [i.location.line for i in error.issues]
    assert lines == sorted(lines)
    assert all(i.location.file == "test.yaml" for i in error.issues)


def test_state_names_must_be_unique_across_branches() -> None:
    error = compile_bad(
        """
        name: dup
        states:
          - name: FanOut
            type: parallel
            branches:
              - name: only
                states:
                  - name: FanOut
                    type: succeed
        """
    )
    issue = next(i for i in error.issues if i.code == "duplicate-state")
    assert issue.location.line == 8
    assert "first defined at test.yaml:3:11" in (issue.hint or "")


def test_duplicate_branch_names() -> None:
    error = compile_bad(
        """
        name: dup
        states:
          - name: FanOut
            type: parallel
            branches:
              - name: same
                states: [{name: A, type: succeed}]
              - name: same
                states: [{name: B, type: succeed}]
        """
    )
    assert [i.code for i in error.issues] == ["duplicate-branch"]
    assert error.issues[0].location.line == 8


def test_choice_without_default_can_end() -> None:
    plan = compile_ok(
        """
        name: loop-with-exit
        states:
          - name: Poll
            action: poll
            next: Check
          - name: Check
            type: choice
            choices:
              - when: status != "done"
                next: Poll
        """
    )
    assert plan.root.start == "Poll"


def test_start_at_changes_the_start() -> None:
    plan = compile_ok(
        """
        name: s
        start_at: B
        states:
          - name: A
            type: succeed
          - name: B
            type: pass
            next: A
        """
    )
    assert plan.root.start == "B"


@pytest.mark.parametrize(
    "uri",
    [
        "python:pkg.mod:func",
        "https://api.example.com/charge",
        "http://localhost:8080/x",
        "activity:charge-card",
        "aws-lambda:charge",
        "aws-lambda:charge:prod",
        "aws-lambda:arn:aws:lambda:eu-west-1:123456789012:function:charge:$LATEST",
        "azure-function:my-app/charge",
        "azure-function:https://my-app.azurewebsites.net/api/charge",
        "gcp-function:projects/my-proj/locations/europe-west1/functions/charge",
    ],
)
def test_valid_function_uris(uri: str) -> None:
    compile_ok(f"name: f\nfunctions:\n  f: '{uri}'\nstates:\n  - name: A\n    action: f\n")


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("python:nocolon", "is not a python function URI"),
        ("python:pkg.mod:", "is not a python function URI"),
        ("ftp://files.example.com/x", "unsupported function URI scheme 'ftp:'"),
        ("aws-lambda:bad name", "bad 'aws-lambda:' URI"),
        ("aws-lambda:arn:aws:lambda:eu-west-1:12:function:f", "is not a Lambda function ARN"),
        ("azure-function:charge", "is not an Azure function"),
        ("gcp-function:charge", "is not a Cloud Function name"),
        ("gcp-function:projects/p/locations/l/functions/", "is not a Cloud Function name"),
        ("activity:", "'activity:' needs an activity type name"),
        ("https://", "has no host"),
        ("http:example.com", "has no host"),
        ("just words", "is not a URI"),
    ],
)
def test_invalid_function_uris(uri: str, message: str) -> None:
    error = compile_bad(f"name: f\nfunctions:\n  f: '{uri}'\nstates:\n  - name: A\n    action: f\n")
    assert [i.code for i in error.issues] == ["bad-uri"]
    assert message in error.issues[0].message
    assert (error.issues[0].location.line, error.issues[0].location.column) == (3, 6)


def test_action_uri_without_functions_is_checked() -> None:
    error = compile_bad("name: f\nstates:\n  - name: A\n    action: 'python:nocolon'\n")
    assert [i.code for i in error.issues] == ["bad-uri"]
    assert (error.issues[0].location.line, error.issues[0].location.column) == (4, 13)


def test_undeclared_action_gets_did_you_mean() -> None:
    error = compile_bad(
        """
        name: f
        functions:
          charge: activity:charge
        states:
          - name: A
            action: chrage
        """
    )
    issue = error.issues[0]
    assert issue.code == "unknown-function"
    assert issue.hint == "did you mean 'charge'?"


def test_wait_timeout_only_with_signal() -> None:
    error = compile_bad(
        """
        name: w
        states:
          - name: Hold
            type: wait
            duration: 5s
            timeout: 1m
        """
    )
    assert [i.code for i in error.issues] == ["wait-kind"]
    assert "apply only to a wait for a signal" in error.issues[0].message
    assert error.issues[0].location.line == 3


def test_negative_retry_shorthand_is_a_definition_error() -> None:
    error = compile_bad("name: r\nstates:\n  - name: A\n    action: a\n    retry: -1\n")
    assert error.issues[0].code == "invalid-value"
    assert (error.issues[0].location.line, error.issues[0].location.column) == (5, 12)


def test_newlines_in_user_names_do_not_break_the_one_line_format() -> None:
    error = compile_bad('name: n\nstates:\n  - name: A\n    type: pass\n    "ne\\nxt": B\n')
    rendered = error.issues[0].render().splitlines()
    assert rendered[0] == "test.yaml:5:5: error: unknown field 'ne\\nxt' (state 'A')"
