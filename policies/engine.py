"""Policy-as-code: rule sets written as YAML data, checked against compiled definitions.

A rule is a JSONata condition that must hold for every subject of its scope (the definition,
each function, each state); there is no ``eval``: JSONata reads only the context it is given.
A rule set is validated before use, so a typo in a rule is a located error in the policy file,
never a rule that silently passes. docs/policies.md documents the format and the context.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nexus_temporal.dsl.errors import Code, DefinitionError, DefinitionIssue, Location, did_you_mean
from nexus_temporal.dsl.expressions import ExpressionError, compile_expression, evaluate
from nexus_temporal.dsl.loader import Document, load_yaml_file
from nexus_temporal.dsl.plan import Plan
from nexus_temporal.errors import NexusTemporalError
from nexus_temporal.registry import Registry
from policies.context import FIELDS, ROOTS, SCOPES, Subject, subjects

DEFAULT_POLICY = Path(__file__).with_name("default.yaml")
SEVERITIES = ("error", "warning")
_RULE_KEYS = ("id", "severity", "rule", "message", "when", "scope", "description")
_TOP_KEYS = ("rules", "policies", "description")
_JSONATA_KEYWORDS = ("and", "or", "in", "true", "false", "null")


@dataclass(frozen=True)
class Rule:
    """One rule: ``rule`` must be true for every subject of ``scope`` for which ``when`` is."""

    id: str
    severity: str
    rule: str
    message: str
    scope: str
    when: str | None
    location: Location

    def applies(self, context: dict[str, Any]) -> bool:
        return self.when is None or _truthy(self._evaluate(self.when, context))

    def holds(self, context: dict[str, Any]) -> bool:
        return _truthy(self._evaluate(self.rule, context))

    def _evaluate(self, text: str, context: dict[str, Any]) -> Any:
        try:
            return evaluate(text, context)
        except ExpressionError as exc:
            raise PolicyEvaluationError(self, exc.message) from None


class PolicyEvaluationError(NexusTemporalError):
    def __init__(self, rule: Rule, message: str) -> None:
        self.rule = rule
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class Violation:
    """A subject that breaks a rule."""

    rule: str
    severity: str
    message: str
    location: Location
    definition: str
    state: str | None = None
    function: str | None = None
    policy: str = ""

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def render(self) -> str:
        where = ""
        if self.state:
            where = f" (state '{self.state}')"
        elif self.function:
            where = f" (function '{self.function}')"
        return f"{self.location}: {self.severity}: [{self.rule}] {self.message}{where}"

    def to_issue(self) -> DefinitionIssue:
        """As a located definition error (how the worker refuses a definition)."""
        message = f"[{self.rule}] {self.message}"
        if self.function and not self.state:
            message += f" (function '{self.function}')"
        return DefinitionIssue(
            self.location,
            message,
            state=self.state,
            hint=f"policy {self.policy}: fix the definition, or allow policy violations",
            code=Code.POLICY,
        )


@dataclass(frozen=True)
class Policy:
    """The rules of one policy file."""

    file: str
    rules: tuple[Rule, ...]


def _truthy(value: Any) -> bool:
    """JSONata's boolean cast: undefined, null, false, 0, '' and empty arrays are false."""
    if isinstance(value, list):
        return any(_truthy(v) for v in value)
    return bool(value)


# --- loading and validating policy files ----------------------------------------------------


def load_policy(path: str | Path) -> Policy:
    """Load and validate one policy file.

    Raises:
        DefinitionError: every problem in the file, located (file:line:column).
    """
    source = DEFAULT_POLICY if str(path) == "default" else Path(path)
    doc = load_yaml_file(source)
    issues: list[DefinitionIssue] = []

    def problem(
        where: tuple[Any, ...], message: str, hint: str | None = None, key: bool = False
    ) -> None:
        issues.append(
            DefinitionIssue(doc.location(where, key=key), message, hint=hint, code=Code.POLICY)
        )

    data = doc.data
    if not isinstance(data, dict):
        problem((), "a policy file must be a mapping with a 'rules' list", "start with 'rules:'")
        raise DefinitionError(issues)
    for key in data:
        if key not in _TOP_KEYS:
            problem(
                (key,),
                f"unknown field '{key}'",
                did_you_mean(key, _TOP_KEYS) or "allowed: rules, description",
                key=True,
            )
    if "rules" in data and "policies" in data:
        problem(("policies",), "give 'rules' or 'policies', not both", key=True)
    list_key = "rules" if "rules" in data else "policies"
    raw_rules = data.get(list_key)
    if not isinstance(raw_rules, list):
        problem(
            (list_key,) if list_key in data else (),
            "'rules' must be a list of rules",
            "e.g. rules: [{id: bounded-retries, severity: error, rule: ...}]",
        )
        raise DefinitionError(issues)
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_rules):
        rule = _load_rule(doc, (list_key, i), raw, problem)
        if rule is None:
            continue
        if rule.id in seen:
            problem((list_key, i, "id"), f"duplicate rule id '{rule.id}'", "give each an own id")
            continue
        seen[rule.id] = i
        rules.append(rule)
    if issues:
        raise DefinitionError(issues)
    return Policy(str(source), tuple(rules))


def _load_rule(
    doc: Document, path: tuple[Any, ...], raw: Any, problem: Callable[..., None]
) -> Rule | None:
    if not isinstance(raw, dict):
        problem(path, "a rule must be a mapping with 'id', 'severity' and 'rule'")
        return None
    ok = True
    for key in raw:
        if key not in _RULE_KEYS:
            hint = did_you_mean(str(key), _RULE_KEYS) or f"allowed: {', '.join(_RULE_KEYS)}"
            problem(path + (key,), f"unknown field '{key}' in a rule", hint, key=True)
            ok = False
    for key in ("id", "severity", "rule"):
        if key not in raw:
            problem(path, f"rule is missing '{key}'", f"add '{key}:'", key=True)
            ok = False
        elif not isinstance(raw[key], str) or not raw[key].strip():
            problem(path + (key,), f"'{key}' must be a non-empty string")
            ok = False
    for key in ("message", "when", "scope", "description"):
        if key in raw and not isinstance(raw[key], str):
            problem(path + (key,), f"'{key}' must be a string")
            ok = False
    if not ok:
        return None
    severity = raw["severity"]
    if severity not in SEVERITIES:
        hint = did_you_mean(severity, SEVERITIES) or "use 'error' or 'warning'"
        problem(path + ("severity",), f"unknown severity '{severity}'", hint)
        ok = False
    scope = raw.get("scope")
    if scope is not None and scope not in SCOPES:
        hint = did_you_mean(scope, SCOPES) or f"use one of {', '.join(SCOPES)}"
        problem(path + ("scope",), f"unknown scope '{scope}'", hint)
        ok = False
    texts = [("rule", raw["rule"])] + ([("when", raw["when"])] if "when" in raw else [])
    roots: set[str] = set()
    for key, text in texts:
        try:
            ast = compile_expression(text).ast
        except ExpressionError as exc:
            problem(path + (key,), f"invalid JSONata in '{key}': {exc.message}")
            ok = False
            continue
        refs: list[tuple[list[str], int]] = []
        _references(ast, refs)
        roots.update(names[0] for names, _ in refs)
        if scope is None or scope in SCOPES:
            for message, hint in _field_problems(refs, scope):
                problem(path + (key,), f"in '{key}': {message}", hint)
                ok = False
    if not ok:
        return None
    if scope is None:  # inferred: the narrowest root the rule names
        scope = next((s for s in ("state", "function") if s in roots), "definition")
        for message, hint in _field_problems(_refs_of(texts), scope):
            problem(path + ("rule",), f"in 'rule': {message}", hint)
            return None
    return Rule(
        id=raw["id"],
        severity=severity,
        rule=raw["rule"],
        message=raw.get("message") or f"must hold: {raw['rule']}",
        scope=scope,
        when=raw.get("when"),
        location=doc.location(path),
    )


def _refs_of(texts: list[tuple[str, str]]) -> list[tuple[list[str], int]]:
    refs: list[tuple[list[str], int]] = []
    for _, text in texts:
        _references(compile_expression(text).ast, refs)
    return refs


def _field_problems(
    refs: list[tuple[list[str], int]], scope: str | None
) -> Iterable[tuple[str, str]]:
    """Unknown roots and fields among the absolute paths a rule names."""
    roots = ROOTS[scope] if scope else tuple(FIELDS)
    for names, column in refs:
        root = names[0]
        if root in _JSONATA_KEYWORDS:
            continue
        if root not in roots:
            hint = did_you_mean(root, roots) or f"a {scope or 'rule'} rule reads {', '.join(roots)}"
            yield f"unknown name '{root}' at column {column}", hint
            continue
        schema: Any = FIELDS[root]
        for depth, name in enumerate(names[1:], start=1):
            if not isinstance(schema, dict):
                break
            if name not in schema:
                where = ".".join(names[:depth])
                hint = did_you_mean(name, schema) or f"fields of {where}: see docs/policies.md"
                yield f"unknown field '{where}.{name}' at column {column}", hint
                break
            schema = schema[name]


def _references(node: Any, out: list[tuple[list[str], int]], relative: bool = False) -> None:
    """Collect the absolute field paths (``state.retry.max_attempts``) of a JSONata AST.

    Paths inside filters and lambdas are relative to their context and are not collected.
    """
    if node is None:
        return
    if isinstance(node, list):
        for item in node:
            _references(item, out, relative)
        return
    kind = getattr(node, "type", None)
    if kind is None:
        return
    if kind == "path":
        steps = node.steps or []
        names: list[str] = []
        for step in steps:
            if getattr(step, "type", None) != "name" or len(names) < steps.index(step):
                break
            names.append(str(step.value))
        for step in steps:
            if getattr(step, "type", None) == "name":
                _walk_children(step, out, relative=True, skip_self=True)
            else:
                _references(step, out, relative=True)
        if names and not relative:
            out.append((names, max(1, int(steps[0].position) - len(names[0]) + 1)))
        return
    if kind == "name":
        if not relative:
            out.append(([str(node.value)], max(1, int(node.position) - len(str(node.value)) + 1)))
        _walk_children(node, out, relative=True, skip_self=True)
        return
    if kind == "lambda":
        _walk_children(node, out, relative=True)
        return
    _walk_children(node, out, relative)


_CHILDREN = (
    "lhs",
    "rhs",
    "expression",
    "expressions",
    "arguments",
    "procedure",
    "condition",
    "then",
    "_else",
    "steps",
    "body",
    "terms",
    "update",
    "delete",
    "pattern",
)


def _walk_children(
    node: Any, out: list[tuple[list[str], int]], relative: bool, skip_self: bool = False
) -> None:
    for attr in _CHILDREN:
        child = getattr(node, attr, None)
        if child is not None:
            _references(child, out, relative)
    for attr in ("stages", "predicate", "group"):
        child = getattr(node, attr, None)
        if child is None:
            continue
        if attr == "group":
            for pair in getattr(child, "lhs_object", None) or []:
                _references(list(pair), out, True)
            continue
        for stage in child if isinstance(child, list) else [child]:
            _references(getattr(stage, "expr", None), out, True)
    if not skip_self:
        for pair in getattr(node, "lhs_object", None) or []:
            _references(list(pair), out, relative)


def load_policies(paths: Sequence[str | Path]) -> list[Policy]:
    """Load several policy files, collecting the problems of all before raising."""
    policies: list[Policy] = []
    issues: list[DefinitionIssue] = []
    for p in paths:
        try:
            policies.append(load_policy(p))
        except DefinitionError as exc:
            issues.extend(exc.issues)
    if issues:
        raise DefinitionError(issues)
    return policies


# --- checking definitions --------------------------------------------------------------------


def check_plan(
    plan: Plan, policies: Sequence[Policy], doc: Document | None = None
) -> list[Violation]:
    """Every violation of ``policies`` by ``plan`` (re-reading its source for what was written).

    Raises:
        DefinitionError: a rule could not be evaluated (located at the rule).
    """
    found: list[Violation] = []
    all_subjects: list[Subject] = list(subjects(plan, doc))
    for policy in policies:
        for rule in policy.rules:
            for subject in all_subjects:
                if subject.scope != rule.scope:
                    continue
                try:
                    broken = rule.applies(subject.context) and not rule.holds(subject.context)
                except PolicyEvaluationError as exc:
                    what = subject.state or subject.function or subject.definition
                    raise DefinitionError(
                        [
                            DefinitionIssue(
                                rule.location,
                                f"rule '{rule.id}' cannot be evaluated for '{what}' "
                                f"({subject.location}): {exc.message}",
                                hint="guard the expression, e.g. 'field != null and ...'",
                                code=Code.POLICY,
                            )
                        ]
                    ) from None
                if broken:
                    found.append(
                        Violation(
                            rule=rule.id,
                            severity=rule.severity,
                            message=rule.message,
                            location=subject.location,
                            definition=subject.definition,
                            state=subject.state,
                            function=subject.function,
                            policy=policy.file,
                        )
                    )
    return sorted(found, key=lambda v: (v.location.file, v.location.line, v.location.column))


def enforce(registry: Registry, policy_files: Sequence[str | Path]) -> list[Violation]:
    """Every violation of the policy files by the definitions of ``registry`` (none without
    policy files). Raises DefinitionError for an invalid policy file."""
    if not policy_files:
        return []
    policies = load_policies(policy_files)
    found: list[Violation] = []
    for plan in sorted(registry.plans, key=lambda p: (p.source, p.name, p.version)):
        found.extend(check_plan(plan, policies))
    return found


def refuse_violations(
    registry: Registry, policy_files: Sequence[str | Path], allow: bool = False
) -> list[Violation]:
    """What a worker calls before serving ``registry``: raise DefinitionError listing every
    error-severity violation unless ``allow``; return all violations (for logging)."""
    found = enforce(registry, policy_files)
    errors = [v for v in found if v.is_error]
    if errors and not allow:
        raise DefinitionError([v.to_issue() for v in errors])
    return found
