"""The chromadb vector store on disk, and the subprocess probe that survives a damaged one."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import numpy
import pytest

from indexer.vectors import VectorStore, VectorStoreMismatch, probe_store

DIM = 16


def unit_vectors(count: int, seed: int = 0) -> numpy.ndarray:
    vectors = numpy.random.default_rng(seed).normal(size=(count, DIM)).astype(numpy.float32)
    return vectors / numpy.linalg.norm(vectors, axis=1, keepdims=True)


def ids_for(count: int) -> list[str]:
    return [f"chunk-{i:05d}" for i in range(count)]


def test_upsert_query_delete_and_count(tmp_path):
    vectors = unit_vectors(50)
    with VectorStore(tmp_path / "vectors", DIM) as store:
        assert store.query(vectors[0], 5) == []  # empty store
        metadatas = [{"path": f"m{i}.py", "symbol": None, "part": numpy.int64(i % 3), "ok": True} for i in range(50)]
        store.upsert(ids_for(50), vectors, metadatas)
        assert store.count() == 50
        assert store.all_ids() == set(ids_for(50))

        hits = store.query(vectors[7], 5)
        assert len(hits) == 5
        assert hits[0][0] == "chunk-00007" and hits[0][1] == pytest.approx(1.0, abs=1e-4)
        similarities = [score for _, score in hits]
        assert similarities == sorted(similarities, reverse=True)
        exact = sorted(range(50), key=lambda i: -float(vectors[i] @ vectors[7]))[:5]
        assert [chunk for chunk, _ in hits] == [f"chunk-{i:05d}" for i in exact]
        assert [score for _, score in hits] == pytest.approx([float(vectors[i] @ vectors[7]) for i in exact], abs=1e-4)

        store.delete(["chunk-00007", "chunk-00008"])
        assert store.count() == 48
        assert "chunk-00007" not in {chunk for chunk, _ in store.query(vectors[7], 10)}
        assert len(store.query(vectors[0], 500)) == 48  # k larger than the store


def test_upsert_replaces_a_vector_in_place(tmp_path):
    vectors = unit_vectors(10)
    with VectorStore(tmp_path / "v", DIM) as store:
        store.upsert(ids_for(10), vectors, [{}] * 10)
        store.upsert(["chunk-00003"], vectors[9:10], [{"path": "moved.py"}])
        assert store.count() == 10
        assert {chunk for chunk, _ in store.query(vectors[9], 2)} == {"chunk-00003", "chunk-00009"}


def test_vectors_persist_across_reopen(tmp_path):
    vectors = unit_vectors(20, seed=3)
    store = VectorStore(tmp_path / "v", DIM)
    store.upsert(ids_for(20), vectors, [{"path": "a.py"}] * 20)
    store.close()
    reopened = VectorStore(tmp_path / "v", DIM)
    try:
        assert reopened.count() == 20
        assert reopened.query(vectors[12], 1)[0][0] == "chunk-00012"
    finally:
        reopened.close()


def test_more_vectors_than_chromadb_takes_in_one_call(tmp_path):
    count = 6000  # chromadb refuses batches over ~5,461
    with VectorStore(tmp_path / "v", DIM) as store:
        store.upsert(ids_for(count), unit_vectors(count, seed=1), [{"n": i} for i in range(count)])
        assert store.count() == count
        store.delete(ids_for(count)[:5500])
        assert store.all_ids() == set(ids_for(count)[5500:])


def test_a_store_of_another_dimension_is_refused(tmp_path):
    with VectorStore(tmp_path / "v", DIM) as store:
        store.upsert(ids_for(2), unit_vectors(2), [{}, {}])
    with pytest.raises(VectorStoreMismatch, match="rebuild"):
        VectorStore(tmp_path / "v", 384)


def filled_store(directory: Path, count: int = 1500) -> Path:
    # Past chromadb's sync threshold (1,000) so the HNSW segment files are written to disk.
    with VectorStore(directory, DIM) as store:
        store.upsert(ids_for(count), unit_vectors(count, seed=2), [{"path": "x.py"}] * count)
    return directory


def test_probe_passes_a_healthy_store(tmp_path):
    ok, message = probe_store(filled_store(tmp_path / "v"))
    assert ok, message
    assert "1500" in message


def test_probe_reports_a_truncated_segment_file_instead_of_crashing(tmp_path):
    directory = filled_store(tmp_path / "v")
    [segment] = [p for p in directory.glob("*/data_level0.bin")]
    with open(segment, "r+b") as handle:
        handle.truncate(1000)
    ok, message = probe_store(directory)
    assert not ok
    assert str(directory) in message


@pytest.fixture(scope="module")
def filled_pristine(tmp_path_factory) -> Path:
    return filled_store(tmp_path_factory.mktemp("filled") / "v")


def _damage(path: Path, how: str) -> None:
    size = path.stat().st_size
    if how == "garbage":
        path.write_bytes(numpy.random.default_rng(7).integers(0, 256, max(size, 64), dtype=numpy.uint8).tobytes())
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[: size // 2])
    elif how == "empty":
        path.write_bytes(b"")
    else:
        path.unlink()


def test_probe_finds_every_damaged_hnsw_segment_file(filled_pristine, tmp_path):
    """Half of these went unnoticed by a probe that ran one query: chromadb answered from a damaged
    index (wrong neighbours, or lengths read as garbage) without an error."""
    for name, how in itertools.product(("data_level0.bin", "header.bin", "length.bin", "link_lists.bin"),
                                       ("garbage", "truncated", "empty", "deleted")):
        directory = tmp_path / name / how / "v"
        shutil.copytree(filled_pristine, directory)
        [segment] = [p.parent for p in directory.glob("*/header.bin")]
        _damage(segment / name, how)
        ok, message = probe_store(directory)
        assert not ok, f"{name} {how}: {message}"
        assert str(directory) in message


def test_probe_reports_a_garbled_database(tmp_path):
    directory = filled_store(tmp_path / "v")
    database = directory / "chroma.sqlite3"
    data = bytearray(database.read_bytes())
    data[4096:] = bytes(len(data) - 4096)  # keep the header page, zero everything after it
    database.write_bytes(bytes(data))
    ok, message = probe_store(directory)
    assert not ok
    assert "unreadable" in message or "crashed" in message


def test_probe_of_a_missing_store(tmp_path):
    ok, message = probe_store(tmp_path / "nothing")
    assert not ok and "no vector store" in message


def test_probe_gives_up_on_a_store_that_does_not_answer_in_time(tmp_path):
    ok, message = probe_store(filled_store(tmp_path / "v", count=10), timeout_s=0.05)
    assert not ok and "did not finish within" in message
