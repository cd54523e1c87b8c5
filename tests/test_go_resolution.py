"""Go names resolved by Go's scoping (issue 15, item 1 for Go): a package is its directory, other packages
are reached through the name their import binds, and a method's receiver names its type. The sample module in
tests/fixtures/languages/go/shop/, through the real extractor and graph builder, asserted edge by edge."""

from __future__ import annotations

from pathlib import Path

from indexer.extract import extract_file
from indexer.graph import build_graph
from indexer.resolve.go import package_name

SHOP = Path(__file__).parent / "fixtures" / "languages" / "go" / "shop"


def shop_graph():
    files = sorted(SHOP.rglob("*.go"))
    return build_graph({str(f.relative_to(SHOP)): extract_file(str(f.relative_to(SHOP)), f.read_bytes(), "go")
                        for f in files})


def edges(graph, kind: str) -> set[tuple]:
    return {
        (source, target, attrs.get("resolution")) if kind == "calls" else (source, target)
        for source, target, key, attrs in graph.edges(keys=True, data=True)
        if key == kind
    }


def test_calls_resolve_through_imports_the_package_and_receivers():
    graph = shop_graph()
    store, api, main = "internal/store/", "internal/api/server.go::", "cmd/shop/main.go::"
    assert edges(graph, "calls") == {
        # `store.New()` is the store package's New, although main.go defines a New of its own
        (main + "main", store + "store.go::New", "import"),
        (main + "main", main + "New", "local"),
        (main + "main", api + "NewServer", "import"),
        (main + "main", api + "Server.Item", "result"),  # srv.Item: srv := api.NewServer(…) returns a *Server
        (api + "NewServer", store + "store.go::New", "import"),  # through the alias kv
        # srv.Get: Server embeds *kv.Store, whose Get it calls through the receiver
        (api + "Server.Item", store + "store.go::Store.Get", "receiver"),
        (store + "store.go::New", store + "cache.go::newCache", "package"),  # another file of the package
        (store + "store.go::Store.Get", store + "load.go::Store.load", "receiver"),  # a method in load.go
        (store + "store.go::Store.Get", store + "cache.go::cache.lookup", "field"),  # s.cache.lookup, `cache *cache`
    }
    # Packages outside the repository are never a name of ours.
    assert graph.nodes[main + "main"]["unresolved_calls"] == ["fmt.Println"]
    assert graph.nodes[api + "Server.Item"]["unresolved_calls"] == ["fmt.Sprintf"]


def test_imports_name_the_package_files_and_embedding_is_inheritance():
    graph = shop_graph()
    package = {("internal/store/" + f) for f in ("cache.go", "load.go", "store.go")}
    assert edges(graph, "imports") == {
        ("cmd/shop/main.go", "internal/api/server.go"),
        *(("cmd/shop/main.go", f) for f in package),
        *(("internal/api/server.go", f) for f in package),
    }
    assert edges(graph, "inherits") == {("internal/api/server.go::Server", "internal/store/store.go::Store")}
    assert graph.nodes["cmd/shop/main.go"]["external_imports"] == ["fmt"]


def test_the_name_an_import_binds():
    assert package_name("github.com/acme/shop/internal/store") == "store"
    assert package_name("github.com/jackc/pgx/v5") == "pgx"
    assert package_name("gopkg.in/yaml.v3") == "yaml"
    assert package_name("fmt") == "fmt"


def test_an_import_of_a_large_package_links_only_the_files_defining_what_the_importer_calls():
    """300 files importing a 2,000-file package made 600,000 import edges; past 64 files an import links the
    files defining the names the importer writes, and calls resolve as before."""
    sources = {f"big/part{i}.go": f"package big\n\nfunc Part{i}() int {{ return {i} }}\n" for i in range(70)}
    sources["app/main.go"] = ('package main\n\nimport "example.com/m/big"\n\n'
                              "func main() {\n\tbig.Part3()\n\tbig.Part7()\n}\n")
    sources["app/small.go"] = 'package main\n\nimport "example.com/m/small"\n\nfunc helper() {}\n'
    sources["small/a.go"] = "package small\n\nfunc A() {}\n"
    sources["small/b.go"] = "package small\n\nfunc B() {}\n"
    graph = build_graph({path: extract_file(path, text.encode(), "go") for path, text in sources.items()})
    assert {t for s, t in edges(graph, "imports") if s == "app/main.go"} == {"big/part3.go", "big/part7.go"}
    # A small package is still linked whole: what the importer takes may be written only as a type.
    assert {t for s, t in edges(graph, "imports") if s == "app/small.go"} == {"small/a.go", "small/b.go"}
    assert {(t, r) for s, t, r in edges(graph, "calls") if s == "app/main.go::main"} == {
        ("big/part3.go::Part3", "import"), ("big/part7.go::Part7", "import")}
