"""A scripted Azure OpenAI REST server for tests.

The real ``openai`` SDK talks real HTTP to it, so retries, ``Retry-After``
handling, SSE parsing, base64 embeddings and error mapping are exercised exactly
as in production; only the model's answers are scripted (see ``aoai_replies``).

Routes (POST only):
  /openai/deployments/{deployment}/chat/completions   (needs ?api-version=)
  /openai/deployments/{deployment}/embeddings         (needs ?api-version=)
  /v1/chat/completions, /v1/embeddings                (also under /openai/v1; model from body)

A plain ``ThreadingHTTPServer`` is used rather than an ASGI stack: it starts in
about a millisecond, needs no event loop, and stops promptly.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import openai

from .aoai_chat import (
    ChatScript,
    chat_content_filter_finish,
    chat_json,
    chat_refusal,
    chat_text,
    chat_tool_calls,
    stream_chat,
)
from .aoai_quota import TokenWindow, TpmStats
from .aoai_replies import (
    DONE,
    EmbeddingsScript,
    RecordedRequest,
    Reply,
    Responder,
    Script,
    as_script,
    content_filter_400,
    deterministic_vector,
    embedding_inputs,
    embeddings_vectors,
    estimate_tokens,
    json_reply,
    rate_limited,
    server_error,
    throttle_reply,
    timeout,
)

__all__ = [  # the server plus the reply helpers, so tests need a single import
    "API_VERSION", "ChatScript", "EmbeddingsScript", "RecordedRequest", "Reply", "Script", "ScriptedAOAI",
    "TpmStats", "chat_content_filter_finish",
    "chat_json", "chat_refusal", "chat_text", "chat_tool_calls", "content_filter_400", "deterministic_vector",
    "embeddings_vectors", "estimate_tokens", "json_reply", "rate_limited", "server_error", "stream_chat",
    "timeout",
]

_AZURE = re.compile(r"^/openai/deployments/(?P<dep>[^/]+)/(?P<op>chat/completions|embeddings)$")
_V1 = re.compile(r"^(?:/openai)?/v1/(?P<op>chat/completions|embeddings)$")
_KINDS = ("chat", "embeddings")
API_VERSION = "2024-10-21"  # GA version the worker pins


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status=status, body={"error": {"code": code, "message": message}})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real service
    timeout = 30  # idle keep-alive connections eventually release their thread
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        self.server.owner._track(self.connection, add=False)
        super().finish()

    def do_POST(self) -> None:
        self.server.owner._handle(self)

    do_GET = do_PUT = do_DELETE = do_POST  # recorded too, then answered 404/405

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: ScriptedAOAI


class ScriptedAOAI:
    """Fake Azure OpenAI endpoint: FIFO scripts per kind, defaults when empty, full request log."""

    def __init__(self, default_dimensions: int = 1536) -> None:
        self.default_dimensions = default_dimensions
        self.requests: list[RecordedRequest] = []
        self.errors: list[BaseException] = []  # unexpected exceptions inside the server
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Script]] = {k: deque() for k in _KINDS}
        self._quota: TokenWindow | None = None
        self._conns: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------
    def start(self) -> ScriptedAOAI:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        self._stopping = threading.Event()
        httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="scripted-aoai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake delayed answers and drop open keep-alive connections."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedAOAI:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL to pass as ``azure_endpoint`` (or ``url + "/v1"`` as ``base_url``)."""
        if self._httpd is None:
            raise RuntimeError("server not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def azure_client(self, **kwargs: Any) -> openai.AzureOpenAI:
        """A real ``AzureOpenAI`` client aimed here (``max_retries=0`` unless given)."""
        kwargs = {"api_key": "test", "api_version": API_VERSION, "max_retries": 0, **kwargs}
        return openai.AzureOpenAI(azure_endpoint=self.url, **kwargs)

    def openai_client(self, **kwargs: Any) -> openai.OpenAI:
        """A real ``OpenAI`` client on the ``/v1`` routes (``max_retries=0`` unless given)."""
        return openai.OpenAI(**{"base_url": self.url + "/v1", "api_key": "x", "max_retries": 0, **kwargs})

    # scripting -------------------------------------------------------------
    def script_chat(self, *responses: Script | Responder) -> None:
        """Queue chat answers, consumed one per chat request (FIFO)."""
        self._enqueue("chat", responses)

    def script_embeddings(self, *responses: Script | Responder) -> None:
        """Queue embeddings answers, consumed one per embeddings request (FIFO)."""
        self._enqueue("embeddings", responses)

    def _enqueue(self, kind: str, responses: tuple[Script | Responder, ...]) -> None:
        with self._lock:
            self._queues[kind].extend(as_script(r) for r in responses)

    def pending(self, kind: str) -> int:
        """Scripted answers not yet consumed (assert 0 to prove all were used)."""
        with self._lock:
            return len(self._queues[kind])

    def calls(self, kind: str | None = None) -> list[RecordedRequest]:
        """Snapshot of recorded requests, optionally only "chat" or "embeddings"."""
        with self._lock:
            return [r for r in self.requests if kind is None or r.kind == kind]

    def enforce_tpm(self, tokens_per_minute: int | None, window_seconds: float = 60.0) -> None:
        """Quota mode for embeddings: at most ``tokens_per_minute`` tokens per sliding
        ``window_seconds`` (shrink the window to make a benchmark fast); None turns it off."""
        with self._lock:
            self._quota = None
            if tokens_per_minute is not None:
                self._quota = TokenWindow(tokens_per_minute, window_seconds)

    def tpm_stats(self) -> TpmStats:
        """Tokens/requests accepted and requests rejected since ``enforce_tpm``."""
        with self._lock:
            return self._quota.stats if self._quota is not None else TpmStats()

    def reset(self) -> None:
        """Forget scripts, records, errors and quota so a shared server starts clean."""
        with self._lock:
            for q in self._queues.values():
                q.clear()
            self.requests.clear()
            self.errors.clear()
            self._quota = None

    # request handling ------------------------------------------------------
    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            (self._conns.add if add else self._conns.discard)(conn)

    def _default(self, record: RecordedRequest) -> Reply:
        if record.kind == "embeddings":
            return EmbeddingsScript(default_dim=self.default_dimensions).render(record, self._default)
        return ChatScript().render(record, self._default)

    def _handle(self, h: _Handler) -> None:
        try:
            record = self._record(h)
            reply = self._answer(record)
            record.status = reply.status
            self._send(h, reply)
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True  # the client gave up (e.g. its timeout fired)
        except Exception as exc:  # surfaced via ``errors`` so tests fail loudly
            with self._lock:
                self.errors.append(exc)
            h.close_connection = True
            with contextlib.suppress(OSError):
                self._send(h, _error(500, "ScriptedServerError", repr(exc)))

    def _record(self, h: _Handler) -> RecordedRequest:
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        parts = urlsplit(h.path)
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        azure, v1 = _AZURE.match(parts.path), _V1.match(parts.path)
        match = azure or v1
        op = match.group("op") if match else None
        deployment = azure.group("dep") if azure else None
        model = deployment or (body.get("model") if isinstance(body, dict) else None)
        record = RecordedRequest(
            method=h.command, path=parts.path,
            kind={"chat/completions": "chat", "embeddings": "embeddings"}.get(op or "", "other"),
            deployment=deployment, model=model, query=dict(parse_qsl(parts.query)),
            headers={k.lower(): v for k, v in h.headers.items()}, body=body)
        with self._lock:
            self.requests.append(record)
        return record

    def _answer(self, record: RecordedRequest) -> Reply:
        if record.kind == "other":
            return _error(404, "404", "Resource not found")
        if record.method != "POST":
            return _error(405, "405", "Method not allowed")
        if "api-key" not in record.headers and "authorization" not in record.headers:
            return _error(401, "401", "Access denied due to invalid subscription key or wrong API endpoint.")
        if record.deployment is not None and not record.query.get("api-version"):
            return _error(400, "MissingApiVersionParameter",
                          "The api-version query parameter (?api-version=) is required for all requests.")
        if not isinstance(record.body, dict):
            return _error(400, "invalid_request_error", "The request body must be a JSON object.")
        if record.kind == "embeddings":
            throttled = self._charge(record)
            if throttled is not None:
                return throttled
        with self._lock:
            queue = self._queues[record.kind]
            script = queue.popleft() if queue else None
        return self._default(record) if script is None else script.render(record, self._default)

    def _charge(self, record: RecordedRequest) -> Reply | None:
        tokens = sum(estimate_tokens(t) for t in embedding_inputs(record.body))
        with self._lock:
            if self._quota is None:
                return None
            wait = self._quota.admit(tokens, time.monotonic())
            if wait is None:
                return None
            remaining = max(self._quota.limit - self._quota.used, 0)
        reply = throttle_reply(wait, record)
        return replace(reply, headers={**reply.headers, "x-ratelimit-remaining-tokens": str(remaining)})

    def _send(self, h: _Handler, reply: Reply) -> None:
        if reply.delay > 0:
            self._stopping.wait(reply.delay)
        h.send_response(reply.status)
        request_id = str(uuid.uuid4())
        headers = {"x-request-id": request_id, "apim-request-id": request_id, **reply.headers}
        for name, value in headers.items():
            h.send_header(name, value)
        if reply.events is None:
            payload = b"" if reply.body is None else json.dumps(reply.body).encode()
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            h.wfile.write(payload)
            return
        h.send_header("Content-Type", "text/event-stream; charset=utf-8")
        h.send_header("Cache-Control", "no-cache")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        for event in reply.events:
            data = f"data: {event if event == DONE else json.dumps(event)}\n\n".encode()
            h.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))
            h.wfile.flush()
        h.wfile.write(b"0\r\n\r\n")

