"""The exact vector search of a reader: the nearest chunks in order, computed without leaving BLAS helper
threads spinning against the next query's encoder, and without changing the process's own BLAS setting."""

from __future__ import annotations

import numpy
import threadpoolctl

from indexer.retrieval import reader
from indexer.retrieval.reader import ExactVectors


def _blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]


class _RecordingMatrix(numpy.ndarray):
    """A chunk matrix that notes how many BLAS threads its product with the query may use."""

    seen: list[list[int]] = []

    def __matmul__(self, other):
        _RecordingMatrix.seen.append(_blas_threads())
        return numpy.asarray(self) @ other


def _vectors(rows: int = 400, dim: int = 24) -> tuple[ExactVectors, numpy.ndarray]:
    matrix = numpy.random.default_rng(7).standard_normal((rows, dim)).astype(numpy.float32)
    matrix /= numpy.linalg.norm(matrix, axis=1, keepdims=True)
    return ExactVectors([f"chunk-{i}" for i in range(rows)], matrix.view(_RecordingMatrix)), matrix


def test_the_nearest_chunks_come_first_with_their_cosines():
    vectors, matrix = _vectors()
    query = 5.0 * matrix[42] + 0.1 * matrix[7]  # any length: the search normalises it
    hits = vectors.search(query, 4)
    assert [chunk for chunk, _ in hits][:1] == ["chunk-42"]
    cosines = [cosine for _, cosine in hits]
    assert cosines == sorted(cosines, reverse=True) and 0.99 < cosines[0] <= 1.0 + 1e-6
    expected = numpy.asarray(matrix) @ (query / numpy.linalg.norm(query))
    assert [chunk for chunk, _ in hits] == [f"chunk-{i}" for i in numpy.argsort(-expected)[:4]]


def test_the_product_runs_on_one_blas_thread_and_the_process_setting_is_restored():
    vectors, matrix = _vectors()
    _RecordingMatrix.seen.clear()
    # The libraries are found at the first search of the process; this test's process may have loaded another
    # since (scipy's OpenBLAS, which numpy's product never uses), and it checks every library it sees.
    reader._blas_controller.cache_clear()
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        assert before and all(count == 2 for count in before)  # numpy's BLAS is loaded and may use two
        vectors.search(matrix[3], 5)
        assert _RecordingMatrix.seen == [[1] * len(before)]
        assert _blas_threads() == before
