"""JavaScript names resolved through what their imports bind and what `this` is (issue 15, item 1 for
JS/TS): aliased, default and namespace/require imports, `this` in classes, in object literals and in
functions assigned to an object (`res.location = function`), `extends` as inheritance, and a test file's
calls as tests. The sample in tests/fixtures/languages/javascript/express/, through the real extractor and
graph builder, asserted edge by edge."""

from __future__ import annotations

from fixture_graphs import LANGUAGE_FIXTURES, edges, graph_of

EXPRESS = LANGUAGE_FIXTURES / "javascript" / "express"
APP, RES, UTILS = "lib/application.js::", "lib/response.js::", "lib/utils.js::"


def express_graph():
    return graph_of(EXPRESS, "*.js", "javascript")


def test_object_literal_and_assigned_methods_are_symbols():
    graph = express_graph()
    methods = {n for n, a in graph.nodes(data=True) if a.get("kind") == "method" and n.startswith("lib/")}
    assert methods == {
        APP + "Application.handle", APP + "Application.render", "lib/router.js::Router.route",
        RES + "res.location", RES + "res.set",  # res.location = function location(url) {...}
        UTILS + "helpers.escape", UTILS + "helpers.trim",  # const helpers = { escape() {}, trim: function () {} }
    }
    # An object without functions is data, not a definition.
    assert not any(n.endswith("::res") for n in graph.nodes)


def test_calls_resolve_through_import_bindings_and_this():
    graph = express_graph()
    assert edges(graph, "calls") == {
        (APP + "Application.handle", UTILS + "encode", "import"),  # import { encode as encodeUrl }
        (APP + "Application.handle", APP + "Application.render", "self"),
        (APP + "Application.handle", "lib/router.js::Router.route", "self"),  # inherited from the default import
        (RES + "res.location", RES + "res.set", "self"),  # `this` of a function assigned to res
        (RES + "res.location", UTILS + "encode", "import"),
        (UTILS + "encode", UTILS + "helpers.escape", "local"),
        (UTILS + "helpers.escape", UTILS + "helpers.trim", "self"),  # `this` in an object literal
        ("test/response.test.js", RES + "res.location", "import"),  # const res = require('../lib/response')
    }
    assert edges(graph, "inherits") == {(APP + "Application", "lib/router.js::Router")}
    assert edges(graph, "tests") == {
        ("test/response.test.js", "lib/response.js"), ("test/response.test.js", RES + "res.location"),
    }


def test_typescript_implements_and_namespace_imports():
    folder = LANGUAGE_FIXTURES / "typescript" / "headers"
    graph = graph_of(folder, "*.ts", "typescript")
    headers = "AxiosHeaders.ts::AxiosHeaders"
    assert edges(graph, "inherits") == {
        (headers, "types.ts::Writable"),  # implements, through `import type`
        ("types.ts::Writable", "types.ts::HeaderSource"),  # an interface extending another
    }
    assert edges(graph, "calls") == {
        (headers + ".get", "utils.ts::normalize", "import"),  # utils.normalize through `import * as utils`
        (headers + ".set", "utils.ts::normalize", "import"),
        (headers + ".from", headers, "local"),  # new AxiosHeaders()
        (headers + ".from", headers + ".set", "variable"),  # headers.set: `const headers = new AxiosHeaders()`
    }
