"""The vector tier's order and which chunks earn a vector (issue 11, item 4): real grammars, real chromadb, the
real bundled model, on small repositories built here.

The order is observed from outside: the progress callback fires after each group of vectors is stored, and at
each call the manifest (read-only) says which chunks have theirs."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from indexer import pipeline
from indexer.config import IndexConfig
from indexer.pipeline import index_repository
from indexer.retrieval.reader import IndexReader
from indexer.state_dir import StateDir
from indexer.status import index_status
from indexer.vectors import VectorStore

DAY = 86_400
OLD, MIDDLE, NEW = 1_500_000_000, 1_600_000_000, 1_700_000_000  # 2017, 2020, 2023


def _function(name: str, lines: int) -> str:
    body = "".join(f"    total += {i} * value  # step {i} of {name}\n" for i in range(lines))
    return f"def {name}(value):\n    \"\"\"Compute {name.replace('_', ' ')}.\"\"\"\n    total = 0\n{body}    return total\n\n\n"


# path -> (text, commit time). The old files hold the longest chunks: ordering by length alone (the order before
# recency counted) would embed them first within their kind.
FILES: dict[str, tuple[str, int]] = {
    "pkg/old_core.py": (_function("legacy_ledger_total", 30) + _function("legacy_rounding", 25), OLD),
    "pkg/new_core.py": (_function("fresh_total", 3) + _function("fresh_rounding", 2), NEW),
    "pkg/middle.py": (_function("middle_total", 12), MIDDLE),
    "tests/test_old_core.py": ("from pkg.old_core import legacy_ledger_total\n\n\n"
                               + _function("test_legacy_ledger_total", 30), OLD),
    "tests/test_new_core.py": ("from pkg.new_core import fresh_total\n\n\n" + _function("test_fresh_total", 2), NEW),
    "docs/old_guide.rst": ("Old guide\n=========\n\n" + "Configure the ledger by setting the rounding mode.\n" * 40,
                           OLD),
    "docs/new_guide.md": ("# New guide\n\nRun the tool with --fresh.\n", NEW),
    # data and markup: no vector by default
    "uv.lock": ("version = 1\n" + "".join(f'[[package]]\nname = "dep{i}"\nversion = "1.{i}"\n' for i in range(30)),
                MIDDLE),
    "assets/logo.svg": ('<svg xmlns="http://www.w3.org/2000/svg"><path d="M0 0 L10 10 Z"/></svg>\n', MIDDLE),
    "config/settings.json": ('{"rounding": "half-even", "currency": "EUR"}\n', MIDDLE),
}
KIND = {"pkg/old_core.py": "source", "pkg/new_core.py": "source", "pkg/middle.py": "source",
        "tests/test_old_core.py": "tests", "tests/test_new_core.py": "tests",
        "docs/old_guide.rst": "docs", "docs/new_guide.md": "docs",
        "uv.lock": "data", "assets/logo.svg": "data", "config/settings.json": "data"}


def settings(**changes) -> IndexConfig:
    """IndexConfig with these fields set (attributes, so that on code without a field the test fails on what it
    observes rather than on the constructor)."""
    config = IndexConfig()
    for name, value in changes.items():
        setattr(config, name, value)
    return config


def no_data(**changes) -> IndexConfig:
    return settings(embed=["source", "tests", "docs"], **changes)


def _git(repo: Path, *args: str, when: int | None = None) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    if when is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"@{when} +0000"
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def _write(repo: Path) -> None:
    for path, (text, _) in FILES.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)


def make_history_repo(repo: Path) -> Path:
    """A git repository whose files were last changed at their FILES times (one commit per time, oldest first);
    the working tree's modification times say the opposite (old files newest), so only git can order them."""
    repo.mkdir(parents=True)
    _git(repo, "init", "-q")
    _write(repo)
    for when in sorted({t for _, t in FILES.values()}):
        _git(repo, "add", *[p for p, (_, t) in FILES.items() if t == when])
        _git(repo, "commit", "-q", "-m", f"files of {when}", when=when)
    for path, (_, when) in FILES.items():
        os.utime(repo / path, (NEW + OLD - when + DAY, NEW + OLD - when + DAY))
    return repo


def make_plain_repo(repo: Path) -> Path:
    """No git: the files' modification times are their FILES times."""
    repo.mkdir(parents=True)
    _write(repo)
    for path, (_, when) in FILES.items():
        os.utime(repo / path, (when, when))
    return repo


def _stored_ids(repo: Path) -> set[str]:
    conn = sqlite3.connect(f"{StateDir(repo).index_db.as_uri()}?mode=ro", uri=True)
    try:
        return {r[0] for r in conn.execute("SELECT id FROM chunks WHERE id NOT IN (SELECT id FROM pending)")}
    finally:
        conn.close()


def _chunk_paths(repo: Path) -> dict[str, str]:
    conn = sqlite3.connect(f"{StateDir(repo).index_db.as_uri()}?mode=ro", uri=True)
    try:
        return dict(conn.execute("SELECT id, path FROM chunks"))
    finally:
        conn.close()


def _vector_ids(repo: Path) -> set[str]:
    store = VectorStore(StateDir(repo).vectors, dim=384)
    try:
        return store.all_ids()
    finally:
        store.close()


def index_recording_order(repo: Path, config: IndexConfig) -> tuple[list[str], pipeline.IndexReport]:
    """Index, and return the paths of the chunks in the order their vectors were stored."""
    order: list[str] = []
    seen: set[str] = set()

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "embed" and done:
            new = _stored_ids(repo) - seen
            seen.update(new)
            paths = _chunk_paths(repo)
            order.extend(sorted(paths[i] for i in new))

    report = index_repository(repo, config, progress=progress)
    return order, report


def _assert_most_useful_first(order: list[str], kinds: tuple[str, ...]) -> None:
    order = [p for p in order if KIND[p] in kinds]
    assert {KIND[p] for p in order} == set(kinds)
    ranks = [kinds.index(KIND[p]) for p in order]
    assert ranks == sorted(ranks), f"kinds out of order: {order}"
    when = {p: t for p, (_, t) in FILES.items()}
    for kind in kinds:
        times = [when[p] for p in order if KIND[p] == kind]
        assert times == sorted(times, reverse=True), f"{kind}: not most recent first: {order}"


@pytest.fixture
def one_chunk_windows(monkeypatch):
    # Each window of recency order holds one chunk, so recency alone decides; a group of vectors is two chunks.
    monkeypatch.setattr(pipeline, "EMBED_WINDOW", 1, raising=False)
    return no_data(embed_batch_size=1)


def test_git_history_orders_each_kind_most_recent_first(tmp_path, one_chunk_windows):
    repo = make_history_repo(tmp_path / "repo")
    order, report = index_recording_order(repo, one_chunk_windows)
    assert report.vectors["coverage_percent"] == 100
    _assert_most_useful_first(order, ("source", "tests", "docs"))
    assert {KIND[p] for p in order} == {"source", "tests", "docs"}  # data earns no vector here
    assert order.index("pkg/new_core.py") < order.index("pkg/middle.py") < order.index("pkg/old_core.py")


def test_without_git_modification_times_order_each_kind(tmp_path, one_chunk_windows):
    repo = make_plain_repo(tmp_path / "repo")
    order, report = index_recording_order(repo, one_chunk_windows)
    assert report.vectors["coverage_percent"] == 100
    _assert_most_useful_first(order, ("source", "tests", "docs"))


def test_a_broken_git_checkout_still_indexes_by_modification_time(tmp_path, one_chunk_windows, monkeypatch):
    repo = make_plain_repo(tmp_path / "repo")
    (repo / ".git").write_text("gitdir: /nonexistent/elsewhere\n")  # git fails on it: not a repository
    order, report = index_recording_order(repo, one_chunk_windows)
    assert report.vectors["coverage_percent"] == 100
    _assert_most_useful_first(order, ("source", "tests", "docs"))
    # And with no git program at all.
    no_git = tmp_path / "repo2"
    make_history_repo(no_git)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    order, report = index_recording_order(no_git, one_chunk_windows)
    assert report.vectors["coverage_percent"] == 100
    # Modification times, which in this repository say the opposite of its history.
    assert order.index("pkg/old_core.py") < order.index("pkg/middle.py") < order.index("pkg/new_core.py")


def test_within_a_window_of_recent_chunks_the_longest_go_first(tmp_path, monkeypatch):
    """Recency picks which chunks are next (a window of them), length orders them inside it, so that a model
    batch holds texts of similar length."""
    monkeypatch.setattr(pipeline, "EMBED_WINDOW", 3, raising=False)
    repo = make_history_repo(tmp_path / "repo")
    order, _ = index_recording_order(repo, no_data(embed_batch_size=1))
    source = [p for p in order if KIND[p] == "source"]
    # The newest window: new_core.py's two short functions and middle.py's longer one; old_core.py after it.
    assert source == ["pkg/middle.py"] + ["pkg/new_core.py"] * 2 + ["pkg/old_core.py"] * (len(source) - 3)


def _earning(repo: Path, kinds: set[str]) -> set[str]:
    return {i for i, p in _chunk_paths(repo).items() if KIND[p] in kinds}


def test_kinds_left_out_earn_no_vector_and_coverage_reads_full(tmp_path):
    repo = make_history_repo(tmp_path / "repo")
    report = index_repository(repo, no_data())
    want = _earning(repo, {"source", "tests", "docs"})
    assert _earning(repo, {"data"}), "the sample has data chunks"
    assert _vector_ids(repo) == want
    assert report.vectors["stored"] == report.vectors["chunks"] == len(want) < report.chunks
    assert report.vectors["coverage_percent"] == 100
    status = index_status(repo).vectors
    assert (status["stored"], status["chunks"], status["coverage_percent"]) == (len(want), len(want), 100)
    reader = IndexReader(repo)
    try:
        assert reader.vector_coverage() == (len(want), len(want))
    finally:
        reader.close()
    # Nothing pending: a second run embeds and stores nothing.
    again = index_repository(repo, no_data())
    assert again.chunks_embedded == 0 and again.vectors["coverage_percent"] == 100


def test_changing_which_kinds_earn_a_vector_is_incremental(tmp_path):
    repo = make_history_repo(tmp_path / "repo")
    index_repository(repo, no_data())
    everything = set(_chunk_paths(repo))

    # Tests leave: their vectors are deleted, nothing is embedded, coverage stays full.
    report = index_repository(repo, settings(embed=["source", "docs"]))
    assert report.chunks_embedded == 0
    assert _vector_ids(repo) == _earning(repo, {"source", "docs"})
    assert report.vectors["stored"] == report.vectors["chunks"] == len(_earning(repo, {"source", "docs"}))
    assert report.vectors["coverage_percent"] == 100

    # A later setting that is not applied yet ("later") already hides the excluded vectors from readers.
    index_repository(repo, settings(embed=["source"], vectors="later"))
    reader = IndexReader(repo)
    try:
        assert reader.vector_coverage() == (len(_earning(repo, {"source"})), len(_earning(repo, {"source"})))
    finally:
        reader.close()

    # Tests come back: from the embedding cache, not the model.
    report = index_repository(repo, no_data())
    assert report.chunks_embedded == 0
    assert _vector_ids(repo) == _earning(repo, {"source", "tests", "docs"})
    assert report.vectors["coverage_percent"] == 100

    # Data, never embedded so far, is embedded from the text kept for it; and leaves again.
    data = _earning(repo, {"data"})
    report = index_repository(repo, settings(embed=["source", "tests", "docs", "data"]))
    assert report.chunks_embedded == len(data) > 0
    assert _vector_ids(repo) == everything
    report = index_repository(repo, no_data())
    assert report.chunks_embedded == 0 and _vector_ids(repo) == everything - data
    assert report.vectors["coverage_percent"] == 100

    # A file edited while its kind earns no vector is re-chunked; taking the kind back embeds its new text.
    index_repository(repo, settings(embed=["source", "docs"]))
    with open(repo / "tests/test_new_core.py", "a") as handle:
        handle.write(_function("test_fresh_rounding", 2))
    report = index_repository(repo, settings(embed=["source", "docs"]))
    assert report.chunks_embedded == 0 and _vector_ids(repo) == _earning(repo, {"source", "docs"})
    report = index_repository(repo, no_data())
    assert report.chunks_embedded == 1  # the new function; the rest from the cache
    assert _vector_ids(repo) == _earning(repo, {"source", "tests", "docs"})


def test_an_unknown_kind_is_refused(tmp_path):
    repo = make_plain_repo(tmp_path / "repo")
    with pytest.raises(ValueError, match="embed"):
        index_repository(repo, settings(embed=["source", "prose"]))


def _vectors_by_path(repo: Path) -> dict[str, list]:
    """The cached vector of each chunk, by path (in chunk order)."""
    import numpy

    index = sqlite3.connect(f"{StateDir(repo).index_db.as_uri()}?mode=ro", uri=True)
    cache = sqlite3.connect(f"{StateDir(repo).embedding_cache.as_uri()}?mode=ro", uri=True)
    try:
        vectors = {h: numpy.frombuffer(v, dtype=numpy.float32) for h, v in cache.execute("SELECT content_hash, vector FROM vectors")}
        out: dict[str, list] = {}
        for path, content_hash in index.execute("SELECT path, content_hash FROM chunks ORDER BY path, start_line, part"):
            out.setdefault(path, []).append(vectors.get(content_hash))
        return out
    finally:
        index.close()
        cache.close()


def test_embedding_only_the_head_of_each_chunk_rebuilds_the_vectors(tmp_path):
    repo = make_history_repo(tmp_path / "repo")
    index_repository(repo, no_data())
    full = _vectors_by_path(repo)
    index = sqlite3.connect(f"{StateDir(repo).index_db.as_uri()}?mode=ro", uri=True)
    try:
        hashes = dict(index.execute("SELECT id, content_hash FROM chunks"))
    finally:
        index.close()
    earning = len({hashes[i] for i in _earning(repo, {"source", "tests", "docs"})})  # texts, each embedded once

    report = index_repository(repo, no_data(embed_max_tokens=24))
    assert any("embed_max_tokens" in n for n in report.notices)
    assert report.chunks_embedded == earning  # the cache held whole-chunk vectors: none reused
    assert report.vectors["coverage_percent"] == 100
    head = _vectors_by_path(repo)
    # A long chunk now has another vector; a chunk shorter than the limit keeps the same one.
    assert float(full["pkg/old_core.py"][0] @ head["pkg/old_core.py"][0]) < 0.99
    assert float(full["docs/new_guide.md"][0] @ head["docs/new_guide.md"][0]) > 0.9999
    assert index_repository(repo, no_data(embed_max_tokens=24)).chunks_embedded == 0

    report = index_repository(repo, no_data())  # back to whole chunks
    assert report.chunks_embedded == earning
    back = _vectors_by_path(repo)
    assert float(full["pkg/old_core.py"][0] @ back["pkg/old_core.py"][0]) > 0.9999


def test_by_default_only_source_code_earns_a_vector(tmp_path):
    repo = make_history_repo(tmp_path / "repo")
    report = index_repository(repo)
    assert _vector_ids(repo) == _earning(repo, {"source"})
    assert report.vectors["stored"] == report.vectors["chunks"] == len(_earning(repo, {"source"})) < report.chunks
    assert index_status(repo).vectors["coverage_percent"] == 100
