"""Vectors on a shared Chroma server (issue 14): a real `chroma run` on a free loopback port, real clones of the
sample repository, the real `assist` command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from chroma_support import ChromaServer, TokenProxy, free_port
from support import PROJECT_ROOT, make_sample_repo, run_assist

QUERIES = ["reserve stock for an order", "cancel an order and release its stock", "perishable items expire"]


NO_USER_CONFIG = Path(tempfile.gettempdir()) / "assist-tests-without-a-user-config"


def clean_env(home: Path | None = None, **extra: str) -> dict[str, str]:
    """This process's environment without the tester's own store settings, and ``home`` (or an empty place) as
    the user config directory."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("ASSIST_STORE", "ASSIST_EMBED"))}
    return {**environment, "XDG_CONFIG_HOME": str(home or NO_USER_CONFIG), **extra}


def assist(*args: str, env: dict[str, str] | None = None, home: Path | None = None) -> subprocess.CompletedProcess:
    return run_assist(*args, env=clean_env(home, **(env or {})))


def start_assist(*args: str, home: Path | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "assistant.cli", *args], cwd=PROJECT_ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env(home))


def user_config(home: Path, text: str) -> Path:
    (home / "assist").mkdir(parents=True, exist_ok=True)
    (home / "assist" / "config.toml").write_text(text)
    return home


def report_of(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def top_results(repo: Path, queries: list[str] = QUERIES) -> list[list[tuple]]:
    """The five best hits of each query through `assist search`: (path, line, whether a vector helped find it)."""
    found = []
    for query in queries:
        hits = json.loads(assist("search", query, "-C", str(repo), "--json").stdout)
        found.append([(hit["path"], hit["start_line"], "vector" in hit["why"]["signals"]) for hit in hits[:5]])
    return found


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    chroma = ChromaServer(tmp_path_factory.mktemp("chroma") / "db").start()
    yield chroma
    chroma.kill()


@pytest.fixture(scope="session")
def machine_a(server, tmp_path_factory) -> tuple[Path, dict]:
    """Clone 1 ("machine A"), indexed into the shared server: it embeds every chunk."""
    repo = make_sample_repo(tmp_path_factory.mktemp("machine-a") / "repo")
    report = report_of(assist("index", str(repo), "--store", server.url, "--json",
                              env={"ASSIST_STORE_TOKEN": "sekrit-token-never-on-disk"}))
    return repo, report


def test_a_second_clone_embeds_nothing_and_answers_the_same_queries(server, machine_a, tmp_path):
    repo_a, report_a = machine_a
    assert report_a["chunks_embedded"] > 0 and report_a["vectors"]["stored"] == report_a["vectors"]["chunks"]
    assert report_a["vectors"]["store"]["url"] == server.url

    repo_b = make_sample_repo(tmp_path / "elsewhere" / "clone")
    report_b = report_of(assist("index", "-C", str(repo_b), "--json", env={"ASSIST_STORE": server.url}))
    assert report_b["chunks_embedded"] == 0
    assert report_b["vectors_from_store"] == report_b["vectors"]["stored"] == report_b["vectors"]["chunks"] > 0
    assert "model_load" not in report_b["seconds"]  # nothing to embed: the model never loads

    answers = top_results(repo_b)
    assert answers == top_results(repo_a)
    assert all(any(vector for _, _, vector in hits) for hits in answers)  # vectors took part in every answer

    # One collection, keyed by content: the second clone added nothing to it.
    assert list(server.collections().values()) == [len(set(_content_hashes(repo_a)))]
    status = json.loads(assist("status", "-C", str(repo_b), "--json").stdout)
    assert status["vectors"]["store"] == {"url": server.url, "tenant": "default_tenant",
                                          "database": "default_database"}
    # The token went to the server, never into the index.
    assert not [p for p in (repo_a / ".assist").rglob("*") if p.is_file() and b"sekrit-token" in p.read_bytes()]


def _content_hashes(repo: Path) -> list[str]:
    import sqlite3

    from indexer.state_dir import StateDir

    conn = sqlite3.connect(StateDir(repo).index_db)
    try:
        novector = {r[0] for r in conn.execute("SELECT id FROM novector")}
        return [h for i, h in conn.execute("SELECT id, content_hash FROM chunks") if i not in novector]
    finally:
        conn.close()


def test_a_reader_sees_vectors_added_by_another_machine_without_restarting(server, machine_a, tmp_path):
    from indexer.config import IndexConfig
    from indexer.pipeline import index_repository
    from indexer.retrieval.reader import IndexReader

    repo = make_sample_repo(tmp_path / "reader")
    index_repository(repo, IndexConfig(vectors="later"))
    reader = IndexReader(repo)
    query = reader.embedder.embed([QUERIES[0]])[0]
    before, _ = reader.vector_search(query, 5)
    assert before == []  # structural index only: no chunk has its vector yet

    # What the front end's background filler runs: the vectors come from the server, the reader stays open.
    report = index_repository(repo, IndexConfig(store=server.url))
    assert report.chunks_embedded == 0 and report.vectors_from_store > 0
    reader.refresh()  # what a front end does between two questions
    after, why = reader.vector_search(query, 5)
    assert why is None and len(after) == 5
    assert reader.chunks[after[0][0]].path == "inventory/models.py"
    reader.close()


def test_an_index_too_large_for_exact_search_queries_the_server(server, machine_a, tmp_path, monkeypatch):
    """Past the in-memory limit the reader asks the store; a server-backed index has no local chromadb at all."""
    from indexer.config import IndexConfig
    from indexer.pipeline import index_repository
    from indexer.retrieval import reader as reader_module

    repo = make_sample_repo(tmp_path / "large")
    index_repository(repo, IndexConfig(store=server.url))
    assert not (repo / ".assist" / "vectors" / "chroma.sqlite3").exists()
    monkeypatch.setattr(reader_module, "EXACT_SEARCH_MAX_CHUNKS", 0)
    reader = reader_module.IndexReader(repo)
    hits, why = reader.vector_search(reader.embedder.embed([QUERIES[0]])[0], 5)
    assert why is None and len(hits) == 5
    assert reader.chunks[hits[0][0]].path == "inventory/models.py"
    reader.close()


def test_killing_the_server_mid_index_keeps_what_was_stored_and_a_rerun_completes(tmp_path):
    chroma = ChromaServer(tmp_path / "db").start()
    proxy = TokenProxy(chroma.port, token=None)
    repo = make_sample_repo(tmp_path / "repo")
    try:
        proxy.hold("/upsert", after=1)  # the second batch of vectors waits at the proxy ...
        run = start_assist("index", str(repo), "--store", proxy.url)
        assert proxy.held.wait(240), run.communicate()[1] if run.poll() is not None else "no second upsert"
        stored_before = sum(chroma.collections().values())
        chroma.kill()  # ... while the server dies
        proxy.release()
        _, stderr = run.communicate(timeout=120)
        assert run.returncode == 1
        assert proxy.url in stderr and "run `assist index` again" in stderr and "Traceback" not in stderr
        assert len(stderr.strip().splitlines()) == 1

        chroma.start()  # the same path and port
        assert sum(chroma.collections().values()) == stored_before > 0  # what was stored stays
        report = report_of(assist("index", str(repo), "--store", proxy.url, "--json"))
        assert report["vectors"]["stored"] == report["vectors"]["chunks"]
        assert sum(chroma.collections().values()) == len(set(_content_hashes(repo)))
    finally:
        proxy.close()
        chroma.kill()


def test_a_refused_token_says_which_setting_holds_it(server, machine_a, tmp_path):
    proxy = TokenProxy(server.port, token="right-token")
    repo = make_sample_repo(tmp_path / "repo")
    try:
        wrong = assist("index", str(repo), "--store", proxy.url, env={"ASSIST_STORE_TOKEN": "wrong-token"})
        assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
        assert "401" in wrong.stderr and "ASSIST_STORE_TOKEN" in wrong.stderr and proxy.url in wrong.stderr

        home = user_config(tmp_path / "home", f'[index]\nstore = "{proxy.url}"\nstore_token = "also-wrong"\n')
        from_file = assist("index", str(repo), home=home)
        assert from_file.returncode == 1 and str(home / "assist" / "config.toml") in from_file.stderr
        assert "401" in from_file.stderr

        none = assist("index", str(repo), "--store", proxy.url)
        assert none.returncode == 1 and "no token was sent" in none.stderr

        right = report_of(assist("index", str(repo), "--store", proxy.url, "--json",
                                 env={"ASSIST_STORE_TOKEN": "right-token"}))
        assert right["chunks_embedded"] == 0 and right["vectors"]["stored"] == right["vectors"]["chunks"]
    finally:
        proxy.close()


def test_an_unreachable_server_is_an_error_naming_the_url_and_its_setting_or_falls_back(machine_a, tmp_path):
    nowhere = f"http://127.0.0.1:{free_port()}"
    repo = tmp_path / "repo"
    shutil.copytree(machine_a[0], repo)  # its embedding cache holds every vector

    by_flag = assist("index", str(repo), "--store", nowhere)
    assert by_flag.returncode == 1 and nowhere in by_flag.stderr and "--store" in by_flag.stderr
    assert "--store-fallback local" in by_flag.stderr and len(by_flag.stderr.strip().splitlines()) == 1
    by_env = assist("index", str(repo), env={"ASSIST_STORE": nowhere})
    assert by_env.returncode == 1 and "ASSIST_STORE" in by_env.stderr
    home = user_config(tmp_path / "home", f'[index]\nstore = "{nowhere}"\n')
    by_file = assist("index", str(repo), home=home)
    assert by_file.returncode == 1 and str(home / "assist" / "config.toml") in by_file.stderr

    fallback = assist("index", str(repo), "--store", nowhere, "--store-fallback", "local", "--json")
    report = report_of(fallback)
    assert "embedded store" in fallback.stderr and any("embedded store" in n for n in report["notices"])
    assert "store" not in report["vectors"] and report["vectors"]["stored"] == report["vectors"]["chunks"]
    assert report["chunks_embedded"] == 0  # copied from the local embedding cache
    assert (repo / ".assist" / "vectors" / "chroma.sqlite3").is_file()
    assert top_results(repo, QUERIES[:1]) == top_results(machine_a[0], QUERIES[:1])


def test_a_collection_of_another_dimension_under_the_same_name_is_refused(server, tmp_path):
    from indexer.chroma_server import collection_name

    server.create_database("other-dimension")
    import chromadb

    client = chromadb.HttpClient(host="127.0.0.1", port=server.port, database="other-dimension")
    client.create_collection(collection_name("default", 384), metadata={"dim": 768}, embedding_function=None)
    home = user_config(tmp_path / "home", f'[index]\nstore = "{server.url}"\nstore_database = "other-dimension"\n')
    result = assist("index", str(make_sample_repo(tmp_path / "repo")), home=home)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "holds 768-d vectors, not 384-d" in result.stderr


def test_two_machines_indexing_at_once_neither_lose_nor_duplicate_vectors(server, tmp_path):
    server.create_database("at-once")
    home = user_config(tmp_path / "home", f'[index]\nstore = "{server.url}"\nstore_database = "at-once"\n')
    repos = [make_sample_repo(tmp_path / name / "repo") for name in ("one", "two")]
    runs = [start_assist("index", str(repo), "--json", home=home) for repo in repos]
    reports = []
    for run in runs:
        stdout, stderr = run.communicate(timeout=600)
        assert run.returncode == 0, stderr
        reports.append(json.loads(stdout))
    assert all(r["vectors"]["stored"] == r["vectors"]["chunks"] for r in reports)
    assert list(server.collections("at-once").values()) == [len(set(_content_hashes(repos[0])))]


@pytest.mark.parametrize("where, table", [
    (".assist/config.toml", '[index]\nstore = "http://collector.example:8000"\n'),
    (".assist/config.toml", '[index]\nstore_token = "t"\n'),
    ("pyproject.toml", '[tool.assist.index]\nembed_url = "http://collector.example:11434"\n'),
    ("pyproject.toml", '[tool.assist.index]\nembed_api_key = "k"\n'),
])
def test_a_repository_cannot_choose_where_its_code_or_vectors_go(tmp_path, where, table):
    from indexer.state_dir import StateDir

    repo = make_sample_repo(tmp_path / "repo")
    (repo / where).parent.mkdir(exist_ok=True)
    (repo / where).write_text(table)
    result = assist("index", str(repo))
    assert result.returncode == 2 and "cannot be set in a repository's files" in result.stderr
    assert "user config file" in result.stderr and not StateDir(repo).index_db.exists()


def test_a_stalled_server_times_out_with_one_line_instead_of_hanging(server):
    import time

    import numpy

    from indexer.chroma_server import ServerVectorStore, StoreAddress, StoreUnavailable

    proxy = TokenProxy(server.port, token=None)
    try:
        store = ServerVectorStore(StoreAddress.parse(proxy.url), dim=4, collection="stall-test", model="t",
                                  timeout_s=1.0)
        proxy.hold("/upsert", after=0)  # the server accepts the request and never answers
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as failure:
            store.upsert(["chunk"], numpy.ones((1, 4), dtype=numpy.float32), [{}], content_hashes=["hash"])
        assert time.monotonic() - started < 10
        assert proxy.url in str(failure.value) and "\n" not in str(failure.value)
        store.close()
    finally:
        proxy.close()


def test_store_settings_come_from_the_user_config_then_the_environment_then_flags(tmp_path):
    from assistant.index_settings import resolve_index_settings

    home = user_config(tmp_path / "home", '[index]\nstore = "http://from-file:8000"\nstore_database = "team"\n'
                                          'store_token = "file-token"\nembed_concurrency = 4\n')
    repo = make_sample_repo(tmp_path / "repo")
    (repo / ".assist").mkdir()
    (repo / ".assist" / "config.toml").write_text('[index]\nvectors = "later"\n')
    env = {"XDG_CONFIG_HOME": str(home)}
    settings = resolve_index_settings(repo, env=env)
    assert (settings.config.store, settings.config.store_database, settings.config.embed_concurrency) == \
        ("http://from-file:8000", "team", 4)
    assert settings.config.vectors == "later"  # the repository's own settings still apply on top
    assert settings.source("store") == f"store in {home / 'assist' / 'config.toml'} [index]"

    env |= {"ASSIST_STORE": "http://from-env:8000", "ASSIST_STORE_TOKEN": "env-token"}
    settings = resolve_index_settings(repo, env=env)
    assert (settings.config.store, settings.config.store_token) == ("http://from-env:8000", "env-token")
    assert (settings.source("store"), settings.source("store_token")) == ("ASSIST_STORE", "ASSIST_STORE_TOKEN")

    settings = resolve_index_settings(repo, store="http://from-flag:8000", store_fallback="local", env=env)
    assert (settings.config.store, settings.config.store_fallback) == ("http://from-flag:8000", "local")
    assert settings.source("store") == "--store"


def test_the_background_filler_takes_vectors_from_the_server_and_its_token_never_shows_on_a_command_line(
        server, machine_a, tmp_path):
    import time

    from indexer.config import IndexConfig
    from indexer.lifecycle import VectorFiller, coverage
    from indexer.pipeline import index_repository

    token = "filler-token-" + tmp_path.name
    repo = make_sample_repo(tmp_path / "repo")
    index_repository(repo, IndexConfig(vectors="later"))  # what a front end builds before answering
    filler = VectorFiller(repo, IndexConfig(store=server.url, store_token=token), poll_s=0.2).start()
    seen_filler, shown = False, []
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and not (coverage(repo)[0] == coverage(repo)[1] > 0 and seen_filler):
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                seen_filler = seen_filler or ("indexer.fill" in text and str(repo) in text)
                if token in text:
                    shown.append(text)
            time.sleep(0.02)
    finally:
        filler.stop()
    assert seen_filler and shown == []
    assert coverage(repo)[0] == coverage(repo)[1] > 0
    assert not [p for p in (repo / ".assist").rglob("*") if p.is_file() and token.encode() in p.read_bytes()]


def test_a_query_returns_this_repositorys_chunks_when_other_repositories_crowd_the_collection(server):
    import numpy

    from indexer.chroma_server import ServerVectorStore, StoreAddress

    address = StoreAddress.parse(server.url)
    others = [f"other-repository-{i}" for i in range(300)]
    near = numpy.tile(numpy.float32([1, 0, 0, 0]), (300, 1)) + numpy.random.default_rng(0).normal(0, 0.01, (300, 4))
    with ServerVectorStore(address, dim=4, collection="crowded", model="t") as writer:
        writer.upsert(others, near.astype(numpy.float32), [{}] * 300, content_hashes=others)
        writer.upsert(["a", "b"], numpy.float32([[0, 1, 0, 0], [0, 0, 1, 0]]), [{}, {}], content_hashes=["ha", "hb"])
    # This repository's manifest: two chunks share the content "ha" (one vector), one has "hb".
    with ServerVectorStore(address, dim=4, collection="crowded", model="t",
                           chunk_hashes={"x.py#1": "ha", "y.py#1": "ha", "z.py#1": "hb"}) as reader:
        hits = reader.query(numpy.float32([1, 0.1, 0, 0]), 3)
    assert [chunk for chunk, _ in hits] == ["x.py#1", "y.py#1", "z.py#1"]
    assert hits[0][1] == hits[1][1] > hits[2][1]
