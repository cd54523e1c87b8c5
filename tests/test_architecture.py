"""The dependency rules of the tree, checked on the source (``ast``, nothing imported):

1. no import cycles among the modules of ``assistant`` and ``indexer``;
2. no front end (``assistant/tui``, ``acp``, ``mcp``, ``commands``) imports another — what two of them share
   lives below them (``assistant/cli.py`` wires them all together and may import each);
3. ``indexer/`` imports nothing from ``assistant/``;
4. nothing outside ``indexer/retrieval/`` reaches past the retriever's facade (the names ``indexer.retrieval``
   exports): no import of its modules or of an unexported name, no ``.reader``, ``.graph`` or private member of a
   retriever, and in ``assistant/`` no code graph at all (networkx, ``indexer.graph``, a graph's node dicts).

Every import counts, wherever it is written: at module level, inside a function (a lazy import still runs)
and under ``TYPE_CHECKING`` (the type names a module it depends on).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("assistant", "indexer")
FRONT_ENDS = ("assistant.tui", "assistant.acp", "assistant.mcp", "assistant.commands")
# The CLI's commands start the other front ends, as cli.py does: `assist chat` the TUI, `assist mcp` and
# `assist acp` their servers. Only these entry points; nothing the front ends share may live in them.
LAUNCHES = {
    ("assistant.commands.chat", "assistant.tui.app"),
    ("assistant.commands.editor", "assistant.acp.agent"),
    ("assistant.commands.editor", "assistant.mcp.server"),
}

# Cycles known and not yet broken, each as its sorted member list -> why it is left.
KNOWN_CYCLES: dict[tuple[str, ...], str] = {}


def module_files() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imported_names(module: str, path: Path, modules=frozenset()) -> set[str]:
    """Every module name an import in ``path`` reaches, relative imports resolved; ``from X import Y`` is
    the module ``X.Y`` when that is one of ``modules``, else ``X``."""
    is_package = path.name == "__init__.py"
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            for alias in node.names:
                names.add(f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in modules else prefix)
    return names


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    graph = {}
    for module, path in files.items():
        targets = set()
        for name in imported_names(module, path, files):
            # The module itself when it is one of ours; else the nearest enclosing module that is.
            while name and name not in files:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        graph[module] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each with one cycle through
    it spelled out as a path, so a failure says which imports to look at."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def one_cycle(graph: dict[str, set[str]], members: list[str]) -> list[str]:
    """A shortest import path from the first member back to itself, inside the component."""
    inside = set(members)
    start = members[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(graph[node] & inside):
            if target == start:
                return paths[node] + [start]
            if target not in paths:
                paths[target] = paths[node] + [target]
                queue.append(target)
    return members


def front_end(module: str) -> str | None:
    return next((f for f in FRONT_ENDS if module == f or module.startswith(f + ".")), None)


# ------------------------------------------------------------------------------------ the detector itself

def test_the_detector_finds_a_cycle_and_resolves_relative_imports(tmp_path):
    graph = {"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "a.w": {"a.x"}}
    assert cycles(graph) == [["a.x", "a.y", "a.z"]]
    assert one_cycle(graph, ["a.x", "a.y", "a.z"]) == ["a.x", "a.y", "a.z", "a.x"]
    source = tmp_path / "mod.py"
    source.write_text("from . import sibling\nfrom ..other import thing\nimport json\n"
                      "def f():\n    from .lazy import g\n")
    names = imported_names("assistant.tui.mod", source, {"assistant.tui.sibling", "assistant.tui.lazy"})
    assert names == {"assistant.tui.sibling", "assistant.other", "assistant.tui.lazy", "json"}
    package = tmp_path / "__init__.py"
    package.write_text("from .session import ChatSession\n")
    assert imported_names("assistant.chat", package) == {"assistant.chat.session"}


# ------------------------------------------------------------------------------------ the rules

def test_there_are_no_import_cycles():
    graph = import_graph()
    assert len(graph) > 50, "the modules were not found"
    found = [members for members in cycles(graph) if tuple(members) not in KNOWN_CYCLES]
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(one_cycle(graph, members)) for members in found)


def test_the_known_cycles_are_still_there():
    """A known cycle that was broken is taken off the list, so the list never hides a new one."""
    present = {tuple(members) for members in cycles(import_graph())}
    assert not set(KNOWN_CYCLES) - present


@pytest.mark.parametrize("package", FRONT_ENDS)
def test_no_front_end_imports_another(package):
    graph = import_graph()
    crossings = sorted(f"{module} imports {target}" for module, targets in graph.items()
                       if front_end(module) == package
                       for target in targets
                       if front_end(target) not in (None, package) and (module, target) not in LAUNCHES)
    assert not crossings, "\n".join(crossings)


def test_the_indexer_imports_nothing_from_the_assistant():
    graph = import_graph()
    reaching = sorted(f"{module} imports {target}" for module, targets in graph.items()
                      if module.split(".")[0] == "indexer" for target in targets if target.split(".")[0] == "assistant")
    assert not reaching, "\n".join(reaching)


def test_what_the_fix_views_need_of_their_front_end_it_has(tmp_path):
    """The cycles were broken with a protocol each view receives instead of importing the app or the agent:
    the real app and agent must still offer every member of it."""
    import typing

    from assistant.acp.agent import AgentOptions, AssistAgent
    from assistant.acp.turns import Updates
    from assistant.tui.app import ChatApp
    from assistant.tui.commands import CommandHost
    from assistant.tui.fix import FixHost

    app = ChatApp(tmp_path)
    for host, user in ((FixHost, "tui/fix.py"), (CommandHost, "tui/commands.py")):
        for name in sorted(set(typing.get_type_hints(host)) | {n for n in vars(host) if not n.startswith("_")}):
            assert name in dir(app), f"ChatApp lacks {name}, which {user} uses"  # dir: no property is run
    agent = AssistAgent(AgentOptions())
    assert all(name in dir(agent) for name in vars(Updates) if not name.startswith("_"))


# ------------------------------------------------------------------------------------ the retrieval facade

RETRIEVAL = "indexer.retrieval"
RETRIEVER_INTERNALS = {"reader", "graph"}  # besides any _private member
GRAPH_MEMBERS = {"nodes", "edges", "in_edges", "out_edges", "adj", "pred", "succ", "number_of_nodes"}


def retrieval_exports() -> set[str]:
    """``indexer.retrieval.__all__``, read from the source."""
    tree = ast.parse((ROOT / "indexer" / "retrieval" / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return set(ast.literal_eval(node.value))
    raise AssertionError("indexer/retrieval/__init__.py has no __all__")


def _names(expr: ast.expr, word: str) -> bool:
    """Whether an expression is, by its name, a ``word``: ``retriever``, ``self._retriever``, ``self.retriever()``,
    ``session.chat.retriever`` (the last name decides; ``retriever.graph.nodes`` names a graph, not a retriever)."""
    while isinstance(expr, ast.Call):
        expr = expr.func
    name = expr.id if isinstance(expr, ast.Name) else expr.attr if isinstance(expr, ast.Attribute) else ""
    return word in name.lower()


def facade_violations(module: str, path: Path, exports: set[str]) -> list[str]:
    """``path:line: what`` for each place ``module`` (outside indexer/retrieval) reaches past the facade."""
    relative = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    in_assistant = module.split(".")[0] == "assistant"
    base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: list[str] = []

    def say(node: ast.AST, what: str) -> None:
        found.append(f"{relative}:{node.lineno}: {what}")

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(RETRIEVAL + "."):
                    say(node, f"imports {alias.name}, a module inside the retriever")
                if in_assistant and (alias.name.split(".")[0] == "networkx" or alias.name == "indexer.graph"):
                    say(node, f"imports {alias.name}: the assistant reads the code graph through the retriever")
        elif isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:
                source = ".".join(base[: len(base) - (node.level - 1)] + ([source] if source else []))
            imported = {source} | {f"{source}.{alias.name}" for alias in node.names}
            if source.startswith(RETRIEVAL + "."):
                say(node, f"imports from {source}, a module inside the retriever")
            elif source == RETRIEVAL:
                hidden = sorted(alias.name for alias in node.names if alias.name not in exports)
                if hidden:
                    say(node, f"imports {', '.join(hidden)} from {RETRIEVAL}, which does not export it")
            if in_assistant and ({"networkx", "indexer.graph"} & imported or source.startswith("networkx.")):
                say(node, f"imports from {source}: the assistant reads the code graph through the retriever")
        elif isinstance(node, ast.Attribute):
            if _names(node.value, "retriever") and (node.attr in RETRIEVER_INTERNALS or node.attr.startswith("_")):
                say(node, f"reads {ast.unparse(node)}, inside the retriever")
            elif in_assistant and node.attr in GRAPH_MEMBERS and _names(node.value, "graph"):
                say(node, f"reads {ast.unparse(node)}: the code graph's node and edge dicts")
    return sorted(found, key=lambda text: int(text.split(":")[1]))


def test_the_facade_detector_names_each_reach_past_it(tmp_path):
    source = tmp_path / "mod.py"
    source.write_text(
        "from indexer.retrieval import Retriever, navigate\n"  # 1: navigate is a module, not an export
        "from indexer.retrieval.rank import Ranking\n"  # 2
        "from ..retrieval import reader\n"  # 3: relative, from assistant.chat.mod -> assistant.retrieval: fine
        "import networkx as nx\n"  # 4
        "def f(retriever, self, graph, ranking, dirs):\n"
        "    retriever.reader.refresh()\n"  # 6
        "    self._retriever.graph\n"  # 7
        "    self.retriever()._lock\n"  # 8
        "    graph.nodes[retriever.resolve('x')].get('kind')\n"  # 9
        "    self.graph.out_edges('x')\n"  # 10
        "    ranking.nodes[0], dirs.graph, self.reader, retriever.node('x').kind\n"  # 11: not the retriever's
    )
    found = facade_violations("assistant.chat.mod", source, {"Retriever"})
    assert [line.split(":")[1] for line in found] == ["1", "2", "4", "6", "7", "8", "9", "10"], found
    assert "navigate" in found[0] and "retrieval.rank" in found[1]
    inside_indexer = facade_violations("indexer.mod", source, {"Retriever"})
    # The indexer builds the graph: networkx and graph dicts are its own; the retriever's internals are not.
    assert [line.split(":")[1] for line in inside_indexer] == ["1", "2", "6", "7", "8"], inside_indexer
    relative = tmp_path / "rel.py"
    relative.write_text("from .retrieval.pack import Packer\nfrom .retrieval import Retriever\n")
    assert [line.split(":")[1] for line in facade_violations("indexer.rel", relative, {"Retriever"})] == ["1"]


def test_nothing_outside_the_retriever_reaches_past_its_facade():
    exports = retrieval_exports()
    assert {"Retriever", "NodeInfo", "Why", "Neighbour"} <= exports
    found = [violation for module, path in module_files().items()
             if not (module == RETRIEVAL or module.startswith(RETRIEVAL + "."))
             for violation in facade_violations(module, path, exports)]
    assert not found, "reaching past the retriever's facade (add what is missing to indexer/retrieval):\n" + \
        "\n".join(found)
