"""The code graph: directories, files and symbols as nodes; contains/imports/calls/inherits/tests as edges.

Built from per-file extracts only (no parsing here), so an incremental index can rebuild it from cached
extracts. Every node is keyed by a path or a qualified name, never by a bare identifier; bare names
appear only as keys of lookup indexes whose values are qualified names.
"""

from __future__ import annotations

import builtins
import gc
import gzip
import json
import re
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

import networkx as nx

from .model import (
    CALLS,
    CLASS,
    CONTAINS,
    EDGE_KINDS,
    FILE,
    FUNCTION,
    IMPORTS,
    INHERITS,
    METHOD,
    MODULE,
    TESTS,
    FileExtract,
    Import,
    Symbol,
)
from .safe_fs import atomic_write

ROOT = "."

_PY_BUILTINS = frozenset(dir(builtins))
# Method names every str/list/dict/... has: `x.append()` on an unknown object is almost never a call
# into the repository, so these never resolve by unique name.
_BUILTIN_TYPE_ATTRIBUTES = frozenset(
    name
    for kind in (object, str, bytes, bytearray, list, dict, set, frozenset, tuple, int, float, complex)
    for name in dir(kind)
)
# Languages whose files call into each other, for repo-wide unique-name resolution.
_FAMILIES = {"javascript": "js", "typescript": "js", "tsx": "js", "c": "c", "cpp": "c"}
_SUPER_CALL = re.compile(r"super\(\)\.([A-Za-z_]\w*)")
_INSTANCE_CALL = re.compile(r"([A-Za-z_][\w.]*)\(\)\.([A-Za-z_]\w*)")
_NAME_SEPARATORS = re.compile(r"\.|::|->")
_MAX_FOLLOW = 8  # re-export chains followed when resolving a name through modules


# ---------------------------------------------------------------------------------------------- tests


def is_test_path(path: str) -> bool:
    """Whether a repo-relative path is test code by the usual conventions of its language."""
    pure = PurePosixPath(path)
    name = pure.name
    directories = pure.parts[:-1]
    if "tests" in directories or "test" in directories or "__tests__" in directories:
        return True
    if "/src/test/" in f"/{path}":
        return True
    if name.endswith(".py") or name.endswith(".pyi"):
        return name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"
    if name.endswith("_test.go"):
        return True
    return bool(re.search(r"\.(test|spec)\.[cm]?[jt]sx?$", name))


def _is_test_symbol(symbol: Symbol, parent: Symbol | None) -> bool:
    if symbol.kind == CLASS:
        return False
    if symbol.name.startswith(("test", "Test")):
        return True
    return (
        symbol.kind == METHOD
        and parent is not None
        and (parent.name.startswith("Test") or parent.name.endswith(("Test", "Tests")))
    )


# ----------------------------------------------------------------------------------- python modules


def _dirname(path: str) -> str:
    head, _, _ = path.rpartition("/")
    return head or ROOT


def _join(directory: str, *parts: str) -> str:
    return "/".join(parts) if directory == ROOT else "/".join((directory, *parts))


class _PythonModules:
    """Maps dotted module names to the repository's Python files.

    A module ``a.b`` is found under a source root: the repository root, ``src/``, or the parent of any
    top-level package (a directory with ``__init__.py`` whose parent has none).
    """

    def __init__(self, files: Iterable[str]):
        self.files = set(files)
        self.packages = {_dirname(f) for f in self.files if self.is_package(f)}
        roots = {ROOT, "src"}
        for package in self.packages:
            if package != ROOT:
                parent = _dirname(package)
                if parent not in self.packages:
                    roots.add(parent)
        self.by_name: dict[str, list[str]] = {}
        self.module_of: dict[str, str] = {}
        for f in self.files:
            parts = f.split("/")
            module_parts = parts[:-1]
            stem = parts[-1].rpartition(".")[0]
            if stem != "__init__":
                module_parts = [*module_parts, stem]
            # Walk roots from the deepest, so module_of gets the shortest name.
            for depth in range(len(parts) - 1, -1, -1):
                root = "/".join(parts[:depth]) or ROOT
                if root not in roots:
                    continue
                name = ".".join(module_parts[depth:])
                if not name:
                    continue
                self.by_name.setdefault(name, []).append(f)
                self.module_of.setdefault(f, name)

    def file_at(self, directory: str, parts: list[str]) -> str | None:
        """The module file for ``parts`` under ``directory``: a .py/.pyi module or a package's __init__."""
        base = _join(directory, *parts) if parts else directory
        candidates = (f"{base}.py", f"{base}/__init__.py", f"{base}.pyi", f"{base}/__init__.pyi")
        if not parts:
            candidates = candidates[1::2]
        if base == ROOT:
            candidates = ("__init__.py", "__init__.pyi")
        for candidate in candidates:
            if candidate in self.files:
                return candidate
        return None

    @staticmethod
    def is_package(path: str) -> bool:
        return path.rpartition("/")[2] in ("__init__.py", "__init__.pyi")

    def resolve(self, importer: str, module: str, level: int) -> str | None:
        """The file that ``import module`` (with ``level`` leading dots) in ``importer`` loads."""
        parts = module.split(".") if module else []
        if level:
            directory = _dirname(importer)
            for _ in range(level - 1):
                if directory == ROOT:
                    return None
                directory = _dirname(directory)
            return self.file_at(directory, parts)
        if not parts:
            return None
        # A script (outside any package) sees its own directory first on sys.path.
        directory = _dirname(importer)
        if directory not in self.packages:
            found = self.file_at(directory, parts)
            if found is not None:
                return found
        candidates = self.by_name.get(module)
        if not candidates:
            return None
        if len(candidates) == 1:
            return candidates[0]
        return min(candidates, key=lambda c: (c.count("/"), -_common_prefix(c, importer), c.endswith(".pyi"), c))

    def submodule(self, package_file: str, name: str) -> str | None:
        if not self.is_package(package_file):
            return None
        return self.file_at(_dirname(package_file), name.split("."))


def _common_prefix(a: str, b: str) -> int:
    count = 0
    for x, y in zip(a.split("/"), b.split("/")):
        if x != y:
            break
        count += 1
    return count


class _Binding:
    """A name bound by an import: a module (``file`` set, ``name`` None), a name imported from a module
    (``file`` is that module, ``name`` the imported name), or something outside the repository (``file`` None)."""

    __slots__ = ("file", "name", "aliased")

    def __init__(self, file: str | None, name: str | None, aliased: bool):
        self.file = file
        self.name = name
        self.aliased = aliased


# ------------------------------------------------------------------------------------------ builder


class _GraphBuilder:
    def __init__(self, extracts: Mapping[str, FileExtract], other_files: Iterable[str]):
        self.extracts = extracts
        self.other_files = [f for f in other_files if f not in extracts]
        self.graph = nx.MultiDiGraph()
        self.symbols: dict[str, Symbol] = {}
        for extract in extracts.values():
            for symbol in extract.symbols:
                self.symbols.setdefault(symbol.qname, symbol)
        self.test_files = {path for path in (*extracts, *self.other_files) if is_test_path(path)}
        # (language family, bare name) -> qnames; values are qualified, the name is only a lookup key.
        self.top_level_by_name: dict[tuple[str, str], list[str]] = {}
        self.methods_by_name: dict[tuple[str, str], list[str]] = {}
        self.file_names: dict[tuple[str, str], list[str]] = {}
        self._index_names()
        python_files = [p for p, e in extracts.items() if e.language == "python"]
        self.modules = _PythonModules(python_files)
        self.bindings: dict[tuple[str, str | None], dict[str, _Binding]] = {}
        self.star_imports: dict[str, list[str]] = {}
        self.external_star_imports: set[str] = set()
        self.module_names: dict[str, frozenset[str]] = {
            p: frozenset(e.module_names) for p, e in extracts.items()
        }
        self.imported_files: dict[str, list[str]] = {}
        self.external_imports: dict[str, list[str]] = {}
        self.bases: dict[str, list[str]] = {}
        self.unresolved: dict[str, dict[str, None]] = {}  # node -> callees, ordered and unique
        self._member_cache: dict[tuple[str, str], str | None] = {}
        self._hierarchy_cache: dict[tuple[str, str, bool], str | None] = {}

    def _index_names(self) -> None:
        for qname, symbol in self.symbols.items():
            family = _FAMILIES.get(symbol.language, symbol.language)
            key = (family, symbol.name)
            if symbol.kind == METHOD:
                self.methods_by_name.setdefault(key, []).append(qname)
            elif symbol.parent is None:
                self.top_level_by_name.setdefault(key, []).append(qname)
            self.file_names.setdefault((symbol.path, symbol.name), []).append(qname)

    # ------------------------------------------------------------------------------------ build

    def build(self) -> nx.MultiDiGraph:
        self._add_structure()
        for path, extract in self.extracts.items():
            if extract.language == "python":
                self._python_imports(path, extract)
            else:
                self._generic_imports(path, extract)
        for path, extract in self.extracts.items():
            self._inheritance(path, extract)
        # Lookups made before every base was known may have missed inherited names.
        self._member_cache.clear()
        self._hierarchy_cache.clear()
        for path, extract in self.extracts.items():
            self._calls(path, extract)
        for path in self.test_files:
            for target in self.imported_files.get(path, ()):
                if target not in self.test_files:
                    self._edge(path, target, TESTS, via="import")
        for node, callees in self.unresolved.items():
            self.graph.nodes[node]["unresolved_calls"] = list(callees)
        for path, external in self.external_imports.items():
            self.graph.nodes[path]["external_imports"] = external
        return self.graph

    def _edge(self, source: str, target: str, kind: str, **attrs: object) -> bool:
        if self.graph.has_edge(source, target, key=kind):
            return False
        self.graph.add_edge(source, target, key=kind, kind=kind, **attrs)
        return True

    def _add_structure(self) -> None:
        graph = self.graph
        graph.add_node(ROOT, kind=MODULE, name=ROOT, path=ROOT, **_NO_SPAN)
        all_files = [*self.extracts, *self.other_files]
        for path in all_files:
            directory = self._add_directories(_dirname(path))
            extract = self.extracts.get(path)
            language = extract.language if extract is not None else None
            graph.add_node(
                path,
                kind=FILE,
                name=path.rpartition("/")[2],
                path=path,
                language=language,
                start_line=1,
                end_line=extract.line_count if extract is not None else None,
                signature="",
                docstring=extract.module_docstring if extract is not None else None,
                module=self.modules.module_of.get(path),
                is_test=path in self.test_files,
                has_errors=extract.has_errors if extract is not None else False,
                external_imports=[],
            )
            self._edge(directory, path, CONTAINS)
        for qname, symbol in self.symbols.items():
            parent = self.symbols.get(symbol.parent) if symbol.parent else None
            graph.add_node(
                qname,
                kind=symbol.kind,
                name=symbol.name,
                path=symbol.path,
                language=symbol.language,
                start_line=symbol.start_line,
                end_line=symbol.end_line,
                start_byte=symbol.start_byte,
                end_byte=symbol.end_byte,
                signature=symbol.signature,
                docstring=symbol.docstring,
                parent=symbol.parent,
                is_test=symbol.path in self.test_files and _is_test_symbol(symbol, parent),
            )
        for qname, symbol in self.symbols.items():
            container = symbol.parent if symbol.parent in self.symbols else symbol.path
            self._edge(container, qname, CONTAINS)
        # A package directory is described by its __init__ docstring.
        for path in self.modules.files:
            if self.modules.is_package(path):
                docstring = graph.nodes[path].get("docstring")
                if docstring:
                    graph.nodes[_dirname(path)]["docstring"] = docstring

    def _add_directories(self, directory: str) -> str:
        graph = self.graph
        if directory in graph:
            return directory
        parent = self._add_directories(_dirname(directory)) if directory != ROOT else None
        graph.add_node(directory, kind=MODULE, name=directory.rpartition("/")[2], path=directory, **_NO_SPAN)
        if parent is not None:
            self._edge(parent, directory, CONTAINS)
        return directory

    def _link_import(self, path: str, target: str | None, written: str) -> None:
        if target is None:
            external = self.external_imports.setdefault(path, [])
            if written not in external:
                external.append(written)
            return
        if target == path:
            return
        if self._edge(path, target, IMPORTS):
            self.imported_files.setdefault(path, []).append(target)

    # ----------------------------------------------------------------------------- python imports

    def _python_imports(self, path: str, extract: FileExtract) -> None:
        modules = self.modules
        # When a name is imported twice (`if posix: import posixpath as path / else: import ntpath as
        # path`, `try: from a import x / except ImportError: from b import x`) the first import wins.
        for imp in extract.imports:
            scope_bindings = self.bindings.setdefault((path, imp.scope), {})
            written = "." * imp.level + imp.module
            if not imp.names:
                target = modules.resolve(path, imp.module, imp.level)
                self._link_import(path, target, written)
                if imp.alias:
                    scope_bindings.setdefault(imp.alias, _Binding(target, None, aliased=True))
                else:
                    scope_bindings.setdefault(imp.module, _Binding(target, None, aliased=False))
                    head = imp.module.partition(".")[0]
                    if head not in scope_bindings:
                        scope_bindings[head] = _Binding(modules.resolve(path, head, 0), None, aliased=False)
                continue
            package = modules.resolve(path, imp.module, imp.level) if (imp.module or imp.level) else None
            for name, alias in imp.names:
                if name == "*":
                    self._link_import(path, package, written)
                    if package is not None:
                        self.star_imports.setdefault(path, []).append(package)
                    else:
                        self.external_star_imports.add(path)
                    continue
                submodule = self._submodule(path, imp, package, name)
                if submodule is not None:
                    self._link_import(path, submodule, f"{written}.{name}" if imp.module else f"{written}{name}")
                    binding = _Binding(submodule, None, aliased=alias is not None)
                else:
                    self._link_import(path, package, written or name)
                    binding = _Binding(package, name if package is not None else None, aliased=alias is not None)
                scope_bindings.setdefault(alias or name, binding)

    def _submodule(self, path: str, imp: Import, package: str | None, name: str) -> str | None:
        if package is not None:
            return self.modules.submodule(package, name)
        if imp.level:
            # `from . import x` in a directory without __init__.py: x can still be a sibling module.
            return self.modules.resolve(path, f"{imp.module}.{name}" if imp.module else name, imp.level)
        # A namespace package (no __init__.py) has no file, but its submodules do.
        return self.modules.resolve(path, f"{imp.module}.{name}", 0)

    def _binding(self, path: str, scopes: list[str | None], key: str) -> _Binding | None:
        for scope in scopes:
            found = self.bindings.get((path, scope))
            if found is not None and key in found:
                return found[key]
        return None

    def _binding_target(self, binding: _Binding) -> tuple[str, str] | None:
        """("module", file) or ("symbol", qname) for an in-repo binding; None for external or unknown."""
        if binding.file is None:
            return None
        if binding.name is None:
            return ("module", binding.file)
        qname = self._member(binding.file, binding.name, 0)
        return ("symbol", qname) if qname is not None else None

    def _member(self, file: str, dotted: str, depth: int) -> str | None:
        """The symbol that ``dotted`` names in module ``file``'s namespace: its own definitions, names it
        imports (re-exports), its submodules if it is a package, and its star imports."""
        key = (file, dotted)
        if key in self._member_cache:
            return self._member_cache[key]
        self._member_cache[key] = None  # breaks import cycles
        found = self._find_member(file, dotted, depth) if depth <= _MAX_FOLLOW else None
        self._member_cache[key] = found
        return found

    def _find_member(self, file: str, dotted: str, depth: int) -> str | None:
        qname = f"{file}::{dotted}"
        if qname in self.symbols:
            return qname
        head, _, rest = dotted.partition(".")
        head_qname = f"{file}::{head}"
        if head_qname in self.symbols:
            return self._attribute(head_qname, rest) if rest else head_qname
        binding = self._binding(file, [None], head)
        if binding is not None:
            target = self._binding_target(binding)
            if target is None:
                return None
            if target[0] == "module":
                return self._member(target[1], rest, depth + 1) if rest else None
            return self._attribute(target[1], rest) if rest else target[1]
        submodule = self.modules.submodule(file, head)
        if submodule is not None:
            return self._member(submodule, rest, depth + 1) if rest else None
        for star in self.star_imports.get(file, ()):
            found = self._member(star, dotted, depth + 1)
            if found is not None:
                return found
        return None

    def _attribute(self, qname: str, rest: str) -> str | None:
        """``rest`` looked up on the class ``qname`` and, failing that, on its bases."""
        if self.symbols[qname].kind != CLASS:
            return None
        return self._in_class_hierarchy(qname, rest, include_self=True)

    def _in_class_hierarchy(self, cls: str, rest: str, include_self: bool) -> str | None:
        key = (cls, rest, include_self)
        if key not in self._hierarchy_cache:
            self._hierarchy_cache[key] = self._search_class_hierarchy(cls, rest, include_self)
        return self._hierarchy_cache[key]

    def _search_class_hierarchy(self, cls: str, rest: str, include_self: bool) -> str | None:
        """Breadth-first through the bases: close to Python's MRO for the usual single-inheritance trees."""
        queue = [cls] if include_self else list(self.bases.get(cls, ()))
        seen = set(queue)
        while queue:
            current = queue.pop(0)
            candidate = f"{current}.{rest}"
            if candidate in self.symbols:
                return candidate
            for base in self.bases.get(current, ()):
                if base not in seen:
                    seen.add(base)
                    queue.append(base)
        return None

    # -------------------------------------------------------------------------- python resolution

    def _scopes(self, caller: str) -> list[str | None]:
        scopes: list[str | None] = []
        current = self.symbols.get(caller)
        while current is not None:
            scopes.append(current.qname)
            current = self.symbols.get(current.parent) if current.parent else None
        scopes.append(None)
        return scopes

    def _enclosing_class(self, caller: str) -> str | None:
        current = self.symbols.get(caller)
        while current is not None:
            if current.kind == CLASS:
                return current.qname
            current = self.symbols.get(current.parent) if current.parent else None
        return None

    def _local(self, path: str, caller: str, name: str) -> str | None:
        """A definition of ``name`` visible from ``caller``'s body: nested in an enclosing function, or
        top-level in the file. Class bodies are not enclosing scopes for the functions inside them."""
        current = self.symbols.get(caller)
        if current is not None and current.kind == CLASS:
            candidate = f"{current.qname}.{name}"
            if candidate in self.symbols:
                return candidate
        while current is not None:
            if current.kind != CLASS:
                candidate = f"{current.qname}.{name}"
                if candidate in self.symbols:
                    return candidate
            current = self.symbols.get(current.parent) if current.parent else None
        candidate = f"{path}::{name}"
        return candidate if candidate in self.symbols else None

    def _resolve_python(self, path: str, caller: str, text: str, for_class: bool) -> tuple[str, str] | None:
        """(qname, resolution) for a callee or base-class expression written in ``path`` inside ``caller``."""
        if "(" in text or "[" in text or "<" in text:
            return None if for_class else self._resolve_python_chained(path, caller, text)
        parts = text.split(".")
        head = parts[0]
        if head in ("self", "cls") and len(parts) == 2 and not for_class:
            cls = self._enclosing_class(caller)
            if cls is not None:
                found = self._in_class_hierarchy(cls, parts[1], include_self=True)
                return (found, "self") if found is not None else None
        scopes = self._scopes(caller)
        if len(parts) == 1:
            return self._resolve_python_name(path, caller, scopes, head, for_class)
        local = self._local(path, caller, head)
        if local is not None:
            found = self._attribute(local, ".".join(parts[1:]))
            return (found, "class") if found is not None else None
        for cut in range(len(parts) - 1, 0, -1):
            binding = self._binding(path, scopes, ".".join(parts[:cut]))
            if binding is None:
                continue
            target = self._binding_target(binding)
            if target is None:
                return None
            rest = ".".join(parts[cut:])
            if target[0] == "module":
                found = self._member(target[1], rest, 0)
                return (found, "module") if found is not None else None
            found = self._attribute(target[1], rest)
            return (found, "class") if found is not None else None
        for star in self.star_imports.get(path, ()):
            found = self._member(star, text, 0)
            if found is not None:
                return found, "import"
        return self._unique(path, caller, parts[-1], for_class, attribute=True)

    def _resolve_python_name(
        self, path: str, caller: str, scopes: list[str | None], name: str, for_class: bool
    ) -> tuple[str, str] | None:
        local = self._local(path, caller, name)
        if local is not None:
            return local, "local"
        binding = self._binding(path, scopes, name)
        if binding is not None:
            target = self._binding_target(binding)
            if target is None or target[0] == "module":
                return None
            return target[1], ("alias" if binding.aliased else "import")
        for star in self.star_imports.get(path, ()):
            found = self._member(star, name, 0)
            if found is not None:
                return found, "import"
        if name in self.module_names.get(path, ()) or name in _PY_BUILTINS:
            return None
        # Any other bare name in a body is almost always a parameter or local variable, which extracts do
        # not record; only a star import from outside the repository can explain it as a definition.
        if not for_class and path not in self.external_star_imports:
            return None
        return self._unique(path, caller, name, for_class, attribute=False)

    def _resolve_python_chained(self, path: str, caller: str, text: str) -> tuple[str, str] | None:
        match = _SUPER_CALL.fullmatch(text)
        if match is not None:
            cls = self._enclosing_class(caller)
            if cls is None:
                return None
            found = self._in_class_hierarchy(cls, match.group(1), include_self=False)
            return (found, "self") if found is not None else None
        match = _INSTANCE_CALL.fullmatch(text)
        if match is not None:
            # Foo().method: the method of the class just constructed.
            made = self._resolve_python(path, caller, match.group(1), for_class=True)
            if made is not None:
                found = self._attribute(made[0], match.group(2))
                if found is not None:
                    return found, "class"
        return None

    def _unique(
        self, path: str, caller: str, name: str, for_class: bool, attribute: bool
    ) -> tuple[str, str] | None:
        language = self.extracts[path].language
        family = _FAMILIES.get(language, language)
        if attribute and not for_class:
            if name in _BUILTIN_TYPE_ATTRIBUTES or (name.startswith("__") and name.endswith("__")):
                return None
            candidates = self.methods_by_name.get((family, name), ())
        else:
            candidates = self.top_level_by_name.get((family, name), ())
        if for_class:
            candidates = [c for c in candidates if self.symbols[c].kind == CLASS]
        # `self.inner.run()` inside `run` is delegation to another object, not recursion.
        if len(candidates) == 1 and candidates[0] != caller:
            return candidates[0], "unique_name"
        return None

    # ------------------------------------------------------------------------- other languages

    def _generic_imports(self, path: str, extract: FileExtract) -> None:
        from .extract.generic import resolve_import

        all_files = self._all_files()
        for imp in extract.imports:
            targets = resolve_import(extract.language, path, imp, all_files)
            if not targets:
                self._link_import(path, None, imp.module)
            for target in targets:
                self._link_import(path, target, imp.module)

    def _all_files(self) -> set[str]:
        files = getattr(self, "_all_files_set", None)
        if files is None:
            files = self._all_files_set = {*self.extracts, *self.other_files}
        return files

    def _resolve_generic(self, path: str, caller: str, text: str, for_class: bool) -> tuple[str, str] | None:
        pieces = [p for p in _NAME_SEPARATORS.split(text.replace("()", "")) if p]
        if not pieces:
            return None
        name = pieces[-1]
        qualifier = pieces[-2] if len(pieces) > 1 else None
        wanted = (lambda q: self.symbols[q].kind == CLASS) if for_class else (lambda q: True)
        if qualifier in ("this", "self") and not for_class:
            cls = self._enclosing_class(caller)
            found = self._in_class_hierarchy(cls, name, include_self=True) if cls is not None else None
            if found is not None:
                return found, "self"
        same_file = [q for q in self.file_names.get((path, name), ()) if wanted(q)]
        if same_file:
            return self._closest(same_file, qualifier, caller), "local"
        imported = [
            q
            for target in self.imported_files.get(path, ())
            for q in self.file_names.get((target, name), ())
            if wanted(q)
        ]
        if imported:
            return self._closest(imported, qualifier, caller), "import"
        language = self.extracts[path].language
        family = _FAMILIES.get(language, language)
        key = (family, name)
        everywhere = (*self.top_level_by_name.get(key, ()), *self.methods_by_name.get(key, ()))
        candidates = [q for q in everywhere if wanted(q)]
        if len(candidates) == 1:
            return candidates[0], "unique_name"
        return None

    def _closest(self, candidates: list[str], qualifier: str | None, caller: str) -> str:
        """Among same-named definitions, the one inside the class the call names or the caller's class."""
        owner_names = {qualifier, self.symbols[caller].parent if caller in self.symbols else None}
        for candidate in candidates:
            parent = self.symbols[candidate].parent
            if parent is not None and (parent in owner_names or self.symbols[parent].name in owner_names):
                return candidate
        return candidates[0]

    # ------------------------------------------------------------------------- inherits and calls

    def _inheritance(self, path: str, extract: FileExtract) -> None:
        resolve = self._resolve_python if extract.language == "python" else self._resolve_generic
        for inheritance in extract.inherits:
            cls = self.symbols.get(inheritance.cls)
            if cls is None:
                continue
            scope_owner = cls.parent if cls.parent in self.symbols else path
            found = resolve(path, scope_owner, inheritance.base, True)
            if found is None or found[0] == cls.qname or self.symbols[found[0]].kind != CLASS:
                continue
            if self._edge(cls.qname, found[0], INHERITS, line=inheritance.line):
                self.bases.setdefault(cls.qname, []).append(found[0])

    def _calls(self, path: str, extract: FileExtract) -> None:
        python = extract.language == "python"
        resolve = self._resolve_python if python else self._resolve_generic
        edges = self.graph.edges
        # The same callee is often called many times from one body (self.assertEqual): resolve it once.
        resolved: dict[tuple[str, str], tuple[str, str] | None] = {}
        for call in extract.calls:
            caller = call.caller if call.caller in self.symbols else path
            key = (caller, call.callee)
            if key in resolved:
                found = resolved[key]
                if found is not None:
                    edges[caller, found[0], CALLS]["count"] += 1
                continue
            found = resolved[key] = resolve(path, caller, call.callee, False)
            if found is None:
                if not (python and call.callee in _PY_BUILTINS):
                    self.unresolved.setdefault(caller, {})[call.callee] = None
                continue
            target, resolution = found
            if not self._edge(caller, target, CALLS, resolution=resolution, line=call.line, count=1):
                # Another callee text reached the same target (e.g. `fmt` and `helpers.fmt`).
                edges[caller, target, CALLS]["count"] += 1
                continue
            if caller in self.symbols and self.graph.nodes[caller]["is_test"]:
                if self.symbols[target].path not in self.test_files:
                    self._edge(caller, target, TESTS, via="call")


_NO_SPAN = {
    "language": None,
    "start_line": None,
    "end_line": None,
    "signature": "",
    "docstring": None,
}


def build_graph(extracts: Mapping[str, FileExtract], other_files: Iterable[str] = ()) -> nx.MultiDiGraph:
    """The repository's code graph from per-file extracts (keyed by repo-relative path) plus plain-text
    files that get file nodes only."""
    return _GraphBuilder(extracts, other_files).build()


# --------------------------------------------------------------------------------- persistence
# The graph is stored as gzip'd JSON, never pickle: a cloned repository can ship its own `.assist/`, and
# unpickling a file runs whatever code it names. gzip's CRC also turns a torn or scribbled file into a
# clean error. Every field is checked on load: a file that does not validate is damage, not a crash.

GRAPH_FORMAT = "assist-code-graph"
GRAPH_FORMAT_VERSION = 1
_NODE_KINDS = frozenset({FILE, MODULE, CLASS, FUNCTION, METHOD})


class GraphUnreadable(ValueError):
    """The graph file is not a code graph we wrote (truncated, garbage, or another format)."""


def save_graph(graph: nx.MultiDiGraph, path: Path) -> None:
    """Write atomically: a crash leaves the previous graph, never a torn one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    position = {node: index for index, node in enumerate(graph)}
    document = {
        "format": GRAPH_FORMAT,
        "version": GRAPH_FORMAT_VERSION,
        "nodes": [[node, attrs] for node, attrs in graph.nodes(data=True)],
        # Ends by node position, and no "kind" (it is the key): qualified names are long, and repeating
        # them per edge made the file twice the size and the load a third slower.
        "edges": [
            [position[source], position[target], key, {k: v for k, v in attrs.items() if k != "kind"}]
            for source, target, key, attrs in graph.edges(keys=True, data=True)
        ],
    }
    # mtime=0: the same graph gives the same bytes; level 1: a fifth of the size at little cost.
    data = gzip.compress(json.dumps(document, separators=(",", ":")).encode("utf-8"), compresslevel=1, mtime=0)
    atomic_write(path, data, mode=0o600)  # 0o600: the mode the graph always had


def load_graph(path: Path) -> nx.MultiDiGraph:
    """Raises OSError when the file cannot be opened, GraphUnreadable when it is not a valid graph."""
    with open(path, "rb") as handle:
        raw = handle.read()
    # Millions of small objects and no cycles among them: the cyclic collector would only rescan them
    # over and over (it took half the load time on a 100k-node graph).
    collecting = gc.isenabled()
    gc.disable()
    try:
        try:
            document = _json_loads(gzip.decompress(raw))
        except (OSError, EOFError, ValueError, zlib.error, RecursionError) as exc:
            raise GraphUnreadable(f"{Path(path).name} is not a readable code graph ({exc})") from None
        try:
            return _graph_from_document(document)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise GraphUnreadable(f"{Path(path).name} does not hold a valid code graph ({exc})") from None
    finally:
        if collecting:
            gc.enable()


def _graph_from_document(document: object) -> nx.MultiDiGraph:
    """Check every entry while filling networkx's own tables: retrieval loads the graph on every one-shot
    command, and going through add_edges_from doubled the load time (tests/test_graph.py checks the
    result equals the saved graph, so a networkx upgrade that changes these tables fails there)."""
    if not isinstance(document, dict) or document.get("format") != GRAPH_FORMAT:
        raise ValueError("not an assist code graph")
    if document.get("version") != GRAPH_FORMAT_VERSION:
        raise ValueError(f"graph format version {document.get('version')!r}, expected {GRAPH_FORMAT_VERSION}")
    nodes, edges = document["nodes"], document["edges"]
    if type(nodes) is not list or type(edges) is not list:
        raise ValueError("nodes and edges must be lists")
    graph = nx.MultiDiGraph()
    node_table, successors, predecessors = graph._node, graph._succ, graph._pred
    for entry in nodes:
        if type(entry) is not list or len(entry) != 2 or type(entry[0]) is not str:
            raise ValueError("a node entry is not [id, attributes]")
        node, attrs = entry
        _check_attrs(attrs)
        if attrs.get("kind") not in _NODE_KINDS:
            raise ValueError(f"node {node!r} has no valid kind")
        if node in node_table:
            raise ValueError(f"node {node!r} appears twice")
        node_table[node] = attrs
        successors[node] = {}
        predecessors[node] = {}
    names = list(node_table)
    count = len(names)
    for entry in edges:
        if type(entry) is not list or len(entry) != 4:
            raise ValueError("an edge entry is not [source, target, kind, attributes]")
        source, target, key, attrs = entry
        if type(source) is not int or type(target) is not int or not (0 <= source < count and 0 <= target < count):
            raise ValueError(f"an edge names a node that is not in the graph ({source!r} -> {target!r})")
        if key not in _EDGE_KINDS:
            raise ValueError(f"an edge has an unknown kind {key!r}")
        _check_attrs(attrs)
        attrs["kind"] = key
        source, target = names[source], names[target]
        by_key = successors[source].get(target)
        if by_key is None:
            # networkx shares one key dict between the successor and the predecessor table.
            by_key = successors[source][target] = predecessors[target][source] = {}
        elif key in by_key:
            raise ValueError(f"edge {source!r} -> {target!r} ({key}) appears twice")
        by_key[key] = attrs
    return graph


def _check_attrs(attrs: object) -> None:
    """Values are JSON scalars of the type retrieval expects, or lists of strings."""
    if type(attrs) is not dict:
        raise ValueError("attributes are not an object")
    allowed = _ATTR_TYPES.get
    for name, value in attrs.items():
        kind = type(value)
        if kind not in allowed(name, _ANY_TYPES) or (kind is list and not all(type(i) is str for i in value)):
            raise ValueError(f"attribute {name!r} has a value of the wrong type ({kind.__name__})")


_NONE = type(None)
_ANY_TYPES = frozenset({str, int, float, bool, _NONE, list})
_WHOLE = frozenset({int, _NONE})
_TEXT = frozenset({str, _NONE})
# What retrieval does arithmetic or string work on: a wrong type there would fail a query, not the load.
_ATTR_TYPES = {
    **dict.fromkeys(("start_line", "end_line", "start_byte", "end_byte", "line", "count"), _WHOLE),
    **dict.fromkeys(("kind", "name", "path", "language", "signature", "docstring", "parent", "module",
                     "resolution", "via"), _TEXT),
    **dict.fromkeys(("is_test", "has_errors"), frozenset({bool})),
    **dict.fromkeys(("unresolved_calls", "external_imports"), frozenset({list})),
}
_EDGE_KINDS = frozenset(EDGE_KINDS)

try:  # chromadb depends on orjson, which parses the graph about twice as fast as the standard library
    from orjson import loads as _json_loads
except ImportError:  # pragma: no cover
    _json_loads = json.loads


def edge_counts(graph: nx.MultiDiGraph) -> dict[str, int]:
    """Number of edges of each kind (every kind present, zero included)."""
    counts = dict.fromkeys(EDGE_KINDS, 0)
    for _, _, kind in graph.edges(keys=True):
        counts[kind] = counts.get(kind, 0) + 1
    return counts
