"""Names in Java by Java's scoping, before the name-based guesses every other language gets.

A class name means, in order: a class nested in the enclosing classes, a top-level class of the file, the
class a single-type import names, a class of the same package (every file of the package directory, in
``src/main/java`` and ``src/test/java`` alike, or in the source directories a pom.xml declares), a class of
a package imported with ``.*`` (of a package of more than 64 files, only those whose classes the file's calls
or bases name: each of them is an import edge). A method name written alone, or after ``this.``/``super.``, is
a method of the enclosing class or of a class or interface it extends, then of an outer class, then a static import.
``Class.method`` is a method of that class, however the class was found, and a parameter's method
(``repo.save`` in ``void store(Repository repo)``) one of the class its declaration names. A local
variable's method is left to ``GenericResolver``, as is anything these rules do not find (a method of an
anonymous class, a base class from a library).

Edges say how: ``self`` (through the class hierarchy), ``local`` (a class of this file), ``package``,
``import`` (a single-type, static or on-demand import), ``parameter`` (the parameter's declared class).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..model import CLASS, FileExtract, Import, split_qualified_name
from .generic import GenericResolver
from .names import WHOLE_IMPORT_MAX_FILES, names_written
from .parameters import attribute_holder, declared_type

# What precedes the package directories in a file's path: a Maven/Gradle source root, or nothing.
_SOURCE_ROOT = re.compile(r"^(.*?/)?src/(?:main|test)/java/")


def package_of(path: str, declared_roots: Sequence[tuple[str, str]] = ()) -> tuple[str, str]:
    """(project, package directory) of a Java file: the main and test source roots of one project share
    their packages (``src/main/java`` and ``src/test/java``, else the (project, source directory) pairs a
    pom.xml declares, the deepest first); a file outside such a root is in the package of its directory.
    The standard layout wins over a declared root: a parent pom's ``<sourceDirectory>`` may be one that a
    module of the standard layout overrides."""
    directory = path.rpartition("/")[0]
    match = _SOURCE_ROOT.match(directory + "/")
    if match is not None:
        return match.group(1) or "", (directory + "/")[match.end():].rstrip("/")
    for project, root in sorted(declared_roots, key=lambda pair: -len(pair[1])):
        if not root or directory == root or directory.startswith(root + "/"):
            return (f"{project}/" if project else ""), directory[len(root):].lstrip("/")
    return "", directory


class JavaResolver:
    def __init__(self, generic: GenericResolver):
        self.generic = generic
        self.names = generic.names
        self.symbols = generic.symbols
        self._single: dict[str, dict[str, str]] = {}  # file -> simple name -> qname a single-type/static import names
        self._on_demand: dict[str, list[str]] = {}  # file -> files of the packages it imports with `.*`
        self._packages: dict[tuple[str, str], dict[str, str]] | None = None  # package -> class name -> qname

    def is_builtin(self, callee: str) -> bool:
        return False

    def imports(self, path: str, extract: FileExtract) -> list[tuple[str | None, str]]:
        links: list[tuple[str | None, str]] = []
        single = self._single[path] = {}
        on_demand = self._on_demand[path] = []
        for imp in extract.imports:
            targets = self.generic.linked_targets("java", path, imp, links)
            if not targets:
                continue
            if imp.names and imp.names[0][0] == "*":
                if len(targets) > WHOLE_IMPORT_MAX_FILES:
                    targets = self._named_by(extract, targets)
                    links[:] = [(t, m) for t, m in links if m != imp.module or t in targets]
                on_demand.extend(targets)
            else:
                found = self._imported(targets[0], imp)
                if found is not None:
                    single.setdefault(split_qualified_name(found)[1].rpartition(".")[2], found)
        return links

    @staticmethod
    def _named_by(extract: FileExtract, files: list[str]) -> list[str]:
        """Of a large package imported with ``.*``, the files whose class (the file's name) the importer's calls or
        bases name: every file of a package of thousands, from each of its hundreds of importers, made millions of
        edges."""
        used = names_written(extract)
        return [file for file in files if file.rpartition("/")[2].removesuffix(".java") in used]

    def _imported(self, file: str, imp: Import) -> str | None:
        """The class or static member ``com.acme.Order`` / ``com.acme.Money.format`` names in ``file``."""
        segments = imp.module.split(".")
        stem = file.rpartition("/")[2].removesuffix(".java")
        if stem not in segments:
            return None
        qname = f"{file}::{'.'.join(segments[len(segments) - 1 - segments[::-1].index(stem):])}"
        return qname if qname in self.symbols else None

    # ----------------------------------------------------------------------------------------------- classes

    def _package_table(self) -> dict[tuple[str, str], dict[str, str]]:
        if self._packages is None:
            self._packages = {}
            for qname in sorted(self.symbols):
                symbol = self.symbols[qname]
                if symbol.language == "java" and symbol.kind == CLASS and symbol.parent is None:
                    self._packages.setdefault(self._package_of(symbol.path), {}).setdefault(symbol.name, qname)
        return self._packages

    def _package_of(self, path: str) -> tuple[str, str]:
        return package_of(path, self.generic.manifests.java_roots)

    def _class(self, path: str, caller: str, name: str) -> tuple[str, str] | None:
        """(qname, how) of the class a simple name means at ``caller`` in ``path``."""
        scope = self.names.enclosing_class(caller)
        while scope is not None:  # nested classes of the enclosing classes, innermost first
            nested = self.names.in_class_hierarchy(scope, name, include_self=True)
            if nested is not None and self.symbols[nested].kind == CLASS:
                return nested, "local" if self.symbols[nested].path == path else "self"
            scope = self._outer(scope)
        if f"{path}::{name}" in self.symbols:
            return f"{path}::{name}", "local"
        if name in self._single.get(path, {}):
            return self._single[path][name], "import"
        found = self._package_table().get(self._package_of(path), {}).get(name)
        if found is not None:
            return found, "local" if self.symbols[found].path == path else "package"
        for file in self._on_demand.get(path, ()):
            if f"{file}::{name}" in self.symbols:
                return f"{file}::{name}", "import"
        return None

    def _outer(self, cls: str) -> str | None:
        parent = self.symbols[cls].parent
        return self.names.enclosing_class(parent) if parent else None

    def _member(self, cls: str, name: str, include_self: bool = True) -> str | None:
        return self.names.in_class_hierarchy(cls, name, include_self=include_self)

    # --------------------------------------------------------------------------------------------- resolving

    def resolve(self, path: str, caller: str, text: str, for_class: bool) -> tuple[str, str] | None:
        pieces = text.split(".")
        if any(not p or "(" in p for p in pieces):
            return self.generic.resolve(path, caller, text, for_class)
        found = self._class_path(path, caller, pieces) if for_class or pieces[-1][:1].isupper() else None
        if found is None and not for_class:
            found = self._method(path, caller, pieces)
        library_class = len(pieces) > 1 and pieces[0][:1].isupper() and self._class(path, caller, pieces[0]) is None
        if found is None and library_class:
            return None  # String.format, List.of: a class from a library names nothing of ours
        return found if found is not None else self.generic.resolve(path, caller, text, for_class)

    def _class_path(self, path: str, caller: str, pieces: list[str]) -> tuple[str, str] | None:
        """``Order``, ``Outer.Inner`` or a fully qualified ``com.acme.Order`` as a class."""
        found = self._class(path, caller, pieces[0])
        if found is None:
            return None
        qname, how = found
        for piece in pieces[1:]:
            qname = self._member(qname, piece)
            if qname is None or self.symbols[qname].kind != CLASS:
                return None
        return qname, how

    def _field_type(self, cls: str, field: str, outer: bool) -> str | None:
        """The class field ``field`` of ``cls`` or a superclass is declared with (``private final Bell bell``), read
        where the field is declared; with ``outer``, an enclosing class's field too (an inner class sees it)."""
        scope: str | None = cls
        while scope is not None:
            holder = attribute_holder(self.symbols, self.names.bases, scope, field)
            declared = declared_type(self.symbols, holder, field) if holder is not None else None
            if declared is not None:
                found = self._class_path(self.symbols[holder].path, holder, declared[0].split("."))
                return found[0] if found is not None else None
            scope = self._outer(scope) if outer else None
        return None

    def _method(self, path: str, caller: str, pieces: list[str]) -> tuple[str, str] | None:
        """``m``, ``this.m``, ``super.m`` or ``Class.m``."""
        cls = self.names.enclosing_class(caller)
        if len(pieces) == 1 or (len(pieces) == 2 and pieces[0] in ("this", "super")):
            name, own = pieces[-1], pieces[0] != "super"
            scope = cls
            while scope is not None:  # then the outer classes: an inner class calls its outer's methods
                found = self._member(scope, name, include_self=own or scope != cls)
                if found is not None:
                    return found, "self"
                if len(pieces) == 2:
                    return None
                scope = self._outer(scope)
            imported = self._single.get(path, {}).get(name)  # import static ...Money.format
            return (imported, "import") if imported is not None else None
        if len(pieces) == 3 and pieces[0] == "this":
            owner = self._field_type(cls, pieces[1], outer=False) if cls is not None else None
            found = self._member(owner, pieces[2]) if owner is not None else None
            return (found, "field") if found is not None else None
        owner = self._class_path(path, caller, pieces[:-1])
        if owner is None and len(pieces) == 2:
            declared = declared_type(self.symbols, caller, pieces[0])
            owner = self._class_path(path, caller, declared[0].split(".")) if declared else None
            owner = (owner[0], declared[1]) if owner is not None and declared else None
            local = pieces[0] in self.symbols[caller].local_types if caller in self.symbols else False
            if owner is None and not declared and not local and cls is not None:  # on a field `Bell bell`
                field_type = self._field_type(cls, pieces[0], outer=True)
                owner = (field_type, "field") if field_type is not None else None
            if owner is None:  # `var bell = Bell.quiet(); bell.ring()`: what the call returns
                found = self.generic.variable_result(path, caller, pieces[0], pieces[-1], self.resolve, self._member)
                return (found, "result") if found is not None else None
        if owner is None:
            return None
        found = self._member(owner[0], pieces[-1])
        return (found, owner[1]) if found is not None else None
