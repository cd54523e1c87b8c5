"""Embedding with the real bundled all-MiniLM-L6-v2 model, offline; Ollama errors against real sockets."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy
import pytest

from indexer.embeddings import DEFAULT_NAME, EmbeddingError, bundled_model_dir, load_embedder

CART_FUNCTION = '''# function add_item
def add_item(cart, item):
    """Put one more item into the shopping cart."""
    cart.items.append(item)
    cart.total += item.price
'''
UNRELATED_FUNCTION = '''# function parse_timestamp
def parse_timestamp(text):
    """Read an ISO-8601 timestamp with a timezone offset."""
    return datetime.fromisoformat(text).astimezone(timezone.utc)
'''


@pytest.fixture(scope="session")
def embedder():
    """The default model, loaded once for the session (loads share one network per process)."""
    return load_embedder("default")


def test_default_model_loads_offline_without_the_slow_import():
    # A fresh interpreter with the hub forced offline and no proxy to reach anything: loading the
    # embedder and counting tokens must work without importing sentence-transformers (~11 s).
    script = (
        "import sys\n"
        "from indexer.embeddings import load_embedder\n"
        "e = load_embedder('default')\n"
        "print(e.name, e.dim, e.max_tokens, e.count_tokens('def add_item(cart, item): pass'))\n"
        "print('sentence_transformers' in sys.modules, 'torch' in sys.modules)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert run.returncode == 0, run.stderr
    first, second = run.stdout.split("\n")[:2]
    name, dim, max_tokens, tokens = first.split()
    assert (name, dim, max_tokens) == (DEFAULT_NAME, "384", "256")
    assert 10 < int(tokens) < 20
    assert second == "False False"


def test_vectors_are_float32_normalised_rows(embedder):
    vectors = embedder.embed(["def total(self): return sum(self.items)", "a shopping cart", "x"])
    assert vectors.dtype == numpy.float32
    assert vectors.shape == (3, 384)
    assert numpy.allclose(numpy.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert embedder.embed([]).shape == (0, 384)


def test_a_query_lands_nearer_the_code_it_describes(embedder):
    query, cart, unrelated = embedder.embed(["add item to shopping cart", CART_FUNCTION, UNRELATED_FUNCTION])
    assert float(query @ cart) > float(query @ unrelated) + 0.1
    date_query = embedder.embed(["convert a date string to UTC"])[0]
    assert float(date_query @ unrelated) > float(date_query @ cart)


def test_batch_order_is_preserved_whatever_the_lengths(embedder):
    texts = [CART_FUNCTION * 4, "cart", UNRELATED_FUNCTION, "x = 1", CART_FUNCTION] * 8  # 40 texts, 2 batches
    together = embedder.embed(texts)
    for index in (0, 1, 2, 3, 4, 39):
        alone = embedder.embed([texts[index]])[0]
        assert float(together[index] @ alone) > 0.999


def test_token_count_matches_what_the_model_reads(embedder):
    text = "def getHTTPResponse(self, url: str) -> Response:\n    return self.session.get(url)"
    model_ids = embedder.model.tokenizer(text)["input_ids"]
    assert embedder.count_tokens(text) == len(model_ids)
    long_text = "word " * 1000
    assert embedder.count_tokens(long_text) > 1000  # not truncated at the model's limit


def test_a_model_directory_and_the_bundled_name_resolve_to_the_same_model(embedder):
    by_path = load_embedder(str(bundled_model_dir()))
    by_name = load_embedder("sentence-transformers:all-MiniLM-L6-v2")
    assert by_name.name == DEFAULT_NAME
    assert by_path.name.startswith("sentence-transformers:/")
    vector = embedder.embed([CART_FUNCTION])[0]
    assert float(by_path.embed([CART_FUNCTION])[0] @ vector) > 0.9999
    assert by_path.model is embedder.model  # one network per process


def test_a_model_that_is_not_on_disk_is_refused_with_advice():
    with pytest.raises(EmbeddingError) as error:
        load_embedder("sentence-transformers:acme/no-such-embedder")
    assert "acme/no-such-embedder" in str(error.value)
    assert "sentence-transformers:/path/to/model" in str(error.value)
    with pytest.raises(EmbeddingError) as error:
        load_embedder("no-such-thing")
    assert "ollama:<model>" in str(error.value)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_ollama_down_names_the_url_it_tried():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(EmbeddingError) as error:
        load_embedder("ollama:nomic-embed-text", ollama_url=url)
    message = str(error.value)
    assert url in message and "ollama serve" in message


class FakeOllama(BaseHTTPRequestHandler):
    """Speaks the documented /api/embed and /api/show replies; knows one model, "tiny-embed"."""

    batches: list[int] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if body["model"] != "tiny-embed":
            return self.reply(404, {"error": f'model "{body["model"]}" not found, try pulling it first'})
        if self.path == "/api/show":
            return self.reply(200, {"model_info": {"bert.context_length": 512}})
        texts = body["input"]
        FakeOllama.batches.append(len(texts))
        # Un-normalised vectors that encode each text's length, so order and scaling are checkable.
        return self.reply(200, {"embeddings": [[float(len(t)), 1.0, 0.0] for t in texts]})

    def reply(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_ollama():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOllama)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeOllama.batches = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_ollama_model_missing_says_how_to_pull_it(fake_ollama):
    with pytest.raises(EmbeddingError) as error:
        load_embedder("ollama:nomic-embed-text", ollama_url=fake_ollama)
    message = str(error.value)
    assert "ollama pull nomic-embed-text" in message and fake_ollama in message


def test_ollama_embeddings_are_batched_ordered_and_normalised(fake_ollama):
    embedder = load_embedder("ollama:tiny-embed", ollama_url=fake_ollama)
    assert (embedder.name, embedder.dim, embedder.max_tokens) == ("ollama:tiny-embed", 3, 512)
    texts = ["a" * (i + 1) for i in range(70)]
    vectors = embedder.embed(texts)
    assert FakeOllama.batches[1:] == [32, 32, 6]
    assert numpy.allclose(numpy.linalg.norm(vectors, axis=1), 1.0)
    expected = numpy.array([[i + 1, 1.0, 0.0] for i in range(70)])
    expected /= numpy.linalg.norm(expected, axis=1, keepdims=True)
    assert numpy.allclose(vectors, expected, atol=1e-6)


def test_cached_line_counts_equal_whole_text_encoding(embedder):
    """The chunker's fast counter sums cached per-line counts; it must agree with encoding the text whole."""
    source = (Path(__file__).parent / "fixtures" / "chunks" / "shop.py").read_text()
    lines = source.split("\n") + ["", "    x = foo(bar, 'naïve café') ** 2  # 中文 comment", "\t\tindented\ttabs"]
    tokenizer = embedder._tokenizer
    for start in range(0, len(lines), 3):
        for width in (1, 4, 17, 60):
            text = "\n".join(lines[start : start + width])
            assert embedder.count_tokens(text) == len(tokenizer.encode(text).ids), text
