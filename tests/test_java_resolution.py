"""Java names resolved by Java's scoping (issue 15, item 1 for Java): classes through nested classes, the
file, single-type and static imports, the package (main and test source roots alike) and on-demand imports;
methods through this/super and the class hierarchy, outer classes, and `Class.method`; extends/implements as
inheritance. The sample project in tests/fixtures/languages/java/shop/, through the real extractor and graph
builder, asserted edge by edge."""

from __future__ import annotations

from fixture_graphs import LANGUAGE_FIXTURES, edges, graph_of
from indexer.resolve.java import package_of

SHOP = LANGUAGE_FIXTURES / "java" / "shop"
MAIN, TEST = "src/main/java/com/acme/shop/", "src/test/java/com/acme/shop/"
CHECKOUT, ORDER = MAIN + "Checkout.java::", MAIN + "model/Order.java::"
LEDGER, PAYS = MAIN + "Ledger.java::", TEST + "CheckoutTest.java::CheckoutTest.paysAnOrder"


def shop_graph():
    return graph_of(SHOP, "*.java", "java")


def test_calls_resolve_through_imports_the_package_and_the_class_hierarchy():
    graph = shop_graph()
    assert edges(graph, "calls") == {
        (CHECKOUT + "Checkout", LEDGER + "Ledger", "package"),  # new Ledger(): same package, no import
        (CHECKOUT + "Checkout.pay", CHECKOUT + "Checkout.refuse", "self"),  # this.refuse
        (CHECKOUT + "Checkout.pay", MAIN + "util/Money.java::Money.format", "import"),  # import static
        (CHECKOUT + "Checkout.pay", ORDER + "Order.isEmpty", "parameter"),  # order.isEmpty: pay(Order order)
        (CHECKOUT + "Checkout.pay", ORDER + "Order.price", "parameter"),
        (CHECKOUT + "Checkout.pay", LEDGER + "Ledger.record", "field"),  # ledger.record: field `Ledger ledger`
        (CHECKOUT + "Checkout.refuse", ORDER + "Order.empty", "import"),  # a static method of an imported class
        (CHECKOUT + "Checkout.refuse", CHECKOUT + "Checkout.Receipt.of", "local"),  # a nested class
        (CHECKOUT + "Checkout.Receipt.of", CHECKOUT + "Checkout.total", "self"),  # the outer class's method
        (ORDER + "Order.empty", ORDER + "Order", "local"),
        (ORDER + "Order.isEmpty", ORDER + "Order.price", "self"),
        (ORDER + "Order.isEmpty", MAIN + "model/Entity.java::Entity.describe", "self"),  # inherited
        # the test, in src/test/java, sees the main classes of its package without importing them
        (PAYS, CHECKOUT + "Checkout", "package"),
        (PAYS, CHECKOUT + "Checkout.pay", "variable"),  # Checkout checkout = new Checkout()
        (PAYS, LEDGER + "Ledger", "package"),
        (PAYS, LEDGER + "Ledger.record", "result"),  # new Ledger().record
        (PAYS, ORDER + "Order", "import"),  # through import com.acme.shop.model.*
    }
    # A library's class is not ours, whatever its methods are called: String.format is not Money.format.
    assert graph.nodes[MAIN + "util/Money.java::Money.format"]["unresolved_calls"] == ["String.format"]
    assert graph.nodes[CHECKOUT + "Checkout.refuse"]["unresolved_calls"] == ["List.of"]


def test_extends_and_implements_are_inheritance_and_tests_follow_calls():
    graph = shop_graph()
    assert edges(graph, "inherits") == {
        (ORDER + "Order", MAIN + "model/Entity.java::Entity"),
        (ORDER + "Order", MAIN + "model/Priced.java::Priced"),
    }
    assert {target for source, target in edges(graph, "tests") if source == PAYS} == {
        CHECKOUT + "Checkout", CHECKOUT + "Checkout.pay", LEDGER + "Ledger", LEDGER + "Ledger.record", ORDER + "Order",
    }


def test_the_package_of_a_file():
    assert package_of("core/src/main/java/com/acme/Order.java") == ("core/", "com/acme")
    assert package_of("core/src/test/java/com/acme/OrderTest.java") == ("core/", "com/acme")
    assert package_of("src/main/java/Main.java") == ("", "")
    assert package_of("lib/com/acme/Order.java") == ("", "lib/com/acme")


def test_an_on_demand_import_of_a_large_package_links_only_the_classes_the_file_names():
    """Every file of a package of thousands, from each of its hundreds of importers, made millions of import edges;
    past 64 files an import with ``.*`` links the files whose classes the importer calls or extends."""
    from indexer.extract import extract_file
    from indexer.graph import build_graph

    core = "src/main/java/big/core/"
    sources = {f"{core}Part{i}.java": f"package big.core;\npublic class Part{i} {{ public void run() {{ }} }}\n"
               for i in range(70)}
    page = "src/main/java/big/app/Page.java"
    sources[page] = ("package big.app;\nimport big.core.*;\n"
                     "public class Page extends Part7 {\n  void show() { new Part3().run(); }\n}\n")
    graph = build_graph({path: extract_file(path, text.encode(), "java") for path, text in sources.items()})
    assert {t for s, t in edges(graph, "imports") if s == page} == {f"{core}Part3.java", f"{core}Part7.java"}
    assert (f"{page}::Page.show", f"{core}Part3.java::Part3", "import") in edges(graph, "calls")
