"""Imports and names in every parsed language but Python: JavaScript/TypeScript, Go, Rust, Java, C/C++.

Their extracts record names as written, without the binding rules Python's resolver follows, so a name is
looked for in order: ``this``/``self`` members through the class hierarchy (in C++ a bare name inside a
method too), a method of what the call before it makes or returns (``Foo().bar``, ``Man::new().generate_to``),
a parameter's method through the type its signature gives it (``parameters.py``), definitions in the same
file, definitions in the files it imports (for C/C++ also the headers those include, then the headers' source
twins: ``c_family.py``), and a definition whose name is unique in its language family. A method that several
classes define, called on a variable of unknown type, is none of them rather than a guess.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from ..model import CLASS, METHOD, FileExtract, Import
from .c_family import CIncludes
from .import_paths import FileIndex
from .manifest_imports import ManifestImports
from .manifests import Manifests
from .names import NameTable, family
from .parameters import Resolve, declared_type, field_type, made_by, made_type
MethodOf = Callable[[str, str], "str | None"]  # (class qname, method name) -> the method's qname

_NAME_SEPARATORS = re.compile(r"\.|::|->")
_CHAINED = re.compile(r"(.+?)\(\)(?:\.|::|->)(\w+)")  # `Foo().bar`, `Man::new().generate_to`


def name_and_qualifier(text: str) -> tuple[str, str | None] | None:
    """The name a callee or base-type expression ends with and the name written before it (``a.b->run()``: run,
    b); None when it holds no name."""
    pieces = [p for p in _NAME_SEPARATORS.split(text.replace("()", "")) if p]
    if not pieces:
        return None
    return pieces[-1], (pieces[-2] if len(pieces) > 1 else None)


class GenericResolver:
    def __init__(self, names: NameTable, extracts: Mapping[str, FileExtract], other_files: list[str],
                 manifests: Manifests | None = None):
        self.names = names
        self.symbols = names.symbols
        self.extracts = extracts
        self.other_files = other_files
        self.manifests = manifests or Manifests()
        self._file_index: FileIndex | None = None
        self._manifest_imports: ManifestImports | None = None
        self._c_includes: CIncludes | None = None
        self.import_via: dict[tuple[str, str], str] = {}  # (importer, file) -> the manifest that resolved it
        # (path, caller, `a().b`, the resolver that asked) -> the method `b` of what `a()` returns, for chains and
        # for `x = a(); x.b()` alike
        self._results: dict[tuple[str, str, str, str], str | None] = {}

    def forget_lookups(self) -> None:
        """Drop what chains resolved to before every base was known: a method may be inherited."""
        self._results.clear()

    def is_builtin(self, callee: str) -> bool:
        return False

    def file_index(self) -> FileIndex:
        if self._file_index is None:  # only built when the repository has a file in one of these languages
            self._file_index = FileIndex({*self.extracts, *self.other_files})
        return self._file_index

    def c_includes(self) -> CIncludes:
        if self._c_includes is None:
            self._c_includes = CIncludes(self.names, self.file_index)
        return self._c_includes

    def manifest_imports(self) -> ManifestImports:
        if self._manifest_imports is None:
            self._manifest_imports = ManifestImports(self.manifests, self.file_index())
        return self._manifest_imports

    def targets(self, language: str, path: str, imp: Import) -> list[str]:
        """The repository files that one import of ``path`` names; [] for anything outside the repository.
        A manifest that covers the import decides (``import_via`` records which); else the path rules."""
        decided = self.manifest_imports().targets(language, path, imp.module) if imp.module else None
        if decided is None:
            return self.file_index().targets(language, path, imp)
        files, via = decided
        for file in files:
            self.import_via.setdefault((path, file), via)
        return files

    def linked_targets(self, language: str, path: str, imp: Import, links: list[tuple[str | None, str]]) -> list[str]:
        """``targets``, each also added to ``links`` as (file, module as written), or (None, module) if none."""
        targets = self.targets(language, path, imp)
        links.extend((target, imp.module) for target in targets)
        if not targets:
            links.append((None, imp.module))
        return targets

    def imports(self, path: str, extract: FileExtract) -> list[tuple[str | None, str]]:
        """(file imported or None when outside the repository, the module as written) for each import."""
        links: list[tuple[str | None, str]] = []
        for imp in extract.imports:
            self.linked_targets(extract.language, path, imp, links)
        return links

    def resolve(self, path: str, caller: str, text: str, for_class: bool) -> tuple[str, str] | None:
        """(qname, resolution) for a callee or base-type expression written in ``path`` inside ``caller``."""
        names = self.names
        chained = None if for_class else _CHAINED.fullmatch(text)
        if chained is not None:
            found = self._result_method(path, caller, chained.group(1), chained.group(2))
            if found is not None:
                return found, "result"
        written = name_and_qualifier(text)
        if written is None:
            return None
        name, qualifier = written
        wanted = (lambda q: self.symbols[q].kind == CLASS) if for_class else (lambda q: True)
        language = self.extracts[path].language
        c_like = family(language) == "c"
        if c_like:
            self.c_includes().link_out_of_line_methods(self.symbols)
        if language == "cpp" and qualifier is None and not for_class:
            # Inside a method, a bare name is first a member: C++'s implicit `this->`.
            cls = names.enclosing_class(caller)
            found = names.in_class_hierarchy(cls, name, include_self=True) if cls is not None else None
            if found is not None:
                return found, "self"
        if qualifier in ("this", "self") and not for_class:
            cls = names.enclosing_class(caller)
            found = names.in_class_hierarchy(cls, name, include_self=True) if cls is not None else None
            if found is None and cls is None and caller in self.symbols and self.symbols[caller].kind == METHOD:
                # A method of an owner that is no symbol here (res.location = function, C++ X::f out of
                # line): its siblings in this file are what `this` has.
                sibling = f"{caller.rpartition('.')[0]}.{name}"
                found = sibling if sibling in self.symbols else None
            if found is not None:
                return found, "self"
        pieces = [p for p in _NAME_SEPARATORS.split(text) if p]
        if len(pieces) == 3 and pieces[0] == "this" and not for_class:
            found = self._field_method(caller, pieces[1], name)
            if found is not None:
                return found, "field"
        if qualifier is not None and qualifier not in ("this", "self") and not for_class:
            declared = declared_type(self.symbols, caller, qualifier)
            written = declared[0] if declared else None
            owner = self.resolve(path, caller, written, True) if written and written != qualifier else None
            found = names.in_class_hierarchy(owner[0], name, include_self=True) if owner is not None else None
            if found is not None and declared:
                return found, declared[1]
            found = self.variable_result(path, caller, qualifier, name) if "." not in qualifier else None
            if found is not None:
                return found, "result"
        same_file = [q for q in names.file_names.get((path, name), ()) if wanted(q)]
        if same_file:
            return self._closest(same_file, qualifier, caller, "local")
        imported = [
            q
            for target in names.imported_files.get(path, ())
            for q in names.file_names.get((target, name), ())
            if wanted(q)
        ]
        if imported:
            return self._closest(imported, qualifier, caller, "import")
        if c_like:
            # Headers included through other headers, then the source files that define what they declare.
            headers, twins = self.c_includes().visible(path)
            for files, how in ((headers, "import"), (twins, "header")):
                found_in = [q for file in files for q in names.file_names.get((file, name), ()) if wanted(q)]
                if found_in:
                    return self._closest(found_in, qualifier, caller, how)
        key = (family(language), name)
        everywhere = (*names.top_level_by_name.get(key, ()), *names.methods_by_name.get(key, ()))
        candidates = [q for q in everywhere if wanted(q)]
        if len(candidates) == 1:
            return candidates[0], "unique_name"
        return None

    def _field_method(self, caller: str, field: str, name: str) -> str | None:
        """Method ``name`` of the class a field of the caller's class (or a base) is declared with or made as:
        TypeScript's ``this.bell.ring()`` with ``bell: Bell`` or ``bell = new Bell()``, read where it is declared."""
        cls = self.names.enclosing_class(caller)
        owner = field_type(self.symbols, self.names.bases, self.resolve, cls, field) if cls is not None else None
        return self.names.in_class_hierarchy(owner, name, include_self=True) if owner is not None else None

    def _on_result(self, path: str, caller: str, made_by: str, name: str,
                   resolve: Resolve | None = None, method: MethodOf | None = None) -> str | None:
        """Method ``name`` of what ``made_by()`` makes: a class constructed (``new Foo().bar()``, written
        ``Foo().bar``), or the type a function's signature says it returns (``Man::new(cmd).generate_to()``
        with ``fn new(..) -> Self``, ``NewServer().Start()`` with ``func NewServer() *Server``). A language's
        resolver passes its own ``resolve`` and method lookup (Go's package scope, Rust's impl blocks)."""
        made = made_type(self.symbols, resolve or self.resolve, path, caller, made_by)
        if made is None:
            return None
        owner = made[0]
        return method(owner, name) if method else self.names.in_class_hierarchy(owner, name, include_self=True)

    def variable_result(self, path: str, caller: str, variable: str, name: str,
                        resolve: Resolve | None = None, method: MethodOf | None = None) -> str | None:
        """Method ``name`` of what the call whose result local ``variable`` holds returns (``s.Start()`` after
        ``s, err := NewServer()``)."""
        maker = made_by(self.symbols, caller, variable)
        return self._result_method(path, caller, maker, name, resolve, method) if maker is not None else None

    def _result_method(self, path: str, caller: str, maker: str, name: str,
                       resolve: Resolve | None = None, method: MethodOf | None = None) -> str | None:
        """``_on_result``, remembered: a builder chain (`Command::new().arg().arg().about`) is recorded once per
        call in it and each resolves the chain before it, and a variable is usually called on many times."""
        key = (path, caller, f"{maker}().{name}", getattr(resolve, "__qualname__", ""))
        if key not in self._results:
            # None while it resolves: `let x = x.build()` or two variables made from each other would loop.
            self._results[key] = None
            self._results[key] = self._on_result(path, caller, maker, name, resolve, method)
        return self._results[key]

    def _closest(self, candidates: list[str], qualifier: str | None, caller: str,
                 resolution: str) -> tuple[str, str] | None:
        """Among same-named definitions, the one inside the class the call names or the caller's class, else
        that of the class a receiver variable is named after (``fish.write()`` → ``Fish.write``,
        ``headers.set()`` → ``AxiosHeaders.set``). A method that several classes define, called on a
        variable that says nothing of its type, resolves to none: the first of them would be a guess that
        is wrong as often as there are others (``fish.write_registration`` drew an edge to Bash's)."""
        owner_names = {qualifier, self.symbols[caller].parent if caller in self.symbols else None}
        for candidate in candidates:
            parent = self.symbols[candidate].parent
            if parent is not None and (parent in owner_names or self.symbols[parent].name in owner_names):
                return candidate, resolution
        owners = {self.symbols[candidate].parent for candidate in candidates}
        if qualifier is None or len(owners) == 1:
            return candidates[0], resolution
        named_after = [c for c in candidates if _named_after(qualifier, self._owner_name(c))]
        if len({self.symbols[c].parent for c in named_after}) == 1:
            return named_after[0], resolution
        return None

    def _owner_name(self, qname: str) -> str | None:
        parent = self.symbols[qname].parent
        return self.symbols[parent].name if parent is not None and parent in self.symbols else None


def _named_after(variable: str, class_name: str | None) -> bool:
    """Whether a variable's name is its class's, as code often names them: ``fish`` for a ``Fish``,
    ``line_wrapper`` for a ``LineWrapper``, ``headers`` for an ``AxiosHeaders``."""
    if not class_name:
        return False
    wanted = variable.replace("_", "").lower()
    name = class_name.lower()
    return wanted == name or (len(wanted) >= 4 and name.endswith(wanted))
