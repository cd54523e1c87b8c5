"""Names in Go by Go's own scoping rules, before the name-based guesses every other language gets.

A package is a directory: its files share one namespace, so a bare name is a definition of the file or of
another file of the package. Another package is reached only through the name its import binds (``store.New``:
the import's alias, else the last element of its path), and an import from outside the repository names
nothing of ours, however the function is called. In a method, the receiver (``s`` in ``func (s *Server)
Handle``) names its type: ``s.Get`` is a method of ``Server`` or of a type it embeds, wherever in the package
it is written; so does a parameter's type (``c`` in ``func Serve(c *gin.Context)``: ``parameter``). Anything
else (a local variable's method, a field's) is left to ``GenericResolver``. Which directory an import path is
comes from the go.mod above the file (its module path, its replace directives) when there is one, else from
the longest tail of the path that names a directory (``manifest_imports.py``, ``import_paths.py``). An import
of a package of more than ``WHOLE_IMPORT_MAX_FILES`` files links only the files defining a name the importer
writes.
"""

from __future__ import annotations

import re
from ..model import CLASS, METHOD, FileExtract, split_qualified_name
from .generic import GenericResolver
from .names import WHOLE_IMPORT_MAX_FILES, names_written
from .parameters import declared_type, field_type

_RECEIVER = re.compile(r"func\s*\(\s*(\w+)\s")
_MAJOR_VERSION = re.compile(r"v\d+")
_DOTTED_VERSION = re.compile(r"\.v\d+$")  # gopkg.in/yaml.v3


def _in_test_file(qname: str) -> bool:
    return qname.partition("::")[0].endswith("_test.go")


def package_name(import_path: str) -> str:
    """The name an import binds when it has no alias: the last path element, less a major-version element
    (``.../v2``) or suffix (``yaml.v3``)."""
    elements = [e for e in import_path.split("/") if e]
    if len(elements) > 1 and _MAJOR_VERSION.fullmatch(elements[-1]):
        elements.pop()
    return _DOTTED_VERSION.sub("", elements[-1]) if elements else ""


class GoResolver:
    def __init__(self, generic: GenericResolver):
        self.generic = generic
        self.names = generic.names
        self.symbols = generic.symbols
        self.extracts = generic.extracts
        # file -> the name each of its imports binds -> that package's files ([] for one outside the repository)
        self._bound: dict[str, dict[str, list[str]]] = {}
        self._dot_imported: dict[str, list[str]] = {}  # file -> files of the packages it imports with `.`
        self._in_package_table: dict[tuple[str, str], list[str]] | None = None

    def is_builtin(self, callee: str) -> bool:
        return False

    def imports(self, path: str, extract: FileExtract) -> list[tuple[str | None, str]]:
        links: list[tuple[str | None, str]] = []
        bound = self._bound[path] = {}
        for imp in extract.imports:
            targets = self.generic.linked_targets(extract.language, path, imp, links)
            if len(targets) > WHOLE_IMPORT_MAX_FILES:
                named = self._defining(targets, names_written(extract))
                links[:] = [(t, m) for t, m in links if m != imp.module or t in named]
            if imp.alias == ".":
                self._dot_imported.setdefault(path, []).extend(targets)
            elif imp.alias != "_":
                bound[imp.alias or package_name(imp.module)] = targets
        return links

    def resolve(self, path: str, caller: str, text: str, for_class: bool) -> tuple[str, str] | None:
        pieces = [p for p in text.replace("()", "").split(".") if p]
        if not pieces:
            return None
        head = pieces[0]
        if len(pieces) == 1:
            return self._bare(path, head, for_class)
        bound = self._bound.get(path, {})
        if head in bound:
            files = bound[head]  # [] for a package outside the repository: nothing of ours
            if not files:
                return None
            # One lookup in the package's names, not one per file: packages of thousands of files exist.
            for qname in self._package_table().get((files[0].rpartition("/")[0], ".".join(pieces[1:])), []):
                if not _in_test_file(qname) and (not for_class or self.symbols[qname].kind == CLASS):
                    return qname, "import"
            return None
        if len(pieces) == 3 and not for_class:
            found = self._field_method(path, caller, *pieces)
            if found is not None:
                return found
        if len(pieces) == 2 and not for_class:
            receiver = self._receiver(caller)
            if receiver is not None and receiver[0] == head:
                found = self._method(receiver[1], pieces[1])
                if found is not None:
                    return found, "receiver"
            found = self._variable_method(path, caller, head, pieces[1])
            if found is not None:
                return found
        return self.generic.resolve(path, caller, text, for_class)

    def _variable_method(self, path: str, caller: str, variable: str, name: str) -> tuple[str, str] | None:
        """(method ``name`` of the type the caller gives ``variable``, how): its signature's ``c *gin.Context``
        ("parameter"), a local ``r := &Router{}`` ("variable"), or what ``s, err := NewServer()`` returns
        ("result")."""
        declared = declared_type(self.symbols, caller, variable)
        owner = self.resolve(path, caller, declared[0], True) if declared else None
        found = self._method(owner[0], name) if owner is not None else None
        if found is not None and declared:
            return found, declared[1]
        found = self.generic.variable_result(path, caller, variable, name, self.resolve, self._method)
        return (found, "result") if found is not None else None

    def _field_method(self, path: str, caller: str, variable: str, field: str, name: str) -> tuple[str, str] | None:
        """Method ``name`` of the type of field ``field`` of ``variable``'s struct, ``variable`` being the receiver
        or a parameter or local whose declaration gives its type (``c.engine.handle()``; "field"); promoted
        fields of embedded structs count. The field's type is read where the struct is declared."""
        receiver = self._receiver(caller)
        if receiver is not None and receiver[0] == variable:
            owner: str | None = receiver[1]
        else:
            declared = declared_type(self.symbols, caller, variable)
            found_type = self.resolve(path, caller, declared[0], True) if declared else None
            owner = found_type[0] if found_type is not None else None
        typed = field_type(self.symbols, self.names.bases, self.resolve, owner, field) if owner else None
        found = self._method(typed, name) if typed is not None else None
        return (found, "field") if found else None

    # ------------------------------------------------------------------------------------------------ scopes

    def _package_table(self) -> dict[tuple[str, str], list[str]]:
        """(directory, dotted name) -> the qnames of that name in the directory's Go files, in path order."""
        if self._in_package_table is None:
            self._in_package_table = {}
            for qname in sorted(self.symbols):
                symbol = self.symbols[qname]
                if symbol.language == "go":
                    key = (symbol.path.rpartition("/")[0], split_qualified_name(qname)[1])
                    self._in_package_table.setdefault(key, []).append(qname)
        return self._in_package_table

    def _defining(self, files: list[str], written: set[str]) -> set[str]:
        """Of a large package's ``files`` (one directory), those defining a name the importer writes: each file of
        a package of thousands, from each of its hundreds of importers, made hundreds of thousands of edges."""
        directory = files[0].rpartition("/")[0]
        table = self._package_table()
        return {qname.partition("::")[0] for name in written for qname in table.get((directory, name), ())}

    def _in_package(self, path: str, dotted: str) -> list[str]:
        """``dotted`` defined in the package of file ``path``, that file's own definition first. A test file
        sees the package's other files; the package never sees its test files."""
        found = self._package_table().get((path.rpartition("/")[0], dotted), [])
        sees_tests = path.endswith("_test.go")
        own = [q for q in found if q.startswith(path + "::")]
        others = [q for q in found if q not in own and (sees_tests or not _in_test_file(q))]
        return own + others

    def _bare(self, path: str, name: str, for_class: bool) -> tuple[str, str] | None:
        """A name written without a qualifier: the file's own, its package's, or a dot-imported package's."""
        for qname in self._in_package(path, name):
            symbol = self.symbols[qname]
            if symbol.kind != METHOD and (not for_class or symbol.kind == CLASS):
                return qname, "local" if symbol.path == path else "package"
        for file in self._dot_imported.get(path, ()):
            symbol = self.symbols.get(f"{file}::{name}")
            if symbol is not None and symbol.kind != METHOD and (not for_class or symbol.kind == CLASS):
                return symbol.qname, "import"
        return None

    def _receiver(self, caller: str) -> tuple[str, str] | None:
        """(receiver name, the qname of its type) when ``caller`` is a method whose type is known."""
        method = self.symbols.get(caller)
        if method is None or method.kind != METHOD:
            return None
        match = _RECEIVER.match(method.signature)
        type_dotted = split_qualified_name(caller)[1].rpartition(".")[0]
        types = self._in_package(method.path, type_dotted) if match is not None and type_dotted else []
        return (match.group(1), types[0]) if types else None

    def _method(self, type_qname: str, name: str) -> str | None:
        """Method ``name`` of the type, written in any file of its package, or of a type it embeds."""
        queue, seen = [type_qname], {type_qname}
        while queue:
            current = queue.pop(0)
            path, dotted = split_qualified_name(current)
            found = self._in_package(path, f"{dotted}.{name}")
            if found:
                return found[0]
            for base in self.names.bases.get(current, ()):
                if base not in seen:
                    seen.add(base)
                    queue.append(base)
        return None
