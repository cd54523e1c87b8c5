"""An OpenAI-compatible embedding server for the tests and the benchmark: llama.cpp's own server (xllamacpp)
serving the SmolLM2 test model with ``/v1/embeddings`` (mean pooling; plumbing, not quality), with several
slots so requests really run side by side, and optionally an API key. Plus ``EmbeddingProxy``, a loopback proxy
in front of it that records every request and misbehaves on demand: busy answers (503 with Retry-After), dropped
connections, and stalls (accepts and never answers).

The model and the child-process life cycle are model_server.py's (``ensure_test_model``, ``LlamaServer``): the
child exits as soon as its stdin closes, so no server outlives its test session or benchmark.

Run by hand: ``python tests/embedding_server.py --parallel 4`` prints the server's URL and serves until Ctrl-D.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from model_server import (
    MODEL_ALIAS,
    READY_PREFIX,
    LlamaServer,
    ensure_test_model,
    launch_server,
)

EMBED_CONTEXT_TOKENS = 4096
"""Shared by the slots: each reads up to EMBED_CONTEXT_TOKENS / parallel tokens, far more than a chunk."""
EMBED_SPEC = f"openai:{MODEL_ALIAS}"


def start_embedding_server(model_path: Path, log_path: Path, parallel: int = 2, threads: int = 1,
                           api_key: str = "") -> LlamaServer:
    """Start llama.cpp's server with embeddings on, ``parallel`` slots and ``threads`` CPU threads, on a free
    loopback port; returns once ``/health`` answers."""
    command = [sys.executable, __file__, "--model", str(model_path), "--parallel", str(parallel),
               "--threads", str(threads)]
    if api_key:
        command += ["--api-key", api_key]
    return launch_server(command, log_path, EMBED_CONTEXT_TOKENS, cwd=Path(__file__).parent)


def _serve(model_path: str, parallel: int, threads: int, api_key: str) -> None:
    """Child process: serve until stdin closes, then leave at once."""
    import os

    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = model_path
    params.model_alias = {MODEL_ALIAS}
    params.n_ctx = EMBED_CONTEXT_TOKENS
    params.n_parallel = parallel
    params.port = 0
    params.hostnames = ["127.0.0.1"]
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.embedding = True
    params.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
    if api_key:
        params.api_keys = [api_key]
    server = xllamacpp.Server(params)
    print(f"{READY_PREFIX}{server.listening_address}", flush=True)
    sys.stdin.read()
    os._exit(0)


# ------------------------------------------------------------------------------------------------- the proxy


@dataclass
class ProxiedRequest:
    path: str
    inputs: int
    """How many texts the request asked to embed."""
    status: int = 0
    """What the client got: the backend's status, an injected one, or 0 (dropped, or still stalled)."""
    authorization: str = ""
    at: float = field(default_factory=time.monotonic)
    """When it arrived (time.monotonic)."""


@dataclass
class Faults:
    """What the proxy does to the requests to come, consumed in order. ``stall_from``: every request from this
    (0-based) request number on is accepted and never answered, until ``EmbeddingProxy.stop`` or ``unstall``."""

    statuses: list[int] = field(default_factory=list)
    retry_after: str = "0"
    drops: int = 0
    stall_from: int | None = None


class EmbeddingProxy:
    """A loopback HTTP proxy to ``backend_url``: ``url`` is its root; the OpenAI API is under ``url + "/v1"``."""

    def __init__(self, backend_url: str):
        self.backend_url = backend_url.rstrip("/")
        self.requests: list[ProxiedRequest] = []
        self.faults = Faults()
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._backend = httpx.Client(base_url=self.backend_url, timeout=600)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _proxy_handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="embedding-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> EmbeddingProxy:
        self._thread.start()
        return self

    def unstall(self) -> None:
        """Answer normally again; requests already stalled stay unanswered (their clients have given up)."""
        self.faults.stall_from = None

    def stop(self) -> None:
        self._released.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._backend.close()

    def embedded(self) -> list[int]:
        """The input count of every request that got its vectors, in arrival order."""
        return [r.inputs for r in self.requests if r.status == 200]

    # -- called by the handler --------------------------------------------------------------------------------

    def admit(self, record: ProxiedRequest) -> tuple[str, Any]:
        """Record a request and decide its fate: ("forward", None), ("status", code), ("drop", None) or
        ("stall", None)."""
        with self._lock:
            number = len(self.requests)
            self.requests.append(record)
            if self.faults.stall_from is not None and number >= self.faults.stall_from:
                return "stall", None
            if self.faults.drops:
                self.faults.drops -= 1
                return "drop", None
            if self.faults.statuses:
                return "status", self.faults.statuses.pop(0)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return "forward", None

    def forwarded(self) -> None:
        with self._lock:
            self.in_flight -= 1


def _proxy_handler(proxy: EmbeddingProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                texts = json.loads(data or b"{}").get("input", [])
            except ValueError:
                texts = []
            record = ProxiedRequest(self.path, 1 if isinstance(texts, str) else len(texts),
                                    authorization=self.headers.get("Authorization", ""))
            fate, status = proxy.admit(record)
            if fate == "stall":
                proxy._released.wait()
                self.close_connection = True
                return
            if fate == "drop":
                self.connection.shutdown(socket.SHUT_RDWR)  # the client sees the connection reset, no reply
                self.close_connection = True
                return
            if fate == "status":
                record.status = status
                self._reply(status, json.dumps({"error": {"message": "server busy, try again", "code": status}})
                            .encode(), {"Retry-After": proxy.faults.retry_after, "Content-Type": "application/json"})
                return
            try:
                reply = proxy._backend.post(self.path, content=data, headers={
                    "Content-Type": "application/json", **({"Authorization": record.authorization}
                                                           if record.authorization else {})})
            finally:
                proxy.forwarded()
            record.status = reply.status_code
            self._reply(reply.status_code, reply.content, {"Content-Type": reply.headers.get("Content-Type", "")})

        def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="GGUF file (default: the cached test model)")
    parser.add_argument("--parallel", type=int, default=2, help="slots: requests the server runs side by side")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for the model")
    parser.add_argument("--api-key", default="", help="require this bearer key")
    args = parser.parse_args()
    _serve(args.model or str(ensure_test_model()), args.parallel, args.threads, args.api_key)
