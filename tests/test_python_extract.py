"""Python extraction with the real tree-sitter-python grammar, on the sample repository and on snippets."""

from __future__ import annotations

from pathlib import Path

from indexer.extract import extract_file
from indexer.model import CLASS, FUNCTION, METHOD, Import, Inheritance

PYREPO = Path(__file__).parent / "fixtures" / "pyrepo"


def extract_fixture(rel: str):
    return extract_file(rel, (PYREPO / rel).read_bytes(), "python")


def extract_source(source: str, path: str = "pkg/mod.py"):
    return extract_file(path, source.encode(), "python")


def test_definitions_get_qualified_names_kinds_and_parents():
    extract = extract_fixture("shop/pricing.py")
    found = {(s.qname, s.kind, s.parent) for s in extract.symbols}
    assert found == {
        ("shop/pricing.py::Discount", CLASS, None),
        ("shop/pricing.py::Discount.__init__", METHOD, "shop/pricing.py::Discount"),
        ("shop/pricing.py::Discount.apply", METHOD, "shop/pricing.py::Discount"),
        ("shop/pricing.py::subtotal", FUNCTION, None),
        ("shop/pricing.py::total", FUNCTION, None),
        ("shop/pricing.py::receipt", FUNCTION, None),
        ("shop/pricing.py::sample_cart", FUNCTION, None),
        ("shop/pricing.py::fetch_prices", FUNCTION, None),
        ("shop/pricing.py::fetch_prices.price_of", FUNCTION, "shop/pricing.py::fetch_prices"),
    }


def test_signatures_docstrings_and_spans():
    extract = extract_fixture("shop/pricing.py")
    symbols = {s.name: s for s in extract.symbols}
    # A multi-line header becomes one line.
    assert symbols["total"].signature == "def total(cart, discount=None):"
    assert symbols["total"].docstring == "Total price of a cart with tax,\nafter an optional discount."
    assert (symbols["total"].start_line, symbols["total"].end_line) == (23, 32)
    assert symbols["subtotal"].signature == "def subtotal(cart: Cart) -> float:"
    assert symbols["subtotal"].docstring is None
    assert symbols["fetch_prices"].signature == "async def fetch_prices(ids):"
    assert symbols["Discount"].signature == "class Discount(models.Entity):"
    assert extract.module_docstring == "Prices, discounts and totals."
    assert extract.module_names == ["TAX_RATE"]
    source = (PYREPO / "shop/pricing.py").read_bytes()
    apply = symbols["apply"]
    assert source[apply.start_byte : apply.end_byte].decode().startswith("def apply(self, amount):")


def test_decorated_definitions_span_their_decorators():
    helpers = {s.name: s for s in extract_fixture("shop/util/helpers.py").symbols}
    cached = helpers["cached_fmt"]
    assert (cached.start_line, cached.end_line) == (10, 12)
    assert cached.signature == "def cached_fmt(value):"
    source = (PYREPO / "shop/util/helpers.py").read_bytes()
    assert source[cached.start_byte : cached.end_byte].decode().startswith("@functools.lru_cache")

    item = next(s for s in extract_fixture("shop/models.py").symbols if s.name == "Item")
    assert (item.kind, item.start_line, item.end_line) == (CLASS, 18, 25)


def test_calls_name_their_callee_without_arguments_and_their_innermost_caller():
    extract = extract_fixture("shop/pricing.py")
    calls = [(c.caller, c.callee, c.line) for c in extract.calls]
    assert calls == [
        ("shop/pricing.py::Discount.__init__", "super().__init__", 12),
        ("shop/pricing.py::Discount.__init__", "super", 12),
        ("shop/pricing.py::subtotal", "sum", 20),
        ("shop/pricing.py::total", "subtotal", 29),
        ("shop/pricing.py::total", "discount.apply", 31),
        ("shop/pricing.py::total", "round", 32),
        ("shop/pricing.py::receipt", "h.fmt", 36),
        ("shop/pricing.py::receipt", '"\\n".join', 37),
        ("shop/pricing.py::receipt", "h.fmt", 37),
        ("shop/pricing.py::receipt", "total", 37),
        ("shop/pricing.py::sample_cart", "Cart", 41),
        ("shop/pricing.py::sample_cart", "cart.put", 42),
        ("shop/pricing.py::sample_cart", "Product", 42),
        ("shop/pricing.py::fetch_prices.price_of", "float", 48),
        ("shop/pricing.py::fetch_prices", "price_of", 50),
    ]


def test_module_level_calls_belong_to_the_file():
    extract = extract_fixture("shop/report.py")
    assert [(c.caller, c.callee) for c in extract.calls] == [
        ("shop/report.py::summary", "fmt"),
        ("shop/report.py::summary", "cart.count"),
        ("shop/report.py", "summary"),
        ("shop/report.py", "Cart"),
    ]


def test_imports_as_written():
    extract = extract_fixture("shop/pricing.py")
    assert extract.imports == [
        Import(module="shop.util.helpers", line=3, alias="h"),
        Import(module="", line=4, names=[("models", None)], level=1),
        Import(module="models", line=5, names=[("Cart", None), ("Item", "Product")], level=1),
    ]
    test_file = extract_fixture("tests/test_pricing.py")
    scoped = [i for i in test_file.imports if i.scope is not None]
    assert scoped == [
        Import(
            module="shop.models",
            line=17,
            names=[("Cart", None)],
            scope="tests/test_pricing.py::TestCart.test_count",
        )
    ]


def test_every_import_form():
    extract = extract_source(
        "import a.b as c, d\n"
        "from ..p.q import r as s, t\n"
        "from m import *\n"
        "from .z import (u,\n    v as w)\n"
        "def f():\n"
        "    import os.path\n"
    )
    assert extract.imports == [
        Import(module="a.b", line=1, alias="c"),
        Import(module="d", line=1),
        Import(module="p.q", line=2, names=[("r", "s"), ("t", None)], level=2),
        Import(module="m", line=3, names=[("*", None)]),
        Import(module="z", line=4, names=[("u", None), ("v", "w")], level=1),
        Import(module="os.path", line=7, scope="pkg/mod.py::f"),
    ]


def test_inheritance_keeps_bases_and_drops_keywords():
    extract = extract_source("class C(Base, mod.B, Generic[T], metaclass=Meta):\n    pass\n")
    assert extract.inherits == [
        Inheritance(cls="pkg/mod.py::C", base="Base", line=1),
        Inheritance(cls="pkg/mod.py::C", base="mod.B", line=1),
        Inheritance(cls="pkg/mod.py::C", base="Generic", line=1),
    ]
    models = extract_fixture("shop/models.py")
    assert [(i.cls, i.base) for i in models.inherits] == [
        ("shop/models.py::Item", "Entity"),
        ("shop/models.py::Cart", "Entity"),
    ]


def test_chained_and_unusual_callees():
    extract = extract_source(
        "def f(x):\n"
        "    obj.a.b(2)(3)\n"
        "    handlers[x]()\n"
        "    (g or h)()\n"
        "    make(\n        1\n    ).run()\n"
    )
    assert [c.callee for c in extract.calls] == [
        "obj.a.b()", "obj.a.b", "handlers[]", "g or h", "make().run", "make",
    ]


def test_module_names_cover_every_top_level_binding_form():
    extract = extract_source(
        "A, (B, C) = 1, (2, 3)\n"
        "D = E = 4\n"
        "F: int = 5\n"
        "G += 1\n"
        "try:\n    H = 1\nexcept ImportError:\n    H = None\n"
        "if True:\n    I = 2\n"
        "obj.attr = 3\n"
        "def f():\n    local = 1\n"
        "class K:\n    inside = 1\n"
    )
    assert extract.module_names == ["A", "B", "C", "D", "E", "F", "G", "H", "I"]


def test_a_syntax_error_keeps_the_good_definitions():
    extract = extract_fixture("shop/broken.py")
    assert extract.has_errors
    names = [s.name for s in extract.symbols]
    assert "before" in names and "after" in names
    assert extract.module_docstring == "A module with a syntax error in the middle."
    assert [(c.caller, c.callee) for c in extract.calls] == [("shop/broken.py::after", "before")]


def test_half_written_with_and_for_statements_keep_the_rest_of_the_file():
    # What an editor holds mid-keystroke: a `with` or `for` whose target or value is missing or unclosed.
    extract = extract_source(
        "def typing_with():\n    with Cart() as\n        pass\n"
        "def typing_target():\n    with as w:\n        w.ring()\n"
        "def typing_tuple():\n    with Cart() as (a,\n"
        "def typing_for():\n    for in carts:\n        pass\n"
        "def whole():\n    with Cart() as w:\n        w.ring()\n"
    )
    assert extract.has_errors
    assert "whole" in [s.name for s in extract.symbols]
    whole = next(s for s in extract.symbols if s.name == "whole")
    assert whole.local_types == {"w": "Cart()"}


def test_empty_and_comment_only_files():
    for source in ("", "# just a comment\n# and another\n", "\n\n\n"):
        extract = extract_source(source)
        assert extract.symbols == [] and extract.calls == [] and extract.imports == []
        assert extract.module_docstring is None
        assert not extract.has_errors


def test_docstring_after_a_comment_and_nested_classes():
    extract = extract_source(
        "# header comment\n"
        "'''Module doc.'''\n"
        "class Outer:\n"
        "    class Inner:\n"
        "        def m(self):\n"
        "            r'''Raw doc with \\n kept.'''\n"
    )
    assert extract.module_docstring == "Module doc."
    symbols = {s.qname: s for s in extract.symbols}
    assert symbols["pkg/mod.py::Outer.Inner"].kind == CLASS
    assert symbols["pkg/mod.py::Outer.Inner.m"].kind == METHOD
    assert symbols["pkg/mod.py::Outer.Inner.m"].docstring == "Raw doc with \\n kept."


def test_a_large_file_is_extracted_completely():
    # 2,000 functions each calling the previous one: every definition and call is found, in order.
    source = "".join(f"def f{i}():\n    return f{i - 1}()\n\n" for i in range(1, 2001))
    extract = extract_source(source)
    assert len(extract.symbols) == 2000
    assert extract.calls[-1].caller == "pkg/mod.py::f2000"
    assert extract.calls[-1].callee == "f1999"
