"""Embedding models served over HTTP: Ollama's ``/api/embed`` and any OpenAI-compatible ``/v1/embeddings``
(llama.cpp's server, vLLM, TEI, LM Studio, Ollama's ``/v1``).

What a model server needs from a client, and a local model does not: several batches in flight (bounded, so a
shared server is not flooded), retries with backoff when it says it is busy (429/503, honouring Retry-After) or
drops a connection it once accepted, and a timeout on every request, so a stalled server becomes one clear
EmbeddingError instead of a hang. Vectors come back in input order and L2-normalised whatever the server does.

Neither protocol offers a tokenizer everywhere, so ``count_tokens`` is the chunker's estimate (it errs long for
code). It must not depend on the server: parse workers count tokens without one, and a chunk's boundaries must
not change with the machine that cut it.
"""

from __future__ import annotations

import email.utils
import math
import os
import random
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import numpy

from .chunks import estimate_tokens
from .errors import IndexingError

if TYPE_CHECKING:
    import httpx

OLLAMA_PREFIX = "ollama:"
OPENAI_PREFIX = "openai:"
DEFAULT_OLLAMA_URL = "http://127.0.0.1:11434"
DEFAULT_OPENAI_URL = "http://127.0.0.1:8080/v1"  # llama.cpp's llama-server; vLLM and TEI listen elsewhere
URL_SETTINGS = "--embed-url or ASSIST_EMBED_URL"
URL_SOURCE = "embed_url (--embed-url, ASSIST_EMBED_URL or the user config file)"
KEY_SETTING = "ASSIST_EMBED_API_KEY"
OPENAI_MAX_TOKENS = 512
"""Most embedding models read 512 tokens, and llama.cpp's server refuses longer inputs by default (its physical
batch); the protocol has no way to ask. Only ``--embed-max-tokens`` style head-cutting consults it."""

RETRY_STATUSES = frozenset({429, 503})
MAX_ATTEMPTS = 5
FIRST_BACKOFF_S = 0.5
MAX_WAIT_S = 30.0
"""The longest pause between two attempts, even when Retry-After asks for more."""


class EmbeddingError(IndexingError):
    """The embedding model cannot be loaded or reached; the message says what to do about it."""


@dataclass(frozen=True)
class ServerSettings:
    url: str
    """Where the server is: Ollama's root, or the OpenAI API's base (ending in /v1, usually)."""
    source: str = "the default address"
    """Which setting chose ``url``, so an error can say what to change."""
    api_key: str = ""
    concurrency: int = 1
    """Requests in flight at once. One unless a caller says otherwise (an index run: IndexConfig's)."""
    timeout_s: float = 60.0
    """The server's time for one request. With several in flight a request may wait for the others (a server with
    fewer slots runs them in turn), so each gets ``timeout_s`` per request in flight."""
    batch_size: int = 32


def is_server_spec(spec: str) -> bool:
    return spec.strip().startswith((OLLAMA_PREFIX, OPENAI_PREFIX))


def server_embedder(spec: str, settings: ServerSettings) -> OllamaEmbedder | OpenAIEmbedder:
    """The embedder for an "ollama:MODEL" or "openai:MODEL" spec, talking to ``settings.url``."""
    spec = spec.strip()
    prefix = OLLAMA_PREFIX if spec.startswith(OLLAMA_PREFIX) else OPENAI_PREFIX
    model = spec.removeprefix(prefix).strip()
    if not model:
        example = "nomic-embed-text" if prefix == OLLAMA_PREFIX else "text-embedding-3-small"
        raise EmbeddingError(f'"{prefix}" needs a model name, e.g. "{prefix}{example}"')
    if prefix == OLLAMA_PREFIX:
        return OllamaEmbedder(model, settings)
    return OpenAIEmbedder(model, settings)


def resolve_server_settings(spec: str, url: str = "", env: Mapping[str, str] | None = None,
                            url_source: str = URL_SOURCE, **tuning: Any) -> ServerSettings:
    """Where a server spec is served: ``url`` when given (chosen by ``url_source``), else for Ollama OLLAMA_HOST as
    Ollama reads it, else the protocol's default address. ``tuning``: the other ServerSettings."""
    env = os.environ if env is None else env
    ollama = spec.strip().startswith(OLLAMA_PREFIX)
    if url.strip():
        resolved = ollama_url(url) if ollama else openai_base_url(url)
        return ServerSettings(resolved, url_source, **tuning)
    if ollama and env.get("OLLAMA_HOST", "").strip():
        return ServerSettings(ollama_url(env["OLLAMA_HOST"]), "OLLAMA_HOST", **tuning)
    return ServerSettings(DEFAULT_OLLAMA_URL if ollama else DEFAULT_OPENAI_URL, "the default address", **tuning)


def ollama_url(value: str) -> str:
    """An Ollama address read the way Ollama reads OLLAMA_HOST: scheme optional (http), host optional
    (127.0.0.1), port 11434 unless a scheme is given without one (then 80 or 443). A listen-all address
    (0.0.0.0, ::) is where a server listens, not where a client connects: it means this machine."""
    raw = value.strip().strip("\"'")
    scheme, separator, rest = raw.partition("://")
    if not separator:
        scheme, rest, default_port = "http", raw, 11434
    else:
        default_port = {"http": 80, "https": 443}.get(scheme.lower(), 11434)
    hostport, _, path = rest.partition("/")
    parts = urlsplit(f"//{hostport}")
    try:
        port = parts.port or default_port
    except ValueError:
        raise EmbeddingError(f"Ollama address {value!r} has an invalid port") from None
    host = parts.hostname or "127.0.0.1"
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    userinfo = hostport.rpartition("@")[0]
    netloc = f"{userinfo}@{host}:{port}" if userinfo else f"{host}:{port}"
    return _checked_url(urlunsplit((scheme.lower(), netloc, f"/{path}".rstrip("/"), "", "")), value)


def openai_base_url(value: str) -> str:
    """The base of an OpenAI-compatible API. People paste the server's root, the /v1 base, or the full
    /v1/embeddings endpoint; all three mean the same base."""
    raw = value.strip().rstrip("/")
    if "://" not in raw:
        raw = f"http://{raw}"
    parts = urlsplit(raw)
    path = parts.path.rstrip("/").removesuffix("/embeddings") or "/v1"
    return _checked_url(urlunsplit((parts.scheme.lower(), parts.netloc, path, "", "")), value)


def _checked_url(url: str, given: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EmbeddingError(f"embedding server address {given!r} must look like http://host:port")
    return url


def display_url(url: str) -> str:
    """``url`` without user:password, for messages and the index's records."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class _ServerEmbedder:
    """What both protocols share: batching, requests in flight, retries, timeouts, ordered normalised rows."""

    protocol = ""
    """How messages name the server ("Ollama", "the embedding server")."""
    start_advice = "start it"
    url_settings = URL_SETTINGS
    """The settings that choose this server's address, for a message that says what to change."""

    def __init__(self, model: str, prefix: str, settings: ServerSettings):
        import httpx

        self.model = model
        self.settings = settings
        self.url = settings.url.rstrip("/")
        self.name = f"{prefix}{model}"
        # The server decides how vectors are computed; where they came from is what an index can record (and
        # what a reader of that index queries, see embeddings.open_embedder_for_reading). Never the key.
        self.identity = f"{self.name}@{display_url(self.url)}"
        self.batch_size = max(1, settings.batch_size)
        self.concurrency = max(1, settings.concurrency)
        self.timeout_s = settings.timeout_s * self.concurrency
        headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
        self._client: httpx.Client = httpx.Client(
            base_url=self.url, headers=headers, timeout=httpx.Timeout(self.timeout_s, connect=min(self.timeout_s, 10.0))
        )
        self._dim: int | None = None
        self._reached = False
        """Set once the server has answered: after that a refused connection is a restart worth waiting out."""
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    # -- the Embedder interface ----------------------------------------------------------------------------

    @property
    def dim(self) -> int:
        """Learned from the server's first answer: the model decides it, not a setting."""
        if self._dim is None:
            self._dim = int(self._embed_batch(["dimension probe"]).shape[1])
        return self._dim

    def load(self) -> None:
        """Reach the server now (one tiny request), so a wrong address fails before any work is done."""
        _ = self.dim

    def embed(self, texts: Sequence[str]) -> numpy.ndarray:
        if len(texts) == 0:
            return numpy.zeros((0, self.dim), dtype=numpy.float32)
        batches = [list(texts[i : i + size]) for size in [self._request_size(len(texts))]
                   for i in range(0, len(texts), size)]
        if len(batches) == 1 or self.concurrency == 1:
            rows = [self._embed_batch(batch) for batch in batches]
        else:
            rows = self._embed_in_flight(batches)
        vectors = numpy.concatenate(rows)
        if self._dim is None:
            self._dim = vectors.shape[1]
        return vectors

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    # -- batching ------------------------------------------------------------------------------------------

    def _request_size(self, count: int) -> int:
        """At most batch_size texts a request, and few enough that a short call still fills every slot in
        flight (the pipeline hands over two batches at a time)."""
        return max(1, min(self.batch_size, math.ceil(count / self.concurrency)))

    def _embed_in_flight(self, batches: list[list[str]]) -> list[numpy.ndarray]:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="embed-request")
        futures: list[Future] = [self._pool.submit(self._embed_batch, batch) for batch in batches]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:
            if future in done and future.exception() is not None:
                for other in pending:
                    other.cancel()  # requests already sent finish within their own timeout
                raise future.exception()
        return [future.result() for future in futures]

    def _embed_batch(self, texts: list[str]) -> numpy.ndarray:
        vectors = self._vectors(texts)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts) or vectors.shape[1] == 0:
            raise EmbeddingError(
                f"{self.protocol} at {display_url(self.url)} returned {vectors.shape[0] if vectors.ndim else 0} "
                f"embeddings for {len(texts)} texts with model {self.model!r}; is it an embedding model?"
            )
        if self._dim is not None and vectors.shape[1] != self._dim:
            raise EmbeddingError(
                f"{self.protocol} at {display_url(self.url)} returned {vectors.shape[1]}-dimensional vectors for "
                f"{self.model!r} after {self._dim}-dimensional ones: did another model take its place?"
            )
        norms = numpy.linalg.norm(vectors, axis=1, keepdims=True)
        return numpy.ascontiguousarray(vectors / numpy.maximum(norms, 1e-12), dtype=numpy.float32)

    def _vectors(self, texts: list[str]) -> numpy.ndarray:
        raise NotImplementedError

    # -- one request ---------------------------------------------------------------------------------------

    def _post(self, route: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST with bounded retries: on 429/503 (waiting as Retry-After asks), on a dropped connection, and on
        a refused one once the server has answered before (a restart). A timeout is never retried: the
        promise is an error within ``timeout_s``."""
        import httpx

        endpoint = f"{display_url(self.url)}{route}"
        for attempt in range(1, MAX_ATTEMPTS + 1):
            last = attempt == MAX_ATTEMPTS
            try:
                response = self._client.post(route, json=payload)
            except httpx.TimeoutException as exc:
                raise EmbeddingError(
                    f"{self.protocol} at {endpoint} did not answer within {self.timeout_s:g} s "
                    f"({type(exc).__name__}); is it overloaded or stuck? Vectors stored so far are kept"
                ) from exc
            except httpx.ConnectError as exc:
                if last or not self._reached:
                    raise EmbeddingError(self._unreachable(endpoint, exc)) from exc
                pause = _backoff(attempt)
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                if last:
                    raise EmbeddingError(
                        f"{self.protocol} at {endpoint} dropped the connection {attempt} times ({exc})"
                    ) from exc
                pause = _backoff(attempt)
            except httpx.HTTPError as exc:
                raise EmbeddingError(f"request to {self.protocol} at {endpoint} failed: {exc}") from exc
            else:
                self._reached = True
                if response.status_code not in RETRY_STATUSES:
                    return self._answer(response, endpoint)
                if last:
                    raise EmbeddingError(
                        f"{self.protocol} at {endpoint} was still busy after {attempt} attempts "
                        f"(HTTP {response.status_code}: {_error_text(response)}); try again later or with fewer "
                        f"requests in flight"
                    )
                pause = _retry_after(response)
                if pause is None:
                    pause = _backoff(attempt)
            time.sleep(pause)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _answer(self, response: httpx.Response, endpoint: str) -> dict[str, Any]:
        if response.status_code >= 400:
            raise EmbeddingError(self._refusal(response, endpoint))
        try:
            body = response.json()
        except ValueError as exc:
            raise EmbeddingError(f"{self.protocol} at {endpoint} sent a reply that is not JSON") from exc
        if not isinstance(body, dict):
            raise EmbeddingError(f"{self.protocol} at {endpoint} sent a reply that is not a JSON object")
        return body

    def _unreachable(self, endpoint: str, exc: Exception) -> str:
        return (f"cannot reach {self.protocol} at {endpoint} ({exc}): {self.start_advice}, or point "
                f"{self.url_settings} at the right server (this address came from {self.settings.source})")

    def _refusal(self, response: httpx.Response, endpoint: str) -> str:
        status = response.status_code
        if status == 404:
            return self._not_found(response, endpoint)
        if status in (401, 403):
            sent = "the key from " + KEY_SETTING if self.settings.api_key else f"no key ({KEY_SETTING} is not set)"
            return (f"{self.protocol} at {endpoint} refused the request (HTTP {status}: {_error_text(response)}); "
                    f"it was sent {sent}")
        return f"{self.protocol} at {endpoint} refused {self.model!r}: HTTP {status}: {_error_text(response)}"

    def _not_found(self, response: httpx.Response, endpoint: str) -> str:
        raise NotImplementedError


class OllamaEmbedder(_ServerEmbedder):
    """A model served by Ollama's native ``/api/embed``. Reaches the server when built: it both checks that the
    model is there and learns the dimension, so ``ollama:`` fails at once, with ``ollama pull`` advice."""

    protocol = "Ollama"
    start_advice = "start it with `ollama serve`"
    url_settings = "--embed-url, ASSIST_EMBED_URL or OLLAMA_HOST"

    def __init__(self, model: str, settings: ServerSettings):
        super().__init__(model, OLLAMA_PREFIX, settings)
        try:
            self.load()
            self.max_tokens = self._context_length() or 2048
        except EmbeddingError:
            self._client.close()
            raise

    def _vectors(self, texts: list[str]) -> numpy.ndarray:
        body = self._post("/api/embed", {"model": self.model, "input": texts})
        return numpy.asarray(body.get("embeddings") or [], dtype=numpy.float32)

    def _context_length(self) -> int | None:
        try:
            info = self._post("/api/show", {"model": self.model}).get("model_info") or {}
        except EmbeddingError:
            return None
        lengths = [v for k, v in info.items() if k.endswith(".context_length") and isinstance(v, int)]
        return lengths[0] if lengths else None

    def _not_found(self, response: httpx.Response, endpoint: str) -> str:
        return (f"Ollama at {endpoint} has no model {self.model!r} ({_error_text(response)}): "
                f"run `ollama pull {self.model}`")


class OpenAIEmbedder(_ServerEmbedder):
    """A model behind an OpenAI-compatible ``POST /embeddings``. Built without a request (parse workers build one
    only to count tokens); the first ``load``, ``dim`` or ``embed`` reaches the server."""

    protocol = "the embedding server"
    max_tokens = OPENAI_MAX_TOKENS

    def __init__(self, model: str, settings: ServerSettings):
        super().__init__(model, OPENAI_PREFIX, settings)

    def _vectors(self, texts: list[str]) -> numpy.ndarray:
        body = self._post("/embeddings", {"model": self.model, "input": texts})
        rows = body.get("data")
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            return numpy.zeros((0,), dtype=numpy.float32)
        # The protocol numbers its rows; a server may send them in any order.
        ordered = sorted(rows, key=lambda row: row.get("index", 0))
        try:
            return numpy.asarray([row.get("embedding") for row in ordered], dtype=numpy.float32)
        except (TypeError, ValueError):
            return numpy.zeros((0,), dtype=numpy.float32)

    def _not_found(self, response: httpx.Response, endpoint: str) -> str:
        return (f"the embedding server at {endpoint} does not know {self.model!r} or this route (HTTP 404: "
                f"{_error_text(response)}): check the model name and the base URL, which usually ends in /v1 "
                f"(this address came from {self.settings.source})")


def _backoff(attempt: int) -> float:
    """0.5, 1, 2, 4 s, give or take a quarter, so workers that failed together do not retry together."""
    return FIRST_BACKOFF_S * 2 ** (attempt - 1) * random.uniform(0.75, 1.25)


def _retry_after(response: httpx.Response) -> float | None:
    """The server's Retry-After (seconds or an HTTP date), capped at MAX_WAIT_S; None when absent or unreadable."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_WAIT_S)


def _error_text(response: httpx.Response) -> str:
    """The server's own words: Ollama's ``{"error": "..."}``, OpenAI's ``{"error": {"message": ...}}``, or text."""
    try:
        error = response.json().get("error", response.text)
    except (ValueError, AttributeError):
        return response.text[:200]
    if isinstance(error, dict):
        error = error.get("message", error)
    return str(error)[:300]
