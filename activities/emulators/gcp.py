"""Local Google Cloud Functions: Google's functions-framework serving real HTTP functions,
plus the two Google endpoints nexus needs around them.

On one loopback port:

- ``/fn/<name>/...``: each function, a functions-framework Flask app created with
  ``functions_framework.create_app(target, source)`` from a source file
  (``@functions_framework.http`` or a plain ``def f(request)``), behind the fault injector;
- ``GET /v2/projects/P/locations/L/functions/F``: the Cloud Functions API (REST) that
  ``google-cloud-functions``' ``FunctionServiceClient.get_function`` calls, answering the
  function's URL in ``serviceConfig.uri`` and ``url``;
- ``POST /token``: an OAuth token endpoint for service-account JWT grants (point a service
  account key file's ``token_uri`` here): it issues an ID token for the requested
  ``target_audience`` (or an access token), so google-auth's real ID-token flow runs.

With ``require_id_token`` a function call must carry ``Authorization: Bearer <ID token>``
whose ``aud`` is the function's URL, as Cloud Run's IAM check does.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Request, Response

from activities.emulators.base import Emulator, json_response

_API = re.compile(r"^/v2/projects/(?P<p>[^/]+)/locations/(?P<l>[^/]+)/functions/(?P<f>[^/]+)$")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_jwt(claims: Mapping[str, Any]) -> str:
    """An (unsigned-in-spirit) JWT: only this emulator reads it back."""
    header = _b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "emulator"}).encode())
    return f"{header}.{_b64(json.dumps(dict(claims)).encode())}.{_b64(b'emulator-signature')}"


def jwt_claims(token: str) -> dict[str, Any]:
    try:
        return dict(json.loads(_unb64(token.split(".")[1])))
    except (IndexError, ValueError):
        return {}


class GcpFunctionsEmulator(Emulator):
    """Serve HTTP Cloud Functions with functions-framework.

    ``functions``: name -> ``"path/to/source.py:target"`` (or ``(source, target)``).
    """

    name = "gcp-function"

    def __init__(
        self,
        functions: Mapping[str, str | tuple[str, str]],
        *,
        project: str = "local-project",
        location: str = "local",
        require_id_token: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        import functions_framework

        super().__init__(host, port)
        self.project = project
        self.location = location
        self.require_id_token = require_id_token
        self.apps: dict[str, Any] = {}
        for name, ref in functions.items():
            source, target = ref if isinstance(ref, tuple) else ref.rsplit(":", 1)
            if not Path(source).is_file():
                raise FileNotFoundError(f"function '{name}': no source file {source}")
            self.apps[name] = functions_framework.create_app(target=target, source=source)
        self.tokens_issued = 0

    def resource(self, name: str) -> str:
        return f"projects/{self.project}/locations/{self.location}/functions/{name}"

    def function_url(self, name: str) -> str:
        return f"{self.url}/fn/{name}"

    def dispatch(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "")
        if path.startswith("/fn/"):
            name, _, rest = path[len("/fn/") :].partition("/")
            if name in self.apps:
                return self._function(name, "/" + rest, environ, start_response)
        return super().dispatch(environ, start_response)

    def handle(self, request: Request) -> Response:
        if request.path == "/token" and request.method == "POST":
            return self._token(request)
        match = _API.match(request.path)
        if match and request.method == "GET":
            name = match["f"]
            if (match["p"], match["l"]) != (self.project, self.location) or name not in self.apps:
                return json_response(
                    {
                        "error": {
                            "code": 404,
                            "message": f"Resource '{request.path[4:]}' was not found",
                            "status": "NOT_FOUND",
                        }
                    },
                    404,
                )
            url = self.function_url(name)
            return json_response(
                {
                    "name": self.resource(name),
                    "state": "ACTIVE",
                    "environment": "GEN_2",
                    "url": url,
                    "serviceConfig": {"uri": url},
                }
            )
        return json_response({"error": {"code": 404, "message": "not found"}}, 404)

    def _token(self, request: Request) -> Response:
        assertion = request.form.get("assertion", "")
        claims = jwt_claims(assertion)
        now = int(time.time())
        self.tokens_issued += 1
        audience = claims.get("target_audience")
        if audience:
            token = make_jwt(
                {
                    "aud": audience,
                    "iss": "https://accounts.google.com",
                    "sub": claims.get("iss", "emulator"),
                    "email": claims.get("iss", "emulator"),
                    "iat": now,
                    "exp": now + 3600,
                    "jti": uuid.uuid4().hex,
                }
            )
            return json_response({"id_token": token})
        return json_response(
            {
                "access_token": f"emulator-{uuid.uuid4().hex}",
                "expires_in": 3600,
                "token_type": "Bearer",
            }
        )

    def _function(
        self,
        name: str,
        rest: str,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
    ) -> Iterable[bytes]:
        request = Request(environ)
        if self.require_id_token:
            auth = request.headers.get("Authorization", "")
            claims = jwt_claims(auth[len("Bearer ") :]) if auth.startswith("Bearer ") else {}
            if claims.get("aud") != self.function_url(name):
                response = Response("Unauthorized: missing or wrong ID token audience", 401)
                return response(environ, start_response)
        decision, faults = self.faults.decide(name, request.headers.get("Idempotency-Key"))
        if decision == "outage":
            return Response("Service Unavailable (injected outage)", 503)(environ, start_response)
        if decision == "throttle":
            throttled = Response(
                "Rate exceeded", 429, headers={"Retry-After": f"{faults.retry_after:g}"}
            )
            return throttled(environ, start_response)
        if decision == "error":
            return Response("Internal Server Error (injected)", 500)(environ, start_response)
        inner = dict(environ)
        inner["PATH_INFO"] = rest
        inner["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + f"/fn/{name}"
        if decision == "partial":
            captured: list[Any] = []
            body = b"".join(self.apps[name](inner, lambda *a, **k: captured.append(a)))
            del body  # the function ran; its reply is lost
            return Response("Internal Server Error (injected, after the call)", 500)(
                environ, start_response
            )
        return self.apps[name](inner, start_response)  # type: ignore[no-any-return]


def write_service_account(path: Path, token_uri: str, email: str = "nexus@local.iam") -> Path:
    """Write a service account key file (fresh RSA key) whose ``token_uri`` is ``token_uri``:
    google-auth then runs its real JWT-grant flow against the emulator."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "local-project",
                "private_key_id": uuid.uuid4().hex,
                "private_key": pem,
                "client_email": email,
                "client_id": "1",
                "token_uri": token_uri,
            }
        )
    )
    return path
