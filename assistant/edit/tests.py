"""Which tests check an edit, by default: the tests the code graph says reach the changed functions.

From each symbol whose lines the edit changes, ``calls`` and ``tests`` edges are followed backwards (a
few steps, through helpers) to the test functions that reach it; those run, as pytest node ids. A changed
test is run itself. Nothing found means no test is known to check the change: the caller says so and asks
for ``--test``/``--cmd`` rather than running the whole suite unasked (``--test all`` does that).
"""

from __future__ import annotations

from indexer.retrieval import Retriever

from ..fix.apply import FileChange
from ..fix.loop import changed_lines

MAX_DEPTH = 3  # callers of callers of callers: enough to get from a helper to its tests
MAX_TESTS = 200


def changed_symbols(retriever: Retriever, changes: list[FileChange]) -> list[str]:
    """The innermost indexed symbols whose (pre-edit) lines the changes touch."""
    found: list[str] = []
    for change in changes:
        if change.old is None:
            continue
        for start, end in changed_lines(change.old, change.new):
            for line in range(start, end + 1):
                symbol = retriever.symbol_at(change.path, line)
                if symbol is not None and symbol not in found:
                    found.append(symbol)
    return found


def tests_reaching(retriever: Retriever, symbols: list[str]) -> list[str]:
    """Pytest node ids of the test functions that reach ``symbols`` through calls/tests edges."""
    tests: list[str] = []
    seen = set(symbols)
    frontier = list(symbols)
    for node in symbols:
        if _is_test_function(retriever, node):
            tests.append(node)
    for _ in range(MAX_DEPTH):
        following: list[str] = []
        for node in frontier:
            for edge in retriever.edges_to(node, ("calls", "tests")):
                caller = edge.node
                if caller in seen:
                    continue
                seen.add(caller)
                if _is_test_function(retriever, caller):
                    tests.append(caller)
                else:
                    following.append(caller)  # a helper (in a test file or not): its callers may be tests
        frontier = following
        if not frontier or len(tests) >= MAX_TESTS:
            break
    return [pytest_id(node) for node in dict.fromkeys(tests)][:MAX_TESTS]


def _is_test_function(retriever: Retriever, node: str) -> bool:
    if "::" not in node or not retriever.is_test_code(node):
        return False
    info = retriever.node(node)
    return info.is_test and info.kind in ("function", "method")


def pytest_id(node: str) -> str:
    """``tests/t.py::TestX.test_y`` (a graph node) as pytest names it: ``tests/t.py::TestX::test_y``."""
    path, _, dotted = node.partition("::")
    return "::".join([path, *dotted.split(".")])
