"""The multi-cloud example's functions, as each cloud would run them.

- ``price`` and ``fx_rates``: AWS Lambda Python handlers, ``handler(event, context)``;
- ``app``: an Azure Functions (Python v2 model) app with the ``tax`` HTTP function;
- ``gcp_main.py``: the Google Cloud Function ``fx_rates`` (functions-framework).

Locally, ``activities.emulators`` serves them (see README.md); in the clouds, deploy each one
with its usual tooling and point the worker's providers file at the real services.
"""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func

PRICES = {"book": 12.0, "lamp": 40.0}
FX = {"EUR": 0.92, "GBP": 0.79, "USD": 1.0}
VAT = {"de": 0.19, "fr": 0.20, "uk": 0.20}


def price(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda: the order's net price in USD."""
    total = sum(PRICES[item] * qty for item, qty in event["items"].items())
    return {"usd": round(total, 2)}


def fx_rates(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda: the USD exchange rate of a currency (the emulator marks it down)."""
    return {"rate": FX[event["currency"]], "source": "aws-lambda"}


app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.route(route="tax", methods=["POST"])
def tax(req: func.HttpRequest) -> func.HttpResponse:
    """Azure Function: VAT for a country; 422 for a country it does not know."""
    country = req.get_json()["country"]
    if country not in VAT:
        return func.HttpResponse(json.dumps({"error": f"no VAT for {country}"}), status_code=422)
    amount = float(req.get_json()["amount"])
    body = {"country": country, "vat": round(amount * VAT[country], 2)}
    return func.HttpResponse(json.dumps(body), mimetype="application/json")
