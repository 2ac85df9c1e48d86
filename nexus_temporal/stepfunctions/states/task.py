"""ASL Task states → NEXUS ``task`` (Lambda, activities, service integrations), ``workflow``
(``states:startExecution``) or a task plus a callback wait (``.waitForTaskToken``).

The task token of a callback task is ``<workflow id>|task-token:<state>``; the workflow waits for
the signal ``task-token:<state>`` carrying ``{"output": ...}`` (SendTaskSuccess) or
``{"error": ..., "cause": ...}`` (SendTaskFailure); see ``callback.py``.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

from nexus_temporal.stepfunctions.context import StateContext
from nexus_temporal.stepfunctions.paths import PathError, reference, template

_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")
_LAMBDA_ARN = re.compile(
    r"^arn:aws[\w-]*:lambda:[^:]*:[^:]*:function:(?P<name>[^:]+)(:(?P<qualifier>[^:]+))?$"
)
_SERVICE = re.compile(r"^arn:aws[\w-]*:states:::(?P<service>.+)$")
_ACTIVITY = re.compile(r"^arn:aws[\w-]*:states:[^:]*:[^:]*:activity:(?P<name>.+)$")
_STATE_MACHINE = re.compile(r"^arn:aws[\w-]*:states:[^:]*:[^:]*:stateMachine:(?P<name>[^:]+)")
LAMBDA_WRAP = '{"ExecutedVersion": "$LATEST", "Payload": $res, "StatusCode": 200}'
TOKEN_SIGNAL = "task-token:{state}"


def signal_name(state: str) -> str:
    """The signal a callback task of ``state`` waits for."""
    return TOKEN_SIGNAL.format(state=state)


def _lambda_target(ctx: StateContext, ref: str) -> tuple[str, str]:
    """(function key, target) for a Lambda name, ARN or ``${Placeholder}``."""
    ref = ref.strip()
    m = _LAMBDA_ARN.match(ref)
    qualifier = None
    if m:
        name, qualifier = m.group("name"), m.group("qualifier")
    else:
        name = ref
    placeholder = _PLACEHOLDER.fullmatch(name) or _PLACEHOLDER.fullmatch(ref)
    if placeholder:
        name = placeholder.group(1)
        ctx.ok(
            f"deployment placeholder '${{{name}}}' kept as the function "
            f"'{re.sub(r'[^A-Za-z0-9_-]', '_', name)}' (aws-lambda:{name}); set its target "
            "to the deployed function when you deploy",
        )
    name = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64] or "function"
    target = f"aws-lambda:{name}" + (f":{qualifier}" if qualifier and "$" not in qualifier else "")
    return name, target


def _static(params: Any, key: str, jsonata: bool) -> tuple[Any, bool]:
    """A parameter's value and whether it is static (not a path or expression)."""
    if not isinstance(params, dict):
        return None, False
    if key in params:
        value = params[key]
        dynamic = jsonata and isinstance(value, str) and value.strip().startswith("{%")
        return value, not dynamic
    if f"{key}.$" in params:
        return params[f"{key}.$"], False
    return None, True


def _payload(ctx: StateContext, params: Any, key: str | None) -> str:
    """The action's input: the whole Parameters/Arguments, or one key of it (``Payload``)."""
    if ctx.jsonata:
        if key is None:
            return ctx.jsonata_expr(params) if params is not None else "$data.value"
        if isinstance(params, dict):
            if key in params:
                return ctx.jsonata_expr(params[key])
            return "$data.value"
        return f"({ctx.jsonata_expr(params)}).{key}"
    eff = ctx.effective_input()
    env = ctx.env.at(eff)
    if key is None:
        return template(params, env) if params is not None else eff
    if isinstance(params, dict):
        if f"{key}.$" in params:
            return reference(str(params[f"{key}.$"]), env)
        if key in params:
            return template(params[key], env)
    return eff


def _default_timeout(ctx: StateContext, task: dict[str, Any], is_lambda: bool) -> None:
    """A Task without TimeoutSeconds may run for 99999999 s in Step Functions; NEXUS's default
    is 60 s. A Lambda cannot run longer than 15 minutes, so that bound is exact; any other
    resource gets the NEXUS default, and the report says so."""
    if is_lambda:
        task["timeout"] = "15m"
        ctx.ok("no TimeoutSeconds: timeout 15m, the longest a Lambda can run")
    else:
        ctx.approx(
            "no TimeoutSeconds: Step Functions lets this task run up to 99999999 s, NEXUS "
            "applies its default task timeout (60s, or 'defaults.timeout'); set 'timeout' "
            "to the longest the task really takes",
        )


def convert(ctx: StateContext) -> list[dict[str, Any]]:
    s = ctx.state
    resource = s.get("Resource")
    if not isinstance(resource, str):
        raise PathError("a Task state needs a 'Resource' string")
    params = s.get("Arguments" if ctx.jsonata else "Parameters")
    callback = resource.endswith(".waitForTaskToken")
    if callback:
        token = f'$workflow.id & "|" & {json.dumps(signal_name(ctx.asl_name))}'
        ctx.env = replace(ctx.env, token=token)
    service = _SERVICE.match(resource)
    wrap: str | None = None
    is_lambda = False
    if service and service.group("service").startswith("states:startExecution"):
        return _start_execution(ctx, service.group("service"), params)
    if service and service.group("service").split(".")[0] == "lambda:invoke":
        fn, static = _static(params, "FunctionName", ctx.jsonata)
        if isinstance(fn, str) and static:
            key, target = _lambda_target(ctx, fn)
        else:
            key, target = "lambda_invoke", "aws-lambda:lambda_invoke"
            ctx.approx(
                "FunctionName is computed at run time: NEXUS calls a fixed "
                "function; set the target of 'lambda_invoke'",
            )
        action = ctx.function(key, target, user=False)
        payload = _payload(ctx, params, "Payload")
        is_lambda = True
        if not callback:
            wrap = LAMBDA_WRAP
        what = f"lambda:invoke → task calling aws-lambda ({target})"
    elif (
        _PLACEHOLDER.fullmatch(resource.strip())
        or resource.startswith("arn:aws:lambda:")
        or (re.match(r"^arn:aws[\w-]*:lambda:", resource))
    ):
        key, target = _lambda_target(ctx, resource)
        action = ctx.function(key, target, user=False)
        payload = _payload(ctx, params, None)
        is_lambda = True
        what = f"Lambda task → task calling {target}"
    elif _ACTIVITY.match(resource):
        name = _ACTIVITY.match(resource).group("name")  # type: ignore[union-attr]
        action = ctx.function(name, f"activity:{name}", user=True)
        payload = _payload(ctx, params, None)
        what = f"activity → task calling the Temporal activity type '{name}'"
    else:
        integration = service.group("service") if service else resource
        if integration.startswith("aws-sdk:"):
            integration = integration[len("aws-sdk:") :]
        key = integration.replace(":", "_").replace(".", "_")
        action = ctx.function(key, f"activity:sfn.{integration}", user=True)
        payload = _payload(ctx, params, None)
        ctx.approx(
            f"service integration '{resource}' → the function '{action}' "
            f"(activity type 'sfn.{integration}'): supply an implementation that "
            "does what the integration did and returns its result"
            + (" once the job has finished (.sync)" if ".sync" in integration else ""),
        )
        what = f"{integration} → task calling '{action}'"
    task: dict[str, Any] = {"name": ctx.name, "action": action}
    task["input"] = payload  # always: without it NEXUS would send the whole envelope
    task["retry"] = ctx.retry()
    if callback:
        return _callback(ctx, task, what)
    ctx.timeouts(task, heartbeat_ok=bool(_ACTIVITY.match(resource)))
    if "TimeoutSeconds" not in s and "TimeoutSecondsPath" not in s:
        _default_timeout(ctx, task, is_lambda)
    ctx.apply_result(task, wrap or "$res")
    ctx.set_next(task)
    ctx.ok(what)
    return [task]


def _callback(ctx: StateContext, task: dict[str, Any], what: str) -> list[dict[str, Any]]:
    """``.waitForTaskToken``: send (the task), then wait for the token's signal."""
    s = ctx.state
    wait_name = ctx.helper("callback")
    task["assign"] = {}
    catch = ctx.catch_rules()
    if catch:
        task["catch"] = catch
    task["next"] = wait_name
    signal = signal_name(ctx.asl_name)
    result = ctx.select_result("$res.output")
    value = ctx.value_after(result)
    wait: dict[str, Any] = {
        "name": wait_name,
        "type": "wait",
        "signal": signal,
        "assign": {
            "value": f"($res := $; $exists($res.output) ? {value} : $data.value)",
            "error": '$exists($.error) ? {"type": $.error, "message": $.cause} : null',
        },
    }
    vars_ = ctx.vars_after(result)
    if vars_:
        wait["assign"]["vars"] = f"($res := $; $exists($res.output) ? {vars_} : $data.vars)"
    if isinstance(s.get("TimeoutSeconds"), (int, float)):
        wait["timeout"] = f"{s['TimeoutSeconds']}s"
    elif "TimeoutSecondsPath" in s or "TimeoutSeconds" in s:
        ctx.approx(
            "a dynamic TimeoutSeconds is not carried: the callback waits "
            "without a timeout; set 'timeout' on the callback wait",
        )
    if "HeartbeatSeconds" in s or "HeartbeatSecondsPath" in s:
        ctx.approx(
            "HeartbeatSeconds is dropped: SendTaskHeartbeat has no NEXUS "
            "equivalent; TimeoutSeconds still bounds the wait",
        )
    if catch:
        wait["catch"] = catch
    check_name = ctx.helper("check callback")
    wait["next"] = check_name
    rules: list[dict[str, Any]] = []
    for i, catcher in enumerate(s.get("Catch") or []):
        names = catcher.get("ErrorEquals") or []
        if any(n in ("States.ALL", "States.TaskFailed") for n in names):
            when = '$type(error) = "object"'
        else:
            when = f'$type(error) = "object" and error.type in {json.dumps(names)}'
        rules.append({"when": when, "next": catch[i]["next"]})
    failed = ctx.helper("callback failed")
    rules.append({"when": '$type(error) = "object"', "next": failed})
    check: dict[str, Any] = {"name": check_name, "type": "choice", "choices": rules}
    nxt = ctx.next_name()
    extra: list[dict[str, Any]] = []
    if nxt is None:
        nxt = ctx.helper("done")
        extra.append({"name": nxt, "type": "succeed"})
    check["default"] = nxt
    fail = {
        "name": failed,
        "type": "fail",
        "error": "States.TaskFailed",
        "message": f"the callback of '{ctx.asl_name}' reported a failure (SendTaskFailure)",
    }
    ctx.ok(
        f"{what}, then a wait for the signal '{signal}' (.waitForTaskToken); "
        "the task token is '<workflow id>|" + signal + "'",
    )
    ctx.approx(
        "an uncaught SendTaskFailure fails the workflow with "
        "States.TaskFailed, not with the error name it sent",
    )
    return [task, wait, check, fail, *extra]


def _machine_name(ctx: StateContext, arn: Any, static: bool) -> str:
    if not isinstance(arn, str) or not static:
        ctx.unsupported(
            "StateMachineArn is computed at run time: NEXUS starts a "
            "fixed child definition; replace 'child-state-machine' with its name",
        )
        return "child-state-machine"
    m = _STATE_MACHINE.match(arn)
    name = m.group("name") if m else arn
    p = _PLACEHOLDER.search(name)
    if p:
        name = p.group(1)
    return name


def _start_execution(ctx: StateContext, service: str, params: Any) -> list[dict[str, Any]]:
    arn, static = _static(params, "StateMachineArn", ctx.jsonata)
    child = _machine_name(ctx, arn, static)
    payload = _payload(ctx, params, "Input")
    if isinstance(params, dict) and "Input" not in params and "Input.$" not in params:
        payload = "{}"
    out: dict[str, Any] = {
        "name": ctx.name,
        "type": "workflow",
        "workflow": child,
        "input": payload,
    }
    if service.endswith(".sync:2"):
        wrap = '{"Output": $res, "Status": "SUCCEEDED"}'
    elif service.endswith(".sync"):
        wrap = '{"Output": $states_json_to_string($res), "Status": "SUCCEEDED"}'
    elif service.endswith(".waitForTaskToken"):
        wrap = "$res"
        ctx.approx(
            "startExecution.waitForTaskToken: the parent waits for the "
            "child's result instead of a token callback",
        )
    else:
        out["detached"] = True
        wrap = '{"ExecutionArn": $res.workflow_id, "StartDate": $context.State.EnteredTime}'
    ctx.apply_result(out, wrap)
    if ctx.state.get("Retry"):
        ctx.approx(
            "Retry on a child execution is not carried (NEXUS does not retry child workflows)",
        )
    if "TimeoutSeconds" in ctx.state or "TimeoutSecondsPath" in ctx.state:
        ctx.approx("TimeoutSeconds on a child execution is not carried")
    ctx.set_next(out)
    ctx.ok(
        f"{service} → workflow state starting '{child}' (convert that state "
        "machine too and serve it on the same worker); the result carries Output and "
        "Status only",
    )
    return [out]
