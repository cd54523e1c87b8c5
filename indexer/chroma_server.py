"""Chunk vectors on a shared Chroma server (``chroma run``), reached through ``chromadb.HttpClient``.

A team (or CI) shares one server; each machine keeps its own manifest, graph and lexical index under .assist/.
The server's collection is content-addressed: a vector's id is the content hash of the chunk text it was computed
from, and there is one collection per embedding model, dimension and embedding cut-off, so that vectors of
different models never meet. Any clone, branch or machine holding the same code finds its vectors already there.

Upserts by content hash are idempotent (the same text gives the same vector), so machines indexing at once can
neither duplicate nor lose a vector, and nothing is ever deleted: a vector that left this repository may be
another's. A query maps hashes back to this repository's chunks through its own manifest (see ``query``).

chromadb's HTTP client waits forever by default; every request here has a timeout, and every failure becomes a
one-line ``IndexingError`` naming the server.
"""

from __future__ import annotations

import hashlib
import json
import re
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import numpy

from .chroma_common import VectorStoreMismatch, client_settings, collection_metadata
from .errors import IndexingError

DEFAULT_TENANT = "default_tenant"
DEFAULT_DATABASE = "default_database"
REQUEST_TIMEOUT_S = 30.0
"""Longest wait for one request to the store server: a stalled server fails the run instead of hanging it."""
CONNECT_TIMEOUT_S = 5.0
FETCH_BATCH = 1000
"""Ids per request when asking which vectors the server holds (about 1.6 MB of JSON vectors at 384-d)."""
UPSERT_BATCH = 1000
OVERFETCH = 4
"""A query asks for ``OVERFETCH * k + 16`` neighbours: in a collection shared with other repositories some of them
are other repositories' code, which this repository's manifest does not know."""


class StoreUnavailable(IndexingError):
    """The store server cannot be reached, stopped answering, or answered with an error."""


class StoreUnauthorized(StoreUnavailable):
    """The store server refused our token (HTTP 401/403)."""


@dataclass(frozen=True)
class StoreAddress:
    """Where a store server is: its URL, tenant and database. Never holds the token."""

    url: str
    tenant: str = DEFAULT_TENANT
    database: str = DEFAULT_DATABASE

    @classmethod
    def parse(cls, url: str, tenant: str = DEFAULT_TENANT, database: str = DEFAULT_DATABASE) -> StoreAddress:
        """Raises ValueError with a one-line reason when ``url`` is not an http(s)://host[:port] URL."""
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the store must be an http:// or https:// URL of a Chroma server, not {url!r}")
        if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError(f"the store URL {url!r} must be scheme://host[:port] only (the token is a setting "
                             "of its own, never part of the URL)")
        try:
            parts.port
        except ValueError:
            raise ValueError(f"the store URL {url!r} has an invalid port") from None
        return cls(url=f"{parts.scheme}://{parts.netloc}", tenant=tenant or DEFAULT_TENANT,
                   database=database or DEFAULT_DATABASE)

    @property
    def ssl(self) -> bool:
        return self.url.startswith("https://")

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or (443 if self.ssl else 8000)

    def record(self) -> str:
        """What the index's metadata keeps, so that a reader finds the server: no token."""
        return json.dumps({"url": self.url, "tenant": self.tenant, "database": self.database}, sort_keys=True)

    @classmethod
    def from_record(cls, text: str | None) -> StoreAddress | None:
        try:
            data = json.loads(text or "")
            return cls.parse(data["url"], data.get("tenant", DEFAULT_TENANT), data.get("database", DEFAULT_DATABASE))
        except (ValueError, TypeError, KeyError):
            return None

    def __str__(self) -> str:
        where = "" if (self.tenant, self.database) == (DEFAULT_TENANT, DEFAULT_DATABASE) else \
            f" (tenant {self.tenant}, database {self.database})"
        return f"{self.url}{where}"


def collection_name(model: str, dim: int, embed_max_tokens: int = 0) -> str:
    """One collection per embedding model, vector length and cut-off: vectors that cannot be compared never share
    one. Readable prefix (Chroma allows [A-Za-z0-9._-], 3-512 characters) and a hash of the exact identity."""
    identity = json.dumps([model, int(dim), max(int(embed_max_tokens), 0)])
    slug = re.sub(r"[^A-Za-z0-9]+", "-", model).strip("-")[:48] or "model"
    cut = f"-head{embed_max_tokens}" if embed_max_tokens > 0 else ""
    return f"assist-{slug}-{dim}d{cut}-{hashlib.sha256(identity.encode()).hexdigest()[:10]}"


def _auth_headers(token: str) -> dict[str, str]:
    # Both of the headers Chroma's token auth reads (and a proxy in front of it may check): the token is the same.
    return {"Authorization": f"Bearer {token}", "X-Chroma-Token": token} if token else {}


def check_server(address: StoreAddress, token: str, token_source: str = "",
                 timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Fast, with plain HTTP (no chromadb import): the server answers, accepts the token, and holds the tenant and
    database. Raises StoreUnavailable / StoreUnauthorized with a one-line message."""
    _get(address, "/api/v2/heartbeat", "", token_source, timeout_s)
    tenant, database = quote(address.tenant, safe=""), quote(address.database, safe="")
    _get(address, f"/api/v2/tenants/{tenant}/databases/{database}", token, token_source, timeout_s)


def _get(address: StoreAddress, path: str, token: str, token_source: str, timeout_s: float) -> None:
    request = urllib.request.Request(address.url + path, headers=_auth_headers(token))
    context = ssl.create_default_context() if address.ssl else None
    try:
        with urllib.request.urlopen(request, timeout=timeout_s, context=context) as reply:
            reply.read(1 << 16)
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise StoreUnauthorized(unauthorized_message(address, exc.code, token_source)) from None
        if exc.code == 404 and "/databases/" in path:
            raise StoreUnavailable(f"the Chroma server at {address.url} has no database {address.database!r} in "
                                   f"tenant {address.tenant!r}: create it there, or set store_database") from None
        raise StoreUnavailable(f"the Chroma server at {address.url} answered HTTP {exc.code} to {path}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise StoreUnavailable(f"cannot reach the Chroma server at {address.url} ({reason})") from None


def unauthorized_message(address: StoreAddress, code: int, token_source: str) -> str:
    held = (f"the token in {token_source} was refused" if token_source
            else "no token was sent: set ASSIST_STORE_TOKEN or store_token in the user config file")
    return f"the Chroma server at {address.url} answered {code} Unauthorized: {held}"


class ServerVectorStore:
    """The vector store interface of vectors.VectorStore, on a server, keyed by content hash.

    ``chunk_hashes`` (chunk id -> content hash, from the local manifest) is what a reader needs to turn the
    server's hashes back into this repository's chunks; an index run passes the hashes with each upsert instead.
    """

    shared = True

    def __init__(self, address: StoreAddress, *, dim: int, collection: str, model: str, token: str = "",
                 token_source: str = "", chunk_hashes: dict[str, str] | None = None,
                 timeout_s: float = REQUEST_TIMEOUT_S):
        self.address, self.dim, self.collection_name = address, dim, collection
        self._token_source = token_source
        self._ids_by_hash: dict[str, list[str]] = {}
        for chunk_id, content_hash in sorted((chunk_hashes or {}).items()):
            self._ids_by_hash.setdefault(content_hash, []).append(chunk_id)
        check_server(address, token, token_source, min(timeout_s, CONNECT_TIMEOUT_S))
        self._client = None
        self._client = self._call(lambda: self._connect(token, timeout_s))
        metadata = collection_metadata(dim, model=model, made_by="assist")
        self._collection = self._call(lambda: self._client.get_or_create_collection(
            collection, embedding_function=None, metadata=metadata))
        stored_dim = (self._collection.metadata or {}).get("dim")
        if stored_dim is not None and int(stored_dim) != dim:
            self.close()
            raise VectorStoreMismatch(
                f"the collection {collection} on the Chroma server at {address.url} holds {stored_dim}-d vectors, "
                f"not {dim}-d: refusing to mix them; point assist at another server, database or model")

    def _connect(self, token: str, timeout_s: float) -> Any:
        import chromadb

        client = chromadb.HttpClient(host=self.address.host, port=self.address.port, ssl=self.address.ssl,
                                     headers=_auth_headers(token), settings=client_settings(),
                                     tenant=self.address.tenant, database=self.address.database)
        _bound_request_time(client, timeout_s)
        return client

    def _call(self, action: Callable[[], Any]) -> Any:
        """Run one client call; whatever chromadb or httpx raise becomes a one-line StoreUnavailable."""
        try:
            return action()
        except IndexingError:
            raise
        except Exception as exc:  # httpx, chromadb.errors and bare Exception(response text) alike
            text = " ".join(str(exc).split()) or type(exc).__name__
            if re.search(r"\b(401|403)\b|unauthori[sz]ed|forbidden", text, re.IGNORECASE):
                raise StoreUnauthorized(unauthorized_message(self.address, 401, self._token_source)) from None
            if "dimension" in text.lower():
                raise VectorStoreMismatch(f"the Chroma server at {self.address.url} refused vectors of "
                                          f"{self.dim} dimensions for {self.collection_name}: {text[:200]}") from None
            raise StoreUnavailable(f"the Chroma server at {self.address.url} failed ({text[:300]}); the vectors "
                                   "stored so far are kept: run `assist index` again once it answers") from None

    # -- the index run ---------------------------------------------------------------------------------------
    def upsert(self, ids: list[str], vectors: numpy.ndarray, metadatas: list[dict[str, Any]],
               content_hashes: list[str] | None = None) -> None:
        """Stores each vector under its chunk's content hash (``content_hashes``, parallel to ``ids``)."""
        if content_hashes is None or len(content_hashes) != len(ids) or len(vectors) != len(ids):
            raise ValueError("a store server keeps vectors by content hash: upsert needs one hash per vector")
        vectors = numpy.asarray(vectors, dtype=numpy.float32)
        if len(ids) and (vectors.ndim != 2 or vectors.shape[1] != self.dim):
            raise ValueError(f"expected vectors of shape (n, {self.dim}), got {vectors.shape}")
        unique: dict[str, numpy.ndarray] = {}
        for content_hash, vector in zip(content_hashes, vectors):
            unique.setdefault(content_hash, vector)
        hashes = list(unique)
        for start in range(0, len(hashes), UPSERT_BATCH):
            batch = hashes[start : start + UPSERT_BATCH]
            matrix = numpy.stack([unique[h] for h in batch])
            self._call(lambda: self._collection.upsert(ids=batch, embeddings=matrix))

    def held(self, hashes: Iterable[str]) -> dict[str, numpy.ndarray]:
        """The vectors the server holds for these content hashes (those computed by any machine sharing it)."""
        found: dict[str, numpy.ndarray] = {}
        unique = list(dict.fromkeys(hashes))
        for start in range(0, len(unique), FETCH_BATCH):
            batch = unique[start : start + FETCH_BATCH]
            result = self._call(lambda: self._collection.get(ids=batch, include=["embeddings"]))
            embeddings = result.get("embeddings")
            for content_hash, vector in zip(result["ids"], embeddings if embeddings is not None else []):
                vector = numpy.asarray(vector, dtype=numpy.float32)
                if vector.shape == (self.dim,) and bool(numpy.isfinite(vector).all()):
                    found[content_hash] = vector
        return found

    def delete(self, ids: list[str]) -> None:
        """Nothing is deleted from a shared store: the same content may be another clone's or branch's chunk."""

    def all_ids(self) -> set[str]:
        """No chunk ids live on the server (only content hashes): nothing there is ever a stray of this index."""
        return set()

    def count(self) -> int:
        return int(self._call(self._collection.count))

    # -- the reader ------------------------------------------------------------------------------------------
    def query(self, vector: numpy.ndarray, k: int) -> list[tuple[str, float]]:
        """The ``k`` nearest chunks of this repository as (chunk id, cosine similarity), most similar first.

        The collection may be shared by many repositories, and a vector carries no repository (the same code in
        two repositories is one vector; per-repository metadata on it would be overwritten by each writer). So the
        query over-fetches and keeps the hashes this repository's manifest knows. When other repositories' code
        crowds the neighbourhood so much that too few are left, it asks again restricted to this repository's
        own hashes: slower (the ids travel with the request) but exact."""
        if k <= 0 or not self._ids_by_hash:
            return []
        query = numpy.asarray(vector, dtype=numpy.float32).reshape(1, -1)
        wanted = OVERFETCH * k + 16
        returned, hits = self._nearest(query, wanted, None)
        if len(hits) < k and returned == wanted:  # the collection holds more than we saw: ours were crowded out
            _, hits = self._nearest(query, min(k, len(self._ids_by_hash)), list(self._ids_by_hash))
        return hits[:k]

    def _nearest(self, query: numpy.ndarray, n: int, only: list[str] | None) -> tuple[int, list[tuple[str, float]]]:
        """(how many vectors the server returned, those of them this repository has, as chunk hits)."""
        result = self._call(lambda: self._collection.query(query_embeddings=query, n_results=n, ids=only,
                                                           include=["distances"]))
        hits: list[tuple[str, float]] = []
        for content_hash, distance in zip(result["ids"][0], (result.get("distances") or [[]])[0]):
            # chromadb's cosine distance is 1 - cosine similarity; identical chunks share one vector.
            hits += [(chunk_id, 1.0 - float(distance)) for chunk_id in self._ids_by_hash.get(content_hash, ())]
        return len(result["ids"][0]), hits

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # a client whose server went away must still let us finish
                pass

    def __enter__(self) -> ServerVectorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _bound_request_time(client: Any, timeout_s: float) -> None:
    """chromadb 1.5 builds its httpx session with ``timeout=None`` and offers no setting for it: a server that
    accepts a connection and never answers would hang the run. Bound every request on the session it made."""
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, CONNECT_TIMEOUT_S))
