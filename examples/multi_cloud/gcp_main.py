"""The Google Cloud Function of the multi-cloud example (served by functions-framework)."""

from __future__ import annotations

from typing import Any

import functions_framework

FX = {"EUR": 0.92, "GBP": 0.79, "USD": 1.0}


@functions_framework.http
def fx_rates(request: Any) -> Any:
    currency = request.get_json()["currency"]
    return {"rate": FX[currency], "source": "gcp-function"}
