"""The bundled all-MiniLM-L6-v2 run by ONNX Runtime, so a one-shot search embeds its query without torch.

Why: ``import sentence_transformers`` (torch) costs 5-11 s, and a one-shot ``assist search`` embeds one
query. ONNX Runtime and ``tokenizers`` come with chromadb and start in well under a second.

Where the graph comes from: torch exports the *bundled* weights once, in a process that has loaded them
anyway (the first index run, or the first query after an upgrade), into a per-user cache keyed by the
model files' hashes. Nothing is downloaded, no third-party weights are trusted, and the graph is fp32 so
its vectors equal torch's (cosine >= 0.9999 measured on real code, checked on every export): an index may
hold vectors from either path. Each load re-runs a probe text against the vector torch gave at export, so
a damaged cache file is caught before it answers a query.
"""

from __future__ import annotations

import base64
import hashlib
import json
import mmap
import os
import shutil
import tempfile
import threading
import time
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy

if TYPE_CHECKING:
    import onnxruntime
    import tokenizers

FORMAT = "onnx-fp32"
# Bump when the export changes (inputs, opset, attention kernel, meta.json): older caches are then ignored.
EXPORT_RECIPE = "2"
# The lowest cosine to torch's vector accepted on export, and on each load for the probe texts. fp32 ONNX
# and torch differ by float rounding only (measured minimum 0.99999+); a damaged file falls far below.
MIN_COSINE = 0.9999
# What is checked at every load: short and cheap (one batch, a few ms), code and prose.
PROBE_TEXTS = (
    "def reserve(self, sku: str, quantity: int) -> None:\n    self.stock[sku] -= quantity",
    "Stock is reserved when an order is placed and released on cancel.",
)
# Files whose bytes decide the vectors; the cache key hashes them.
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json", "modules.json",
               "sentence_bert_config.json", "1_Pooling/config.json")
GRAPH_FILE = "model.onnx"
META_FILE = "meta.json"


class OnnxUnavailable(Exception):
    """No usable ONNX graph for this model (absent, damaged, or from another export); the message says which."""


def cache_root() -> Path:
    """Per-user cache: $ASSIST_CACHE_DIR, else $XDG_CACHE_HOME/assist, else ~/.cache/assist."""
    explicit = os.environ.get("ASSIST_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "assist"


def graph_dir(model_dir: Path) -> Path:
    return cache_root() / "onnx" / f"minilm-{model_key(model_dir)[:24]}-r{EXPORT_RECIPE}"


_KEYS: dict[Path, str] = {}


def model_key(model_dir: Path) -> str:
    """sha256 over the model files' own hashes. Large files take their hash from the installed wheel's
    RECORD (pip checked it on install) when it lists them at the same size, so no query pays for hashing
    90 MB; anything else is hashed here."""
    if model_dir in _KEYS:
        return _KEYS[model_dir]
    recorded = _record_hashes(model_dir)
    digest = hashlib.sha256()
    for name in MODEL_FILES:
        path = model_dir / name
        if not path.is_file():
            digest.update(f"{name}:absent\n".encode())
            continue
        size = path.stat().st_size
        file_hash = recorded.get(model_dir.resolve() / name, (None, None))
        value = file_hash[1] if file_hash[0] == size else _hash_file(path)
        digest.update(f"{name}:{size}:{value}\n".encode())
    key = _KEYS[model_dir] = digest.hexdigest()
    return key


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def _record_hashes(model_dir: Path) -> dict[Path, tuple[int, str]]:
    """{file: (size, urlsafe-b64 sha256)} for the model files, from the RECORD of the wheel that installed
    them (site-packages/<package>-<version>.dist-info), if there is one."""
    model_dir = model_dir.resolve()
    for site in model_dir.parents:
        if site.parent == site:
            break
        relative = model_dir.relative_to(site).as_posix()
        package = relative.split("/", 1)[0]
        # The wheel named after the top-level package first: reading every RECORD costs seconds.
        for record in sorted(site.glob("*.dist-info/RECORD"), key=lambda r: not r.parent.name.startswith(package)):
            try:
                text = record.read_text(encoding="utf-8")
            except OSError:
                continue
            if f"{relative}/" not in text:
                continue
            wanted = {f"{relative}/{name}": name for name in MODEL_FILES}
            hashes: dict[Path, tuple[int, str]] = {}
            for line in text.splitlines():
                parts = line.rsplit(",", 2)
                if len(parts) == 3 and parts[0] in wanted and parts[1].startswith("sha256=") and parts[2].isdigit():
                    hashes[model_dir / wanted[parts[0]]] = (int(parts[2]), parts[1].removeprefix("sha256="))
            return hashes
    return {}


# ----------------------------------------------------------------------------------------- the encoder

class OnnxEmbedder:
    """all-MiniLM-L6-v2 as the bundled model's sentence-transformers pipeline computes it — WordPiece from
    tokenizer.json truncated at max_seq_length, the transformer, mean pooling over real tokens, L2
    normalisation — with the transformer run by ONNX Runtime."""

    def __init__(self, model_dir: Path, name: str, graph: Path, threads: int, batch_size: int = 32,
                 max_tokens: int = 256, dim: int = 384):
        self.model_dir = model_dir
        self.name = name  # the vector space: the same as torch's, since the vectors are interchangeable
        self.identity = f"{name}/{FORMAT}"
        self.graph = graph
        self.threads = threads
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.dim = dim
        self._session: onnxruntime.InferenceSession | None = None
        self._input_names: set[str] = set()
        self._tokenizer: tokenizers.Tokenizer | None = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Open the graph and check it against the probe vectors torch gave at export; OnnxUnavailable if not."""
        with self._lock:
            if self._session is not None:
                return
            meta = read_meta(self.graph)
            self._attach(_open_session(_verify(self.graph / GRAPH_FILE, meta), self.threads))
            try:
                check_probes(self, meta)
            except OnnxUnavailable:
                self._session = None
                raise

    def _attach(self, session: onnxruntime.InferenceSession) -> None:
        self._input_names = {i.name for i in session.get_inputs()}
        self._tokenizer = _batch_tokenizer(self.model_dir, self.max_tokens)
        self._session = session

    def embed(self, texts: Sequence[str]) -> numpy.ndarray:
        if len(texts) == 0:
            return numpy.zeros((0, self.dim), dtype=numpy.float32)
        self.load()
        # Batches of similar length waste little on padding, as sentence-transformers' encode() does.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = numpy.empty((len(texts), self.dim), dtype=numpy.float32)
        for start in range(0, len(order), self.batch_size):
            picked = order[start:start + self.batch_size]
            out[picked] = self._embed_batch([texts[i] for i in picked])
        return out

    def _embed_batch(self, texts: list[str]) -> numpy.ndarray:
        assert self._session is not None and self._tokenizer is not None
        encodings = self._tokenizer.encode_batch(texts)
        ids = numpy.array([e.ids for e in encodings], dtype=numpy.int64)
        mask = numpy.array([e.attention_mask for e in encodings], dtype=numpy.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = numpy.array([e.type_ids for e in encodings], dtype=numpy.int64)
        hidden = self._session.run(["last_hidden_state"], feeds)[0]
        return mean_pool_normalise(hidden, mask)


def mean_pool_normalise(hidden: numpy.ndarray, mask: numpy.ndarray) -> numpy.ndarray:
    """sentence-transformers' Pooling(mean) then Normalize: average over real tokens, unit length."""
    weights = mask[:, :, None].astype(numpy.float32)
    summed = (hidden * weights).sum(axis=1)
    pooled = summed / numpy.maximum(weights.sum(axis=1), 1e-9)
    norms = numpy.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / numpy.maximum(norms, 1e-12)).astype(numpy.float32)


def _batch_tokenizer(model_dir: Path, max_tokens: int) -> tokenizers.Tokenizer:
    import tokenizers

    tokenizer = tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    # The file ships with truncation at 128 and fixed padding to 128; sentence-transformers truncates at
    # max_seq_length and pads to the longest text of the batch.
    tokenizer.enable_truncation(max_length=max_tokens)
    pad_id = tokenizer.token_to_id("[PAD]") or 0
    tokenizer.enable_padding(pad_id=pad_id, pad_token="[PAD]")
    return tokenizer


def _verify(path: Path, meta: dict[str, Any]) -> Path:
    """``path``, if its bytes are the ones written at export. The probe alone misses damage in embedding
    rows of tokens it does not use. CRC-32 catches accidental damage (a cut, a stray write) at half
    sha256's cost; the cache is the user's own, so there is no adversary to hash against. Read through
    mmap, and onnxruntime then opens the file by path (it maps it too): 0.27-0.33 s to open, against
    0.42-0.47 s when handed the bytes (2 busy cores)."""
    try:
        with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            crc = zlib.crc32(data)
    except (OSError, ValueError) as exc:  # ValueError: an empty file cannot be mapped
        raise OnnxUnavailable(f"cannot read {path}: {_one_line(exc)}") from exc
    if crc != meta.get("crc32"):
        raise OnnxUnavailable(f"{path} does not match the checksum written at export")
    return path


def _open_session(graph: Path, threads: int) -> onnxruntime.InferenceSession:
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"  # read when onnxruntime is imported
    try:
        import onnxruntime
    except ImportError as exc:
        raise OnnxUnavailable("onnxruntime is not installed") from exc
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # warnings about unused initialisers would land on a user's terminal
    # Prepacking copies every weight matrix at load: 0.35 s instead of 0.54 s to open, and batches of
    # 32 x 200 tokens ran no slower without it (measured on 2 busy cores).
    options.add_session_config_entry("session.disable_prepacking", "1")
    try:
        return onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf/NoSuchFile types
        raise OnnxUnavailable(f"cannot open the ONNX graph: {_one_line(exc)}") from exc


def read_meta(directory: Path) -> dict[str, Any]:
    try:
        meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OnnxUnavailable(f"cannot read {directory / META_FILE}: {_one_line(exc)}") from exc
    if (not isinstance(meta, dict) or meta.get("recipe") != EXPORT_RECIPE
            or not isinstance(meta.get("probes"), list) or not isinstance(meta.get("crc32"), int)):
        raise OnnxUnavailable(f"{directory / META_FILE} is not an export of recipe {EXPORT_RECIPE}")
    return meta


def check_probes(embedder: OnnxEmbedder, meta: dict[str, Any]) -> None:
    try:
        expected = numpy.asarray(meta["probes"], dtype=numpy.float32)
        got = embedder._embed_batch(list(PROBE_TEXTS))
    except Exception as exc:  # a graph with the wrong shapes fails inside onnxruntime in many ways
        raise OnnxUnavailable(f"the graph at {embedder.graph} does not run: {_one_line(exc)}") from exc
    if expected.shape != got.shape:
        raise OnnxUnavailable(f"the graph at {embedder.graph} gives vectors of shape {got.shape}, not {expected.shape}")
    worst = float((expected * got).sum(axis=1).min())
    if not worst >= MIN_COSINE:  # also catches NaN
        raise OnnxUnavailable(f"the graph at {embedder.graph} no longer gives torch's vectors (cosine {worst:.4f})")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:200] + "...") if len(text) > 200 else text or type(exc).__name__


# ------------------------------------------------------------------------------------------ the export

_EXPORT_LOCK = threading.Lock()


def export_graph(model: Any, model_dir: Path, threads: int) -> Path:
    """Export a loaded SentenceTransformer (the bundled model) to the cache and return its directory.

    Needs torch (the caller has it loaded). Checked before it is installed: the ONNX vectors of real code
    must match torch's (cosine >= MIN_COSINE) or nothing is written. Installed by renaming a finished
    directory into place, so a reader never sees half an export; a concurrent exporter's copy wins.
    """
    target = graph_dir(model_dir)
    with _EXPORT_LOCK:
        if (target / META_FILE).is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_abandoned_exports(target.parent)
        staging = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
        try:
            _trace_to_onnx(model, staging / GRAPH_FILE)
            embedder = OnnxEmbedder(model_dir, "export-check", staging, threads,
                                    max_tokens=int(model.max_seq_length), dim=len(model.encode(["x"])[0]))
            embedder._attach(_open_session(staging / GRAPH_FILE, threads))
            check_texts = list(PROBE_TEXTS) + _check_texts()
            torch_vectors = model.encode(check_texts, normalize_embeddings=True, convert_to_numpy=True)
            onnx_vectors = embedder.embed(check_texts)
            worst = float((torch_vectors * onnx_vectors).sum(axis=1).min())
            if not worst >= MIN_COSINE:
                raise OnnxUnavailable(f"the exported graph's vectors differ from torch's (cosine {worst:.5f})")
            meta = {"recipe": EXPORT_RECIPE, "format": FORMAT, "model_key": model_key(model_dir),
                    "crc32": zlib.crc32((staging / GRAPH_FILE).read_bytes()),
                    "model_dir": str(model_dir), "min_cosine_at_export": worst,
                    "probes": torch_vectors[: len(PROBE_TEXTS)].tolist()}
            (staging / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
            try:
                os.replace(staging, target)
            except OSError:
                if not (target / META_FILE).is_file():
                    # A damaged directory is in the way: remove it, then install ours. (No fsync: a file cut
                    # short by a power loss fails the CRC at the next load and is rebuilt.)
                    shutil.rmtree(target, ignore_errors=True)
                    os.replace(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _remove_abandoned_exports(parent: Path, older_than_s: float = 3600) -> None:
    """Exports of an older recipe, which this code never reads, and staging directories of exports killed
    midway (90 MB each; an hour is far past any live export)."""
    for old in parent.glob("minilm-*-r*"):
        if old.is_dir() and not old.name.endswith(f"-r{EXPORT_RECIPE}"):
            shutil.rmtree(old, ignore_errors=True)
    now = time.time()
    for staging in parent.glob(".export-*"):
        try:
            if now - staging.stat().st_mtime > older_than_s:
                shutil.rmtree(staging, ignore_errors=True)
        except OSError:
            pass


def discard_graph(directory: Path) -> None:
    """Remove a damaged export so the next torch load writes a fresh one."""
    shutil.rmtree(directory, ignore_errors=True)


def _check_texts() -> list[str]:
    """Texts of lengths around and over the 256-token cut, so truncation and padding are both checked."""
    source = Path(__file__).read_text(encoding="utf-8")
    return [source[:200], source[:1500], source[:6000], "x", " leading and trailing spaces \n"]


def _trace_to_onnx(model: Any, path: Path) -> None:
    import torch

    transformer = model[0].auto_model
    # The default SDPA attention takes data-dependent shortcuts (no mask when none is padded) that a trace
    # would freeze; eager attention is traced as plain matmuls and a mask that always applies.
    previous = getattr(transformer.config, "_attn_implementation", None)
    _set_attention(transformer, "eager")

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    # Two rows, the second padded: the traced graph must apply the mask.
    ids = torch.tensor([[101, 7592, 2088, 2003, 1037, 3231, 1012, 102], [101, 7592, 102, 0, 0, 0, 0, 0]])
    mask = (ids != 0).long()
    axes = {0: "batch", 1: "tokens"}
    try:
        # The tracer's warnings (legacy exporter, Python booleans frozen) are about shapes checked above.
        with torch.inference_mode(), _legacy_exporter_without_onnx_package(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                LastHiddenState(transformer).eval(), (ids, mask, torch.zeros_like(ids)), str(path),
                dynamo=False, opset_version=17, do_constant_folding=True,
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["last_hidden_state"],
                dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                              "last_hidden_state": axes},
            )
    except Exception as exc:  # the exporter raises many types; any of them means "no graph this time"
        raise OnnxUnavailable(f"torch could not export the model to ONNX: {_one_line(exc)}") from exc
    finally:
        if previous is not None:
            _set_attention(transformer, previous)


def _set_attention(transformer: Any, implementation: str) -> None:
    setter = getattr(transformer, "set_attn_implementation", None)
    if callable(setter):
        setter(implementation)
    else:
        transformer.config._attn_implementation = implementation


class _legacy_exporter_without_onnx_package:
    """torch's TorchScript exporter writes the protobuf itself but imports the ``onnx`` package only to
    splice in custom onnxscript functions, which this model has none of. ``onnx`` is not a dependency
    (17 MB for one call), so that step is skipped when the package is missing. torch is pinned; if the
    private hook moves, the export fails with a clear notice and queries stay on torch."""

    def __enter__(self):
        self._module = self._saved = None
        try:
            import onnx  # noqa: F401
            return self
        except ImportError:
            pass
        from torch.onnx._internal.torchscript_exporter import onnx_proto_utils

        self._module, self._saved = onnx_proto_utils, onnx_proto_utils._add_onnxscript_fn
        onnx_proto_utils._add_onnxscript_fn = lambda model_bytes, custom_opsets: model_bytes
        return self

    def __exit__(self, *exc_info):
        if self._module is not None:
            self._module._add_onnxscript_fn = self._saved
        return False
