"""Embeddings on a model server (issue 14, item 2), against real servers on loopback started here: llama.cpp's
server (xllamacpp) serving the SmolLM2 test model on /v1/embeddings, a recording proxy in front of it that
answers busy, drops connections or stalls on demand, and the Ollama-protocol server over the same model.
SmolLM2 is a chat model: the vectors test the plumbing, not retrieval quality."""

from __future__ import annotations

import json
import os
import socket
import time

import numpy
import pytest
from embedding_server import EMBED_SPEC, EmbeddingProxy, start_embedding_server
from model_server import ensure_test_model
from ollama_protocol_server import OllamaProtocolServer
from support import make_sample_repo, run_assist

from indexer.config import IndexConfig
from indexer.embeddings import EmbeddingError, open_embedder, open_embedder_for_reading
from indexer.pipeline import index_repository
from indexer.retrieval import Retriever
from indexer.state_dir import StateDir
from indexer.status import index_status

OLLAMA_SPEC = "ollama:smollm2:135m"  # the name OllamaProtocolServer serves
TEXTS = [f"def handler_{i}(order):\n    return order.total * {i} + {i * i}\n" for i in range(11)]


@pytest.fixture(scope="module")
def embedding_server(tmp_path_factory):
    server = start_embedding_server(ensure_test_model(), tmp_path_factory.mktemp("embed-server") / "server.log",
                                    parallel=2)
    yield server
    server.stop()


@pytest.fixture
def proxy(embedding_server):
    proxy = EmbeddingProxy(embedding_server.url).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def no_server_env(monkeypatch, tmp_path):
    """No embedding server setting from the environment or the user config file of whoever runs the tests."""
    for name in ("ASSIST_EMBED_URL", "ASSIST_EMBED_API_KEY", "OLLAMA_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "user-config"))
    return tmp_path / "user-config" / "assist" / "config.toml"


def served(url: str, **settings) -> IndexConfig:
    # The model reads each chunk's first lines only: the same requests, a fraction of the CPU on a busy machine.
    return IndexConfig(embedding_model=EMBED_SPEC, embed_url=url, embed_max_tokens=24, **settings)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_index_through_an_openai_server_stores_every_vector_and_queries_reach_the_same_server(
        proxy, tmp_path, no_server_env):
    repo = make_sample_repo(tmp_path / "repo")
    report = index_repository(repo, served(f"{proxy.url}/v1", embed_batch_size=4, embed_concurrency=2))

    assert report.chunks_embedded > 8
    assert report.vectors["stored"] == report.vectors["chunks"] > 0
    sizes = proxy.embedded()
    assert sizes[0] == 1  # the dimension probe, before any work
    assert max(sizes) <= 4 and sum(sizes[1:]) == report.chunks_embedded
    assert proxy.max_in_flight == 2  # two requests side by side, never more
    assert all(r.path == "/v1/embeddings" for r in proxy.requests)

    # The reader has no settings: it finds the server the index recorded, and embeds the query there.
    assert index_status(repo).encoder == f"{EMBED_SPEC}@{proxy.url}/v1"
    before = len(proxy.requests)
    with Retriever(repo) as retriever:
        hits = retriever.search("reserve stock for an order", top=10)
    assert any("vector" in hit.why.signals for hit in hits)
    queries = proxy.embedded()[before:]
    assert queries and set(queries) == {1}  # the query (after a dimension probe), nothing else


def test_vectors_come_back_in_input_order_whatever_the_requests_in_flight(embedding_server, no_server_env):
    one_by_one = open_embedder(served(embedding_server.url, embed_batch_size=1, embed_concurrency=1))
    in_flight = open_embedder(served(embedding_server.url, embed_batch_size=2, embed_concurrency=4))
    expected = numpy.stack([one_by_one.embed([text])[0] for text in TEXTS])
    vectors = in_flight.embed(TEXTS)
    assert vectors.shape == (len(TEXTS), one_by_one.dim)
    assert numpy.allclose(numpy.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosines = numpy.sum(vectors * expected, axis=1)
    assert cosines.min() > 0.999, cosines  # row i is TEXTS[i]'s vector, not a neighbour's
    one_by_one.close()
    in_flight.close()


def test_a_busy_server_and_a_dropped_connection_are_retried_as_retry_after_asks(proxy, tmp_path, no_server_env):
    repo = make_sample_repo(tmp_path / "repo")
    proxy.faults.statuses = [503, 429]
    proxy.faults.retry_after = "1"
    proxy.faults.drops = 1
    report = index_repository(repo, served(f"{proxy.url}/v1"))

    assert report.vectors["stored"] == report.vectors["chunks"] > 0
    first_503 = next(r for r in proxy.requests if r.status == 503)
    after = proxy.requests[proxy.requests.index(first_503) + 1]
    assert after.at - first_503.at >= 0.9  # waited as Retry-After: 1 asked
    assert [r.status for r in proxy.requests[:3]] == [0, 503, 429]  # dropped, busy, busy: then it went through


def test_a_stalled_server_is_a_clear_error_within_the_timeout_and_a_rerun_completes(proxy, tmp_path, no_server_env):
    repo = make_sample_repo(tmp_path / "repo")
    # 3 s of server time a request; with 2 in flight a request may wait for the other: 6 s in all.
    config = served(f"{proxy.url}/v1", embed_batch_size=4, embed_concurrency=2, embed_timeout_s=3.0)
    proxy.faults.stall_from = 5  # the probe and two groups of two requests answered; then silence
    with pytest.raises(EmbeddingError) as error:
        index_repository(repo, config)
    failed_at = time.monotonic()
    stalled = proxy.requests[5]
    assert failed_at - stalled.at < 6.0 + 10.0  # the timeout, plus a busy machine's slack; never a hang
    assert "did not answer within 6 s" in str(error.value) and f"{proxy.url}/v1/embeddings" in str(error.value)

    stored = index_status(repo).vectors["stored"]
    assert stored >= 16  # what was embedded before the stall stayed stored

    proxy.unstall()
    report = index_repository(repo, config)
    assert report.vectors["stored"] == report.vectors["chunks"]
    assert report.chunks_embedded <= report.vectors["chunks"] - stored  # nothing stored is embedded again


def test_ollama_protocol_at_a_non_default_address_through_embed_url_and_ollama_host(
        embedding_server, tmp_path, monkeypatch, no_server_env):
    ollama = OllamaProtocolServer(embedding_server.url).start()
    try:
        repo = make_sample_repo(tmp_path / "repo")
        report = index_repository(repo, IndexConfig(embedding_model=OLLAMA_SPEC, embed_url=ollama.url,
                                                              embed_max_tokens=24))
        assert report.vectors["stored"] == report.vectors["chunks"] > 0
        embeds = [r for r in ollama.requests if r.path == "/api/embed"]
        assert sum(len(r.body["input"]) for r in embeds[1:]) == report.chunks_embedded

        # OLLAMA_HOST as Ollama reads it: no scheme, host:port.
        monkeypatch.setenv("OLLAMA_HOST", ollama.url.removeprefix("http://"))
        embedder = open_embedder(IndexConfig(embedding_model=OLLAMA_SPEC))
        assert embedder.embed(TEXTS[:3]).shape == (3, embedder.dim)
        assert embedder.max_tokens == ollama.context_length  # from /api/show
        embedder.close()

        # A reader finds the server the index recorded; ASSIST_EMBED_URL wins over it.
        monkeypatch.delenv("OLLAMA_HOST")
        reader = open_embedder_for_reading(StateDir(repo), OLLAMA_SPEC)
        assert reader.url == ollama.url
        reader.close()
        monkeypatch.setenv("ASSIST_EMBED_URL", f"127.0.0.1:{free_port()}")
        with pytest.raises(EmbeddingError, match="ASSIST_EMBED_URL"):
            open_embedder_for_reading(StateDir(repo), OLLAMA_SPEC)
    finally:
        ollama.stop()


def test_an_unreachable_server_names_its_address_and_the_setting_that_chose_it(monkeypatch, no_server_env):
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(EmbeddingError) as error:
        open_embedder(served(url)).load()
    assert f"{url}/v1/embeddings" in str(error.value) and "--embed-url or ASSIST_EMBED_URL" in str(error.value)

    monkeypatch.setenv("OLLAMA_HOST", url)
    started = time.monotonic()
    with pytest.raises(EmbeddingError) as error:
        open_embedder(IndexConfig(embedding_model="ollama:nomic-embed-text"))
    message = str(error.value)
    assert f"{url}/api/embed" in message and "ollama serve" in message and "came from OLLAMA_HOST" in message
    assert time.monotonic() - started < 5  # a server never reached is not retried


def test_the_api_key_is_sent_as_a_bearer_token_and_a_refusal_says_which_setting(tmp_path, no_server_env):
    server = start_embedding_server(ensure_test_model(), tmp_path / "server.log", parallel=1, api_key="sk-test-key")
    try:
        with pytest.raises(EmbeddingError) as error:
            open_embedder(served(server.url)).load()
        assert "HTTP 401" in str(error.value) and "ASSIST_EMBED_API_KEY is not set" in str(error.value)

        with pytest.raises(EmbeddingError) as error:
            open_embedder(served(server.url, embed_api_key="sk-wrong")).load()
        assert "HTTP 401" in str(error.value) and "the key from ASSIST_EMBED_API_KEY" in str(error.value)
        assert "sk-wrong" not in str(error.value)

        embedder = open_embedder(served(server.url, embed_api_key="sk-test-key"))
        assert embedder.embed(TEXTS[:2]).shape == (2, embedder.dim)
        embedder.close()

        # A reader (chat, MCP) takes the server and its key from the user config file, as an index run does.
        no_server_env.parent.mkdir(parents=True)
        no_server_env.write_text(f'[index]\nembed_url = "{server.url}"\nembed_api_key = "sk-test-key"\n')
        reader = open_embedder_for_reading(StateDir(tmp_path), EMBED_SPEC)
        assert reader.embed(TEXTS[:1]).shape == (1, reader.dim)
        reader.close()
    finally:
        server.stop()


def test_assist_index_with_embed_url_then_a_search_in_another_process_queries_the_same_server(
        proxy, tmp_path, no_server_env):
    env = {k: v for k, v in os.environ.items() if k not in ("ASSIST_EMBED_URL", "ASSIST_EMBED_API_KEY", "OLLAMA_HOST")}
    env["XDG_CONFIG_HOME"] = str(no_server_env.parent.parent)
    repo = make_sample_repo(tmp_path / "repo")
    (repo / ".assist").mkdir(exist_ok=True)
    (repo / ".assist" / "config.toml").write_text("[index]\nembed_max_tokens = 24\n")
    indexed = run_assist("index", str(repo), "--model", EMBED_SPEC, "--embed-url", f"{proxy.url}/v1", "--json", env=env)
    assert indexed.returncode == 0, indexed.stderr
    report = json.loads(indexed.stdout)
    assert report["vectors"]["stored"] == report["vectors"]["chunks"] > 0

    before = len(proxy.requests)
    searched = run_assist("search", "reserve stock for an order", "--json", "-C", str(repo), env=env)
    assert searched.returncode == 0, searched.stderr
    assert "vector" in {s for hit in json.loads(searched.stdout) for s in hit["why"]["signals"]}
    assert len(proxy.requests) > before  # the query went to the server the index used, found without a setting

    # A server that is not there: one line naming it and the setting to change, exit 1, nothing half-done.
    other = make_sample_repo(tmp_path / "other")
    url = f"http://127.0.0.1:{free_port()}/v1"
    failed = run_assist("index", str(other), "--model", EMBED_SPEC, "--embed-url", url, env=env)
    assert failed.returncode == 1
    assert f"{url}/embeddings" in failed.stderr and "--embed-url" in failed.stderr
    assert "Traceback" not in failed.stderr
