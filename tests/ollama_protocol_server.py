"""A loopback server that speaks Ollama's REST protocol (docs/api.md of ollama/ollama), backed by a real model.

No Ollama binary can be installed here, and no llama.cpp build serves ``/api/*``; this server translates
Ollama's protocol to the llama.cpp server's OpenAI endpoints, so the official ``ollama`` client talks to a real
model: ``GET /``, ``GET /api/version``, ``GET /api/tags``, ``POST /api/show``, ``POST /api/chat`` (NDJSON stream
or one object), ``POST /api/embed``. Token counts (``prompt_eval_count``, ``eval_count``) are the backend's.

It behaves like Ollama where that matters to a client: the context is ``options.num_ctx`` (2048 when a request
gives none) and a prompt over it is cut silently, oldest messages first. Every request is recorded so tests can
check what a client sent. Switches reproduce failures: an unknown model name gets Ollama's 404,
``error_after_chunks`` sends an error line mid-stream, ``stall_s`` goes silent, ``context_cap`` loads the model
with fewer tokens than asked (as ``OLLAMA_CONTEXT_LENGTH`` or low memory do), so prompts are cut silently.
"""

from __future__ import annotations

import json
import math
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

OLLAMA_DEFAULT_NUM_CTX = 2048
MID_STREAM_ERROR = "an error was encountered while running the model: unexpected EOF"  # as a crashed runner reports
ARCHITECTURE = "llama"  # SmolLM2 is a llama-architecture model


@dataclass
class RecordedRequest:
    method: str
    path: str
    body: dict[str, Any] | None


class OllamaProtocolServer:
    def __init__(self, backend_url: str, model: str = "smollm2:135m"):
        self.backend_url = backend_url.rstrip("/")
        self.model = model
        self.requests: list[RecordedRequest] = []
        self.error_after_chunks: int | None = None
        """Send ``{"error": ...}`` as the stream's next line after this many content chunks."""
        self.stall_s: float = 0.0
        """Go silent this long, after ``stall_after_chunks`` content chunks of a chat."""
        self.stall_after_chunks: int = 0
        self.context_cap: int | None = None
        """Serve at most this many context tokens whatever ``num_ctx`` asks."""
        self._backend = httpx.Client(base_url=self.backend_url, timeout=600)  # a busy machine reads prompts slowly
        self._facts = self._backend_facts()
        self._released = threading.Event()
        self._httpd = _ClosingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="ollama-protocol", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def context_length(self) -> int:
        """What ``/api/show`` reports as the model's maximum: what the backend can actually serve."""
        return self._facts["n_ctx"]

    def start(self) -> OllamaProtocolServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop like a killed server: refuse new connections and drop the open (keep-alive) ones."""
        self._released.set()  # wakes stalled handlers so nothing lingers
        self._httpd.stopping = True
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.drop_connections()
        self._backend.close()

    def chat_options(self) -> list[dict[str, Any]]:
        """The ``options`` of every /api/chat request received, in order ({} when a request had none)."""
        return [(r.body or {}).get("options") or {} for r in self.requests if r.path == "/api/chat"]

    # -- the backend ---------------------------------------------------------------------------------------

    def _backend_facts(self) -> dict[str, Any]:
        listing = self._backend.get("/v1/models").json()["data"][0]
        props = self._backend.get("/props").json()
        return {
            "n_ctx": props["default_generation_settings"]["n_ctx"],
            "template": props.get("chat_template", ""),
            "meta": listing.get("meta", {}),
        }

    def count_prompt(self, messages: list[dict[str, Any]]) -> int:
        prompt = self._backend.post("/apply-template", json={"messages": messages}).json()["prompt"]
        return len(self._backend.post("/tokenize", json={"content": prompt}).json()["tokens"])

    def fit_to_context(self, messages: list[dict[str, Any]], num_ctx: int) -> list[dict[str, Any]]:
        """Ollama's silent cut: drop the oldest messages (never system ones, never the last) until it fits."""
        kept = list(messages)
        while self.count_prompt(kept) > num_ctx:
            droppable = [i for i, m in enumerate(kept[:-1]) if m.get("role") != "system"]
            if not droppable:
                break
            del kept[droppable[0]]
        return kept

    def pause(self, seconds: float) -> None:
        self._released.wait(seconds)


class _ClosingHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self.stopping = False

    def process_request(self, request: socket.socket, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not self.stopping:  # a handler cut off by stop() is expected to fail; anything else is shown
            super().handle_error(request, client_address)

    def drop_connections(self) -> None:
        with self._open_lock:
            for connection in self._open:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _handler_for(server: OllamaProtocolServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_OllamaHandler):
        owner = server

    return Handler


class _OllamaHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: OllamaProtocolServer

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    # -- routing -------------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self.owner.requests.append(RecordedRequest("GET", self.path, None))
        if self.path == "/":
            self._send_text(200, "Ollama is running")
        elif self.path == "/api/version":
            self._send_json(200, {"version": "0.12.0"})
        elif self.path == "/api/tags":
            self._send_json(200, {"models": [self._model_entry()]})
        else:
            self._send_text(404, "404 page not found")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._send_json(400, {"error": "invalid JSON body"})
            return
        self.owner.requests.append(RecordedRequest("POST", self.path, body))
        routes = {"/api/show": self._show, "/api/chat": self._chat, "/api/embed": self._embed}
        route = routes.get(self.path)
        if route is None:
            self._send_text(404, "404 page not found")
        elif body.get("model") != self.owner.model:
            self._send_json(404, {"error": f'model "{body.get("model")}" not found, try pulling it first'})
        else:
            route(body)

    # -- endpoints -----------------------------------------------------------------------------------------

    def _model_entry(self) -> dict[str, Any]:
        meta = self.owner._facts["meta"]
        return {
            "name": self.owner.model,
            "model": self.owner.model,
            "modified_at": _now(),
            "size": meta.get("size", 0),
            "digest": "0" * 64,
            "details": self._details(),
        }

    def _details(self) -> dict[str, Any]:
        meta = self.owner._facts["meta"]
        return {
            "parent_model": "",
            "format": "gguf",
            "family": ARCHITECTURE,
            "families": [ARCHITECTURE],
            "parameter_size": f"{meta.get('n_params', 0) / 1e6:.2f}M",
            "quantization_level": meta.get("ftype", ""),
        }

    def _show(self, body: dict[str, Any]) -> None:
        meta = self.owner._facts["meta"]
        self._send_json(200, {
            "modelfile": f"FROM {self.owner.model}\n",
            "parameters": 'stop "<|im_end|>"',
            "template": self.owner._facts["template"],
            "details": self._details(),
            "model_info": {
                "general.architecture": ARCHITECTURE,
                "general.parameter_count": meta.get("n_params", 0),
                f"{ARCHITECTURE}.context_length": self.owner.context_length,
                f"{ARCHITECTURE}.embedding_length": meta.get("n_embd", 0),
            },
            "capabilities": ["completion"],
            "modified_at": _now(),
        })

    def _chat(self, body: dict[str, Any]) -> None:
        options = body.get("options") or {}
        num_ctx = options.get("num_ctx") or OLLAMA_DEFAULT_NUM_CTX
        if self.owner.context_cap is not None:
            num_ctx = min(num_ctx, self.owner.context_cap)
        messages = self.owner.fit_to_context(body.get("messages") or [], num_ctx)
        request: dict[str, Any] = {"messages": messages}
        if options.get("num_predict", -1) > 0:
            request["max_tokens"] = options["num_predict"]
        for name in ("temperature", "top_p", "top_k", "seed", "stop"):
            if name in options:
                request[name] = options[name]
        if body.get("stream", True):
            self._chat_stream(request)
        else:
            if self.owner.stall_s:
                self.owner.pause(self.owner.stall_s)
            reply = self.owner._backend.post("/v1/chat/completions", json=request)
            if reply.status_code != 200:
                self._send_json(500, {"error": _backend_error(reply)})
                return
            data = reply.json()
            choice = data["choices"][0]
            self._send_json(200, self._final(choice["message"]["content"], choice.get("finish_reason"), data))

    def _chat_stream(self, request: dict[str, Any]) -> None:
        request = {**request, "stream": True, "stream_options": {"include_usage": True}}
        # llama.cpp's server drops the connection after a stream; a pooled reuse of it would fail.
        with self.owner._backend.stream("POST", "/v1/chat/completions", json=request,
                                        headers={"Connection": "close"}) as reply:
            if reply.status_code != 200:
                reply.read()
                self._send_json(500, {"error": _backend_error(reply)})
                return
            self._start_chunked(200, "application/x-ndjson")
            sent, finish, usage = 0, None, {}
            try:
                if self.owner.stall_s and self.owner.stall_after_chunks == 0:
                    self.owner.pause(self.owner.stall_s)
                for line in reply.iter_lines():
                    if not line.startswith("data:") or line[5:].strip() == "[DONE]":
                        continue
                    chunk = json.loads(line[5:])
                    usage = chunk.get("usage") or usage
                    for choice in chunk.get("choices") or []:
                        finish = choice.get("finish_reason") or finish
                        delta = (choice.get("delta") or {}).get("content")
                        if not delta:
                            continue
                        if self.owner.error_after_chunks is not None and sent >= self.owner.error_after_chunks:
                            self._write_line({"error": MID_STREAM_ERROR})
                            self._end_chunked()
                            return
                        self._write_line({"model": self.owner.model, "created_at": _now(),
                                          "message": {"role": "assistant", "content": delta}, "done": False})
                        sent += 1
                        if self.owner.stall_s and sent == self.owner.stall_after_chunks:
                            self.owner.pause(self.owner.stall_s)
                self._write_line(self._final("", finish, {"usage": usage}))
                self._end_chunked()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client went away (cancelled or timed out); leaving the with-block stops the backend

    def _final(self, content: str, finish: str | None, data: dict[str, Any]) -> dict[str, Any]:
        usage = data.get("usage") or {}
        timings = data.get("timings") or {}
        prompt_ns = int(timings.get("prompt_ms", 0) * 1e6)
        eval_ns = int(timings.get("predicted_ms", 0) * 1e6)
        return {
            "model": self.owner.model,
            "created_at": _now(),
            "message": {"role": "assistant", "content": content},
            "done": True,
            "done_reason": "length" if finish == "length" else "stop",
            "total_duration": prompt_ns + eval_ns,
            "load_duration": 0,
            "prompt_eval_count": usage.get("prompt_tokens", 0),
            "prompt_eval_duration": prompt_ns,
            "eval_count": usage.get("completion_tokens", 0),
            "eval_duration": eval_ns,
        }

    def _embed(self, body: dict[str, Any]) -> None:
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else list(texts or [])
        reply = self.owner._backend.post("/v1/embeddings", json={"input": texts})
        if reply.status_code != 200:
            self._send_json(500, {"error": _backend_error(reply)})
            return
        data = reply.json()
        rows = [row["embedding"] for row in sorted(data["data"], key=lambda row: row["index"])]
        vectors = []
        for row in rows:  # Ollama's /api/embed returns unit-length vectors
            norm = math.sqrt(sum(x * x for x in row)) or 1.0
            vectors.append([x / norm for x in row])
        self._send_json(200, {"model": self.owner.model, "embeddings": vectors, "total_duration": 0,
                              "load_duration": 0, "prompt_eval_count": data.get("usage", {}).get("prompt_tokens", 0)})

    # -- wire helpers --------------------------------------------------------------------------------------

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        self._send_bytes(status, json.dumps(payload).encode(), "application/json; charset=utf-8")

    def _send_text(self, status: int, text: str) -> None:
        self._send_bytes(status, text.encode(), "text/plain; charset=utf-8")

    def _send_bytes(self, status: int, data: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _start_chunked(self, status: int, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _write_line(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_chunked(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def _backend_error(reply: httpx.Response) -> str:
    try:
        error = reply.json().get("error")
    except ValueError:
        return reply.text[:300]
    return error.get("message", str(error)) if isinstance(error, dict) else str(error)

