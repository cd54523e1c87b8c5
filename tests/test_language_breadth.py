"""Twelve more languages in the code graph (issue 15, item 4): definitions with their containers, imports as
written, base types and name-resolved calls for C#, Ruby, PHP, Kotlin, Swift, Scala, Lua, Bash, Elixir,
Haskell, Dart and Zig. Each has a two-file sample under tests/fixtures/languages/<lang>/ — a type holding
methods in one file, and a second file that imports the first and calls into it — put through the real
grammar, extractor and graph builder, and asserted exactly.

An import that names the other file is an imports edge (``indexer/resolve/breadth_imports.py``), and a call
into that file resolves through it (``import``); the rest is kept as written on the file's node
(``external_imports``). Swift modules outside a ``Sources/<Module>/`` layout name no file, so their calls
resolve by a unique name. tests/test_breadth_imports.py has each language's own layouts.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import tree_sitter

from fixture_graphs import LANGUAGE_FIXTURES, edges
from indexer.chunks import chunk_file
from indexer.extract import extract_file
from indexer.extract.generic import _query
from indexer.graph import build_graph
from indexer import languages
from indexer.languages import language_for_path
from indexer.model import CLASS, FUNCTION, METHOD
from indexer.retrieval.query import parse_query


@dataclass
class Sample:
    symbols: dict[str, tuple[str, str | None]]  # qname -> (kind, parent)
    calls: set[tuple[str, str, str]]  # (caller, callee, resolution)
    imports: dict[str, list[tuple[str, str | None]]]  # file -> [(module as written, alias)]
    imported: set[tuple[str, str]]  # imports edges: (file, the repository file it imports)
    external: dict[str, list[str]]  # file -> the modules it imports that are no file of ours
    inherits: set[tuple[str, str]]


SAMPLES = {
    "csharp": Sample(
        symbols={
            "App.cs::App": (CLASS, None),
            "App.cs::App.Run": (METHOD, "App.cs::App"),
            "Greeter.cs::Greeter": (CLASS, None),  # its constructor is no symbol: `new Greeter()` names the class
            "Greeter.cs::Greeter.Greet": (METHOD, "Greeter.cs::Greeter"),
            "Greeter.cs::Greeter.Decorate": (METHOD, "Greeter.cs::Greeter"),
            "Greeter.cs::IGreeter": (CLASS, None),
            "Greeter.cs::IGreeter.Wave": (METHOD, "Greeter.cs::IGreeter"),
            "Greeter.cs::Format": (CLASS, None),
            "Greeter.cs::Format.Shout": (METHOD, "Greeter.cs::Format"),
        },
        calls={
            ("App.cs::App.Run", "Greeter.cs::Greeter", "import"),
            ("App.cs::App.Run", "Greeter.cs::Greeter.Greet", "import"),
            ("Greeter.cs::Greeter.Decorate", "Greeter.cs::Format.Shout", "local"),
            ("Greeter.cs::Greeter.Greet", "Greeter.cs::Greeter.Decorate", "local"),
        },
        imports={
            "App.cs": [("Shop.Greetings", None), ("System.Console", "Out")],
            "Greeter.cs": [("System", None)],
        },
        imported={("App.cs", "Greeter.cs")},  # using Shop.Greetings: the file declaring that namespace
        external={"App.cs": ["System.Console"], "Greeter.cs": ["System"]},
        inherits={("Greeter.cs::Greeter", "Greeter.cs::IGreeter")},
    ),
    "ruby": Sample(
        symbols={
            "app.rb::App": (CLASS, None),
            "app.rb::App.run": (METHOD, "app.rb::App"),
            "greeter.rb::Greetings": (CLASS, None),
            "greeter.rb::Greetings.Greeter": (CLASS, "greeter.rb::Greetings"),
            "greeter.rb::Greetings.Greeter.create": (METHOD, "greeter.rb::Greetings.Greeter"),  # def self.create
            "greeter.rb::Greetings.Greeter.default": (METHOD, "greeter.rb::Greetings.Greeter"),  # in class << self
            "greeter.rb::Greetings.Greeter.greet": (METHOD, "greeter.rb::Greetings.Greeter"),
            "greeter.rb::Greetings.Greeter.decorate": (METHOD, "greeter.rb::Greetings.Greeter"),
            "greeter.rb::shout": (FUNCTION, None),
        },
        calls={
            ("app.rb::App.run", "greeter.rb::Greetings.Greeter.create", "import"),
            ("app.rb::App.run", "greeter.rb::Greetings.Greeter.greet", "import"),
            ("greeter.rb::Greetings.Greeter.decorate", "greeter.rb::shout", "local"),
            ("greeter.rb::Greetings.Greeter.default", "greeter.rb::Greetings.Greeter.create", "local"),
            ("greeter.rb::Greetings.Greeter.greet", "greeter.rb::Greetings.Greeter.decorate", "local"),
        },
        imports={
            "app.rb": [("greeter", None), ("json", None)],
            "greeter.rb": [],
        },
        imported={("app.rb", "greeter.rb")},
        external={"app.rb": ["json"], "greeter.rb": []},
        inherits=set(),
    ),
    "php": Sample(
        symbols={
            "Greeter.php::Greeter": (CLASS, None),
            "Greeter.php::Greeter.greet": (METHOD, "Greeter.php::Greeter"),
            "Greeter.php::Greeter.decorate": (METHOD, "Greeter.php::Greeter"),
            "Greeter.php::shout": (FUNCTION, None),
            "app.php::App": (CLASS, None),
            "app.php::App.run": (METHOD, "app.php::App"),
        },
        calls={
            ("Greeter.php::Greeter.decorate", "Greeter.php::shout", "local"),
            ("Greeter.php::Greeter.greet", "Greeter.php::Greeter.decorate", "self"),  # $this->decorate(...)
            ("app.php::App.run", "Greeter.php::Greeter", "import"),
            ("app.php::App.run", "Greeter.php::Greeter.greet", "import"),
        },
        imports={
            "Greeter.php": [("App\\Support\\Format", None)],
            "app.php": [("Greeter.php", None), ("App\\Greetings\\Greeter", None)],
        },
        imported={("app.php", "Greeter.php")},  # require_once and use both name it
        external={"Greeter.php": ["App\\Support\\Format"], "app.php": []},
        inherits=set(),
    ),
    "kotlin": Sample(
        symbols={
            "App.kt::App": (CLASS, None),
            "App.kt::App.run": (METHOD, "App.kt::App"),
            "App.kt::main": (FUNCTION, None),
            "Greeter.kt::Greeter": (CLASS, None),
            "Greeter.kt::Greeter.greet": (METHOD, "Greeter.kt::Greeter"),
            "Greeter.kt::Greeter.decorate": (METHOD, "Greeter.kt::Greeter"),
            "Greeter.kt::shout": (FUNCTION, None),
        },
        calls={
            ("App.kt::App.run", "Greeter.kt::Greeter", "import"),
            ("App.kt::App.run", "Greeter.kt::Greeter.greet", "import"),
            ("App.kt::main", "App.kt::App.run", "local"),
            ("Greeter.kt::Greeter.decorate", "Greeter.kt::shout", "local"),
            ("Greeter.kt::Greeter.greet", "Greeter.kt::Greeter.decorate", "local"),
        },
        imports={
            "App.kt": [("shop.greetings.Greeter", None), ("shop.greetings.shout", "loud")],
            "Greeter.kt": [("kotlin.text.uppercase", None)],
        },
        imported={("App.kt", "Greeter.kt")},  # the file defining Greeter and shout
        external={"App.kt": [], "Greeter.kt": ["kotlin.text.uppercase"]},
        inherits=set(),
    ),
    "swift": Sample(
        symbols={
            "App.swift::App": (CLASS, None),
            "App.swift::App.run": (METHOD, "App.swift::App"),
            "App.swift::Runner": (CLASS, None),
            "Greeter.swift::Greeter": (CLASS, None),
            "Greeter.swift::Greeter.greet": (METHOD, "Greeter.swift::Greeter"),
            "Greeter.swift::Greeter.decorate": (METHOD, "Greeter.swift::Greeter"),
            "Greeter.swift::Greeter.wave": (METHOD, "Greeter.swift::Greeter"),
            "Greeter.swift::shout": (FUNCTION, None),
        },
        calls={
            ("App.swift::App.run", "Greeter.swift::Greeter", "unique_name"),
            ("App.swift::App.run", "Greeter.swift::Greeter.greet", "unique_name"),
            ("Greeter.swift::Greeter.decorate", "Greeter.swift::shout", "local"),
            ("Greeter.swift::Greeter.greet", "Greeter.swift::Greeter.decorate", "local"),
            ("Greeter.swift::Greeter.wave", "Greeter.swift::Greeter.greet", "local"),
        },
        imports={
            "App.swift": [("Greetings", None)],
            "Greeter.swift": [("Foundation", None)],
        },
        imported=set(),  # a module is a Sources/<Module>/ folder: none here
        external={"App.swift": ["Greetings"], "Greeter.swift": ["Foundation"]},
        inherits=set(),
    ),
    "scala": Sample(
        symbols={
            "App.scala::App": (CLASS, None),
            "App.scala::App.main": (METHOD, "App.scala::App"),
            "Greeter.scala::Greeter": (CLASS, None),
            "Greeter.scala::Greeter.greet": (METHOD, "Greeter.scala::Greeter"),
            "Greeter.scala::Greeter.decorate": (METHOD, "Greeter.scala::Greeter"),
            "Greeter.scala::Format": (CLASS, None),
            "Greeter.scala::Format.shout": (METHOD, "Greeter.scala::Format"),
            "Greeter.scala::Greets": (CLASS, None),
        },
        calls={
            ("App.scala::App.main", "Greeter.scala::Greeter", "import"),
            ("App.scala::App.main", "Greeter.scala::Greeter.greet", "import"),
            ("Greeter.scala::Greeter.decorate", "Greeter.scala::Format.shout", "local"),
            ("Greeter.scala::Greeter.greet", "Greeter.scala::Greeter.decorate", "local"),
        },
        imports={
            "App.scala": [("shop.greetings", None)],
            "Greeter.scala": [("scala.util.Try", None)],
        },
        imported={("App.scala", "Greeter.scala")},
        external={"App.scala": [], "Greeter.scala": ["scala.util.Try"]},
        inherits={("Greeter.scala::Greeter", "Greeter.scala::Greets")},
    ),
    "lua": Sample(
        symbols={
            "app.lua::App": (CLASS, None),
            "app.lua::App.run": (METHOD, "app.lua::App"),
            "greeter.lua::Greeter": (CLASS, None),  # a table that functions are defined on; `defaults` is data
            "greeter.lua::Greeter.new": (METHOD, "greeter.lua::Greeter"),
            "greeter.lua::Greeter.greet": (METHOD, "greeter.lua::Greeter"),
            "greeter.lua::Greeter.decorate": (METHOD, "greeter.lua::Greeter"),
            "greeter.lua::shout": (FUNCTION, None),
        },
        calls={
            ("app.lua", "app.lua::App.run", "local"),
            ("app.lua::App.run", "greeter.lua::Greeter.greet", "import"),
            ("app.lua::App.run", "greeter.lua::Greeter.new", "import"),
            ("greeter.lua::Greeter.decorate", "greeter.lua::shout", "local"),
            ("greeter.lua::Greeter.greet", "greeter.lua::Greeter.decorate", "self"),
        },
        imports={
            "app.lua": [("greeter", "Greeter")],
            "greeter.lua": [],
        },
        imported={("app.lua", "greeter.lua")},
        external={"app.lua": [], "greeter.lua": []},
        inherits=set(),
    ),
    "bash": Sample(
        symbols={
            "lib.sh::greet": (FUNCTION, None),
            "lib.sh::shout": (FUNCTION, None),
            "main.sh::main": (FUNCTION, None),
        },
        calls={
            ("lib.sh::greet", "lib.sh::shout", "local"),
            ("main.sh", "main.sh::main", "local"),
            ("main.sh::main", "lib.sh::greet", "import"),
        },
        imports={
            "lib.sh": [],
            "main.sh": [("./lib.sh", None)],  # `. "$(dirname "$0")/config.sh"` is computed: no import
        },
        imported={("main.sh", "lib.sh")},
        external={"lib.sh": [], "main.sh": []},
        inherits=set(),
    ),
    "elixir": Sample(
        symbols={
            "app.exs::Shop.App": (CLASS, None),
            "app.exs::Shop.App.run": (METHOD, "app.exs::Shop.App"),
            "greeter.ex::Shop.Greeter": (CLASS, None),
            "greeter.ex::Shop.Greeter.greet": (METHOD, "greeter.ex::Shop.Greeter"),
            "greeter.ex::Shop.Greeter.decorate": (METHOD, "greeter.ex::Shop.Greeter"),
            "greeter.ex::Shop.Format": (CLASS, None),
            "greeter.ex::Shop.Format.shout": (METHOD, "greeter.ex::Shop.Format"),  # both clauses
        },
        calls={
            ("app.exs::Shop.App.run", "greeter.ex::Shop.Greeter.greet", "import"),
            ("greeter.ex::Shop.Format.shout", "greeter.ex::Shop.Format.shout", "local"),
            ("greeter.ex::Shop.Greeter.decorate", "greeter.ex::Shop.Format.shout", "local"),
            ("greeter.ex::Shop.Greeter.greet", "greeter.ex::Shop.Greeter.decorate", "local"),
        },
        imports={
            "app.exs": [("Shop.Greeter", None), ("Logger", None)],
            "greeter.ex": [("Shop.Format", None)],
        },
        imported={("app.exs", "greeter.ex")},  # defmodule Shop.Greeter; alias Shop.Format is its own file
        external={"app.exs": ["Logger"], "greeter.ex": []},
        inherits=set(),
    ),
    "haskell": Sample(
        symbols={
            "Greeter.hs::Greeter": (CLASS, None),
            "Greeter.hs::Greeter.show": (METHOD, "Greeter.hs::Greeter"),  # instance Show Greeter where show g = ...
            "Greeter.hs::greet": (FUNCTION, None),
            "Greeter.hs::shout": (FUNCTION, None),
            "Main.hs::main": (FUNCTION, None),
        },
        calls={
            ("Greeter.hs::Greeter.show", "Greeter.hs::greet", "local"),
            ("Greeter.hs::greet", "Greeter.hs::shout", "local"),
            ("Main.hs::main", "Greeter.hs::Greeter", "import"),
            ("Main.hs::main", "Greeter.hs::greet", "import"),
        },
        imports={
            "Greeter.hs": [("Data.Char", None)],
            "Main.hs": [("Data.Map", "Map"), ("Greeter", None)],
        },
        imported={("Main.hs", "Greeter.hs")},
        external={"Greeter.hs": ["Data.Char"], "Main.hs": ["Data.Map"]},
        inherits=set(),
    ),
    "dart": Sample(
        symbols={
            "app.dart::App": (CLASS, None),
            "app.dart::App.run": (METHOD, "app.dart::App"),
            "app.dart::main": (FUNCTION, None),
            "greeter.dart::Greeter": (CLASS, None),
            "greeter.dart::Greeter.greet": (METHOD, "greeter.dart::Greeter"),
            "greeter.dart::Greeter._decorate": (METHOD, "greeter.dart::Greeter"),
            "greeter.dart::shout": (FUNCTION, None),
        },
        calls={
            ("app.dart::App.run", "greeter.dart::Greeter", "import"),
            ("app.dart::App.run", "greeter.dart::Greeter.greet", "import"),
            ("app.dart::main", "app.dart::App", "local"),
            ("app.dart::main", "app.dart::App.run", "result"),  # App().run(): the class made
            ("greeter.dart::Greeter._decorate", "greeter.dart::shout", "local"),
            ("greeter.dart::Greeter.greet", "greeter.dart::Greeter._decorate", "local"),
        },
        imports={
            "app.dart": [("greeter.dart", None), ("package:http/http.dart", "http")],
            "greeter.dart": [("dart:math", None)],
        },
        imported={("app.dart", "greeter.dart")},
        external={"app.dart": ["package:http/http.dart"], "greeter.dart": ["dart:math"]},
        inherits=set(),
    ),
    "zig": Sample(
        symbols={
            "greeter.zig::Greeter": (CLASS, None),
            "greeter.zig::Greeter.init": (METHOD, "greeter.zig::Greeter"),
            "greeter.zig::Greeter.greet": (METHOD, "greeter.zig::Greeter"),
            "greeter.zig::Greeter.decorate": (METHOD, "greeter.zig::Greeter"),
            "greeter.zig::shout": (FUNCTION, None),
            "main.zig::main": (FUNCTION, None),
        },
        calls={
            ("greeter.zig::Greeter.decorate", "greeter.zig::shout", "local"),
            ("greeter.zig::Greeter.greet", "greeter.zig::Greeter.decorate", "self"),  # self.decorate(name)
            ("main.zig::main", "greeter.zig::Greeter.greet", "import"),
            ("main.zig::main", "greeter.zig::Greeter.init", "import"),
        },
        imports={
            "greeter.zig": [("std", "std")],
            "main.zig": [("std", "std"), ("greeter.zig", "greeter")],
        },
        imported={("main.zig", "greeter.zig")},
        external={"greeter.zig": ["std"], "main.zig": ["std"]},
        inherits=set(),
    ),
}


def sample_graph(language: str):
    folder = LANGUAGE_FIXTURES / language
    files = sorted(f for f in folder.iterdir() if f.is_file())  # folders hold test_breadth_imports.py's layouts
    assert [language_for_path(f.name) for f in files] == [language, language]
    extracts = {f.name: extract_file(f.name, f.read_bytes(), language) for f in files}
    return extracts, build_graph(extracts)


@pytest.mark.parametrize("language", SAMPLES)
def test_symbols_and_containment(language):
    expected = SAMPLES[language].symbols
    extracts, graph = sample_graph(language)
    found = {s.qname: (s.kind, s.parent) for e in extracts.values() for s in e.symbols}
    assert found == expected
    files = set(extracts)
    assert edges(graph, "contains") == {
        *((".", f) for f in files),
        *((parent or qname.partition("::")[0], qname) for qname, (_, parent) in expected.items()),
    }
    assert not any(e.has_errors for e in extracts.values())


@pytest.mark.parametrize("language", SAMPLES)
def test_imports_as_written_and_the_files_they_name(language):
    sample = SAMPLES[language]
    extracts, graph = sample_graph(language)
    assert {f: [(i.module, i.alias) for i in e.imports] for f, e in extracts.items()} == sample.imports
    assert edges(graph, "imports") == sample.imported
    assert {path: graph.nodes[path]["external_imports"] for path in extracts} == sample.external


@pytest.mark.parametrize("language", SAMPLES)
def test_calls_resolve_across_the_two_files(language):
    sample = SAMPLES[language]
    _, graph = sample_graph(language)
    assert edges(graph, "calls") == sample.calls
    assert edges(graph, "inherits") == sample.inherits
    # The point of each sample: the second file calls a definition of the first.
    assert any(caller.partition("::")[0] != callee.partition("::")[0] for caller, callee, _ in sample.calls)


@pytest.mark.parametrize("language", SAMPLES)
def test_every_query_compiles_and_names_definitions_calls_and_imports(language):
    query = _query(language)
    assert isinstance(query, tree_sitter.Query)
    captures = {query.capture_name(i) for i in range(query.capture_count)}
    assert {"name", "import"} <= captures and captures & {"import.module", "import.paths"}
    assert any(c.startswith("definition.") for c in captures)
    assert captures & {"call", "call.after"}


@pytest.mark.parametrize("language", SAMPLES)
def test_broken_syntax_keeps_what_parses(language):
    first = sorted(f for f in (LANGUAGE_FIXTURES / language).iterdir() if f.is_file())[0]
    source = first.read_bytes()
    broken = source[: len(source) * 2 // 3] + b"\n)))}}} ((( end end\n@@@\n"
    for text in (broken, b"", b"\xff\xfe\x00garbage(((\n"):
        extract = extract_file(first.name, text, language)
        build_graph({first.name: extract})
        assert extract.has_errors == (text != b"")


def test_clauses_bodies_and_comments_shape_the_symbols():
    extracts = {}
    for language in ("haskell", "elixir", "dart", "lua", "ruby"):
        extracts.update(sample_graph(language)[0])

    def symbol(qname):
        path = qname.partition("::")[0]
        return next(s for s in extracts[path].symbols if s.qname == qname)

    # A function written as several clauses is one symbol spanning all of them.
    assert (symbol("Greeter.hs::shout").start_line, symbol("Greeter.hs::shout").end_line) == (16, 17)
    elixir_shout = symbol("greeter.ex::Shop.Format.shout")
    assert (elixir_shout.start_line, elixir_shout.end_line) == (13, 14)
    # Dart writes a method's body after its signature: the symbol spans both, the signature stops at the body.
    greet = symbol("greeter.dart::Greeter.greet")
    assert (greet.start_line, greet.end_line, greet.signature) == (9, 11, "String greet(String name)")
    # A Ruby signature ends with its parameters, before a comment on the same line.
    assert symbol("greeter.rb::Greetings.Greeter.default").signature == "def default"
    # Comments right above a definition are its docstring, past a Haskell type signature line.
    assert symbol("Greeter.hs::greet").docstring == "The greeting for one name."
    assert symbol("greeter.lua::Greeter").docstring == "Greets people by name."
    assert symbol("greeter.dart::Greeter").docstring == "Greets people by name."


def test_other_files_stay_plain_text():
    for path in ("notes.txt", "lib/parser.ml", "src/model.jl", "R/plot.R", "Makefile", "shop/Greeter.cs.orig"):
        assert language_for_path(path) is None
    assert language_for_path("Shop/Greeter.CS") == "csharp"
    assert language_for_path("tasks/release.rake") == "ruby"


def test_a_language_whose_grammar_is_not_installed_is_plain_text(monkeypatch):
    monkeypatch.setitem(languages._GRAMMARS, "zig", ("tree_sitter_zig_never_installed", "language"))
    languages._grammar_installed.cache_clear()
    try:
        assert language_for_path("src/main.zig") is None
        assert language_for_path("src/app.dart") == "dart"
    finally:
        languages._grammar_installed.cache_clear()


@pytest.mark.parametrize("language, path, source, callees", [
    ("csharp", "Setup.cs", b"class Setup { void Run() { cfg.For<IMediator>().Use(x); var m = Make<Ping, Pong>(); } }",
     ["cfg.For().Use", "cfg.For", "Make"]),
    ("scala", "Setup.scala", b'object Setup { def run() = opt[Unit]("verbose").text("more output") }',
     ["opt().text", "opt"]),
    ("kotlin", "Setup.kt", b"fun run() { tasks.withType<JavaCompile>().configureEach { it.x() } }",
     ["tasks.withType().configureEach", "tasks.withType", "it.x"]),
    ("php", "setup.php", b"<?php function run() { $this->app->get('/'); Route::get('/'); }",
     ["this.app.get", "Route.get"]),
])
def test_a_callee_is_a_dotted_name_without_type_arguments(language, path, source, callees):
    assert [c.callee for c in extract_file(path, source, language).calls] == callees


def test_quoted_names_lose_their_backticks():
    extract = extract_file("Reader.kt", b"class `-Reader` { fun `read it`() {} }", "kotlin")
    assert [s.qname for s in extract.symbols] == ["Reader.kt::-Reader", "Reader.kt::-Reader.read it"]


@pytest.mark.parametrize("language, path, source, qname, first_line", [
    ("ruby", "shop.rb", "class Shop\n  # Totals the cart.\n  def total\n    1\n  end\nend\n", "Shop.total", 2),
    ("bash", "shop.sh", "# Greets one name.\ngreet() {\n  echo hi\n}\n", "greet", 1),
    ("elixir", "shop.ex", "defmodule Shop do\n  # Totals the cart.\n  @spec total() :: integer\n  def total, do: 1\nend\n",
     "Shop.total", 2),
    ("lua", "shop.lua", "-- Totals the cart.\nlocal function total()\n  return 1\nend\n", "total", 1),
    ("haskell", "Shop.hs", "module Shop where\n\n-- | The answer.\nanswer = 42\n", "answer", 3),
])
def test_comments_right_above_a_definition_are_in_its_chunk(language, path, source, qname, first_line):
    extract = extract_file(path, source.encode(), language)
    chunk = next(c for c in chunk_file(path, source, extract) if c.symbol == f"{path}::{qname}")
    assert chunk.start_line == first_line
    assert source.splitlines()[first_line - 1].strip() in chunk.text
    # A blank line ends what belongs to the definition: the comment above it stays with the file.
    spaced = source.replace("\n", "\n\n", first_line)
    extract = extract_file(path, spaced.encode(), language)
    chunk = next(c for c in chunk_file(path, spaced, extract) if c.symbol == f"{path}::{qname}")
    assert chunk.start_line > first_line + 1 and source.splitlines()[first_line - 1].strip() not in chunk.text


@pytest.mark.parametrize("extension", ["cs", "rb", "rake", "php", "kt", "kts", "swift", "scala", "lua", "sh", "bash",
                                       "ex", "exs", "hs", "dart", "zig"])
def test_a_file_name_of_these_languages_in_a_query_is_a_path(extension):
    mentions = parse_query(f"the greeting in greeter.{extension} is wrong since lib/shop.{extension} changed").mentions
    assert {(m.text, m.is_path) for m in mentions} >= {(f"greeter.{extension}", True), (f"lib/shop.{extension}", True)}
    assert not any(m.text == f"greeter.{extension}" and not m.is_path for m in mentions)
