"""Policy-as-code: the default rules, rule validation, ``nexus lint`` and the worker's refusal."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from activities.config import ProvidersConfig
from nexus_temporal.dsl.compiler import compile_file
from nexus_temporal.dsl.errors import DefinitionError
from nexus_temporal.registry import definition_files, load_registry
from policies.engine import DEFAULT_POLICY, Violation, check_plan, enforce, load_policy
from tests.helpers.processes import ROOT, nexus_cmd, run_cli
from workers.config import WorkerConfig
from workers.main import prepare

EXAMPLES = ROOT / "examples"


def lint_cmd(*args: str) -> list[str]:
    """``nexus lint`` once the main CLI has it wired, else the command's own module."""
    from nexus_temporal.cli import build_parser

    try:
        build_parser().parse_args(["lint", "x"])
        return nexus_cmd("lint", *args)
    except SystemExit:
        return [sys.executable, "-m", "nexus_temporal.cli", "lint", *args]


def write(tmp_path: Path, text: str, name: str = "workflow.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def violations(path: Path, policy: str | Path = "default") -> list[Violation]:
    return check_plan(compile_file(path), [load_policy(policy)])


GOOD = """
name: good
defaults:
  timeout: 10s
functions:
  charge: {uri: "https://pay.example.com/charge", method: POST}
  refund: {uri: "https://pay.example.com/refund", method: PUT}
  health: {uri: "http://localhost:8080/health", method: GET}
states:
  - name: Charge
    action: charge
    retry: 3
    compensate: refund
    next: Health
  - name: Health
    action: health
    next: Fan
  - name: Fan
    type: map
    items: xs
    action: activity:work
    max_concurrency: 5
"""

#: One definition per default rule that breaks it, with the state or function it names.
BAD = {
    "explicit-timeout": (
        """
        name: bad
        states:
          - name: NoTimeout
            action: activity:work
        """,
        "NoTimeout",
    ),
    "bounded-retries": (
        """
        name: bad
        defaults: {timeout: 5s}
        states:
          - name: Forever
            action: activity:work
            retry: 0
        """,
        "Forever",
    ),
    "bounded-compensation-retries": (
        """
        name: bad
        defaults: {timeout: 5s}
        states:
          - name: Undo
            action: activity:work
            compensate: {action: activity:undo, retry: {max_attempts: 0}}
        """,
        "Undo",
    ),
    "non-idempotent-needs-compensation": (
        """
        name: bad
        defaults: {timeout: 5s}
        functions:
          charge: https://pay.example.com/charge
        states:
          - name: Charge
            action: charge
        """,
        "Charge",
    ),
    "map-max-concurrency": (
        """
        name: bad
        defaults: {timeout: 5s}
        states:
          - name: Fan
            type: map
            items: xs
            action: activity:work
        """,
        "Fan",
    ),
    "no-plain-http": (
        """
        name: bad
        defaults: {timeout: 5s}
        functions:
          lookup: {uri: "http://api.example.com/lookup", method: GET}
        states:
          - name: Lookup
            action: lookup
        """,
        "lookup",
    ),
}


def test_default_policy_loads() -> None:
    policy = load_policy("default")
    assert policy.file == str(DEFAULT_POLICY)
    assert {r.id for r in policy.rules} == set(BAD)


@pytest.mark.parametrize("rule", sorted(BAD))
def test_each_default_rule_fires_on_a_bad_definition(tmp_path: Path, rule: str) -> None:
    text, subject = BAD[rule]
    found = violations(write(tmp_path, text))
    assert [v.rule for v in found] == [rule]
    v = found[0]
    assert subject in (v.state, v.function)
    assert v.location.file.endswith("workflow.yaml") and v.location.line > 0


def test_a_compliant_definition_has_no_violation(tmp_path: Path) -> None:
    assert violations(write(tmp_path, GOOD)) == []


def test_examples_break_no_error_rule() -> None:
    found = [v for f in definition_files([EXAMPLES]) for v in violations(f)]
    assert not [v for v in found if v.is_error]
    # The white paper's Appendix B document, as printed, chooses no timeouts.
    assert {(Path(v.location.file).parent.name, v.rule) for v in found} == {
        ("payment_reconciliation", "explicit-timeout")
    }


def test_nested_states_are_checked(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        name: nested
        defaults: {timeout: 5s}
        states:
          - name: Both
            type: parallel
            branches:
              - name: left
                states:
                  - name: Inner
                    type: map
                    items: xs
                    max_concurrency: 2
                    states:
                      - name: Deep
                        action: activity:work
                        retry: 0
        """,
    )
    found = violations(path)
    assert [(v.rule, v.state, v.location.line) for v in found] == [("bounded-retries", "Deep", 14)]


def test_white_paper_rule_format(tmp_path: Path) -> None:
    policy = write(
        tmp_path,
        """
        policies:
          - id: payment-retries
            rule: "function.retry_count >= 3"
            severity: error
        """,
        "policy.yaml",
    )
    loaded = load_policy(policy)
    assert loaded.rules[0].scope == "function"  # inferred from the names it reads
    definition = write(
        tmp_path,
        """
        name: pay
        functions:
          charge: {uri: "activity:charge", retry: {max_attempts: 4}}
          audit: activity:audit
        states:
          - name: Charge
            action: charge
            next: Audit
          - name: Audit
            action: audit
        """,
    )
    found = violations(definition, policy)
    assert [(v.function, v.message) for v in found] == [
        ("audit", "must hold: function.retry_count >= 3")
    ]


def test_written_data_lets_rules_tell_defaults_from_choices(tmp_path: Path) -> None:
    policy = write(
        tmp_path,
        """
        rules:
          - id: no-shorthand-retry
            severity: warning
            scope: state
            when: state.calls_function
            rule: $type(state.written.retry) != "number"
            message: write retry as a mapping
        """,
        "policy.yaml",
    )
    definition = write(
        tmp_path,
        """
        name: short
        states:
          - name: A
            action: activity:a
            retry: 2
        """,
    )
    assert [v.render().split(": ", 1)[1] for v in violations(definition, policy)] == [
        "warning: [no-shorthand-retry] write retry as a mapping (state 'A')"
    ]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            "  - id: x\n    severity: error\n    rule: 'state.name ='\n",
            ":4:11: error: invalid JSONata",
        ),
        (
            "  - id: x\n    severity: error\n    rule: state.retry.max_attemps > 0\n",
            "unknown field 'state.retry.max_attemps' at column 1",
        ),
        (
            "  - id: x\n    severity: error\n    rule: stat.name = 'a'\n",
            "unknown name 'stat' at column 1",
        ),
        ("  - id: x\n    severity: fatal\n    rule: 'true'\n", ":3:15: error: unknown severity"),
        ("  - id: x\n    severty: error\n    rule: 'true'\n", "did you mean 'severity'?"),
        ("  - id: x\n    severity: error\n", ":2:5: error: rule is missing 'rule'"),
        (
            "  - id: x\n    severity: error\n    scope: states\n    rule: 'true'\n",
            "unknown scope 'states'",
        ),
        (
            "  - id: x\n    severity: error\n    scope: function\n    rule: state.name = 'a'\n",
            "unknown name 'state'",
        ),
        (
            "  - {id: x, severity: error, rule: 'true'}\n"
            "  - {id: x, severity: error, rule: 'true'}\n",
            ":3:10: error: duplicate rule id 'x'",
        ),
    ],
)
def test_invalid_rules_are_located_errors(tmp_path: Path, rule: str, expected: str) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("rules:\n" + rule)
    with pytest.raises(DefinitionError) as info:
        load_policy(policy)
    text = info.value.render()
    assert text.startswith(str(policy)) and expected in text, text


def test_a_rule_that_fails_to_evaluate_is_a_policy_error(tmp_path: Path) -> None:
    policy = write(
        tmp_path,
        "rules:\n  - {id: typed, severity: error, rule: 'state.description > 3'}\n",
        "policy.yaml",
    )
    definition = write(tmp_path, "name: d\nstates:\n  - {name: A, type: succeed}\n")
    with pytest.raises(DefinitionError) as info:
        violations(definition, policy)
    assert "rule 'typed' cannot be evaluated for 'A'" in info.value.render()


# --- the worker ------------------------------------------------------------------------------


def _config(policies: list[Path], allow: bool = False) -> WorkerConfig:
    return WorkerConfig(
        providers=ProvidersConfig(), policies=policies, allow_policy_violations=allow
    )


def test_worker_refuses_a_definition_that_breaks_an_error_rule(tmp_path: Path) -> None:
    path = write(tmp_path, BAD["bounded-retries"][0])
    registry = load_registry([path])
    with pytest.raises(DefinitionError) as info:
        prepare(_config([DEFAULT_POLICY]), registry)
    text = info.value.render()
    assert f"{path}:4:5: error: [bounded-retries]" in text and "(state 'Forever')" in text
    prepare(_config([DEFAULT_POLICY], allow=True), registry)  # told otherwise: served
    prepare(_config([]), registry)  # no policy files: nothing enforced


def test_worker_serves_a_definition_with_warnings_only(tmp_path: Path) -> None:
    registry = load_registry([write(tmp_path, BAD["explicit-timeout"][0])])
    assert [v.rule for v in enforce(registry, [DEFAULT_POLICY])] == ["explicit-timeout"]
    prepare(_config([DEFAULT_POLICY]), registry)


def test_worker_refuses_an_invalid_policy_file(tmp_path: Path) -> None:
    registry = load_registry([write(tmp_path, GOOD)])
    policy = write(tmp_path, "rules:\n  - {id: x, severity: eror, rule: 'true'}\n", "p.yaml")
    with pytest.raises(DefinitionError, match="unknown severity 'eror'"):
        prepare(_config([policy]), registry)


# --- nexus lint ------------------------------------------------------------------------------


def test_lint_examples_passes_with_warnings() -> None:
    result = run_cli(lint_cmd("examples"))
    assert result.returncode == 0, result.stderr
    assert "warning: [explicit-timeout]" in result.stdout
    assert "Traceback" not in result.stderr


def test_lint_reports_violations_and_exits_1(tmp_path: Path) -> None:
    path = write(tmp_path, BAD["non-idempotent-needs-compensation"][0])
    result = run_cli(lint_cmd(str(path)))
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [
        f"{path}:6:5: error: [non-idempotent-needs-compensation] this action changes state and "
        "is not idempotent ('idempotent: false', or HTTP POST or PATCH): give the state a "
        "'compensate' that undoes it, "
        "so a failed workflow does not leave it half-done (state 'Charge')"
    ]


def test_lint_with_several_policies_and_json(tmp_path: Path) -> None:
    path = write(tmp_path, BAD["no-plain-http"][0])
    extra = write(
        tmp_path,
        "rules:\n  - {id: described, severity: warning, rule: 'definition.description'}\n",
        "extra.yaml",
    )
    result = run_cli(lint_cmd("--policy", "default", "--policy", str(extra), "--json", str(path)))
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert [(v["rule"], v["severity"], v["line"]) for v in report["violations"]] == [
        ("described", "warning", 1),
        ("no-plain-http", "error", 4),
    ]
    assert report["errors"] == 1 and report["warnings"] == 1


def test_lint_only_warnings_exits_0(tmp_path: Path) -> None:
    path = write(tmp_path, BAD["map-max-concurrency"][0])
    result = run_cli(lint_cmd(str(path)))
    assert result.returncode == 0
    assert "warning: [map-max-concurrency]" in result.stdout


def test_lint_usage_errors_exit_2(tmp_path: Path) -> None:
    good = write(tmp_path, GOOD)
    broken_policy = write(tmp_path, "rules:\n  - {id: x, severity: error, rule: '(('}\n", "p.yaml")
    result = run_cli(lint_cmd("--policy", str(broken_policy), str(good)))
    assert result.returncode == 2
    assert f"{broken_policy}:2:" in result.stderr and "invalid JSONata" in result.stderr

    invalid = write(tmp_path, "name: x\nstates:\n  - name: A\n    type: tsk\n", "invalid.yaml")
    result = run_cli(lint_cmd(str(invalid)))
    assert result.returncode == 2 and "unknown state type 'tsk'" in result.stderr

    result = run_cli(lint_cmd("--policy", str(tmp_path / "missing.yaml"), str(good)))
    assert result.returncode == 2 and "cannot read file" in result.stderr

    result = run_cli(lint_cmd(str(tmp_path / "nowhere")))
    assert result.returncode == 2
    for r in (result,):
        assert "Traceback" not in r.stderr
