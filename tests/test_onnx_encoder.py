"""The bundled model on ONNX Runtime: exported by a real index run, the same vectors and search results as
sentence-transformers, no torch on a one-shot query's path, and a damaged graph that falls back politely.

Real parts throughout: the bundled all-MiniLM-L6-v2, torch's exporter, onnxruntime, the real index."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy
import pytest

from support import PROJECT_ROOT, make_sample_repo, run_assist

from indexer.embeddings import (
    BACKEND_ENV,
    DEFAULT_NAME,
    OnnxFirstEmbedder,
    SentenceTransformerEmbedder,
    bundled_model_dir,
    load_embedder,
)
from indexer.onnx_encoder import GRAPH_FILE, META_FILE, OnnxEmbedder, graph_dir

QUERIES = ["reserve stock when an order is placed", "release stock on cancel", "shipping fee",
           "order total", "how is an order cancelled", "inventory count goes negative"]


def _code_texts() -> list[str]:
    """Real code of this project, whole functions and classes, short and long (past the 256-token cut)."""
    texts = []
    for path in ("indexer/embeddings.py", "indexer/onnx_encoder.py", "indexer/chunks.py"):
        source = (PROJECT_ROOT / path).read_text(encoding="utf-8")
        blocks = source.split("\n\n\n")
        texts += [b for b in blocks if b.strip()][:15]
    return texts


@pytest.fixture(scope="module")
def onnx_env(tmp_path_factory):
    """A private, empty encoder cache, and a sample repository indexed into it by `assist index`,
    which must leave the exported graph behind."""
    cache = tmp_path_factory.mktemp("assist-cache")
    saved = os.environ.get("ASSIST_CACHE_DIR")
    os.environ["ASSIST_CACHE_DIR"] = str(cache)
    os.environ.pop(BACKEND_ENV, None)
    try:
        repo = make_sample_repo(tmp_path_factory.mktemp("onnx") / "repo")
        done = run_assist("index", str(repo), env=dict(os.environ))
        assert done.returncode == 0, done.stderr
        yield {"cache": cache, "repo": repo, "index_stderr": done.stderr}
    finally:
        if saved is None:
            os.environ.pop("ASSIST_CACHE_DIR", None)
        else:
            os.environ["ASSIST_CACHE_DIR"] = saved


@pytest.fixture(scope="module")
def torch_embedder():
    embedder = SentenceTransformerEmbedder(bundled_model_dir(), DEFAULT_NAME)
    embedder.load()
    return embedder


def test_index_run_exports_the_graph_and_queries_use_it(onnx_env):
    graph = graph_dir(bundled_model_dir())
    assert graph.is_relative_to(onnx_env["cache"])
    assert (graph / GRAPH_FILE).is_file() and (graph / META_FILE).is_file()
    meta = json.loads((graph / META_FILE).read_text())
    assert meta["min_cosine_at_export"] >= 0.9999
    assert "Traceback" not in onnx_env["index_stderr"]
    embedder = load_embedder("default")
    assert isinstance(embedder, OnnxFirstEmbedder)
    assert embedder.identity == f"{DEFAULT_NAME}/onnx-fp32"
    assert embedder.name == DEFAULT_NAME  # one vector space: the index's cache key does not change


def test_other_models_and_the_switch_stay_on_sentence_transformers(onnx_env, monkeypatch):
    by_path = load_embedder(str(bundled_model_dir()))
    assert isinstance(by_path, SentenceTransformerEmbedder) and by_path.identity.endswith("/torch")
    monkeypatch.setenv(BACKEND_ENV, "torch")
    forced = load_embedder("default")
    assert isinstance(forced, SentenceTransformerEmbedder)
    assert forced.identity == f"{DEFAULT_NAME}/torch" and forced.name == DEFAULT_NAME
    monkeypatch.delenv(BACKEND_ENV)
    chosen = load_embedder("default", backend="torch")
    assert isinstance(chosen, SentenceTransformerEmbedder) and chosen.name == DEFAULT_NAME


def test_onnx_vectors_equal_torch_vectors_on_real_code(onnx_env, torch_embedder):
    texts = _code_texts()
    assert max(torch_embedder.count_tokens(t) for t in texts) > 2 * torch_embedder.max_tokens  # truncation
    onnx = OnnxEmbedder(bundled_model_dir(), DEFAULT_NAME, graph_dir(bundled_model_dir()), threads=2)
    # Uneven batches: padding inside a batch must not move any vector.
    onnx.batch_size = 7
    got, want = onnx.embed(texts), torch_embedder.embed(texts)
    assert got.shape == want.shape == (len(texts), 384)
    cosines = (got * want).sum(axis=1)
    # Measured: min 0.9999999 over 500 chunks; 0.9999 is the bound under which vectors may be mixed.
    assert cosines.min() >= 0.9999, sorted(cosines)[:3]
    assert numpy.allclose(numpy.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_top_results_equal_between_onnx_and_torch(onnx_env, torch_embedder):
    from indexer.retrieval import Retriever

    onnx = load_embedder("default")
    assert isinstance(onnx, OnnxFirstEmbedder)
    ranked = {}
    for label, embedder in (("onnx", onnx), ("torch", torch_embedder)):
        with Retriever(onnx_env["repo"]) as retriever:
            retriever.reader.set_embedder(embedder)
            ranked[label] = [[(h.path, h.symbol, round(h.score, 3)) for h in retriever.search(q, top=10)]
                             for q in QUERIES]
            assert any("vector" in h.why.signals for h in retriever.search(QUERIES[0], top=10))
    assert onnx.identity.endswith("/onnx-fp32")  # it really ran on ONNX, no silent fallback
    assert ranked["onnx"] == ranked["torch"]


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def test_one_shot_search_with_vectors_does_not_import_torch(onnx_env):
    code = (
        "import sys, json\n"
        "from indexer.retrieval import Retriever\n"
        f"r = Retriever({str(onnx_env['repo'])!r})\n"
        f"hits = r.search({QUERIES[0]!r}, top=10)\n"
        "print(json.dumps({'vector': any('vector' in h.why.signals for h in hits),\n"
        "  'identity': r.reader.embedder.identity,\n"
        "  'heavy': sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules)}))\n"
    )
    done = _python(code, {**os.environ})
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"vector": True, "identity": f"{DEFAULT_NAME}/onnx-fp32", "heavy": []}
    assert done.stderr.strip() == ""


@pytest.mark.parametrize("damage", ["truncated", "weights"])
def test_damaged_graph_falls_back_with_one_notice_and_is_rebuilt(onnx_env, tmp_path, damage):
    cache = tmp_path / "cache"
    shutil.copytree(onnx_env["cache"], cache)
    env = {**os.environ, "ASSIST_CACHE_DIR": str(cache)}
    graph = cache / graph_dir(bundled_model_dir()).relative_to(onnx_env["cache"])
    model = graph / GRAPH_FILE
    data = bytearray(model.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]  # a copy or a disk cut short
    else:
        # Flipped bytes in the middle of the weights: onnxruntime opens the file, only the probe sees it.
        middle = len(data) // 2
        data[middle:middle + 4096] = bytes(4096)
    model.write_bytes(bytes(data))
    code = (
        "import sys, json\n"
        "from indexer.embeddings import load_embedder\n"
        "e = load_embedder('default')\n"
        "v = e.embed(['def reserve(sku): pass'])\n"
        "print(json.dumps({'identity': e.identity, 'vector': v[0].tolist()}))\n"
    )
    done = _python(code, env)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    notices = [line for line in done.stderr.splitlines() if line.startswith("assist:")]
    assert len(notices) == 1 and "ONNX query encoder unusable" in notices[0], done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["identity"] == f"{DEFAULT_NAME}/torch"
    expected = SentenceTransformerEmbedder(bundled_model_dir(), DEFAULT_NAME).embed(["def reserve(sku): pass"])[0]
    assert float(numpy.dot(report["vector"], expected)) >= 0.9999
    # The fallback loaded torch, so it wrote a sound graph again; the next process is back on ONNX.
    again = _python("from indexer.embeddings import load_embedder\n"
                    "e = load_embedder('default'); e.embed(['x']); print(e.identity)\n", env)
    assert again.returncode == 0 and again.stdout.strip() == f"{DEFAULT_NAME}/onnx-fp32", again.stderr


def test_prefetch_opens_the_graph_in_the_background(onnx_env, torch_embedder):
    embedder = load_embedder("default")
    embedder.prefetch()
    embedder._prefetching.join(60)
    assert embedder._active is embedder._onnx  # opened by the thread, before anything asked to embed
    vector = embedder.embed([QUERIES[0]])[0]
    assert embedder.identity.endswith("/onnx-fp32")
    assert float(vector @ torch_embedder.embed([QUERIES[0]])[0]) >= 0.9999


def test_the_index_records_which_encoder_made_its_vectors(onnx_env, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(onnx_env["repo"], repo, symlinks=True)
    (repo / "inventory" / "extra.py").write_text("def restock_everything(warehouse):\n    return warehouse.refill()\n")
    done = run_assist("index", str(repo), "--json", env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["chunks_embedded"] >= 1 and report["encoder"] == f"{DEFAULT_NAME}/onnx-fp32"
    status = json.loads(run_assist("status", str(repo), "--json", env=dict(os.environ)).stdout)
    assert status["encoder"] == f"{DEFAULT_NAME}/onnx-fp32"
