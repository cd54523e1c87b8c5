"""Name lookups over the code graph: bare names, dotted names and file paths to node ids.

Built once when an index is opened, so that matching a query's names costs a few dict lookups instead
of a pass over every node.
"""

from __future__ import annotations

import difflib
import re
from bisect import bisect_right
from collections.abc import Iterable
from functools import cached_property

import networkx as nx

from ..model import FILE, MODULE, as_written, split_qualified_name

_SYMBOL_KINDS = frozenset({"class", "function", "method"})


class NameIndex:
    def __init__(self, graph: nx.MultiDiGraph):
        self.graph = graph
        self.by_name: dict[str, list[str]] = {}  # bare name -> qnames
        self.by_dotted: dict[str, list[str]] = {}  # "Class.method", "mod.Class.method", "pkg.mod.func" -> qnames
        self.files_by_basename: dict[str, list[str]] = {}
        self.files_by_module: dict[str, list[str]] = {}  # "pkg.mod", "mod" (only with a dot-free root) -> paths
        self._spans: dict[str, list[tuple[int, int, str]]] = {}  # path -> (start, end, qname), by start line
        self.directories: set[str] = set()
        self.test_nodes: set[str] = set()  # test files, every symbol in them, and test code in source files
        self.support_nodes: set[str] = set()  # build and lock files, hidden folders (CI), and their symbols
        self.declaration_nodes: set[str] = set()  # TypeScript declaration files (.d.ts) and their symbols
        module_of: dict[str, str] = {}
        for node, data in graph.nodes(data=True):
            kind = data.get("kind")
            if kind == FILE:
                if data.get("is_test"):
                    self.test_nodes.add(node)
                elif is_support_file(node):
                    self.support_nodes.add(node)
                elif node.endswith(DECLARATION_FILE_ENDINGS):
                    self.declaration_nodes.add(node)
                self.files_by_basename.setdefault(node.rpartition("/")[2], []).append(node)
                module = data.get("module") or _module_from_path(node)
                module_of[node] = module
                parts = module.split(".")
                for cut in range(len(parts) - 1):
                    self.files_by_module.setdefault(".".join(parts[cut:]), []).append(node)
                if len(parts) == 1:
                    self.files_by_module.setdefault(module, []).append(node)
            elif kind == MODULE:
                self.directories.add(node)
        for node, data in graph.nodes(data=True):
            if data.get("kind") not in _SYMBOL_KINDS:
                continue
            path, dotted = split_qualified_name(node)
            if path in self.test_nodes or data.get("test_code"):
                self.test_nodes.add(node)
            elif path in self.support_nodes:
                self.support_nodes.add(node)
            elif path in self.declaration_nodes:
                self.declaration_nodes.add(node)
            name = data.get("name") or dotted.rpartition(".")[2]
            # A constructor named as its class (Java, C#, C++) is not what a query naming the class means:
            # the bare name finds the class; "WeekYear.WeekYear" still finds the constructor.
            if not (data.get("kind") == "method" and is_constructor(dotted, name)):
                self.by_name.setdefault(name, []).append(node)
            # Overloads (``f~2``) are found by the name as written, like their first definition.
            written = as_written(dotted).split(".")
            keys: dict[str, None] = {}
            for module in (module_of.get(path, ""), *_language_modules(path, data.get("language"))):
                parts = [p for p in [*module.split("."), *written] if p]
                # Every suffix that keeps at least two components: "Class.method", "mod.Class.method", ...
                for cut in range(len(parts) - 1):
                    keys[".".join(parts[cut:])] = None
            for key in keys:
                self.by_dotted.setdefault(key, []).append(node)
            if data.get("start_line") is not None:
                self._spans.setdefault(path, []).append((int(data["start_line"]), int(data["end_line"]), node))
        for spans in self._spans.values():
            spans.sort()
        for table in (self.by_name, self.by_dotted):
            for nodes in table.values():
                if len(nodes) > 1:
                    nodes.sort(key=lambda n: (bool(graph.nodes[n].get("is_test")), n))

    # -------------------------------------------------------------------------------- symbols

    def symbols_named(self, name: str) -> list[str]:
        return self.by_name.get(name, [])

    def symbols_dotted(self, dotted: str) -> list[str]:
        return self.by_dotted.get(dotted, [])

    def symbol_at(self, path: str, line: int) -> str | None:
        """The innermost symbol of ``path`` whose span contains ``line``."""
        spans = self._spans.get(path)
        if not spans:
            return None
        best: tuple[int, int, str] | None = None
        # Spans are sorted by start; only those starting at or before the line can contain it.
        for start, end, qname in spans[: bisect_right(spans, (line, float("inf"), ""))]:
            if start <= line <= end and (best is None or (start, -end) >= (best[0], -best[1])):
                best = (start, end, qname)
        return best[2] if best else None

    def symbols_in(self, path: str) -> list[tuple[int, int, str]]:
        return self._spans.get(path, [])

    # ---------------------------------------------------------------------------------- files

    def files_matching(self, written: str) -> list[str]:
        """Repository files that a path written elsewhere (absolute, from another machine, or partial)
        names: matched by the longest common suffix of path components."""
        parts = [p for p in written.replace("\\", "/").split("/") if p and p != "."]
        if not parts:
            return []
        if "/".join(parts) in self.graph and self.graph.nodes["/".join(parts)].get("kind") == FILE:
            return ["/".join(parts)]
        best: list[str] = []
        best_common = 0
        for candidate in self.files_by_basename.get(parts[-1], ()):
            candidate_parts = candidate.split("/")
            common = _common_suffix(parts, candidate_parts)
            # Accept: the whole repository path ends the written path (an absolute path from another
            # machine), the whole written path ends the repository path (a partial path), or at least two
            # components agree (an installed copy of the same package).
            if not (common == len(candidate_parts) or common == len(parts) or common >= 2):
                continue
            if common > best_common:
                best, best_common = [candidate], common
            elif common == best_common:
                best.append(candidate)
        return sorted(best)

    def files_in_scope(self, words: tuple[str, ...]) -> list[str]:
        """Files under the part of the code that ``words`` name, in order: ``("net", "http")`` is
        ``net/http/*``; ``("complete",)`` is the ``clap_complete`` crate; ``("help",)`` is ``help.rs`` and
        ``help_template.rs``. A word matches a folder or file stem, or a word of one split at ``_``, ``-``, ``.``."""
        found: list[str] = []
        for path, parts in self.path_words.items():
            at = 0
            for word in words:
                while at < len(parts) and word not in parts[at]:
                    at += 1
                if at == len(parts):
                    break
                at += 1
            else:
                found.append(path)
        return found

    @cached_property
    def path_words(self) -> dict[str, list[frozenset[str]]]:
        """Each file's folders and stem, each with the words of its name: built on first use (a scoped query, or
        ``Retriever.warm``)."""
        words: dict[str, list[frozenset[str]]] = {}
        for paths in self.files_by_basename.values():
            for path in paths:
                folders, _, name = path.lower().rpartition("/")
                parts = [*(folders.split("/") if folders else ()), name.rpartition(".")[0] or name]
                words[path] = [frozenset({part, *re.split(r"[_.-]+", part)}) for part in parts]
        return words

    def module_files(self, dotted: str) -> list[str]:
        return self.files_by_module.get(dotted, [])

    # ------------------------------------------------------------------------------ resolving

    def resolve(self, text: str) -> list[str]:
        """Node ids that a user-typed symbol or file name refers to: an exact node id, a file path (or
        its suffix), ``pkg.mod.func``, ``Class.method``, ``mod.func`` or a bare name. Several ids mean
        the name is ambiguous; none means it is unknown."""
        text = text.strip()
        if not text:
            return []
        if text in self.graph:
            return [text]
        if "::" in text:
            path, _, dotted = text.partition("::")
            files = self.files_matching(path)
            found = [f"{f}::{dotted}" for f in files if f"{f}::{dotted}" in self.graph]
            if found:
                return found
            text = dotted
        if "/" in text or "\\" in text:
            return self.files_matching(text)
        dotted = text.replace("::", ".").replace("#", ".").removesuffix("()")
        found = self.symbols_dotted(dotted) if "." in dotted else self.symbols_named(dotted)
        if found:
            return list(found)
        module_files = self.module_files(dotted)
        if module_files:
            return list(module_files)
        return self.files_matching(text) if "." in text else []

    def suggestions(self, text: str, limit: int = 5) -> list[str]:
        """Close matches for an unknown name, as node ids."""
        text = text.strip()
        if "/" in text:
            vocabulary: Iterable[str] = [n for n, k in self.graph.nodes(data="kind") if k == FILE]
            return difflib.get_close_matches(text, list(vocabulary), n=limit, cutoff=0.5)
        key = text.replace("::", ".").removesuffix("()")
        table = self.by_dotted if "." in key else self.by_name
        close = difflib.get_close_matches(key, list(table), n=limit, cutoff=0.6)
        found: list[str] = []
        for name in close:
            for node in table[name]:
                if node not in found:
                    found.append(node)
        if not close and "." not in key:
            close_files = difflib.get_close_matches(key, list(self.files_by_basename), n=limit, cutoff=0.6)
            found = [p for name in close_files for p in self.files_by_basename[name]]
        return found[:limit]


_SOURCE_ROOT = re.compile(r"(?:^|/)src/(?:main|test)/(?:java|kotlin|scala)/")


def _language_modules(path: str, language: str | None) -> tuple[str, ...]:
    """The dotted names a language itself gives the file's symbols, beside the path's: a Go package is its
    directory (``rest.WithCors``), a Rust module its crate and the modules under ``src/``
    (``tokio.sync.broadcast.Sender``, as ``tokio::sync::broadcast::Sender`` is written), a Java class its
    package under the source root (``com.google.gson.Gson.toJson``, for ``com.google.gson.Gson#toJson``)."""
    directory, _, base = path.rpartition("/")
    if language == "go":
        return (directory.replace("/", "."),) if directory else ()
    if language == "rust":
        crate_dir, marker, inner = f"/{path}".rpartition("/src/")
        if not marker:
            return ()
        modules = inner.removesuffix(".rs").split("/")
        if modules[-1] in ("lib", "main", "mod"):
            modules.pop()
        crate = crate_dir.rpartition("/")[2].replace("-", "_")  # Cargo's default: the directory's name
        return (".".join(p for p in [crate, *modules] if p),)
    if language == "java":
        match = _SOURCE_ROOT.search(directory + "/")
        package = (directory + "/")[match.end():] if match else directory
        return (package.strip("/").replace("/", "."),)
    return ()


def _module_from_path(path: str) -> str:
    stem = path.rpartition(".")[0] if "." in path.rpartition("/")[2] else path
    parts = [p for p in stem.split("/") if p]
    if parts and parts[-1] in ("__init__", "index", "mod"):
        parts = parts[:-1] or parts
    return ".".join(parts)


# Files that build or lock a project: they repeat its name, version and release words far more than its code does.
# Docs, templates, SQL and application configuration are not among them: questions are about those too.
BUILD_FILE_NAMES = frozenset({"pom.xml", "build.xml", "BUILD", "BUILD.bazel", "WORKSPACE", "WORKSPACE.bazel",
                              "MODULE.bazel", "gradlew", "gradlew.bat", "mvnw", "mvnw.cmd", "go.sum"})
BUILD_FILE_ENDINGS = (".gradle", ".gradle.kts", ".lock", "-lock.json", "-lock.yaml")


# Folders holding copies of other projects' code (the vendored paths of GitHub's linguist, less its broader
# guesses such as extern/): a question about this project is seldom about them, though they share its words.
VENDORED_FOLDERS = frozenset({"vendor", "vendors", "_vendor", "vendored", "_vendored", "third_party",
                              "third-party", "thirdparty", "3rdparty", "3rd_party", "3rd-party"})


# TypeScript declaration files: the types of code written elsewhere (the .js beside them), which repeat its names
# and doc comments.
DECLARATION_FILE_ENDINGS = (".d.ts", ".d.mts", ".d.cts")


def is_support_file(path: str) -> bool:
    """Whether a file surrounds the code rather than being it: a build or lock file (pom.xml, build.gradle,
    BUILD, Cargo.lock, package-lock.json), one kept under a hidden directory (.github/, .buildscript/), or a
    vendored copy of another project (vendor/, _vendored/, third_party/)."""
    directories, _, name = path.rpartition("/")
    parts = [part for part in directories.split("/") if part]
    hidden = any(part.startswith(".") and part not in (".", "..") for part in parts)
    vendored = any(part.lower() in VENDORED_FOLDERS for part in parts)
    return hidden or vendored or name in BUILD_FILE_NAMES or name.endswith(BUILD_FILE_ENDINGS)


def is_constructor(dotted: str, name: str) -> bool:
    """Whether a method is named as the class around it: a constructor in Java, C#, C++, Kotlin, ..."""
    owner = as_written(dotted).rpartition(".")[0].rpartition(".")[2]
    return bool(owner) and owner == name


def _common_suffix(a: list[str], b: list[str]) -> int:
    count = 0
    for x, y in zip(reversed(a), reversed(b)):
        if x != y:
            break
        count += 1
    return count
