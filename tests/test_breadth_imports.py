"""Imports of the twelve tagged languages reach the repository's own files in each language's usual layout
(indexer/resolve/breadth_imports.py), so that a call into an imported file resolves through the import, not
by a name unique in the repository.

Each ``tests/fixtures/languages/<lang>/same_name/`` project defines the called name in two files and imports
only one: the import alone decides which definition the call means. Asserted exactly, through the real
grammars, extractor and graph builder.
"""

from __future__ import annotations

from fixture_graphs import LANGUAGE_FIXTURES, edges
import pytest

from indexer.extract import extract_file
from indexer.graph import build_graph
from indexer.languages import language_for_path
from indexer.model import Import

# language -> (imports edges, calls with their resolution, external imports of the files that have some)
LAYOUTS = {
    "ruby": (  # require through the load path: lib/shop/greeter.rb, not spec/fixtures/shop/greeter.rb
        {("app.rb", "lib/shop/greeter.rb")},
        {("app.rb::App.run", "lib/shop/greeter.rb::Shop.Greeter.greet", "import")},
        {"app.rb": ["json"]},  # the gem, though lib/shop/json.rb ends with json.rb
    ),
    "php": (  # use App\Greetings\Greeter: the class Greeter whose folders spell the namespace
        {("src/App.php", "src/Greetings/Greeter.php")},
        {
            ("src/App.php::App.run", "src/Greetings/Greeter.php::Greeter", "import"),
            ("src/App.php::App.run", "src/Greetings/Greeter.php::Greeter.greet", "import"),
        },
        {},
    ),
    "bash": (  # source ../lib/log.sh from bin/, not vendor/log.sh
        {("bin/deploy.sh", "lib/log.sh")},
        {("bin/deploy.sh::deploy", "lib/log.sh::log_info", "import")},
        {},
    ),
    "dart": (  # package:shop/greeter.dart is the lib/ of the package folder shop, not farm's
        {("packages/shop/bin/main.dart", "packages/shop/lib/greeter.dart")},
        {("packages/shop/bin/main.dart::main", "packages/shop/lib/greeter.dart::greet", "import")},
        {},
    ),
    "zig": (  # @import("greeter.zig") beside main.zig, not tools/greeter.zig
        {("src/main.zig", "src/greeter.zig")},
        {("src/main.zig::main", "src/greeter.zig::greet", "import")},
        {},
    ),
    "lua": (  # require("shop.greeter") is shop/greeter.lua, require("farm") farm/init.lua
        {("app.lua", "shop/greeter.lua"), ("app.lua", "farm/init.lua")},
        {
            ("app.lua", "app.lua::run", "local"),
            ("app.lua::run", "shop/greeter.lua::M.greet", "import"),
            ("app.lua::run", "farm/init.lua::M.plant", "import"),
        },
        {},
    ),
    "haskell": (  # import Shop.Greeter is src/Shop/Greeter.hs, not src/Farm/Greeter.hs
        {("app/Main.hs", "src/Shop/Greeter.hs")},
        {("app/Main.hs::main", "src/Shop/Greeter.hs::greet", "import")},
        {},
    ),
    "kotlin": (  # import shop.greetings.Greeter: the Greeter in shop/greetings/, not shop/farewells/
        {("src/main/kotlin/shop/App.kt", "src/main/kotlin/shop/greetings/Greeter.kt")},
        {
            ("src/main/kotlin/shop/App.kt::App.run", "src/main/kotlin/shop/greetings/Greeter.kt::Greeter", "import"),
            (
                "src/main/kotlin/shop/App.kt::App.run",
                "src/main/kotlin/shop/greetings/Greeter.kt::Greeter.greet",
                "result",  # Greeter().greet: the class made
            ),
        },
        # The platform's function, though shop/text/Case.kt is the one file of ours defining an uppercase.
        {"src/main/kotlin/shop/App.kt": ["kotlin.text.uppercase"]},
    ),
    "scala": (  # import shop.greetings._ is the files of the folder shop/greetings/
        {("src/main/scala/shop/App.scala", "src/main/scala/shop/greetings/Greeter.scala")},
        {
            (
                "src/main/scala/shop/App.scala::App.run",
                "src/main/scala/shop/greetings/Greeter.scala::Greeter",
                "import",
            ),
            (
                "src/main/scala/shop/App.scala::App.run",
                "src/main/scala/shop/greetings/Greeter.scala::Greeter.greet",
                "import",
            ),
        },
        {},
    ),
    "elixir": (  # alias Shop.Greeter: the file with defmodule Shop.Greeter, not Farm.Greeter's
        {("lib/shop/app.ex", "lib/shop/greeter.ex")},
        {("lib/shop/app.ex::Shop.App.run", "lib/shop/greeter.ex::Shop.Greeter.greet", "import")},
        {},
    ),
    "swift": (  # import Greetings is the SwiftPM target Sources/Greetings/, not Sources/Farewells/
        {("Sources/App/App.swift", "Sources/Greetings/Greeter.swift")},
        {
            ("Sources/App/App.swift::App.run", "Sources/Greetings/Greeter.swift::Greeter", "import"),
            ("Sources/App/App.swift::App.run", "Sources/Greetings/Greeter.swift::Greeter.greet", "result"),
        },
        {},
    ),
    # using Shop.Greetings: both files declaring that namespace (one file-scoped), whatever their folders, not
    # Bye/'s Greeter of Shop.Farewells; using static and an alias name one type: of Shop.Timing only Clock's
    # file, not Calendar's; Caps is in a namespace written inside another (Shop { Formatting { ... } }).
    "csharp": (
        {("App.cs", "Hello/Greeter.cs"), ("App.cs", "Hello/Welcome.cs"), ("App.cs", "Formatting/Caps.cs"),
         ("App.cs", "Timing/Clock.cs")},
        {
            ("App.cs::App.Run", "Hello/Greeter.cs::Greeter", "import"),
            ("App.cs::App.Run", "Hello/Greeter.cs::Greeter.Greet", "import"),
            ("App.cs::App.Run", "Formatting/Caps.cs::Caps.Shout", "import"),  # using static: a bare Shout
            ("App.cs::App.Run", "Timing/Clock.cs::Clock.Now", "import"),
        },
        {"App.cs": ["System"]},
    ),
}


def layout_graph(language: str):
    folder = LANGUAGE_FIXTURES / language / "same_name"
    extracts = {}
    for file in sorted(folder.rglob("*")):
        if file.is_file():
            path = file.relative_to(folder).as_posix()
            assert language_for_path(path) == language
            extracts[path] = extract_file(path, file.read_bytes(), language)
    return extracts, build_graph(extracts)


@pytest.mark.parametrize("language", LAYOUTS)
def test_of_two_same_named_definitions_the_imported_one_is_linked(language):
    imported, calls, external = LAYOUTS[language]
    extracts, graph = layout_graph(language)
    assert not any(e.has_errors for e in extracts.values())
    assert edges(graph, "imports") == imported
    assert edges(graph, "calls") == calls
    assert {p: graph.nodes[p]["external_imports"] for p in extracts if graph.nodes[p]["external_imports"]} == external
    # What makes the case: the called name is defined in two files.
    definers: dict[str, set[str]] = {}
    for extract in extracts.values():
        for symbol in extract.symbols:
            definers.setdefault(symbol.name, set()).add(extract.path)
    assert any(len(files) == 2 for files in definers.values())


# Empty, dots only, separators only, schemes without a path, absolute, home and computed paths, paths that
# leave the repository.
ODD_IMPORTS = ["", ".", "..", "\\", "::", "a..b", "package:", "package:shop", "dart:", "/etc/passwd",
               "~/.bashrc", "$DIR/lib.sh", "../../../outside", "App\\"]


@pytest.mark.parametrize("language", LAYOUTS)
def test_odd_imports_name_no_file_and_break_nothing(language):
    extracts, _ = layout_graph(language)
    importer = next(iter(extracts))
    extracts[importer].imports = [Import(module=module, line=1) for module in ODD_IMPORTS]
    graph = build_graph(extracts)
    assert not [target for source, target in edges(graph, "imports") if source == importer]


def csharp_graph(sources: dict[str, str]):
    extracts = {path: extract_file(path, text.encode(), "csharp") for path, text in sources.items()}
    return extracts, build_graph(extracts)


def test_csharp_files_record_the_namespaces_they_declare_nested_ones_joined():
    extracts, _ = csharp_graph({
        "Shop.cs": "namespace Shop.Core { namespace Money { class Price {} } class Cart {} }\n"
                   "namespace Shop.Core { class Order {} }\nnamespace Tools { }\n",
        "Util.cs": "namespace Shop.Util;\nclass Slug {}\n",
    })
    assert extracts["Shop.cs"].namespaces == ["Shop.Core", "Shop.Core.Money", "Tools"]
    assert extracts["Util.cs"].namespaces == ["Shop.Util"]
    # Classes keep the keys they had before namespaces were recorded.
    assert [s.qname for s in extracts["Shop.cs"].symbols] == ["Shop.cs::Price", "Shop.cs::Cart", "Shop.cs::Order"]


def test_csharp_using_inside_a_namespace_may_name_a_namespace_relative_to_it():
    _, graph = csharp_graph({
        # `using Wrappers;` after `namespace Shop;` is Shop.Wrappers; `global::` and type arguments are read
        # through; a namespace of ours without the aliased type names no file.
        "Mediator.cs": "namespace Shop;\nusing Wrappers;\nusing Paths = global::Shop.Routing.Route<int>;\n"
                       "using Gone = Shop.Routing.Missing;\nclass Mediator { void Send() { new Handler(); } }\n",
        "Wrappers/Handler.cs": "namespace Shop.Wrappers { class Handler {} }\n",
        "Routing/Route.cs": "namespace Shop.Routing { class Route<T> {} }\n",
        "Wrappers2/Handler.cs": "namespace Other.Wrappers { class Handler {} }\n",
    })
    assert edges(graph, "imports") == {("Mediator.cs", "Wrappers/Handler.cs"), ("Mediator.cs", "Routing/Route.cs")}
    assert edges(graph, "calls") == {("Mediator.cs::Mediator.Send", "Wrappers/Handler.cs::Handler", "import")}
    assert graph.nodes["Mediator.cs"]["external_imports"] == ["Shop.Routing.Missing"]


def test_a_csharp_method_that_several_imported_classes_define_is_no_guess():
    _, graph = csharp_graph({
        "Mediator.cs": "using Shop.Handlers;\nclass Mediator {\n  void Send(IHandler handler) { handler.Handle(); }\n"
                       "  void Wrap(Wrapper wrapper) { wrapper.Handle(); }\n"
                       "  void Log() { Audit.Handle(); new Wrapper(); }\n}\n",
        "Handlers/Wrapper.cs": "namespace Shop.Handlers { class Wrapper { public void Handle() {} } }\n",
        "Handlers/Audit.cs": "namespace Shop.Handlers { static class Audit { public static void Handle() {} } }\n",
    })
    # handler's Handle could be either class's (its type, IHandler, is none of ours): no edge, where the first
    # imported file's would be a guess; the class named in the call, or the parameter's declared one, decides.
    assert edges(graph, "calls") == {
        ("Mediator.cs::Mediator.Wrap", "Handlers/Wrapper.cs::Wrapper.Handle", "parameter"),
        ("Mediator.cs::Mediator.Log", "Handlers/Audit.cs::Audit.Handle", "import"),
        ("Mediator.cs::Mediator.Log", "Handlers/Wrapper.cs::Wrapper", "import"),
    }


def test_csharp_types_of_the_files_own_namespace_need_no_using():
    _, graph = csharp_graph({
        # Shop.Orders code sees Shop.Orders and Shop types without a using; Pricing's Invoice and Tax are others
        # that share the names, so a unique name cannot say which is meant.
        "Orders/Checkout.cs": "namespace Shop.Orders;\nclass Checkout {\n"
                              "  void Pay(Basket items) {\n"
                              "    new Invoice(); Tax.Add(); Ledger.Write(); items.Add();\n  }\n}\n",
        "Orders/Invoice.cs": "namespace Shop.Orders { class Invoice {} }\n",
        "Orders/Basket.cs": "namespace Shop.Orders { class Basket { public void Add() {} } }\n",
        "Pricing/Basket.cs": "namespace Pricing { class Basket { public void Add() {} } }\n",
        "Shop/Tax.cs": "namespace Shop { static class Tax { public static void Add() {} } }\n",
        "Pricing/Invoice.cs": "namespace Pricing { class Invoice {} }\n",
        "Pricing/Tax.cs": "namespace Pricing { static class Tax { public static void Add() {} } }\n",
        "Books/Ledger.cs": "namespace Books { static class Ledger { public static void Write() {} } }\n",
    })
    assert edges(graph, "calls") == {
        ("Orders/Checkout.cs::Checkout.Pay", "Orders/Invoice.cs::Invoice", "namespace"),
        ("Orders/Checkout.cs::Checkout.Pay", "Shop/Tax.cs::Tax.Add", "namespace"),
        # Not visible without a using, but the only Ledger.Write there is: a unique name, as before.
        ("Orders/Checkout.cs::Checkout.Pay", "Books/Ledger.cs::Ledger.Write", "unique_name"),
        # items.Add: the extract does not know the variable's type, so no namespace decides among the Adds.
    }


def test_a_using_of_a_large_namespace_links_only_the_files_whose_types_the_importer_names():
    """Linking each of a namespace's hundreds of files from every file using it made millions of import edges
    on a large C# solution; past 64 files a using links the files defining what the importer calls or derives
    from."""
    sources = {f"Core/Part{i}.cs": f"namespace Big.Core {{ class Part{i} {{ public void Run() {{}} }} }}\n"
               for i in range(80)}
    sources["App/Page.cs"] = ("using Big.Core;\nnamespace Big.App;\n"
                              "class Page : Part7 {\n  void Show() { new Part3(); Part3.Run(); items.Add(); }\n}\n")
    sources["App/Small.cs"] = "using Big.Small;\nnamespace Big.App;\nclass Small { }\n"
    sources["Small/One.cs"] = "namespace Big.Small { class One {} }\n"
    sources["Small/Two.cs"] = "namespace Big.Small { class Two {} }\n"
    _, graph = csharp_graph(sources)
    assert {(s, t) for s, t in edges(graph, "imports") if s.startswith("App/")} == {
        ("App/Page.cs", "Core/Part3.cs"), ("App/Page.cs", "Core/Part7.cs"),
        # A small namespace is still linked whole: its types may be named only in fields or parameters.
        ("App/Small.cs", "Small/One.cs"), ("App/Small.cs", "Small/Two.cs"),
    }
    assert ("App/Page.cs::Page.Show", "Core/Part3.cs::Part3", "import") in edges(graph, "calls")


def test_an_import_of_a_large_swift_target_links_only_the_files_defining_what_the_importer_calls():
    sources = {f"Sources/Core/Thing{i}.swift": f"public struct Thing{i} {{ public func run() {{ }} }}\n"
               for i in range(70)}
    sources["Sources/Core/Greet.swift"] = "public func greet(_ name: String) -> String { name }\n"
    sources["Sources/App/main.swift"] = "import Core\n\nfunc start() {\n    Thing3().run()\n    greet(\"a\")\n}\n"
    extracts = {path: extract_file(path, text.encode(), "swift") for path, text in sources.items()}
    graph = build_graph(extracts)
    assert {t for s, t in edges(graph, "imports") if s == "Sources/App/main.swift"} == {
        "Sources/Core/Thing3.swift", "Sources/Core/Greet.swift"}
    assert ("Sources/App/main.swift::start", "Sources/Core/Greet.swift::greet", "import") in edges(graph, "calls")
