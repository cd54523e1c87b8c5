"""A stack trace in each language's own format seeds the frame that raised (issue 15, Tests): a Go panic, a Rust
backtrace, a Java exception and a Node stack, as their runtimes and test runners print them, against the
sample projects in tests/fixtures/languages/ indexed for real. Pasted into a question (`ask`, MCP) they
seed the retriever; read from test output (`assist fix`) they place the failure. Each trace carries what
only its format tells: the function on the line above a Go or Rust location, the package a Java frame's
class is in (two Gson.java files here), a Node file:// URL and `new`/`async` frames."""

from __future__ import annotations


import pytest

from assistant.fix.failures import Frame, parse_failures
from assistant.fix.localize import localize
from fixture_graphs import LANGUAGE_FIXTURES, indexed_copy
from indexer.retrieval.query import parse_query
from indexer.retrieval.traces import trace_frames

GO_PANIC = """\
--- FAIL: TestItem (0.00s)
panic: runtime error: invalid memory address or nil pointer dereference [recovered]
	panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x5a2b16]

goroutine 7 [running]:
testing.tRunner.func1.2({0x5d1c20, 0x7a4b30})
	/usr/local/go/src/testing/testing.go:1632 +0x230
panic({0x5d1c20?, 0x7a4b30?})
	/usr/local/go/src/runtime/panic.go:785 +0x132
github.com/acme/shop/internal/store.(*Store).load(...)
	/home/dev/shop/internal/store/load.go:4
github.com/acme/shop/internal/store.(*Store).Get(0x0, {0x64e2f1, 0x5})
	/home/dev/shop/internal/store/store.go:20 +0x56
github.com/acme/shop/internal/api.(*Server).Item(...)
	/home/dev/shop/internal/api/server.go:24
github.com/acme/shop/internal/api.TestItem(0xc000007340)
	/home/dev/shop/internal/api/server_test.go:9 +0x2f
testing.tRunner(0xc000007340, 0x6a8d48)
	/usr/local/go/src/testing/testing.go:1690 +0xf4
created by testing.(*T).Run in goroutine 1
	/usr/local/go/src/testing/testing.go:1743 +0x390
FAIL	github.com/acme/shop/internal/api	0.005s
"""

RUST_BACKTRACE = """\
running 1 test
test tends_a_seedling ... FAILED

failures:

---- tends_a_seedling stdout ----
thread 'tends_a_seedling' panicked at src/water.rs:28:5:
attempt to add with overflow
stack backtrace:
   0: rust_begin_unwind
             at /rustc/129f3b9964af4d4a709d1383930ade12dfe7c081/library/std/src/panicking.rs:652:5
   1: core::panicking::panic_fmt
             at /rustc/129f3b9964af4d4a709d1383930ade12dfe7c081/library/core/src/panicking.rs:72:14
   2: garden::water::pour
             at ./src/water.rs:28:5
   3: garden::water::<impl garden::plants::Plant>::soak
             at ./src/water.rs:23:9
   4: garden::plants::Plant::grow
             at ./src/plants.rs:27:9
   5: garden::tend
             at ./src/lib.rs:12:5
   6: tending::tends_a_seedling::{{closure}}
             at ./tests/tending.rs:7:5
note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.


failures:
    tends_a_seedling

test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
"""

JAVA_EXCEPTION = """\
[ERROR] com.acme.shop.CheckoutTest.paysAnOrder -- Time elapsed: 0.012 s <<< ERROR!
java.lang.NullPointerException: Cannot invoke "Object.toString()" because "src" is null
	at java.base/java.lang.String.valueOf(String.java:4465)
	at com.google.gson.Gson.toJson(Gson.java:6)
	at com.acme.shop.Checkout.pay(Checkout.java:15)
	at com.acme.shop.CheckoutTest.paysAnOrder(CheckoutTest.java:10)
	at java.base/java.lang.reflect.Method.invoke(Method.java:580)
"""

JAVA_CAUSED_BY = """\
Exception in thread "main" java.lang.IllegalStateException: checkout failed
	at com.acme.shop.Checkout.pay(Checkout.java:14)
	at com.acme.shop.CheckoutTest.paysAnOrder(CheckoutTest.java:10)
Caused by: java.lang.ArithmeticException: / by zero
	at com.acme.shop.model.Order.price(Order.java:15)
	at com.acme.shop.Checkout.pay(Checkout.java:14)
	... 1 more
"""

NODE_STACK = """\
  1) res.location
       sets the Location header:
     TypeError: Cannot read properties of undefined (reading 'set')
      at Object.location (file:///home/dev/express/lib/response.js:9:15)
      at Context.<anonymous> (/home/dev/express/test/response.test.js:5:9)
      at process.processImmediate (node:internal/timers:483:21)
"""

# trace, its innermost frame inside the repository as (path as printed, line, function), the symbol it is in
CASES = {
    "go": (GO_PANIC, ("/home/dev/shop/internal/store/load.go", 4, "load"),
           "go/shop/internal/store/load.go::Store.load"),
    "rust": (RUST_BACKTRACE, ("src/water.rs", 28, "pour"), "rust/garden/src/water.rs::pour"),
    "java": (JAVA_EXCEPTION, ("com/google/gson/Gson.java", 6, "toJson"),
             "mentions/gson/src/main/java/com/google/gson/Gson.java::Gson.toJson"),
    # the root cause, printed last, is where it went wrong: the wrapping exception only passed it on
    "java, caused by": (JAVA_CAUSED_BY, ("com/acme/shop/model/Order.java", 15, "price"),
                        "java/shop/src/main/java/com/acme/shop/model/Order.java::Order.price"),
    "node": (NODE_STACK, ("/home/dev/express/lib/response.js", 9, "location"),
             "javascript/express/lib/response.js::res.location"),
}


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    repo = tmp_path_factory.mktemp("traces") / "repo"
    with indexed_copy(LANGUAGE_FIXTURES, repo) as retriever:
        yield repo, retriever


def test_each_format_is_read_frame_by_frame_innermost_first():
    frames = lambda text: [(f.path, f.line, f.function) for f in trace_frames(text)]  # noqa: E731
    assert frames(GO_PANIC) == [
        ("/usr/local/go/src/testing/testing.go", 1632, "tRunner"),  # testing.tRunner.func1.2: its closures
        ("/usr/local/go/src/runtime/panic.go", 785, None),  # the builtin panic
        ("/home/dev/shop/internal/store/load.go", 4, "load"),  # inlined: no +0x offset
        ("/home/dev/shop/internal/store/store.go", 20, "Get"),
        ("/home/dev/shop/internal/api/server.go", 24, "Item"),
        ("/home/dev/shop/internal/api/server_test.go", 9, "TestItem"),
        ("/usr/local/go/src/testing/testing.go", 1690, "tRunner"),
        ("/usr/local/go/src/testing/testing.go", 1743, "Run"),  # created by testing.(*T).Run in goroutine 1
    ]
    rustc = "/rustc/129f3b9964af4d4a709d1383930ade12dfe7c081/library/"
    assert frames(RUST_BACKTRACE) == [  # `panicked at src/water.rs:28:5` is frame 2 again
        (rustc + "std/src/panicking.rs", 652, "rust_begin_unwind"),
        (rustc + "core/src/panicking.rs", 72, "panic_fmt"),
        ("src/water.rs", 28, "pour"),
        ("src/water.rs", 23, "soak"),  # a method of an impl block in another module than its type
        ("src/plants.rs", 27, "grow"),
        ("src/lib.rs", 12, "tend"),
        ("tests/tending.rs", 7, "tends_a_seedling"),  # a closure is its function's
    ]
    panic_only = RUST_BACKTRACE.partition("stack backtrace:")[0]  # what a run without RUST_BACKTRACE=1 prints
    assert frames(panic_only) == [("src/water.rs", 28, None)]
    assert frames(JAVA_EXCEPTION) == [
        ("java/lang/String.java", 4465, "valueOf"),
        ("com/google/gson/Gson.java", 6, "toJson"),  # the package says which Gson.java
        ("com/acme/shop/Checkout.java", 15, "pay"),
        ("com/acme/shop/CheckoutTest.java", 10, "paysAnOrder"),
        ("java/lang/reflect/Method.java", 580, "invoke"),
    ]
    assert frames(JAVA_CAUSED_BY) == [  # the root cause's frames first
        ("com/acme/shop/model/Order.java", 15, "price"),
        ("com/acme/shop/Checkout.java", 14, "pay"),
        ("com/acme/shop/Checkout.java", 14, "pay"),
        ("com/acme/shop/CheckoutTest.java", 10, "paysAnOrder"),
    ]
    assert frames(NODE_STACK) == [  # node:internal frames are Node's own
        ("/home/dev/express/lib/response.js", 9, "location"),
        ("/home/dev/express/test/response.test.js", 5, None),
    ]


def test_the_other_shapes_of_a_frame():
    frames = lambda text: [(f.path, f.line, f.function) for f in trace_frames(text)]  # noqa: E731
    assert frames("    at new Router (/srv/app/lib/router.js:12:11)\n"
                  "    at async Cart.total [as sum] (file:///srv/app/lib/cart.mjs:40:3)\n"
                  "    at /srv/app/index.js:3:1\n") == [
        ("/srv/app/lib/router.js", 12, "Router"),
        ("/srv/app/lib/cart.mjs", 40, "total"),
        ("/srv/app/index.js", 3, None),
    ]
    assert frames("\tat com.acme.Outer$Inner.<init>(Outer.java:7)\n"
                  "\tat com.acme.Outer.lambda$handle$0(Outer.java:21)\n"
                  "\tat com.acme.Outer.<clinit>(Outer.java:3)\n") == [
        ("com/acme/Outer.java", 7, "Inner"), ("com/acme/Outer.java", 21, "handle"), ("com/acme/Outer.java", 3, None)]
    assert frames("goroutine 1 [running]:\nmain.main.func1()\n\t/app/main.go:9 +0x1d\n"
                  "example.com/x/pkg.Map[...](...)\n\t/app/pkg/map.go:4\n") == [
        ("/app/main.go", 9, "main"), ("/app/pkg/map.go", 4, "Map")]
    assert frames("thread 'main' panicked at 'index out of bounds', src/grid.rs:8:9\n"
                  "   1: grid::Grid::cell::h0123456789abcdef\n             at src/grid.rs:8:9\n"
                  "   2: <grid::Grid as core::ops::Index<usize>>::index\n             at src/grid.rs:20:5\n") == [
        ("src/grid.rs", 8, "cell"), ("src/grid.rs", 20, "index")]
    assert frames("error: expected `;` at src/x.js:3:1 and nothing else") == []


@pytest.mark.parametrize("language", CASES)
def test_a_pasted_trace_seeds_the_frame_that_raised_first(indexed, language):
    trace, innermost, expected = CASES[language]
    _, retriever = indexed
    assert [(f.path, f.line, f.name) for f in parse_query(trace).frames if not f.path.startswith(("/usr/", "/rustc/"))
            and not f.path.startswith("java/")][0] == innermost  # Go's runtime, std, the JDK: no files of ours

    ranking = retriever.rank(trace)

    seeds = sorted(ranking.seeds.items(), key=lambda item: -item[1])
    assert seeds[0][0] == expected
    ranked = next(n for n in ranking.nodes if n.node == expected)
    assert "trace" in ranked.why.signals


def test_the_function_a_frame_names_wins_over_a_line_from_another_build(indexed):
    """A trace from a deployed build of an older commit: line 12 of Checkout.java is in pay() now, but the frame
    says refuse(); the function the runtime printed is the one that ran."""
    _, retriever = indexed
    ranking = retriever.rank("java.lang.IllegalStateException: no receipt\n"
                             "\tat com.acme.shop.Checkout.refuse(Checkout.java:12)\n")
    checkout = "java/shop/src/main/java/com/acme/shop/Checkout.java::Checkout"
    assert max(ranking.seeds, key=ranking.seeds.get) == f"{checkout}.refuse"


def test_only_the_package_of_a_java_frame_is_seeded(indexed):
    _, retriever = indexed
    ranking = retriever.rank(JAVA_EXCEPTION)
    extras = "mentions/extras/src/main/java/com/google/gson/extras/Gson.java::Gson.toJson"
    found = next((n for n in ranking.nodes if n.node == extras), None)
    assert found is None or "trace" not in found.why.signals  # same file name, class and method; another package


@pytest.mark.parametrize("language", CASES)
def test_assist_fix_places_the_failure_in_the_frame_that_raised(indexed, language):
    trace, innermost, expected = CASES[language]
    repo, retriever = indexed

    failures = parse_failures(trace, repo)

    assert len(failures) == 1
    assert Frame(*innermost) in failures[0].frames
    found = localize(retriever, failures, 2000)
    assert found.nodes["raised"][0] == expected
    assert found.suspects[0] == expected


def test_a_crate_relative_path_is_the_file_defining_the_frame_function(indexed):
    """`./src/lib.rs` is garden's or tokio's: the frame names `tend`, which only garden's defines."""
    repo, retriever = indexed
    found = localize(retriever, parse_failures(RUST_BACKTRACE, repo), 2000)
    assert "rust/garden/src/lib.rs::tend" in found.seeds
    assert not any(node.startswith("mentions/tokio/") for node in found.seeds)
