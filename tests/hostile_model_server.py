"""A loopback model server that misbehaves on purpose: it stands for a broken or hostile model server.

It speaks just enough of both protocols (Ollama's ``/api/show`` + ``/api/chat``, OpenAI's ``/v1/models`` +
``/v1/chat/completions``) for a provider to open, then answers chat requests in one of these ways:

- ``silent``: accepts every connection and reads the request, then never sends a byte (not even headers);
- ``silent_chat``: answers the setup requests, then says nothing to the chat request;
- ``silent_probes``: answers the model listing, then says nothing to anything else (llama.cpp's optional
  ``/tokenize``, ``/props``; otherwise those get a 404 as from a server that lacks them);
- ``endless``: sends headers and one token every few milliseconds forever, ignoring ``max_tokens``;
- ``trickle``: sends one token every ``trickle_s`` forever (slow enough never to trip a read timeout);
- ``unterminated``: sends headers, then 64 KiB every ``trickle_s`` forever without ever ending the line.

Every handler stops when the server stops, so nothing lingers after a test.
"""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODES = ("silent", "silent_chat", "silent_probes", "endless", "trickle", "unterminated")
TOKEN = "tok "


class HostileModelServer:
    def __init__(self, mode: str, trickle_s: float = 0.2):
        assert mode in MODES, mode
        self.mode = mode
        self.trickle_s = trickle_s
        self.chat_requests: list[dict[str, Any]] = []
        self.released = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"hostile-{mode}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> HostileModelServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.released.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.drop_connections()

    def __enter__(self) -> HostileModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, *args: Any):
        super().__init__(*args)
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def process_request(self, request: socket.socket, client_address: Any) -> None:
        with self._lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:
        with self._lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the client hanging up on an endless reply is the expected end of every handler here

    def drop_connections(self) -> None:
        with self._lock:
            for connection in self._open:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def _handler_for(server: HostileModelServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._route(None)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                self._route(json.loads(body) if body else None)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def _route(self, body: Any) -> None:
            if server.mode == "silent":
                server.released.wait()
                return
            path = self.path
            if path == "/api/show":
                self._json({"model_info": {"general.architecture": "llama", "llama.context_length": 8192},
                            "capabilities": ["completion"], "details": {"family": "llama"}})
            elif path == "/v1/models":
                self._json({"object": "list", "data": [{"id": "hostile", "object": "model",
                                                        "meta": {"n_ctx": 8192}}]})
            elif path in ("/api/chat", "/v1/chat/completions"):
                server.chat_requests.append(body or {})
                self._chat(openai=path.startswith("/v1/"))
            elif server.mode == "silent_probes":
                server.released.wait()
            else:
                self._json({"error": "not found"}, status=404)

        def _json(self, data: Any, status: int = 200) -> None:
            raw = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _chat(self, openai: bool) -> None:
            if server.mode in ("silent_chat", "silent_probes"):
                server.released.wait()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream" if openai else "application/x-ndjson")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            if server.mode == "unterminated":
                self.wfile.write(b'{"message": {"role": "assistant", "content": "' if not openai else b"data: ")
                while not server.released.wait(server.trickle_s):  # 64 KiB per trickle_s (0: flat out)
                    self.wfile.write(b"x" * 65536)
                return
            pause = server.trickle_s if server.mode == "trickle" else 0.002
            while not server.released.wait(pause):
                self.wfile.write(_chunk(TOKEN, openai))
                self.wfile.flush()

    return Handler


def _chunk(text: str, openai: bool) -> bytes:
    if openai:
        event = {"id": "c", "object": "chat.completion.chunk", "model": "hostile",
                 "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
        return b"data: " + json.dumps(event).encode() + b"\n\n"
    line = {"model": "hostile", "created_at": "2026-12-05T00:00:00Z",
            "message": {"role": "assistant", "content": text}, "done": False}
    return json.dumps(line).encode() + b"\n"
