"""The data that flows through the indexer: what a parser extracts from one file, and the chunks we embed.

Everything here is plain, picklable data so that per-file results can be cached and the graph rebuilt
from them without re-parsing unchanged files.

Naming: every symbol is keyed by its *qualified name* ``<repo-relative posix path>::<dotted in-file name>``,
e.g. ``pkg/mod.py::Class.method``. A file's own node is keyed by its path (``pkg/mod.py``); a directory
("module" node) by its path too (``pkg``; the repository root is ``.``). Nothing is keyed by a bare identifier.

A name defined again in the same scope (overloads, a property's setter, ``@overload`` stubs, both branches of
an ``#ifdef``) keeps it for its first definition; the later ones get ``~2``, ``~3``, ... in file order
(``Shape.area~2``), so that every definition has a key of its own. ``Symbol.name`` stays the bare name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Symbol kinds. "module" is used for directories/packages; files have kind "file".
FILE = "file"
MODULE = "module"
CLASS = "class"
FUNCTION = "function"
METHOD = "method"

# Graph edge kinds.
CONTAINS = "contains"
IMPORTS = "imports"
CALLS = "calls"
INHERITS = "inherits"
TESTS = "tests"
EDGE_KINDS = (CONTAINS, IMPORTS, CALLS, INHERITS, TESTS)


def qualified_name(path: str, dotted: str) -> str:
    return f"{path}::{dotted}"


def split_qualified_name(qname: str) -> tuple[str, str]:
    path, _, dotted = qname.partition("::")
    return path, dotted


# Marks a later definition of a name already defined in the same scope. Not a character of any identifier
# we index, nor a separator of qualified names; C++ destructors (``~Shape``) carry it first, never last.
REDEFINITION_MARK = "~"
_REDEFINITION_SUFFIX = re.compile(r"~\d+(?=\.|\Z)")
_REDEFINITION_AT_END = re.compile(r"~\d+\Z")


def as_written(dotted: str) -> str:
    """The dotted name without redefinition marks: ``Shape.area~2`` -> ``Shape.area``."""
    return _REDEFINITION_SUFFIX.sub("", dotted) if REDEFINITION_MARK in dotted else dotted


def is_redefinition(qname: str) -> bool:
    """Whether ``qname`` is a second or later definition of its name in its scope."""
    return qname[-1:].isdigit() and _REDEFINITION_AT_END.search(qname) is not None


class DistinctNames:
    """Hands out the dotted names of one file's definitions, each once: the first definition of a name in a
    scope keeps it, the later ones get ``~2``, ``~3``, ... (see the module docstring)."""

    def __init__(self) -> None:
        self._taken: dict[str, int] = {}

    def claim(self, dotted: str) -> str:
        count = self._taken.get(dotted, 0) + 1
        self._taken[dotted] = count
        if count == 1:
            return dotted
        distinct = f"{dotted}{REDEFINITION_MARK}{count}"
        while distinct in self._taken:  # cannot come from source text, but no name may be handed out twice
            count += 1
            distinct = f"{dotted}{REDEFINITION_MARK}{count}"
        self._taken[distinct] = 1
        return distinct


@dataclass
class Symbol:
    """A definition found in a file: a class, function or method (types/structs/interfaces count as class)."""

    qname: str  # "pkg/mod.py::Class.method"
    name: str  # "method"
    kind: str  # CLASS | FUNCTION | METHOD
    path: str  # repo-relative posix path
    language: str
    start_line: int  # 1-based, inclusive
    end_line: int  # 1-based, inclusive
    start_byte: int
    end_byte: int
    signature: str = ""  # the header line(s) up to the body, e.g. "def method(self, x: int) -> str:"
    docstring: str | None = None
    parent: str | None = None  # qname of the enclosing symbol; None for top-level (the file contains it)
    # A function's local variables -> the type their declarations write or make (`let x: Foo`, `x := &Foo{}`,
    # `Foo x = …`, `const x = new Foo()`), or the callee whose result they hold with "()" (`NewServer()`), for
    # the calls made on them; "" where two declarations disagree. On a Python class: its instance attributes
    # (`self.x = Foo()` in a method, `x: Foo` in the body), the same way.
    local_types: dict[str, str] = field(default_factory=dict)


@dataclass
class Import:
    """An import statement as written; the graph builder resolves it to repository files.

    Python: ``import a.b as c`` -> module="a.b", alias="c", names=[]; ``from ..x import y as z`` ->
    module="x", level=2, names=[("y", "z")]. Other languages: ``module`` is the string as written
    (``"./util"``, ``"github.com/x/y/pkg"``, ``crate::a::b``, ``java.util.List``, ``"foo.h"``).
    """

    module: str
    line: int
    names: list[tuple[str, str | None]] = field(default_factory=list)  # (imported name, alias or None)
    alias: str | None = None
    level: int = 0  # Python relative-import dots
    scope: str | None = None  # qname of the enclosing symbol if the import is local to a function


@dataclass
class Call:
    """A call site as written. ``callee`` is the callee expression's text with arguments stripped:
    ``foo``, ``self.bar``, ``mod.func``, ``obj.method``, ``super().run``, ``Foo`` (constructor)."""

    caller: str  # qname of the enclosing symbol, or the file path for module-level code
    callee: str
    line: int


@dataclass
class Inheritance:
    cls: str  # qname of the subclass
    base: str  # base expression as written: "Base", "mod.Base", "pkg.mod.Base"
    line: int


@dataclass
class FileExtract:
    """Everything the parser learned about one file. Produced by ``indexer.extract.extract_file``."""

    path: str
    language: str
    symbols: list[Symbol] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    inherits: list[Inheritance] = field(default_factory=list)
    module_docstring: str | None = None
    has_errors: bool = False  # tree-sitter reported ERROR/MISSING nodes; what parsed is kept
    line_count: int = 0
    # Names bound at module level that are not definitions (assignments), for name resolution.
    module_names: list[str] = field(default_factory=list)
    # Namespaces the file declares, nested ones joined (C#'s `namespace A { namespace B` is A.B): what a
    # `using A.B;` elsewhere names, since C#'s folders need not spell them.
    namespaces: list[str] = field(default_factory=list)


@dataclass
class Chunk:
    """A unit of embedding and lexical search. ``text`` is what gets embedded; it carries the in-file
    qualified name but never the file path, so renaming a file does not change it (embedding cache hit)."""

    id: str  # deterministic: derived from path, symbol and part number
    path: str
    symbol: str | None  # qname, or None for plain-text / module-level chunks
    kind: str  # "function", "method", "class", "module" (top-level code), "text"
    language: str
    start_line: int
    end_line: int
    text: str
    part: int = 0  # > 0 for the continuation pieces of a long body

    @property
    def content_hash(self) -> str:
        import hashlib

        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass
class SkippedFile:
    path: str
    reason: str  # one of files.SKIP_REASONS
    detail: str = ""
