"""What every resolver looks names up in: the repository's symbols by bare name, each file's in-repository
imports, and the class hierarchy as the graph builder discovers it.

Values are always qualified names; a bare name is only ever a lookup key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..model import CLASS, METHOD, FileExtract, Symbol, is_redefinition

# Languages whose files call into each other, for repository-wide unique-name resolution.
_FAMILIES = {"javascript": "js", "typescript": "js", "tsx": "js", "c": "c", "cpp": "c"}


def family(language: str) -> str:
    return _FAMILIES.get(language, language)


_NOT_IDENTIFIER = re.compile(r"[^\w$]+")

# An import of a whole namespace, package or module (C#'s using, Java's `.*`, Swift's and Go's import) with more
# files than this links only the files defining what the importer names: each of thousands of files, from each of
# hundreds of importers, made millions of edges.
WHOLE_IMPORT_MAX_FILES = 64


def names_written(extract: FileExtract) -> set[str]:
    """Every identifier in the file's calls and base classes as written (``a.B<C>.run()``: a, B, C, run): what the
    file names, for rules that link a large package or namespace by the files defining those names only."""
    texts = [*(call.callee for call in extract.calls), *(inheritance.base for inheritance in extract.inherits)]
    return {piece for text in texts for piece in _NOT_IDENTIFIER.split(text) if piece}


class NameTable:
    def __init__(self, symbols: Mapping[str, Symbol]):
        self.symbols = symbols
        # (language family, bare name) -> qnames
        self.top_level_by_name: dict[tuple[str, str], list[str]] = {}
        self.methods_by_name: dict[tuple[str, str], list[str]] = {}
        # (path, bare name) -> qnames defined in that file
        self.file_names: dict[tuple[str, str], list[str]] = {}
        for qname, symbol in symbols.items():
            if is_redefinition(qname):
                continue  # a name looked up finds its first definition in that scope, as the language would
            key = (family(symbol.language), symbol.name)
            if symbol.kind == METHOD:
                self.methods_by_name.setdefault(key, []).append(qname)
            elif symbol.parent is None:
                self.top_level_by_name.setdefault(key, []).append(qname)
            self.file_names.setdefault((symbol.path, symbol.name), []).append(qname)
        self.imported_files: dict[str, list[str]] = {}  # file -> the repository files it imports, in order
        self.bases: dict[str, list[str]] = {}  # class qname -> base class qnames, as inherits edges are added
        # Methods defined outside their class's file (C++ `Circle::area` in circle.cpp): class -> name -> qname,
        # and each such method's class.
        self.members_elsewhere: dict[str, dict[str, str]] = {}
        self.owner_elsewhere: dict[str, str] = {}
        self._hierarchy_cache: dict[tuple[str, str, bool], str | None] = {}

    def add_base(self, cls: str, base: str) -> None:
        self.bases.setdefault(cls, []).append(base)

    def add_member(self, cls: str, name: str, method: str) -> None:
        """``method``, defined in another file than ``cls``, is ``cls``'s ``name``."""
        self.members_elsewhere.setdefault(cls, {}).setdefault(name, method)
        self.owner_elsewhere[method] = cls

    def forget_lookups(self) -> None:
        """Drop cached hierarchy searches: those made before every base was known may have missed names."""
        self._hierarchy_cache.clear()

    def enclosing_class(self, caller: str) -> str | None:
        current = self.symbols.get(caller)
        while current is not None:
            if current.kind == CLASS:
                return current.qname
            if current.qname in self.owner_elsewhere:
                return self.owner_elsewhere[current.qname]
            current = self.symbols.get(current.parent) if current.parent else None
        return None

    def in_class_hierarchy(self, cls: str, rest: str, include_self: bool) -> str | None:
        """``rest`` defined in class ``cls`` (when ``include_self``) or in one of its bases."""
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
            elsewhere = self.members_elsewhere.get(current, {}).get(rest)
            if elsewhere is not None:
                return elsewhere
            for base in self.bases.get(current, ()):
                if base not in seen:
                    seen.add(base)
                    queue.append(base)
        return None
