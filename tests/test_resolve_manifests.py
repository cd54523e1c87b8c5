"""Imports resolved through the build manifests (issue 15, item 1): Go module paths from go.mod (and its
replace directives), Rust crates by their Cargo.toml names (workspace members, path and workspace
dependencies, crates from elsewhere), JS/TS packages by their package.json name and exports and aliases
from tsconfig paths/baseUrl (through extends), and Java source directories a pom.xml declares. Each sample
under tests/fixtures/manifests/<lang>/ goes through the real extractor, manifest reader and graph builder
and is asserted edge by edge; each also shows what the path rules alone got wrong. Manifests that cannot be
read or parsed are a one-line warning each, never a crash, and a link is never followed."""

from __future__ import annotations

import shutil
from pathlib import Path

from fixture_graphs import edges
from indexer.config import IndexConfig
from indexer.extract import extract_file
from indexer.graph import build_graph, load_graph
from indexer.languages import language_for_path
from indexer.pipeline import index_repository
from indexer.resolve.java import package_of
from indexer.resolve.manifests import MAX_MANIFEST_BYTES, read_manifests
from indexer.state_dir import StateDir

# One small project per language, manifests and all. They sit beside tests/fixtures/languages/, not in it:
# tests there take every file of that folder for a source file to parse.
PROJECTS = Path(__file__).parent / "fixtures" / "manifests"


def project_graph(folder: Path, with_manifests: bool = True):
    paths = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    extracts = {p: extract_file(p, (folder / p).read_bytes(), language_for_path(p)) for p in paths
                if language_for_path(p)}
    manifests = read_manifests(folder, paths) if with_manifests else None
    if manifests is not None:
        assert manifests.warnings == []
    return build_graph(extracts, [p for p in paths if p not in extracts], manifests)


def imports_via(graph) -> set[tuple[str, str, str | None]]:
    return {(s, t, a.get("via")) for s, t, k, a in graph.edges(keys=True, data=True) if k == "imports"}


# ------------------------------------------------------------------------------------------------------- Go


def test_go_imports_follow_the_module_path_and_replace_directives():
    graph = project_graph(PROJECTS / "go")
    main = "cmd/app/main.go"
    assert imports_via(graph) == {
        (main, "internal/cache/cache.go", "go.mod"),  # example.com/app/internal/cache: module + rest of the path
        (main, "third_party/codec/json/json.go", "go.mod"),  # replace github.com/acme/codec => ./third_party/codec
    }
    assert edges(graph, "calls") == {
        (f"{main}::main", "internal/cache/cache.go::New", "import"),
        (f"{main}::main", "internal/cache/cache.go::Cache.Put", "result"),  # what cache.New() returns
        (f"{main}::main", "third_party/codec/json/json.go::Encode", "import"),
    }
    # github.com/other/cache is another module's package, although our internal/cache ends like it.
    assert graph.nodes[main]["external_imports"] == ["fmt", "github.com/other/cache"]
    assert "remote.New" in graph.nodes[f"{main}::main"]["unresolved_calls"]


def test_without_go_mod_the_path_tail_takes_an_outside_package_for_ours():
    graph = project_graph(PROJECTS / "go", with_manifests=False)
    assert "github.com/other/cache" not in graph.nodes["cmd/app/main.go"]["external_imports"]
    assert graph.edges["cmd/app/main.go::main", "internal/cache/cache.go::New", "calls"]["count"] == 2  # remote.New too


# ----------------------------------------------------------------------------------------------------- Rust


def test_rust_workspace_crates_are_found_by_their_cargo_names():
    graph = project_graph(PROJECTS / "rust")
    core, cli, test = "crates/core/src/", "crates/cli/src/main.rs", "crates/core/tests/grow.rs"
    assert imports_via(graph) == {
        # garden-core lives in crates/core: its directory does not say its name, Cargo.toml does
        (cli, core + "soil.rs", "Cargo.toml"),
        (test, core + "lib.rs", "Cargo.toml"),  # an integration test names its own package's library
        (core + "lib.rs", core + "soil.rs", None),  # `pub mod soil;`: Rust's own module rules
    }
    assert edges(graph, "calls") == {
        (f"{cli}::main", core + "soil.rs::Soil.new", "import"),
        (f"{cli}::main", core + "soil.rs::Soil.water", "variable"),  # a variable made by Soil::new()
        (f"{cli}::main", core + "lib.rs::plant", "import"),
        (core + "lib.rs::plant", core + "soil.rs::Soil.new", "import"),
        (f"{test}::planting_gives_dry_soil", core + "lib.rs::plant", "import"),
    }
    # serde comes from crates.io (through [workspace.dependencies]): its Serialize is not our trait of that name
    assert graph.nodes[f"{cli}::main"]["unresolved_calls"] == ["Serialize::to_text"]


def test_without_cargo_toml_calls_into_another_crate_are_guesses_by_name():
    graph = project_graph(PROJECTS / "rust", with_manifests=False)
    cli, core = "crates/cli/src/main.rs::main", "crates/core/src/"
    assert graph.edges[cli, core + "lib.rs::Serialize.to_text", "calls"]["resolution"] == "unique_name"
    assert graph.edges[cli, core + "soil.rs::Soil.new", "calls"]["resolution"] == "unique_name"


# ---------------------------------------------------------------------------------------- JavaScript/TypeScript


def test_typescript_packages_and_path_aliases():
    graph = project_graph(PROJECTS / "typescript")
    money, web = "packages/money/src/", "packages/web/src/"
    assert imports_via(graph) == {
        (web + "cart.ts", web + "utils/sum.ts", "tsconfig.json"),  # "@/utils/sum": paths {"@/*": ["src/*"]}
        # "@shop/money/format": the workspace package's exports, ./dist/format.js built from src/format.ts
        (web + "cart.ts", money + "format.ts", "package.json"),
        # "@shop/money": exports "." (the workspace member, not the example copy of the same name)
        (web + "cart.ts", money + "index.ts", "package.json"),
        (web + "utils/sum.ts", money + "index.ts", "package.json"),
        # admin's tsconfig only extends the base one, whose paths map @shop/money to the source
        ("packages/admin/src/report.ts", money + "index.ts", "tsconfig.json"),
        (money + "format.ts", money + "index.ts", None),  # "./index": relative, no manifest needed
    }
    calls = edges(graph, "calls")
    assert {
        (web + "cart.ts::checkout", web + "utils/sum.ts::total", "import"),
        (web + "cart.ts::checkout", money + "format.ts::formatPrice", "import"),
        (web + "cart.ts::checkout", money + "index.ts::Money", "import"),
        (web + "utils/sum.ts::total", money + "index.ts::Money", "import"),
    } <= calls
    assert not any("examples/" in target for _, target, _ in calls)
    assert graph.nodes[web + "cart.ts"]["external_imports"] == ["express"]


def test_javascript_workspace_package_by_its_main():
    graph = project_graph(PROJECTS / "javascript")
    app, pad = "packages/app/index.js", "packages/pad/lib/index.js"
    assert imports_via(graph) == {(app, pad, "package.json")}  # require("left-pad-lite"): "main": "lib/index.js"
    assert edges(graph, "calls") == {(f"{app}::banner", f"{pad}::padStart", "import")}
    assert graph.nodes[app]["external_imports"] == ["chalk"]


# ----------------------------------------------------------------------------------------------------- Java


def test_java_source_directories_declared_in_a_parent_pom_make_one_package():
    graph = project_graph(PROJECTS / "java")
    money, test = "core/src/com/acme/core/Money.java::Money", "core/test/com/acme/core/MoneyTest.java::MoneyTest"
    assert edges(graph, "calls") == {
        (f"{money}.of", money, "local"),
        (f"{money}.plus", money, "local"),
        (f"{test}.addsCents", f"{money}.of", "package"),  # core/src and core/test hold one package com.acme.core
        (f"{test}.addsCents", f"{money}.plus", "result"),  # a method of what Money.of returns
    }
    without = project_graph(PROJECTS / "java", with_manifests=False)
    assert "Money.of" in without.nodes[f"{test}.addsCents"]["unresolved_calls"]


def test_the_standard_layout_wins_over_a_source_directory_a_parent_pom_declares():
    roots = [("core", "core/src"), ("core", "core/test")]
    assert package_of("core/src/com/acme/Money.java", roots) == ("core/", "com/acme")
    assert package_of("core/test/com/acme/MoneyTest.java", roots) == ("core/", "com/acme")
    # a module that overrides the inherited <sourceDirectory> with Maven's default
    assert package_of("core/src/main/java/com/acme/Money.java", roots) == ("core/", "com/acme")


# ----------------------------------------------------------------------------------------------- bad input


def test_unreadable_manifests_are_one_line_warnings_and_the_rest_still_resolves(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(PROJECTS / "go", repo)
    outside = tmp_path / "outside.json"
    outside.write_text('{"name": "secret", "main": "x.js"}')
    broken = {
        "web/package.json": '["not", "an", "object"]',
        "crates/a/Cargo.toml": "[package\nname = ",
        "tools/go.mod": "go 1.22\n",  # no module line
        "site/tsconfig.json": "{ compilerOptions: }",
        "legacy/pom.xml": '<!DOCTYPE project [<!ENTITY x "y">]><project>&x;</project>',
        "big/package.json": '{"name": "big", "description": "' + "x" * MAX_MANIFEST_BYTES + '"}',
    }
    for path, text in broken.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    (repo / "linked").mkdir()
    (repo / "linked" / "package.json").symlink_to(outside)
    paths = sorted(str(p.relative_to(repo)) for p in repo.rglob("*") if p.is_file() or p.is_symlink())

    manifests = read_manifests(repo, paths)

    assert sorted(w.partition(":")[0] for w in manifests.warnings) == sorted([*broken, "linked/package.json"])
    assert all("\n" not in w and len(w) < 300 for w in manifests.warnings)
    assert [p.name for p in manifests.js_packages] == []  # nothing from the link, the broken or the big file
    assert [m.path for m in manifests.go_modules] == ["example.com/app"]  # the good go.mod still counts
    extracts = {p: extract_file(p, (repo / p).read_bytes(), "go") for p in paths if p.endswith(".go")}
    graph = build_graph(extracts, [], manifests)
    assert graph.edges["cmd/app/main.go", "internal/cache/cache.go", "imports"]["via"] == "go.mod"


def test_the_indexer_reads_the_manifests_and_notices_a_broken_one(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(PROJECTS / "go", repo)
    (repo / "package.json").write_text("{ broken")
    notices: list[str] = []

    index_repository(repo, IndexConfig(vectors="off"), notice=notices.append)

    assert [n for n in notices if "package.json" in n] == [
        next(n for n in notices if n.startswith("package.json: not a valid package.json ("))
    ]
    graph = load_graph(StateDir(repo).graph)
    assert graph.edges["cmd/app/main.go", "internal/cache/cache.go", "imports"]["via"] == "go.mod"
