"""A real Chroma server (`chroma run`, shipped with chromadb) on a free loopback port, and a token-checking proxy
in front of it.

chromadb 1.x's server (`chroma run`) has no token authentication of its own: Chroma documents putting a proxy that
checks ``Authorization: Bearer`` in front of it (Envoy in their cookbook). ``TokenProxy`` plays that proxy, on
loopback, forwarding every request to the real server. It can also hold one request of a given kind until told to
go on, so that a test kills the real server while an index run waits on it.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CHROMA = Path(sys.executable).parent / "chroma"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ChromaServer:
    """``chroma run --path PATH --host 127.0.0.1 --port PORT`` as a child process; ``kill`` and ``start`` again
    on the same path and port."""

    def __init__(self, path: Path, port: int | None = None):
        self.path, self.port = Path(path), port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 60.0) -> ChromaServer:
        log = open(self.path.parent / f"chroma-{self.port}.log", "ab")  # noqa: SIM115 (the child keeps it)
        self.process = subprocess.Popen(
            [str(CHROMA), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"chroma run exited with status {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"chroma run did not answer on {self.url} within {timeout_s:g}s")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def create_database(self, name: str, tenant: str = "default_tenant") -> None:
        request = urllib.request.Request(f"{self.url}/api/v2/tenants/{tenant}/databases", method="POST",
                                         data=json.dumps({"name": name}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10):
            pass

    def collections(self, database: str = "default_database") -> dict[str, int]:
        """name -> number of vectors, of every collection in ``database``."""
        base = f"{self.url}/api/v2/tenants/default_tenant/databases/{database}/collections"
        with urllib.request.urlopen(base, timeout=10) as reply:
            listed = json.load(reply)
        counts = {}
        for collection in listed:
            with urllib.request.urlopen(f"{base}/{collection['id']}/count", timeout=10) as reply:
                counts[collection["name"]] = int(json.load(reply))
        return counts


class TokenProxy:
    """Answers 401 to any request without ``Authorization: Bearer TOKEN`` (heartbeat excepted, as Chroma does), and
    forwards the rest to ``upstream``. ``hold(suffix, after)``: the request whose path ends with ``suffix`` that
    comes after ``after`` such requests waits until ``release()``; ``held`` is set while it waits. When the
    upstream is gone, the client's connection is dropped without an answer, as a dead server drops it."""

    def __init__(self, upstream_port: int, token: str | None):
        self.upstream_port, self.token = upstream_port, token
        self.held, self._release = threading.Event(), threading.Event()
        self._hold: tuple[str, int] | None = None
        self._seen = 0
        self._count_lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.token is not None and not self.path.endswith("/heartbeat") and \
                        self.headers.get("Authorization") != f"Bearer {proxy.token}":
                    self._reply(401, b'{"error":"AuthError","message":"Unauthorized"}', "application/json")
                    return
                proxy._maybe_hold(self.path)
                try:
                    upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                    upstream.request(self.command, self.path, body=body or None, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                    upstream.close()
                except OSError:
                    self.close_connection = True  # the server died: so does this connection, unanswered
                    return
                self._reply(answer.status, data, answer.getheader("Content-Type") or "application/json")

            def _reply(self, status: int, data: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def hold(self, suffix: str, after: int) -> None:
        self._hold, self._seen = (suffix, after), 0
        self.held.clear()
        self._release.clear()

    def release(self) -> None:
        self._hold = None
        self._release.set()

    def _maybe_hold(self, path: str) -> None:
        hold = self._hold
        if hold is None or not path.endswith(hold[0]):
            return
        with self._count_lock:
            self._seen += 1
            wait = self._seen == hold[1] + 1
        if wait:
            self.held.set()
            self._release.wait(120)

    def close(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
