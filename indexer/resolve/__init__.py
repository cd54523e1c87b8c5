"""Import and name resolution for the code graph: which repository file an import loads, and which definition
a call or a base-class expression names.

One resolver per language family (``python.py``, ``go.py``, ``rust.py``, ``java.py``, ``javascript.py``;
``breadth_imports.py`` for the twelve languages of ``extract/tagged.py``; ``generic.py`` for C/C++ and
everyone's leftovers) over one shared ``NameTable``; the graph builder asks ``Resolvers`` and turns the
answers into edges. The repository's build manifests (``manifests.py``: go.mod, Cargo.toml, package.json,
tsconfig.json, pom.xml), read by the indexer, say which imports are its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import NamedTuple, Protocol

from ..model import FileExtract, Symbol
from .breadth_imports import BREADTH_LANGUAGES, BreadthResolver
from .generic import GenericResolver
from .go import GoResolver
from .java import JavaResolver
from .javascript import JavaScriptResolver
from .manifests import Manifests
from .names import NameTable
from .python import PythonResolver
from .rust import RustResolver


class Resolver(Protocol):
    def imports(self, path: str, extract: FileExtract) -> list[tuple[str | None, str]]:
        """(repository file or None for outside it, the import as written) for each import of ``path``."""

    def resolve(self, path: str, caller: str, text: str, for_class: bool) -> tuple[str, str] | None:
        """(qname, how it was found) for ``text`` written in ``path`` inside ``caller`` (a qname or the path)."""

    def is_builtin(self, callee: str) -> bool:
        """A name the language provides: not worth reporting as an unresolved call."""


class FileImports(NamedTuple):
    files: list[str]  # repository files, each once, in the order first imported; never the file itself
    external: list[str]  # imports of things outside the repository, as written, each once
    via: dict[str, str]  # file -> the manifest that resolved its import (go.mod, package.json, ...), if one did


class Resolvers:
    def __init__(self, extracts: Mapping[str, FileExtract], symbols: Mapping[str, Symbol], other_files: list[str],
                 manifests: Manifests | None = None):
        self.names = NameTable(symbols)
        self._python = PythonResolver(self.names, extracts)
        self._other = GenericResolver(self.names, extracts, other_files, manifests)
        self._go = GoResolver(self._other)
        self._rust = RustResolver(self._other)
        self._java = JavaResolver(self._other)
        self._javascript = JavaScriptResolver(self._other)
        self._breadth = BreadthResolver(self._other)

    def for_language(self, language: str) -> Resolver:
        if language == "python":
            return self._python
        if language == "rust":
            return self._rust
        if language == "java":
            return self._java
        if language in ("javascript", "typescript", "tsx"):
            return self._javascript
        if language in BREADTH_LANGUAGES:
            return self._breadth
        return self._go if language == "go" else self._other

    def module_of(self, path: str) -> str | None:
        """The dotted name a Python file is imported by, or None."""
        return self._python.modules.module_of.get(path)

    def package_files(self) -> Iterator[str]:
        """Every ``__init__.py``/``__init__.pyi`` of the repository."""
        modules = self._python.modules
        return (path for path in modules.files if modules.is_package(path))

    def imports(self, path: str, extract: FileExtract) -> FileImports:
        """Resolve the file's imports; call for every file before resolving any name."""
        links = self.for_language(extract.language).imports(path, extract)
        files = list(dict.fromkeys(target for target, _ in links if target is not None and target != path))
        external = list(dict.fromkeys(written for target, written in links if target is None))
        self.names.imported_files[path] = files
        via = {file: how for file in files if (how := self._other.import_via.get((path, file))) is not None}
        return FileImports(files, external, via)

    def imported_files(self, path: str) -> list[str]:
        return self.names.imported_files.get(path, [])

    def add_base(self, cls: str, base: str) -> None:
        self.names.add_base(cls, base)

    def forget_lookups(self) -> None:
        """Call once every base is added: lookups made before may have missed inherited names."""
        self.names.forget_lookups()
        self._python.forget_lookups()
        self._rust.forget_lookups()
        self._other.forget_lookups()
