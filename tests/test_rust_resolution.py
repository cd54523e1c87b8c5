"""Rust names resolved by Rust's paths (issue 15, item 1 for Rust): `mod`/`use` bind names to the crate's own
files, `crate::`/`super::` paths are walked from where they are anchored, methods are found in the impl
blocks of their type wherever they are written, and `impl Trait for Type` is inheritance. The sample crate in
tests/fixtures/languages/rust/garden/, through the real extractor and graph builder, asserted edge by edge."""

from __future__ import annotations

from fixture_graphs import LANGUAGE_FIXTURES, edges, graph_of
from indexer.extract import extract_file
from indexer.graph import build_graph

GARDEN = LANGUAGE_FIXTURES / "rust" / "garden"
LIB, PLANTS, WATER = "src/lib.rs::", "src/plants.rs::", "src/water.rs::"


def garden_graph():
    return graph_of(GARDEN, "*.rs", "rust")


def test_calls_resolve_through_use_mod_paths_and_impl_blocks():
    graph = garden_graph()
    assert edges(graph, "calls") == {
        (LIB + "tend", PLANTS + "Plant.new", "import"),  # Plant::new, Plant brought in by `use crate::plants::Plant`
        (LIB + "tend", PLANTS + "Plant.grow", "variable"),  # seedling.grow: `let seedling = Plant::new(…)`
        (LIB + "tend", WATER + "schedule", "import"),  # plan(p): `use water::schedule as plan`
        (LIB + "tend", WATER + "pour", "import"),  # water::pour through `mod water;`
        (PLANTS + "Plant.new", PLANTS + "Plant.with_height", "self"),  # Self::with_height
        (PLANTS + "Plant.grow", PLANTS + "Plant.check", "self"),
        (PLANTS + "Plant.grow", WATER + "Plant.soak", "self"),  # a method of Plant in water.rs's impl block
        (PLANTS + "Plant.grow", WATER + "Drinks.thirst", "self"),  # a default method of a trait Plant implements
        (PLANTS + "Plant.check", PLANTS + "Living.alive", "self"),
        (PLANTS + "Plant.check", WATER + "Level.low", "import"),  # Level::low, Level from `use crate::water::Level`
        (WATER + "Plant.soak", WATER + "pour", "local"),
        (WATER + "schedule", WATER + "pour", "local"),
        (WATER + "schedule", PLANTS + "Plant.with_height", "path"),  # crate::plants::Plant::with_height
        (WATER + "tests.pours_what_it_is_given", WATER + "pour", "local"),
    }
    # The prelude is another crate's: String::from is not a `from` of ours.
    assert graph.nodes[LIB + "tend"]["unresolved_calls"] == ["String::from"]


def test_trait_impls_are_inheritance_and_imports_name_module_files():
    graph = garden_graph()
    assert edges(graph, "inherits") == {
        (PLANTS + "Plant", PLANTS + "Living"),
        (WATER + "Level", PLANTS + "Living"),  # through `use super::plants::{Living, Plant}`
        (PLANTS + "Plant", WATER + "Drinks"),  # impl Drinks for Plant, written in water.rs
        # impl fmt::Display for Plant: std's trait, no edge
    }
    # `use super::*` in water.rs's inline `mod tests` is water.rs itself, not the crate root
    assert edges(graph, "imports") == {
        ("src/lib.rs", "src/plants.rs"), ("src/lib.rs", "src/water.rs"),
        ("src/plants.rs", "src/water.rs"), ("src/water.rs", "src/plants.rs"),
    }
    assert graph.nodes["src/plants.rs"]["external_imports"] == ["std::fmt"]
    assert edges(graph, "tests") == {(WATER + "tests.pours_what_it_is_given", WATER + "pour")}


def test_another_crate_of_the_workspace_is_found_by_its_directory_name():
    sources = {
        "core-lib/src/lib.rs": b"pub mod text;\npub fn parse() {}\n",
        "core-lib/src/text.rs": b"pub fn parse() {}\n",
        "app/src/main.rs": b"use core_lib::text;\nuse std::mem::swap;\n\n"
                           b"fn main() {\n    core_lib::parse();\n    text::parse();\n    swap(&mut 1, &mut 2);\n}\n",
        "app/src/swap.rs": b"pub fn swap() {}\n",
    }
    graph = build_graph({path: extract_file(path, source, "rust") for path, source in sources.items()})
    assert edges(graph, "calls") == {
        ("app/src/main.rs::main", "core-lib/src/lib.rs::parse", "import"),
        ("app/src/main.rs::main", "core-lib/src/text.rs::parse", "import"),
        # std's swap, however unique a swap of ours is
    }
    assert ("app/src/main.rs", "core-lib/src/text.rs") in edges(graph, "imports")
