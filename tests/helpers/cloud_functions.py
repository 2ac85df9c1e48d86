"""Functions the cloud emulators serve in tests: Lambda handlers, an Azure FunctionApp, and
(in ``gcp_functions.py``) HTTP Cloud Functions for functions-framework."""

from __future__ import annotations

import json
import time
from typing import Any

import azure.functions as func


class CardDeclined(Exception):
    pass


def lambda_echo(event: Any, context: Any) -> Any:
    custom = context.client_context.custom if context.client_context else {}
    return {"echo": event, "key": custom.get("idempotency_key"), "fn": context.function_name}


def lambda_declined(event: Any, context: Any) -> Any:
    raise CardDeclined(f"card {event.get('card')} declined")


def lambda_slow(event: Any, context: Any) -> Any:
    time.sleep(float(event.get("seconds", 2)))
    return {"slept": event.get("seconds", 2)}


app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.route(route="echo/{tag}", methods=["POST"])
def azure_echo(req: func.HttpRequest) -> func.HttpResponse:
    body = {
        "echo": req.get_json(),
        "tag": req.route_params.get("tag"),
        "key": req.headers.get("idempotency-key"),
    }
    return func.HttpResponse(json.dumps(body), mimetype="application/json")


@app.route(route="reject", methods=["POST"])
def azure_reject(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps({"error": "bad amount"}), status_code=422)


@app.route(route="crash", methods=["POST"])
def azure_crash(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("unhandled in the function")


@app.route(route="slow", methods=["POST"])
def azure_slow(req: func.HttpRequest) -> func.HttpResponse:
    time.sleep(float(req.get_json().get("seconds", 2)))
    return func.HttpResponse("{}", mimetype="application/json")
