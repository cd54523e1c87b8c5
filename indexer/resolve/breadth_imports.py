"""Which repository files an import names in the twelve languages ``extract/tagged.py`` reads: Ruby, PHP,
Bash, Dart, Zig, Lua, Haskell, Kotlin, Scala, Elixir, Swift and C#.

The extract keeps each import as written (``require_relative "greeter"``, ``App\\Greetings\\Greeter``,
``package:shop/greeter.dart``); the rules below turn it into files in one of three ways, as the language
itself finds them:

- a path: relative to the importing file's folder first, then a file whose path ends with it, the one
  nearest the importer if several do (Ruby, PHP's require/include, Bash's source, Dart, Zig, Lua, Haskell);
- a name: the file that defines the imported class, function or module, among several the one whose folders
  spell the package or namespace (Kotlin, Scala, PHP's use, Elixir's alias/import/use/require);
- a declared namespace: C#'s ``using A.B;`` is every file declaring ``namespace A.B`` (its folders need not
  say so), ``using static A.B.C;`` and ``using X = A.B.C;`` those of them defining the type C. Every file, not
  only those whose types the importer calls: the extract knows calls and bases, not the types a file names in
  fields, parameters or ``typeof``, which are as much what it uses (as Java's ``.*`` links the whole package).
  Past 64 files a namespace is linked by the files whose types the importer calls or derives from only: every
  file of a namespace of thousands, from each of its hundreds of users, made millions of edges;
- a module folder: Swift's ``import Greetings`` is the SwiftPM target ``Sources/Greetings/`` (past 64 files,
  those of its files defining what the importer calls or derives from, as for a C# namespace).

Calls then resolve through the imported files as in every language (``GenericResolver``: ``import``); in C#
not to a method several imported classes define when the call does not say which (a whole namespace is
imported, so the first file's would be a guess).
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Callable

from ..model import CLASS, FileExtract, Import
from .generic import GenericResolver, name_and_qualifier
from .import_paths import FileIndex, _normalized, _shared_dirs
from .names import WHOLE_IMPORT_MAX_FILES, family, names_written

# Roots of the platforms' own packages: a lone definition of ours with the imported name is not what
# `import kotlin.text.uppercase` means.
_PLATFORM_ROOTS = frozenset({"java", "javax", "kotlin", "kotlinx", "scala", "android", "androidx"})

# The folders Ruby's load path holds in a repository: a gem's lib/, and test/ or spec/ under rake and rspec.
_RUBY_LOAD_DIRS = frozenset({"", "lib", "test", "spec"})

_LANGUAGE_EXTENSIONS = {
    "kotlin": (".kt", ".kts"), "scala": (".scala", ".sc"), "swift": (".swift",), "elixir": (".ex", ".exs"),
}
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


class BreadthResolver:
    """The resolver of the twelve tagged languages: imports by the rules of this module, names by
    ``GenericResolver`` (same file, then the imported files, then a unique name)."""

    def __init__(self, generic: GenericResolver):
        self.generic = generic
        self.names = generic.names
        self._elixir_modules: dict[str, list[str]] | None = None
        self._swift_targets: dict[str, list[str]] = {}
        self._swift_names: dict[str, dict[str, list[str]]] = {}  # a large target's top-level names -> symbols
        self._csharp_namespaces: dict[str, list[str]] | None = None
        self._csharp_names: dict[str, dict[str, list[str]]] | None = None

    @property
    def index(self) -> FileIndex:
        return self.generic.file_index()

    def is_builtin(self, callee: str) -> bool:
        return False

    def resolve(self, path: str, caller: str, text: str, for_class: bool) -> tuple[str, str] | None:
        found = self.generic.resolve(path, caller, text, for_class)
        if self.generic.extracts[path].language != "csharp":
            return found
        if found is not None and found[1] == "import":
            return None if self._a_guess_among_imports(path, caller, text, found[0], for_class) else found
        if found is None or found[1] == "unique_name":
            return self._in_own_namespace(path, caller, text, for_class) or found
        return found

    def _in_own_namespace(self, path: str, caller: str, text: str, for_class: bool) -> tuple[str, str] | None:
        """A C# type that no using brings: the types of the file's own namespace and of the namespaces around
        it are visible without one, innermost first (``Shop.Orders`` code sees ``Shop.Orders`` and ``Shop``
        types), so a type defined there and elsewhere too is no longer left to a unique-name guess. A bare name
        is such a type (``new Invoice()``); ``Tax.Add`` is a method of such a type; a method called on a
        variable (``items.Add``) is not looked up here, since the variable's type is unknown."""
        written = name_and_qualifier(text)
        if written is None:
            return None
        name, qualifier = written
        symbols = self.names.symbols

        def visible(qname: str) -> bool:
            symbol = symbols[qname]
            if qualifier is None or for_class:
                return symbol.kind == CLASS
            return symbol.parent is not None and symbols[symbol.parent].name == qualifier

        around = self.generic.extracts[path].namespaces
        by_namespace = self._names_by_namespace()
        for namespace in reversed(list(dict.fromkeys(p for n in around for p in _prefixes(n)))):
            candidates = [q for q in by_namespace.get(namespace, {}).get(name, ())
                          if symbols[q].path != path and visible(q)]
            if len(candidates) == 1:
                return candidates[0], "namespace"
            if candidates:
                return None  # partial classes or a name defined twice in one namespace: not a guess either
        return None

    def _a_guess_among_imports(self, path: str, caller: str, text: str, found: str, for_class: bool) -> bool:
        """A C# name that several classes of the imported files define, and that neither the call's qualifier
        nor the caller's class singles out (``handler.Handle`` on a variable): ``GenericResolver`` would take
        the first. A using imports a whole namespace, so such names are common, and a wrong callee misleads
        more than none."""
        written = name_and_qualifier(text)
        assert written is not None  # GenericResolver found a callee for it, so the text names one
        name, qualifier = written
        symbols = self.names.symbols
        owners = {
            symbols[q].parent
            for target in self.names.imported_files.get(path, ())
            for q in self.names.file_names.get((target, name), ())
            if not for_class or symbols[q].kind == CLASS
        }
        if len(owners) < 2:
            return False
        parent = symbols[found].parent
        named = {qualifier, symbols[caller].parent if caller in symbols else None}
        return parent is None or (parent not in named and symbols[parent].name not in named)

    def imports(self, path: str, extract: FileExtract) -> list[tuple[str | None, str]]:
        """(file imported or None when outside the repository, the module as written) for each import."""
        links: list[tuple[str | None, str]] = []
        for imp in extract.imports:
            targets = self.targets(extract.language, path, imp)
            links.extend((target, imp.module) for target in targets)
            if not targets:
                links.append((None, imp.module))
        return links

    def targets(self, language: str, importer: str, imp: Import) -> list[str]:
        rule = _RULES.get(language)
        return rule(self, importer, imp) if rule is not None and imp.module else []

    # ---------------------------------------------------------------------------------------- paths

    def relative_or_ending(self, importer: str, written: str) -> list[str]:
        """``written`` relative to the importer's folder, else the files whose path ends with it (nearest)."""
        if not written or "$" in written or written.startswith(("/", "~")):
            return []  # computed, absolute or home paths are not the repository's
        directory = posixpath.dirname(importer)
        local = _normalized(directory, written)
        if local is not None and local in self.index.files:
            return [local]
        return self.nearest(importer, self.index.ending_with(_without_dots(written)))

    def nearest(self, importer: str, found: list[str]) -> list[str]:
        """Of several candidate files, those sharing the most folders with the importer."""
        if len(found) <= 1:
            return found
        directory = posixpath.dirname(importer)
        closeness = {p: _shared_dirs(directory, posixpath.dirname(p)) for p in found}
        best = max(closeness.values())
        return [p for p in found if closeness[p] == best]

    def ruby(self, importer: str, imp: Import) -> list[str]:
        # require_relative and require read alike in the extract: the importer's folder first, then the load
        # path (lib/, test/, spec/ or the root), then, for a path with folders, any file ending with it.
        written = imp.module if imp.module.endswith(".rb") else imp.module + ".rb"
        local = _normalized(posixpath.dirname(importer), written)
        if local is not None and local in self.index.files:
            return [local]
        suffix = _without_dots(written)
        found = self.index.ending_with(suffix)
        loadable = [p for p in found if posixpath.basename(p[: -len(suffix)].rstrip("/")) in _RUBY_LOAD_DIRS]
        return self.nearest(importer, loadable or (found if "/" in suffix else []))

    def php(self, importer: str, imp: Import) -> list[str]:
        if imp.module.endswith((".php", ".inc")):  # require/include of a file
            return self.relative_or_ending(importer, imp.module)
        segments = [s for s in imp.module.split("\\") if s]  # use App\Greetings\Greeter
        return self.defined_in_package("php", segments[:-1], segments[-1]) if segments else []

    def bash(self, importer: str, imp: Import) -> list[str]:
        return self.relative_or_ending(importer, imp.module)

    def dart(self, importer: str, imp: Import) -> list[str]:
        scheme, _, rest = imp.module.partition(":")
        if not rest:
            return self.relative_or_ending(importer, imp.module)
        if scheme != "package" or "/" not in rest:
            return []  # dart:core and the like
        package, _, inside = rest.partition("/")
        found = self.index.ending_with(f"lib/{inside}")
        # The package's own folder is usually named after it: the workspace member `shop/` for package:shop.
        named = [p for p in found if posixpath.basename(p[: -len(f"lib/{inside}")].rstrip("/")) == package]
        return self.nearest(importer, named or found)

    def zig(self, importer: str, imp: Import) -> list[str]:
        # @import("std") and the modules build.zig declares are names, not files.
        return self.relative_or_ending(importer, imp.module) if imp.module.endswith(".zig") else []

    def lua(self, importer: str, imp: Import) -> list[str]:
        # package.path's usual ./?.lua and ./?/init.lua, from any folder a script may run in.
        base = imp.module.replace(".", "/")
        found = self.index.ending_with(f"{base}.lua") + self.index.ending_with(f"{base}/init.lua")
        return self.nearest(importer, found)

    def haskell(self, importer: str, imp: Import) -> list[str]:
        # A module's file is its dotted name as folders under a source folder (src/, app/, the root).
        return self.nearest(importer, self.index.ending_with(imp.module.replace(".", "/") + ".hs"))

    # ---------------------------------------------------------------------------------------- names

    def jvm(self, importer: str, imp: Import) -> list[str]:
        """Kotlin and Scala: ``a.b.C`` is the file defining C in package a.b (a nested ``a.b.C.D``: C's);
        ``import a.b.{C, D}`` each name's; ``a.b.*``/``a.b._`` (written ``a.b``) the package folder's files."""
        language = self.generic.extracts[importer].language
        segments = [s for s in imp.module.split(".") if s]
        if not segments:
            return []
        if imp.names:
            return [f for name, _ in imp.names for f in self.defined_in_package(language, segments, name)]
        if len(segments) == 1:  # a class of the default package; a lone folder name says too little
            return self.defined_in_package(language, [], segments[0])
        for end in range(len(segments) - 1, 0, -1):
            found = self.defined_in_package(language, segments[:end], segments[end])
            if found:
                return found
        # The platform's packages are no folder of ours, even one whose path happens to end so (kotlin/text/).
        return self.package_files(language, segments) if segments[0] not in _PLATFORM_ROOTS else []

    def defined_in_package(self, language: str, package: list[str], name: str) -> list[str]:
        """The files of ``language`` defining a top-level ``name``: with several, those whose folders end
        with most of the package path (case aside: PSR-4's ``app/`` for ``App\\``); a lone one unless the
        package is the platform's own."""
        key = (family(language), name)
        files = list(dict.fromkeys(self.names.symbols[q].path for q in self.names.top_level_by_name.get(key, ())))
        if len(files) == 1 and package and package[0] in _PLATFORM_ROOTS:
            return []
        if len(files) <= 1:
            return files
        agreement = {f: _tail_agreement(posixpath.dirname(f), package) for f in files}
        best = max(agreement.values())
        return [f for f in files if agreement[f] == best] if best else []

    def package_files(self, language: str, segments: list[str]) -> list[str]:
        """The files of the folders spelling the package: the whole path, else its tail without the root
        packages, two folders at the least (Kotlin's layout leaves out the common root package)."""
        extensions = _LANGUAGE_EXTENSIONS[language]
        for start in range(0, len(segments) - 1):
            folders = self.index.dirs_ending_with("/".join(segments[start:]))
            found = [p for d in folders for p in self.index.by_dir[d] if p.endswith(extensions)]
            if found:
                return found
        return []

    def elixir(self, importer: str, imp: Import) -> list[str]:
        """The file with ``defmodule Shop.Greeter``, else ``shop/greeter.ex`` by Mix's naming."""
        if self._elixir_modules is None:
            self._elixir_modules = defaultdict(list)
            for qname, symbol in self.names.symbols.items():
                if symbol.language == "elixir" and symbol.kind == CLASS:
                    module = qname.partition("::")[2]
                    if symbol.path not in self._elixir_modules[module]:
                        self._elixir_modules[module].append(symbol.path)
        if imp.module in self._elixir_modules:
            return self._elixir_modules[imp.module]
        base = "/".join(_CAMEL_BOUNDARY.sub("_", part).lower() for part in imp.module.split("."))
        return self.nearest(importer, self.index.ending_with(f"{base}.ex") + self.index.ending_with(f"{base}.exs"))

    def swift(self, importer: str, imp: Import) -> list[str]:
        """``import Greetings`` (or ``import struct Greetings.Greeter``): the SwiftPM target folder
        ``Sources/Greetings/``, every Swift file under it; a module outside the repository has none."""
        module = imp.module.partition(".")[0]
        if module not in self._swift_targets:
            folders = tuple(d + "/" for d in self.index.dirs_ending_with(f"Sources/{module}"))
            self._swift_targets[module] = sorted(
                p for p in self.index.files if p.endswith(".swift") and p.startswith(folders)
            ) if folders else []
        files = self._swift_targets[module]
        if len(files) <= WHOLE_IMPORT_MAX_FILES:
            return files
        if module not in self._swift_names:
            inside = set(files)
            names: dict[str, list[str]] = {}
            for qname, symbol in self.names.symbols.items():
                if symbol.path in inside and symbol.parent is None:
                    names.setdefault(symbol.name, []).append(qname)
            self._swift_names[module] = names
        return self._files_named_in(importer, self._swift_names[module], None)

    def csharp(self, importer: str, imp: Import) -> list[str]:
        """``using A.B;`` (or ``using X = A.B;``): the files declaring namespace A.B; ``using static A.B.C;``
        (or ``using X = A.B.C;``, a nested ``A.B.C.D``): those of them defining a type C. Inside ``namespace
        Shop``, ``using Greetings;`` may mean Shop.Greetings, as the compiler looks there too."""
        written = _strip_type_arguments(imp.module.removeprefix("global::"))
        # As written first (a using outside any namespace means nothing else), then under the namespaces
        # around the importer's code, innermost first.
        around = self.generic.extracts[importer].namespaces
        enclosing = list(dict.fromkeys(p for n in around for p in _prefixes(n)))
        for prefix in ("", *reversed(enclosing)):
            qualified = f"{prefix}.{written}" if prefix else written
            found = self.namespace_member(qualified)
            if found is not None:
                if len(found) > WHOLE_IMPORT_MAX_FILES and qualified in self.csharp_namespaces():
                    return self._files_named_in(importer, self._names_by_namespace().get(qualified, {}), CLASS)
                return found
        return []

    def _files_named_in(self, importer: str, by_name: dict[str, list[str]], kind: str | None) -> list[str]:
        """Of a large namespace or module (``by_name``: its names -> symbols), the files defining a top-level symbol
        (of ``kind``, if given) that the importer's calls or bases name."""
        used = names_written(self.generic.extracts[importer])
        symbols = self.names.symbols
        return sorted({symbols[q].path for name in used for q in by_name.get(name, ())
                       if symbols[q].parent is None and (kind is None or symbols[q].kind == kind)})

    def csharp_namespaces(self) -> dict[str, list[str]]:
        """Namespace -> the C# files declaring it."""
        if self._csharp_namespaces is None:
            self._csharp_namespaces = defaultdict(list)
            for path, extract in sorted(self.generic.extracts.items()):
                if extract.language == "csharp":
                    for namespace in extract.namespaces:
                        self._csharp_namespaces[namespace].append(path)
        return self._csharp_namespaces

    def _names_by_namespace(self) -> dict[str, dict[str, list[str]]]:
        """Namespace -> name -> the symbols so named in the files declaring it: built in one pass over the names,
        so that looking a call up costs a few dict lookups, not a scan of a namespace's thousands of files."""
        if self._csharp_names is None:
            namespaces_of: dict[str, list[str]] = defaultdict(list)
            for namespace, files in self.csharp_namespaces().items():
                for file in files:
                    namespaces_of[file].append(namespace)
            self._csharp_names = {}
            for (file, name), qnames in self.names.file_names.items():
                for namespace in namespaces_of.get(file, ()):
                    self._csharp_names.setdefault(namespace, {}).setdefault(name, []).extend(qnames)
        return self._csharp_names

    def namespace_member(self, name: str) -> list[str] | None:
        """The files a C# namespace or a type of one names; None if ``name`` starts with no namespace of ours."""
        namespaces = self.csharp_namespaces()
        if name in namespaces:
            return namespaces[name]
        segments = name.split(".")
        for end in range(len(segments) - 1, 0, -1):
            files = namespaces.get(".".join(segments[:end]))
            if files is not None:
                return [f for f in files if self._defines_type(f, segments[end])]
        return None

    def _defines_type(self, path: str, name: str) -> bool:
        return any(
            self.names.symbols[q].kind == CLASS and self.names.symbols[q].parent is None
            for q in self.names.file_names.get((path, name), ())
        )


def _prefixes(namespace: str) -> list[str]:
    """``A.B.C`` -> ``A``, ``A.B``, ``A.B.C``."""
    parts = namespace.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts) + 1)]


def _strip_type_arguments(name: str) -> str:
    """``System.Collections.Generic.List<int>`` -> ``System.Collections.Generic.List``."""
    return name.partition("<")[0].strip()


def _without_dots(path: str) -> str:
    return "/".join(part for part in path.split("/") if part not in ("", ".", ".."))


def _tail_agreement(directory: str, package: list[str]) -> int:
    """How many of the package's last segments the folder path ends with (case-insensitive)."""
    folders = [d.lower() for d in directory.split("/") if d]
    count = 0
    for folder, segment in zip(reversed(folders), reversed(package)):
        if folder != segment.lower():
            break
        count += 1
    return count


_RULES: dict[str, Callable[[BreadthResolver, str, Import], list[str]]] = {
    "ruby": BreadthResolver.ruby,
    "php": BreadthResolver.php,
    "bash": BreadthResolver.bash,
    "dart": BreadthResolver.dart,
    "zig": BreadthResolver.zig,
    "lua": BreadthResolver.lua,
    "haskell": BreadthResolver.haskell,
    "kotlin": BreadthResolver.jvm,
    "scala": BreadthResolver.jvm,
    "elixir": BreadthResolver.elixir,
    "swift": BreadthResolver.swift,
    "csharp": BreadthResolver.csharp,
}

# Every language tagged.py extracts.
BREADTH_LANGUAGES = frozenset(_RULES)
