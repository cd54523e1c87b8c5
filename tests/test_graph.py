"""The code graph built from real extracts of the sample repository (tests/fixtures/pyrepo)."""

from __future__ import annotations

import gzip
import json
import os
import pickle
from pathlib import Path

import networkx as nx
import pytest

from indexer.extract import extract_file
from indexer.graph import GraphUnreadable, build_graph, edge_counts, is_test_path, load_graph, save_graph
from indexer.languages import language_for_path
from indexer.model import CALLS, CLASS, CONTAINS, FILE, FUNCTION, IMPORTS, INHERITS, METHOD, MODULE, TESTS

PYREPO = Path(__file__).parent / "fixtures" / "pyrepo"

M = "shop/models.py"
P = "shop/pricing.py"
H = "shop/util/helpers.py"
R = "shop/report.py"
T = "tests/test_pricing.py"


def extracts_of(files: dict[str, bytes]):
    return {path: extract_file(path, source, language_for_path(path)) for path, source in files.items()}


@pytest.fixture(scope="module")
def graph():
    # conftest.py only keeps pytest out of the sample; it is not part of the sample's code.
    files = {
        p.relative_to(PYREPO).as_posix(): p.read_bytes()
        for p in sorted(PYREPO.rglob("*.py"))
        if p.name != "conftest.py"
    }
    return build_graph(extracts_of(files), other_files=["README.md"])


def edges(graph, kind, *attrs):
    return {(u, v, *(d[a] for a in attrs)) for u, v, k, d in graph.edges(keys=True, data=True) if k == kind}


def test_calls_resolve_through_every_route(graph):
    assert edges(graph, CALLS, "resolution") == {
        # a name defined in the same file or an enclosing function
        ("shop/broken.py::after", "shop/broken.py::before", "local"),
        (P + "::total", P + "::subtotal", "local"),
        (P + "::receipt", P + "::total", "local"),
        (P + "::fetch_prices", P + "::fetch_prices.price_of", "local"),
        (H + "::cached_fmt", H + "::fmt", "local"),
        (R, R + "::summary", "local"),
        # self.m on the class itself, and super() on its base in another module
        (M + "::Cart.describe_all", M + "::Cart.describe_item", "self"),
        (M + "::Item.describe", M + "::Entity.describe", "self"),
        (M + "::Cart.__init__", M + "::Entity.__init__", "self"),
        (P + "::Discount.__init__", M + "::Entity.__init__", "self"),
        # from-imports (relative, re-exported by a package, star-imported), constructors and aliases
        (M + "::Entity.describe", H + "::fmt", "import"),
        (P + "::sample_cart", M + "::Cart", "import"),
        (P + "::sample_cart", M + "::Item", "alias"),
        (R, M + "::Cart", "import"),
        (R + "::summary", H + "::fmt", "import"),
        (T + "::test_total", P + "::sample_cart", "import"),
        (T + "::test_total", P + "::total", "alias"),
        (T + "::TestCart.test_count", M + "::Cart", "import"),
        # attribute of an imported module or alias
        (P + "::receipt", H + "::fmt", "module"),
        (T + "::test_fmt", H + "::fmt", "module"),
        (T + "::test_fmt", H + "::cached_fmt", "module"),
        # a method of a just-constructed class
        (T + "::TestCart.test_count", M + "::Cart.count", "class"),
        # a method of a parameter's annotated class (count is also list's: no unique-name guess would take it)
        (R + "::summary", M + "::Cart.count", "parameter"),
        # a method on an object of unknown type, defined once in the repository
        (P + "::total", P + "::Discount.apply", "unique_name"),
        (P + "::sample_cart", M + "::Cart.put", "variable"),
    }


def test_repeated_calls_make_one_edge_with_the_first_line(graph):
    data = graph.get_edge_data(P + "::receipt", H + "::fmt", key=CALLS)
    assert (data["line"], data["count"]) == (36, 2)


def test_calls_that_cannot_be_resolved_are_kept_on_the_caller(graph):
    assert graph.nodes[M + "::Cart.put"]["unresolved_calls"] == ["self.items.append"]
    # `describe` is defined twice, so `item.describe()` is ambiguous, not guessed.
    assert graph.nodes[M + "::Cart.describe_item"]["unresolved_calls"] == ["item.describe"]
    # Builtins are neither edges nor noise.
    assert "unresolved_calls" not in graph.nodes[P + "::total"]


def test_imports_resolve_to_repository_files(graph):
    assert edges(graph, IMPORTS) == {
        ("shop/__init__.py", M),
        (M, H),
        (P, M),
        (P, H),
        (R, "shop/__init__.py"),
        (R, "shop/util/__init__.py"),
        ("shop/util/__init__.py", H),
        (T, M),
        (T, P),
        (T, H),
    }
    assert graph.nodes[M]["external_imports"] == ["dataclasses"]
    assert graph.nodes[H]["external_imports"] == ["functools"]
    assert graph.nodes[P]["external_imports"] == []


def test_inheritance_across_modules(graph):
    assert edges(graph, INHERITS) == {
        (M + "::Item", M + "::Entity"),
        (M + "::Cart", M + "::Entity"),
        (P + "::Discount", M + "::Entity"),
    }


def test_tests_link_to_the_code_they_exercise(graph):
    assert edges(graph, TESTS, "via") == {
        (T, M, "import"),
        (T, P, "import"),
        (T, H, "import"),
        (T + "::test_total", P + "::sample_cart", "call"),
        (T + "::test_total", P + "::total", "call"),
        (T + "::test_fmt", H + "::fmt", "call"),
        (T + "::test_fmt", H + "::cached_fmt", "call"),
        (T + "::TestCart.test_count", M + "::Cart", "call"),
        (T + "::TestCart.test_count", M + "::Cart.count", "call"),
    }
    assert graph.nodes[T]["is_test"] and not graph.nodes[P]["is_test"]
    assert graph.nodes[T + "::TestCart.test_count"]["is_test"]
    assert not graph.nodes[T + "::TestCart"]["is_test"]


def test_containment_from_the_root_down_to_nested_functions(graph):
    contains = edges(graph, CONTAINS)
    for edge in [
        (".", "shop"),
        (".", "tests"),
        (".", "README.md"),
        ("shop", "shop/util"),
        ("shop/util", H),
        ("shop", P),
        (P, P + "::Discount"),
        (P + "::Discount", P + "::Discount.apply"),
        (P + "::fetch_prices", P + "::fetch_prices.price_of"),
    ]:
        assert edge in contains
    assert (P, P + "::fetch_prices.price_of") not in contains
    # Every node but the root has exactly one container: containment is a tree.
    targets = [v for _, v in contains]
    assert len(targets) == len(set(targets)) == graph.number_of_nodes() - 1


def test_node_attributes(graph):
    nodes = graph.nodes
    assert nodes["shop"]["kind"] == MODULE
    assert nodes["shop"]["docstring"] == "A tiny shop used to test the code graph."
    assert nodes["shop/__init__.py"]["module"] == "shop"
    assert nodes[H]["module"] == "shop.util.helpers"
    assert nodes[T]["module"] == "tests.test_pricing"
    assert (nodes[P]["kind"], nodes[P]["language"], nodes[P]["end_line"]) == (FILE, "python", 50)
    assert nodes[P]["docstring"] == "Prices, discounts and totals."
    assert nodes["README.md"]["kind"] == FILE and nodes["README.md"]["language"] is None
    total = nodes[P + "::total"]
    assert (total["kind"], total["name"], total["path"]) == (FUNCTION, "total", P)
    assert (total["start_line"], total["end_line"]) == (23, 32)
    assert total["signature"] == "def total(cart, discount=None):"
    assert nodes[M + "::Cart.put"]["kind"] == METHOD
    assert nodes[M + "::Item"]["kind"] == CLASS
    assert nodes[H + "::cached_fmt"]["start_line"] == 10  # the decorator's line
    assert nodes["shop/broken.py"]["has_errors"]
    assert "shop/broken.py::after" in graph
    # Nothing is keyed by a bare identifier.
    for node, data in graph.nodes(data=True):
        assert "::" in node if data["kind"] in (CLASS, FUNCTION, METHOD) else node == data["path"]


def test_edge_counts(graph):
    assert edge_counts(graph) == {
        CONTAINS: graph.number_of_nodes() - 1,
        IMPORTS: 10,
        CALLS: 25,
        INHERITS: 3,
        TESTS: 9,
    }


def test_save_and_load_round_trip(graph, tmp_path):
    target = tmp_path / "state" / "graph.json.gz"
    save_graph(graph, target)
    save_graph(graph, target)  # replacing an existing graph
    loaded = load_graph(target)
    # Equal node and edge tables, attributes included (the loader fills networkx's tables directly).
    assert nx.utils.graphs_equal(loaded, graph)
    assert sorted(loaded.in_edges(P + "::total", keys=True)) == sorted(graph.in_edges(P + "::total", keys=True))
    assert loaded.nodes[P + "::total"] == graph.nodes[P + "::total"]
    loaded.add_edge(P + "::total", P, key="calls", kind="calls")  # still a working graph
    assert P + "::total" in loaded.predecessors(P)
    assert [p.name for p in target.parent.iterdir()] == ["graph.json.gz"]  # no temporary files left


class _RunsCode:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


_NOT_GRAPHS = [
    b"",
    b"garbage",
    {"not": "a graph"},
    {"format": "assist-code-graph", "version": 99, "nodes": [], "edges": []},
    {"format": "assist-code-graph", "version": 1, "nodes": {}, "edges": []},
    {"format": "assist-code-graph", "version": 1, "nodes": [["a", {"kind": "spaceship"}]], "edges": []},
    {"format": "assist-code-graph", "version": 1, "nodes": [["a", {"kind": "file", "start_line": "7"}]], "edges": []},
    {"format": "assist-code-graph", "version": 1, "nodes": [["a", {"kind": "file", "tags": [1]}]], "edges": []},
    {"format": "assist-code-graph", "version": 1, "nodes": [["a", {"kind": "file"}]], "edges": [[0, 5, "calls", {}]]},
    {"format": "assist-code-graph", "version": 1, "nodes": [["a", {"kind": "file"}]], "edges": [[0, 0, "owns", {}]]},
    {"format": "assist-code-graph", "version": 1, "nodes": [["a", {"kind": "file"}], ["a", {"kind": "file"}]],
     "edges": []},
]


def test_a_graph_file_that_is_not_ours_is_refused_and_never_run(tmp_path):
    """A pickle (what a cloned repository could ship), garbage, a torn file or a JSON document of the
    wrong shape: each is GraphUnreadable (the reader's "run assist index"), and nothing in it runs."""
    marker = tmp_path / "code-ran"
    hostile = pickle.dumps(_RunsCode(marker))
    payloads = [hostile, gzip.compress(hostile), gzip.compress(b"[" * 100_000 + b"]" * 100_000)]
    for document in _NOT_GRAPHS:
        raw = document if isinstance(document, bytes) else gzip.compress(json.dumps(document).encode())
        payloads += [raw, raw[: len(raw) // 2]]  # and torn: gzip's length and CRC catch it
    target = tmp_path / "graph.json.gz"
    for raw in payloads:
        target.write_bytes(raw)
        with pytest.raises(GraphUnreadable):
            load_graph(target)
    assert not marker.exists(), "loading the graph ran code"


def test_source_roots_scripts_and_shadowed_stdlib_names():
    graph = build_graph(
        extracts_of(
            {
                "src/acme/__init__.py": b"",
                "src/acme/core.py": b"def run():\n    return 1\n",
                "src/acme/logging.py": b"def log():\n    pass\n",
                "scripts/tool.py": (
                    b"import logging\nimport acme.core\nfrom helper import assist\n\n"
                    b"def main():\n    acme.core.run()\n    assist()\n    logging.info()\n"
                ),
                "scripts/helper.py": b"def assist():\n    pass\n",
                "vendor/lib/pkg/__init__.py": b"from .sub import thing\n",
                "vendor/lib/pkg/sub.py": b"def thing():\n    pass\n",
                "app.py": b"from pkg import thing\n\nthing()\n",
            }
        )
    )
    assert edges(graph, IMPORTS) == {
        ("scripts/tool.py", "src/acme/core.py"),  # src/ is a source root
        ("scripts/tool.py", "scripts/helper.py"),  # a script sees its own directory
        ("vendor/lib/pkg/__init__.py", "vendor/lib/pkg/sub.py"),
        ("app.py", "vendor/lib/pkg/__init__.py"),  # the parent of a top-level package is a root
    }
    # acme/logging.py is not the standard library's logging.
    assert graph.nodes["scripts/tool.py"]["external_imports"] == ["logging"]
    assert edges(graph, CALLS, "resolution") == {
        ("scripts/tool.py::main", "src/acme/core.py::run", "module"),
        ("scripts/tool.py::main", "scripts/helper.py::assist", "import"),
        ("app.py", "vendor/lib/pkg/sub.py::thing", "import"),
    }
    assert graph.nodes["src/acme/core.py"]["module"] == "acme.core"


def test_unique_name_needs_a_unique_definition_and_never_guesses_externals():
    graph = build_graph(
        extracts_of(
            {
                "a.py": b"def render():\n    pass\n\ndef once():\n    pass\n\n"
                b"class Box:\n    def close(self):\n        pass\n",
                "b.py": b"def render():\n    pass\n",
                "c.py": (
                    b"import requests\n\ndef go(box, sess, once):\n    render()\n    box.close()\n"
                    b"    requests.close()\n    sess.close()\n    once()\n    box.append()\n"
                ),
                "d.py": b"from somewhere_else import *\n\ndef use():\n    once()\n",
            }
        )
    )
    assert edges(graph, CALLS, "resolution") == {
        ("c.py::go", "a.py::Box.close", "unique_name"),
        # only a star import from outside the repository can explain an unknown bare name
        ("d.py::use", "a.py::once", "unique_name"),
    }
    # render is ambiguous; requests.close is a call into an external package; a bare unknown name is a
    # parameter or local variable (here `once`); append is a method of every list.
    assert graph.nodes["c.py::go"]["unresolved_calls"] == ["render", "requests.close", "once", "box.append"]


def test_self_calls_follow_inheritance_and_local_class_scopes():
    graph = build_graph(
        extracts_of(
            {
                "base.py": (
                    b"class Base:\n    def save(self):\n        pass\n    def helper(self):\n        pass\n"
                ),
                "child.py": (
                    b"from base import Base as B\n\n"
                    b"def helper():\n    pass\n\n"
                    b"class Child(B):\n"
                    b"    def run(self):\n        self.save()\n        helper()\n        Child.run(self)\n"
                ),
            }
        )
    )
    assert edges(graph, INHERITS) == {("child.py::Child", "base.py::Base")}
    assert edges(graph, CALLS, "resolution") == {
        ("child.py::Child.run", "base.py::Base.save", "self"),
        # a bare name in a method is the module's function, never the class's method of that name
        ("child.py::Child.run", "child.py::helper", "local"),
        ("child.py::Child.run", "child.py::Child.run", "class"),
    }


def test_other_languages_resolve_imports_calls_and_inheritance():
    graph = build_graph(
        extracts_of(
            {
                "web/util.ts": b"export function fmt(x: number): string { return `${x}`; }\n"
                b"export class Base { run() { return 1; } }\n",
                "web/app.ts": b"import { fmt, Base } from './util';\nfunction local() { return 2; }\n"
                b"export class App extends Base {\n  go() { return fmt(local()) + this.run(); }\n}\n",
                "web/app.test.ts": b"import { App } from './app';\nfunction testGo() { return new App().go(); }\n",
            }
        )
    )
    assert edges(graph, IMPORTS) == {("web/app.ts", "web/util.ts"), ("web/app.test.ts", "web/app.ts")}
    assert edges(graph, INHERITS) == {("web/app.ts::App", "web/util.ts::Base")}
    assert {
        ("web/app.ts::App.go", "web/app.ts::local", "local"),
        ("web/app.ts::App.go", "web/util.ts::fmt", "import"),
        ("web/app.ts::App.go", "web/util.ts::Base.run", "self"),
    } <= edges(graph, CALLS, "resolution")
    assert ("web/app.test.ts::testGo", "web/app.ts::App.go", "call") in edges(graph, TESTS, "via")
    assert graph.nodes["web/app.ts"]["module"] is None


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("tests/test_x.py", True),
        ("pkg/test_x.py", True),
        ("pkg/x_test.py", True),
        ("pkg/sub/tests/helpers.py", True),
        ("test/data.py", True),
        ("conftest.py", True),
        ("web/app.test.ts", True),
        ("web/app.spec.js", True),
        ("web/app.test.tsx", True),
        ("cmd/server_test.go", True),
        ("src/test/java/com/x/FooTest.java", True),
        ("pkg/testing.py", False),
        ("pkg/contest.py", False),
        ("web/app.ts", False),
        ("src/main/java/com/x/Foo.java", False),
        ("cmd/server.go", False),
        ("latest/x.py", False),
    ],
)
def test_is_test_path(path, expected):
    assert is_test_path(path) is expected
