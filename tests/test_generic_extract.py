"""Extraction and import resolution for JavaScript, TypeScript, TSX, Go, Rust, Java, C and C++.

Each language has a realistic sample under tests/fixtures/languages/<lang>/ parsed with the real grammar.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import tree_sitter

from indexer.extract import extract_file
from indexer.extract.generic import _query
from indexer.resolve.import_paths import resolve_import
from indexer.model import CLASS, FUNCTION, METHOD, FileExtract, Import

FIXTURES = Path(__file__).parent / "fixtures" / "languages"
LANGUAGES = ["javascript", "typescript", "tsx", "go", "rust", "java", "c", "cpp"]


def extract(language: str, fixture: str, path: str) -> FileExtract:
    source = (FIXTURES / language / fixture).read_bytes()
    return extract_file(path, source, language)


def symbols(result: FileExtract) -> dict[str, tuple[str, str | None]]:
    """qname -> (kind, parent)"""
    return {s.qname: (s.kind, s.parent) for s in result.symbols}


def symbol(result: FileExtract, qname: str):
    return next(s for s in result.symbols if s.qname == qname)


def calls(result: FileExtract) -> set[tuple[str, str]]:
    return {(c.caller, c.callee) for c in result.calls}


def bases(result: FileExtract) -> set[tuple[str, str]]:
    return {(i.cls, i.base) for i in result.inherits}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_query_compiles_against_the_installed_grammar(language):
    query = _query(language)
    assert isinstance(query, tree_sitter.Query)
    assert {"definition", "call", "import"} <= {query.capture_name(i) for i in range(query.capture_count)}


def test_javascript():
    r = extract("javascript", "cart.js", "web/cart.js")
    p = "web/cart.js::"
    assert symbols(r) == {
        p + "Cart": (CLASS, None),
        p + "Cart.constructor": (METHOD, p + "Cart"),
        p + "Cart.add": (METHOD, p + "Cart"),
        p + "Cart.total": (METHOD, p + "Cart"),
        p + "Cart.onChange": (METHOD, p + "Cart"),
        p + "receipt": (FUNCTION, None),
        p + "emptyCart": (FUNCTION, None),
    }
    cart = symbol(r, p + "Cart")
    assert (cart.start_line, cart.end_line) == (10, 31)  # from `export class` to the closing brace
    assert cart.signature == "export class Cart extends Store"
    assert cart.docstring == "A shopping cart that tracks items and totals."
    add = symbol(r, p + "Cart.add")
    assert (add.start_line, add.end_line, add.signature) == (17, 21, "add(item, qty = 1)")
    assert add.docstring == "Adds an item and notifies listeners."
    source = (FIXTURES / "javascript" / "cart.js").read_bytes()
    assert source[add.start_byte : add.end_byte].startswith(b"add(item, qty = 1) {")
    assert symbol(r, p + "receipt").docstring == "Builds the receipt shown at checkout."
    assert symbol(r, p + "emptyCart").signature == "const emptyCart = (owner) =>"

    assert [(i.module, i.names, i.alias) for i in r.imports] == [
        ("./format", [("formatPrice", None), ("roundTo", "round")], None),
        ("../store/index.js", [("default", "Store")], None),
        ("./events", [], "events"),
        ("./discount", [("Discount", None)], None),
        ("path", [], "path"),  # require()
    ]
    assert {
        (p + "Cart.add", "this.items.push"),
        (p + "Cart.add", "events.emit"),
        (p + "Cart.total", "round"),
        (p + "Cart.onChange", "events.subscribe"),
        (p + "receipt", "formatPrice"),
        (p + "receipt", "Receipt"),  # new Receipt(...)
        (p + "receipt", "Receipt().render"),
        (p + "emptyCart", "Cart"),
        ("web/cart.js", "require"),
    } <= calls(r)
    assert bases(r) == {(p + "Cart", "Store")}
    assert "path" in r.module_names and "emptyCart" not in r.module_names
    assert not r.has_errors


def test_typescript():
    r = extract("typescript", "service.ts", "src/service.ts")
    p = "src/service.ts::"
    assert symbols(r) == {
        p + "Entity": (CLASS, None),
        p + "Auditable": (CLASS, None),
        p + "UserId": (CLASS, None),
        p + "Status": (CLASS, None),
        p + "Repository": (CLASS, None),
        p + "Repository.find": (METHOD, p + "Repository"),
        p + "UserService": (CLASS, None),
        p + "UserService.constructor": (METHOD, p + "UserService"),
        p + "UserService.save": (METHOD, p + "UserService"),
        p + "UserService.auditTrail": (METHOD, p + "UserService"),
        p + "UserService.query": (METHOD, p + "UserService"),
        p + "isAdmin": (FUNCTION, None),
        p + "createService": (FUNCTION, None),
    }
    service = symbol(r, p + "UserService")
    assert (service.start_line, service.end_line) == (36, 57)  # the decorator line is part of it
    assert service.docstring == "Stores and looks up users."
    assert service.signature.endswith("export class UserService extends Repository<User> implements Auditable, Entity")
    assert symbol(r, p + "Entity").docstring == "Something that can be persisted."
    find = symbol(r, p + "Repository.find")
    assert (find.start_line, find.end_line) == (26, 28)
    assert find.signature == "async find(id: string): Promise<T | undefined>"

    assert [(i.module, i.names) for i in r.imports] == [
        ("@angular/core", [("Injectable", None)]),
        ("./models/user", [("User", None), ("Role", None)]),
        ("../logging", [("Logger", None)]),
        ("./errors", [("*", None)]),
    ]
    assert {
        (p + "Repository.find", "this.query"),
        (p + "UserService", "Injectable"),
        (p + "UserService.save", "this.logger.info"),
        (p + "isAdmin", "user.roles.includes"),
        (p + "createService", "UserService"),
    } <= calls(r)
    assert bases(r) == {
        (p + "Auditable", "Entity"),
        (p + "UserService", "Repository"),
        (p + "UserService", "Auditable"),
        (p + "UserService", "Entity"),
    }


def test_tsx_records_component_use_as_calls():
    r = extract("tsx", "Counter.tsx", "ui/Counter.tsx")
    p = "ui/Counter.tsx::"
    assert symbols(r) == {
        p + "CounterProps": (CLASS, None),
        p + "Counter": (FUNCTION, None),
        p + "CounterPanel": (CLASS, None),
        p + "CounterPanel.render": (METHOD, p + "CounterPanel"),
        p + "clamp": (FUNCTION, None),
    }
    assert symbol(r, p + "Counter").docstring == "A counter with an increment button."
    assert (symbol(r, p + "Counter").start_line, symbol(r, p + "Counter").end_line) == (10, 18)
    assert [(i.module, i.names) for i in r.imports] == [
        ("react", [("default", "React"), ("useState", None)]),
        ("./Button", [("Button", None)]),
    ]
    assert calls(r) == {
        (p + "Counter", "useState"),
        (p + "Counter", "Button"),  # <Button>; lower-case <div> is an HTML tag, not a call
        (p + "Counter", "setCount"),
        (p + "CounterPanel.render", "Counter"),
        (p + "CounterPanel.render", "clamp"),
        (p + "clamp", "Math.max"),
    }
    assert bases(r) == {(p + "CounterPanel", "React.Component")}


def test_go():
    r = extract("go", "server.go", "internal/server/server.go")
    p = "internal/server/server.go::"
    assert symbols(r) == {
        p + "Handler": (CLASS, None),
        p + "Server": (CLASS, None),
        p + "Logger": (CLASS, None),
        p + "NewServer": (FUNCTION, None),
        p + "Server.Handle": (METHOD, p + "Server"),
        p + "Logger.Printf": (METHOD, p + "Logger"),
        p + "Server.ListenAndServe": (METHOD, p + "Server"),
    }
    handle = symbol(r, p + "Server.Handle")
    assert (handle.start_line, handle.end_line) == (38, 41)
    assert handle.signature == "func (s *Server) Handle(path string, h Handler)"
    assert handle.docstring == "Handle registers h for path."
    server = symbol(r, p + "Server")
    assert (server.start_line, server.end_line, server.signature) == (21, 26, "type Server struct")
    assert server.docstring == "Server holds the routes and the backing store."
    assert r.module_docstring == "Package server serves the shop API."

    assert [(i.module, i.alias) for i in r.imports] == [
        ("fmt", None),
        ("net/http", None),
        ("github.com/acme/shop/internal/store", None),
        ("github.com/acme/shop/pkg/logging", "log"),
        ("strings", None),
    ]
    assert calls(r) == {
        (p + "NewServer", "strings.ToUpper"),
        (p + "Server.Handle", "log.Info"),
        (p + "Server.Handle", "fmt.Sprintf"),
        (p + "Logger.Printf", "fmt.Printf"),
        (p + "Server.ListenAndServe", "http.ListenAndServe"),
    }
    # struct and interface embedding
    assert bases(r) == {(p + "Handler", "fmt.Stringer"), (p + "Server", "store.Store"), (p + "Server", "Logger")}


def test_go_method_of_a_type_in_another_file_has_no_parent():
    r = extract_file("pkg/a.go", b"package pkg\n\nfunc (c *Client) Close() error { return nil }\n", "go")
    assert symbols(r) == {"pkg/a.go::Client.Close": (METHOD, None)}


def test_rust():
    r = extract("rust", "shapes.rs", "src/geometry/shapes.rs")
    p = "src/geometry/shapes.rs::"
    assert symbols(r) == {
        p + "Shape": (CLASS, None),
        p + "Shape.name": (METHOD, p + "Shape"),
        p + "Circle": (CLASS, None),
        p + "Kind": (CLASS, None),
        p + "Circle.new": (METHOD, p + "Circle"),  # from `impl Circle`
        p + "Circle.moved": (METHOD, p + "Circle"),
        p + "Circle.area": (METHOD, p + "Circle"),  # from `impl Shape for Circle`
        p + "Kind.fmt": (METHOD, p + "Kind"),
        p + "total_area": (FUNCTION, None),
    }
    new = symbol(r, p + "Circle.new")
    assert (new.start_line, new.end_line) == (34, 36)
    assert new.signature == "pub fn new(r: f64) -> Self"
    assert new.docstring == "Makes a circle of radius `r` at the origin."
    circle = symbol(r, p + "Circle")
    assert circle.docstring == "A circle around a centre point."  # the doc comment above #[derive]
    assert (circle.start_line, circle.end_line) == (22, 25)
    assert r.module_docstring == "Geometric shapes."

    assert [(i.module, i.names) for i in r.imports] == [
        ("std::fmt", [("fmt", None)]),
        ("crate::geometry::point", [("Point", None), ("Vector", "Vec2")]),
        ("super::units::Meters", [("Meters", None)]),
        ("area", []),  # mod area;
        ("render", []),
    ]
    assert {
        (p + "Shape.name", "String::from"),
        (p + "Circle.new", "Point::origin"),
        (p + "Circle.moved", "self.centre.translate"),
        (p + "total_area", "s.area"),
        (p + "total_area", "shapes.iter().map"),
        (p + "total_area", "Meters::from"),
        (p + "total_area", "area::round"),
    } <= calls(r)
    assert bases(r) == {(p + "Shape", "fmt::Debug"), (p + "Circle", "Shape"), (p + "Kind", "fmt::Display")}


def test_java():
    r = extract("java", "OrderService.java", "src/main/java/com/acme/shop/OrderService.java")
    p = "src/main/java/com/acme/shop/OrderService.java::"
    cls = p + "OrderService"
    assert symbols(r) == {
        cls: (CLASS, None),
        cls + ".OrderService": (METHOD, cls),  # constructor
        cls + ".place": (METHOD, cls),
        cls + ".validate": (METHOD, cls),
        cls + ".compareTo": (METHOD, cls),
        cls + ".Priority": (CLASS, cls),
        cls + ".Listener": (CLASS, cls),
        cls + ".Listener.onPlaced": (METHOD, cls + ".Listener"),
        cls + ".Summary": (CLASS, cls),
        cls + ".Summary.Summary": (METHOD, cls + ".Summary"),
    }
    place = symbol(r, cls + ".place")
    assert (place.start_line, place.end_line) == (22, 28)
    assert place.signature == "@Override public String place(Order order)"
    assert place.docstring == "Saves an order and returns its id."
    assert symbol(r, cls).docstring == "Places and lists orders."
    assert (symbol(r, cls).start_line, symbol(r, cls).end_line) == (12, 52)

    assert [(i.module, i.names) for i in r.imports] == [
        ("java.util.ArrayList", [("ArrayList", None)]),
        ("java.util.List", [("List", None)]),
        ("com.acme.shop.model.Order", [("Order", None)]),
        ("com.acme.shop.repo", [("*", None)]),
        ("com.acme.shop.util.Money.format", [("format", None)]),
    ]
    assert {
        (cls, "ArrayList"),  # field initializer: new ArrayList<>()
        (cls + ".OrderService", "super"),
        (cls + ".place", "validate"),
        (cls + ".place", "repo.save"),
        (cls + ".place", "order.getId"),
        (cls + ".validate", "order.lines().isEmpty"),
        (cls + ".validate", "IllegalArgumentException"),
        (cls + ".Summary.Summary", "Objects.requireNonNull"),
    } <= calls(r)
    assert bases(r) == {(cls, "BaseService"), (cls, "Auditable"), (cls, "Comparable")}


def test_java_anonymous_class_methods_belong_to_the_enclosing_method():
    source = b"class A {\n  void start() {\n    run(new Runnable() { public void run() { work(); } });\n  }\n}\n"
    r = extract_file("A.java", source, "java")
    assert set(symbols(r)) == {"A.java::A", "A.java::A.start"}
    assert ("A.java::A.start", "work") in calls(r)


def test_c():
    r = extract("c", "list.c", "lib/list.c")
    p = "lib/list.c::"
    assert symbols(r) == {
        p + "node": (CLASS, None),
        p + "list_t": (CLASS, None),  # typedef struct { ... } list_t;
        p + "node_new": (FUNCTION, None),
        p + "list_push": (FUNCTION, None),
        p + "list_print": (FUNCTION, None),
    }
    push = symbol(r, p + "list_push")
    assert (push.start_line, push.end_line) == (27, 33)
    assert push.signature == "size_t list_push(list_t *list, int value)"
    assert push.docstring == "Pushes value onto the front of the list.\nReturns the new length."
    assert symbol(r, p + "node").docstring == "A node in a singly linked list."
    assert symbol(r, p + "node_new").signature == "static struct node *node_new(int value)"

    assert [i.module for i in r.imports] == ["<stdio.h>", "<stdlib.h>", "list.h", "../util/alloc.h"]
    assert calls(r) == {(p + "node_new", "xmalloc"), (p + "list_push", "node_new"), (p + "list_print", "printf")}
    assert r.inherits == []


def test_cpp():
    r = extract("cpp", "shapes.cpp", "src/shapes.cpp")
    p = "src/shapes.cpp::"
    assert symbols(r) == {
        p + "geo": (CLASS, None),
        p + "geo.Shape": (CLASS, p + "geo"),
        p + "geo.Shape.~Shape": (METHOD, p + "geo.Shape"),
        p + "geo.Shape.describe": (METHOD, p + "geo.Shape"),
        p + "geo.Shape.label": (METHOD, p + "geo.Shape"),
        p + "geo.Circle": (CLASS, p + "geo"),
        p + "geo.Circle.Circle": (METHOD, p + "geo.Circle"),
        p + "geo.Circle.area": (METHOD, p + "geo.Circle"),  # out of line: double Circle::area() const
        p + "geo.clamp": (FUNCTION, p + "geo"),
        p + "total_area": (FUNCTION, None),
    }
    area = symbol(r, p + "geo.Circle.area")
    assert (area.start_line, area.end_line) == (26, 28)
    assert area.signature == "double Circle::area() const"
    assert area.docstring == "Area of a circle."
    assert symbol(r, p + "geo.Shape").docstring == "Base class of all shapes."
    clamp = symbol(r, p + "geo.clamp")
    assert (clamp.start_line, clamp.signature) == (30, "template <typename T> T clamp(T v, T lo, T hi)")

    assert [i.module for i in r.imports] == ["<vector>", "<memory>", "shapes.hpp", "geometry/point.h"]
    assert {
        (p + "geo.Shape.describe", "label"),
        (p + "geo.Shape.describe", "std::to_string"),
        (p + "geo.clamp", "std::max"),
        (p + "total_area", "s->area"),
        (p + "total_area", "std::make_unique"),  # template arguments dropped
        (p + "total_area", "geo::Circle"),  # new geo::Circle(2.0)
        (p + "total_area", "geo::clamp"),
    } <= calls(r)
    assert bases(r) == {(p + "geo.Circle", "Shape"), (p + "geo.Circle", "Named")}


def test_cpp_out_of_line_definitions():
    source = b"namespace ns { class Foo { void bar(); }; }\nvoid ns::Foo::bar() { baz(); }\nvoid ns::helper() {}\nFoo::~Foo() {}\n"
    r = extract_file("x.cpp", source, "cpp")
    assert symbols(r) == {
        "x.cpp::ns": (CLASS, None),
        "x.cpp::ns.Foo": (CLASS, "x.cpp::ns"),
        "x.cpp::ns.Foo.bar": (METHOD, "x.cpp::ns.Foo"),
        "x.cpp::ns.helper": (FUNCTION, "x.cpp::ns"),  # ns is a namespace, not a type
        "x.cpp::Foo.~Foo": (METHOD, None),  # Foo at file level is not defined here
    }
    assert ("x.cpp::ns.Foo.bar", "baz") in calls(r)


def test_js_prototype_and_commonjs_definitions():
    source = b"function Stack() {}\nStack.prototype.push = function (x) { grow(); };\nexports.make = () => new Stack();\n"
    r = extract_file("lib/stack.js", source, "javascript")
    assert symbols(r) == {
        "lib/stack.js::Stack": (FUNCTION, None),
        "lib/stack.js::Stack.push": (METHOD, "lib/stack.js::Stack"),
        "lib/stack.js::make": (FUNCTION, None),
    }
    assert calls(r) == {("lib/stack.js::Stack.push", "grow"), ("lib/stack.js::make", "Stack")}


def test_calls_inside_nested_functions_belong_to_the_innermost():
    source = b"function outer() {\n  first();\n  function inner() { second(); }\n  third();\n}\n"
    r = extract_file("n.js", source, "javascript")
    assert symbols(r)["n.js::outer.inner"] == (FUNCTION, "n.js::outer")
    assert calls(r) == {("n.js::outer", "first"), ("n.js::outer.inner", "second"), ("n.js::outer", "third")}


def test_callee_text_is_one_line_without_arguments_or_comments():
    js = b"function f() {\n  Array\n    .from(items) // copy\n    .filter(Boolean);\n  (await load()).run();\n}\n"
    assert {c.callee for c in extract_file("f.js", js, "javascript").calls} == {
        "Array.from().filter", "Array.from", "(await load()).run", "load",
    }
    rust = b"fn f() { get(url)?.body().read(); Vec::<u8>::new(); }\n"
    assert {c.callee for c in extract_file("f.rs", rust, "rust").calls} == {
        "get()?.body().read", "get()?.body", "get", "Vec::new",
    }


def test_scoped_imports_and_namespaces_in_typescript():
    source = b'import fs = require("fs");\nnamespace Util { export function f() {} }\nfunction load() { return require("./m"); }\n'
    r = extract_file("a.ts", source, "typescript")
    assert symbols(r) == {
        "a.ts::Util": (CLASS, None),
        "a.ts::Util.f": (FUNCTION, "a.ts::Util"),  # a namespace holds functions, not methods
        "a.ts::load": (FUNCTION, None),
    }
    assert [(i.module, i.alias, i.scope) for i in r.imports] == [("fs", "fs", None), ("./m", None, "a.ts::load")]


def test_rust_nested_modules_and_generic_impls():
    source = b"mod inner {\n  pub struct S;\n  impl<T: Clone> Tr<T> for S { fn go(&self) {} }\n}\nimpl<T> Wrapper<T> { fn get(&self) {} }\n"
    r = extract_file("src/lib.rs", source, "rust")
    assert symbols(r) == {
        "src/lib.rs::inner": (CLASS, None),
        "src/lib.rs::inner.S": (CLASS, "src/lib.rs::inner"),
        "src/lib.rs::inner.S.go": (METHOD, "src/lib.rs::inner.S"),
        "src/lib.rs::Wrapper.get": (METHOD, None),  # Wrapper is defined elsewhere
    }
    assert bases(r) == {("src/lib.rs::inner.S", "Tr")}


def test_c_and_cpp_declarator_names():
    c = b"int (*get_handler(int x))(int) { return 0; }\nstatic const char **names(void) { return 0; }\n"
    assert set(symbols(extract_file("h.c", c, "c"))) == {"h.c::get_handler", "h.c::names"}
    cpp = b"Foo::operator bool() const { return true; }\nint& Foo::at(int i) { return v[i]; }\n"
    assert set(symbols(extract_file("f.cpp", cpp, "cpp"))) == {"f.cpp::Foo.operator bool", "f.cpp::Foo.at"}


BROKEN = {
    # (source with a syntax error, definitions that must survive)
    "javascript": (
        b"function good() { return 1; }\nlet = = 3 +;\nclass Fine { m() { good(); } }\n",
        {"f::good", "f::Fine", "f::Fine.m"},
    ),
    "typescript": (
        b"function good(): number { return 1; }\nfunction half(): number {\n  const t: number = xs.reduce((a, b) => a + , 0);\n  return t;\n}\nclass Fine { m(): void { good(); } }\n",
        {"f::good", "f::half", "f::Fine", "f::Fine.m"},
    ),
    "tsx": (
        b"function Good() { return <div/>; }\nconst x = 1 +* 2;\nexport function Fine() { return <Good/>; }\n",
        {"f::Good", "f::Fine"},
    ),
    "go": (
        b"package p\n\nfunc Good() int { return 1 }\n\nfunc Half() int {\n\tx := Good() +\n\treturn x\n}\n\nfunc Fine() { Good() }\n",
        {"f::Good", "f::Half", "f::Fine"},
    ),
    "rust": (
        b"fn good() -> i32 { 1 }\nlet x = 3 +;\nstruct Fine { x: i32 }\nimpl Fine { fn m(&self) { good(); } }\n",
        {"f::good", "f::Fine", "f::Fine.m"},
    ),
    "java": (
        b"class A {\n  void good() { bad(); }\n  int x = 3 +;\n  void fine() { good(); }\n}\n",
        {"f::A", "f::A.good", "f::A.fine"},
    ),
    "c": (b"int good(void) { return 1; }\nint x = 3 +;\nint fine(void) { return good(); }\n", {"f::good", "f::fine"}),
    "cpp": (
        b"int good() { return 1; }\nint x = 3 +;\nclass X { void m() { good(); } };\nint fine() { return good(); }\n",
        {"f::good", "f::X", "f::X.m", "f::fine"},
    ),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_syntax_errors_keep_the_definitions_that_parse(language):
    source, expected = BROKEN[language]
    r = extract_file("f", source, language)
    assert r.has_errors
    assert expected <= set(symbols(r))
    assert any(c.callee in ("good", "Good") and c.caller != "f" for c in r.calls)


def test_a_trailing_comment_on_the_previous_line_is_not_a_docstring():
    r = extract_file("a.go", b"package a\n\nvar x = 1 // the answer\nfunc F() {}\n", "go")
    assert r.symbols[0].docstring is None
    r = extract_file("a.go", b"package a\n\n// F does things.\n\nfunc F() {}\n", "go")
    assert r.symbols[0].docstring is None  # a blank line separates it


# ------------------------------------------------------------------------------------------- resolve_import


def test_resolve_javascript_and_typescript():
    files = {"web/app.ts", "web/util.ts", "web/lib/index.tsx", "web/legacy.js", "web/styles.css", "shared/api.ts"}
    def r(module: str, importer: str = "web/app.ts", language: str = "typescript"):
        return resolve_import(language, importer, Import(module=module, line=1), files)
    assert r("./util") == ["web/util.ts"]
    assert r("./util.js") == ["web/util.ts"]  # ESM-style import of a TypeScript source
    assert r("./lib") == ["web/lib/index.tsx"]
    assert r("../shared/api") == ["shared/api.ts"]
    assert r("./legacy", language="javascript") == ["web/legacy.js"]
    assert r("./styles.css") == ["web/styles.css"]
    assert r("react") == []
    assert r("./missing") == []
    assert r("../../outside") == []


def test_resolve_go_package_by_directory_suffix():
    files = {
        "internal/store/store.go", "internal/store/cache.go", "internal/store/store_test.go",
        "internal/store/testdata/x.go", "cmd/shop/main.go", "pkg/logging/log.go",
    }
    def r(module: str):
        return resolve_import("go", "cmd/shop/main.go", Import(module=module, line=1), files)
    assert r("github.com/acme/shop/internal/store") == ["internal/store/cache.go", "internal/store/store.go"]
    assert r("github.com/acme/shop/pkg/logging") == ["pkg/logging/log.go"]
    assert r("net/http") == []
    assert r("log") == []  # the standard library, although pkg/logging exists
    assert r("github.com/other/thing") == []


def test_resolve_rust_paths():
    files = {
        "src/lib.rs", "src/geometry/mod.rs", "src/geometry/point.rs", "src/geometry/shapes.rs",
        "src/geometry/shapes/area.rs", "src/units.rs",
    }
    def r(module: str, names: list, importer: str = "src/geometry/shapes.rs"):
        return resolve_import("rust", importer, Import(module=module, line=1, names=names), files)
    assert r("crate::geometry::point", [("Point", None), ("Vector", "Vec2")]) == ["src/geometry/point.rs"]
    assert r("crate::geometry::point::Point", [("Point", None)]) == ["src/geometry/point.rs"]
    assert r("crate::units", [("units", None)]) == ["src/units.rs"]
    assert r("crate::geometry", [("point", None), ("Shape", None)]) == ["src/geometry/point.rs", "src/geometry/mod.rs"]
    assert r("super::point::Point", [("Point", None)]) == ["src/geometry/point.rs"]
    assert r("area", []) == ["src/geometry/shapes/area.rs"]  # mod area; inside shapes.rs
    assert r("point", [], importer="src/geometry/mod.rs") == ["src/geometry/point.rs"]
    assert r("area::round", [("round", None)]) == ["src/geometry/shapes/area.rs"]
    assert r("std::fmt", [("fmt", None)]) == []
    assert r("serde::Serialize", [("Serialize", None)]) == []


def test_resolve_java_classes_and_packages():
    files = {
        "src/main/java/com/acme/shop/model/Order.java", "src/main/java/com/acme/shop/repo/OrderRepository.java",
        "src/main/java/com/acme/shop/repo/Base.java", "src/main/java/com/acme/shop/util/Money.java",
    }
    importer = "src/main/java/com/acme/shop/OrderService.java"
    def r(module: str, names: list):
        return resolve_import("java", importer, Import(module=module, line=1, names=names), files)
    assert r("com.acme.shop.model.Order", [("Order", None)]) == ["src/main/java/com/acme/shop/model/Order.java"]
    assert r("com.acme.shop.repo", [("*", None)]) == [
        "src/main/java/com/acme/shop/repo/Base.java", "src/main/java/com/acme/shop/repo/OrderRepository.java",
    ]
    assert r("com.acme.shop.util.Money.format", [("format", None)]) == ["src/main/java/com/acme/shop/util/Money.java"]
    assert r("java.util.List", [("List", None)]) == []


def test_resolve_c_includes():
    files = {"lib/list.c", "lib/list.h", "util/alloc.h", "include/geometry/point.h", "a/config.h", "lib/sub/config.h"}
    def r(module: str, importer: str = "lib/list.c", language: str = "c"):
        return resolve_import(language, importer, Import(module=module, line=1), files)
    assert r("list.h") == ["lib/list.h"]
    assert r("../util/alloc.h") == ["util/alloc.h"]
    assert r("geometry/point.h", language="cpp") == ["include/geometry/point.h"]  # found by suffix
    assert r("config.h") == ["lib/sub/config.h"]  # of two candidates, the one nearer the importer
    assert r("<stdio.h>") == []
    assert r("missing.h") == []


def test_resolve_unknown_language_gives_nothing():
    assert resolve_import("cobol", "a.cob", Import(module="x", line=1), {"x"}) == []
