"""C and C++ names through what a file includes: the headers it includes and the headers those include, then
each header's source twin (``queue.h`` → ``queue.c``, ``include/geo/circle.hpp`` → ``src/circle.cpp``), where
the functions a header only declares are defined. A declaration is no symbol, so without the twin a call
through a header could only be guessed by a repository-wide unique name.

C++ methods defined outside their class (``double Circle::area() const { ... }`` in ``circle.cpp``, the class
in ``circle.hpp``) belong to the class the file can see by that name: ``this->m``, a bare ``m()`` inside a
method, and lookups through the class hierarchy find them (``NameTable.add_member``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..model import CLASS, METHOD, Symbol, split_qualified_name
from .import_paths import FileIndex, _shared_dirs
from .names import NameTable, family

_HEADER_SUFFIXES = (".h", ".hh", ".hpp", ".hxx", ".h++", ".inl")
_SOURCE_SUFFIXES = (".c", ".cc", ".cpp", ".cxx", ".c++")
_MAX_INCLUDED = 64  # headers followed through other headers, per file: enough for a project's own layers
_MAX_DEPTH = 4


def _stem(path: str) -> tuple[str, str]:
    """(directory, file name less its extension)."""
    directory, _, name = path.rpartition("/")
    return directory, name.rpartition(".")[0] or name


class CIncludes:
    def __init__(self, names: NameTable, index: Callable[[], FileIndex]):
        self.names = names
        self._index = index
        self._visible: dict[str, tuple[list[str], list[str]]] = {}
        self._twins: dict[str, list[str]] = {}
        self._linked = False

    def visible(self, path: str) -> tuple[list[str], list[str]]:
        """(headers ``path`` includes, directly or through other headers, nearest first; their source twins)."""
        if path not in self._visible:
            headers: list[str] = []
            frontier = [path]
            for _ in range(_MAX_DEPTH):
                following = []
                for current in frontier:
                    for included in self.names.imported_files.get(current, ()):
                        if included != path and included not in headers and len(headers) < _MAX_INCLUDED:
                            headers.append(included)
                            following.append(included)
                frontier = following
            twins = [t for h in headers for t in self.twins(h) if t != path]
            self._visible[path] = (headers, list(dict.fromkeys(twins)))
        return self._visible[path]

    def twins(self, header: str) -> list[str]:
        """The source files named like ``header``: beside it, else the nearest elsewhere in the repository."""
        if header not in self._twins:
            found: list[str] = []
            if header.endswith(_HEADER_SUFFIXES):
                directory, stem = _stem(header)
                index = self._index()
                beside = [f"{directory}/{stem}{s}".lstrip("/") for s in _SOURCE_SUFFIXES]
                found = [p for p in beside if p in index.files]
                if not found:
                    named = [p for s in _SOURCE_SUFFIXES for p in index.by_basename.get(stem + s, ())]
                    if named:
                        best = max(_shared_dirs(directory, p.rpartition("/")[0]) for p in named)
                        found = [p for p in named if _shared_dirs(directory, p.rpartition("/")[0]) == best]
            self._twins[header] = found
        return self._twins[header]

    def link_out_of_line_methods(self, symbols: Mapping[str, Symbol]) -> None:
        """Give each C++ method defined outside its class (``Circle::area`` in circle.cpp) to the class it names,
        as found in the headers its file includes, else the one class of that name in the repository."""
        if self._linked:
            return
        self._linked = True
        classes: dict[str, list[str]] = {}  # dotted name -> C/C++ classes so named
        for qname, symbol in symbols.items():
            if symbol.kind == CLASS and family(symbol.language) == "c":
                classes.setdefault(split_qualified_name(qname)[1], []).append(qname)
        for qname, symbol in symbols.items():
            if symbol.kind != METHOD or symbol.language != "cpp":
                continue
            path, dotted = split_qualified_name(qname)
            owner = dotted.rpartition(".")[0]
            if not owner or f"{path}::{owner}" in symbols:
                continue  # defined inside its class, or the class is in this very file
            headers = self.visible(path)[0]
            found = [f"{h}::{owner}" for h in headers if f"{h}::{owner}" in symbols]
            candidates = found or classes.get(owner, [])
            if len(candidates) == 1 or found:
                self.names.add_member(candidates[0], symbol.name, qname)
        self.names.forget_lookups()
