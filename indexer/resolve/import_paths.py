"""Which repository files an import names, for JavaScript/TypeScript, Go, Rust, Java and C/C++.

Each language's rules read the import as the extractor recorded it (``Import.module`` as written; see
``indexer/extract/generic.py``) and look for the files it can mean in one ``FileIndex`` of the repository.
Imports of things outside the repository (packages, the standard library, system headers) name no file.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from typing import Callable

from ..model import Import


class FileIndex:
    """The repository's paths indexed for import lookups: built once per graph, asked for every import."""

    def __init__(self, files: set[str]) -> None:
        self.files = files
        self.by_basename: dict[str, list[str]] = defaultdict(list)
        self.by_dir: dict[str, list[str]] = defaultdict(list)
        self.dirs_by_suffix: dict[str, list[str]] = defaultdict(list)  # "b/c" -> ["a/b/c", "b/c", ...]
        seen_dirs: set[str] = set()
        for path in sorted(files):
            directory, _, base = path.rpartition("/")
            self.by_basename[base].append(path)
            self.by_dir[directory].append(path)
            while directory and directory not in seen_dirs:
                seen_dirs.add(directory)
                parts = directory.split("/")
                for start in range(len(parts)):
                    self.dirs_by_suffix["/".join(parts[start:])].append(directory)
                directory = directory.rpartition("/")[0]

    def targets(self, language: str, importer: str, imp: Import) -> list[str]:
        """Repository files that the import in file ``importer`` refers to; [] for anything outside."""
        rules = _RULES.get(language)
        if rules is None or not imp.module:
            return []
        return rules(importer, imp, self)

    def ending_with(self, suffix: str) -> list[str]:
        """Files whose path is ``suffix`` or ends with ``/suffix``."""
        base = suffix.rpartition("/")[2]
        return [p for p in self.by_basename.get(base, ()) if p == suffix or p.endswith("/" + suffix)]

    def dirs_ending_with(self, suffix: str) -> list[str]:
        """Directories whose path is ``suffix`` or ends with ``/suffix``."""
        return sorted(self.dirs_by_suffix.get(suffix, ()))


def resolve_import(language: str, importer: str, imp: Import, files: set[str]) -> list[str]:
    """One import on its own against a set of repository paths (for many, build one ``FileIndex``)."""
    return FileIndex(files).targets(language, importer, imp)


def _normalized(directory: str, relative: str) -> str | None:
    """``directory``/``relative`` without ``.``/``..``; None when it leaves the repository."""
    joined = posixpath.normpath(posixpath.join(directory, relative))
    return None if joined == ".." or joined.startswith("../") or joined.startswith("/") else joined


_JS_EXTENSIONS = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts", ".d.ts")
# TypeScript sources import their compiled name: `./x.js` means `./x.ts`.
_JS_COMPILED = {".js": (".ts", ".tsx"), ".jsx": (".tsx",), ".mjs": (".mts",), ".cjs": (".cts",)}


def _resolve_js(importer: str, imp: Import, index: FileIndex) -> list[str]:
    spec = imp.module.split("?", 1)[0]
    if not (spec.startswith("./") or spec.startswith("../") or spec in (".", "..")):
        return []  # a package from node_modules or a path alias
    base = _normalized(posixpath.dirname(importer), spec)
    if base is None:
        return []
    found = js_module_file(base, index)
    return [found] if found else []


def js_module_file(base: str, index: FileIndex) -> str | None:
    """The file a module path without or with an extension loads: itself, its TypeScript source, the
    path with an extension added, or the directory's index file."""
    stem, extension = posixpath.splitext(base)
    candidates = [base]
    candidates += [stem + alternative for alternative in _JS_COMPILED.get(extension, ())]
    candidates += [base + ext for ext in _JS_EXTENSIONS]
    candidates += [f"{base}/index{ext}" for ext in _JS_EXTENSIONS]
    return next((c for c in candidates if c in index.files), None)


# Top-level directories of the Go standard library: an import starting with one of these is not ours.
_GO_STDLIB_ROOTS = frozenset(
    "archive bufio builtin bytes cmp compress container context crypto database debug embed encoding errors "
    "expvar flag fmt go hash html image index io iter log maps math mime net os path plugin reflect regexp "
    "runtime slices sort strconv strings sync syscall testing text time unicode unique unsafe weak".split()
)


def _resolve_go(importer: str, imp: Import, index: FileIndex) -> list[str]:
    segments = imp.module.strip("/").split("/")
    if segments[0] in _GO_STDLIB_ROOTS or segments[0] == "C":
        return []
    # The longest tail of the import path that names a directory of ours is the package.
    for start in range(len(segments)):
        for directory in index.dirs_ending_with("/".join(segments[start:])):
            sources = go_package_files(directory, index)
            if sources:
                return sources
    return []


def go_package_files(directory: str, index: FileIndex) -> list[str]:
    """The Go files of a package directory that other packages see (its tests are not imported)."""
    return [p for p in index.by_dir.get(directory, ()) if p.endswith(".go") and not p.endswith("_test.go")]


def rust_module_dir(path: str) -> str:
    """The directory holding the submodules of the module defined in ``path``."""
    directory, _, base = path.rpartition("/")
    if base in ("mod.rs", "lib.rs", "main.rs"):
        return directory
    return f"{directory}/{base[:-3]}" if directory else base[:-3]


def rust_crate_root(importer: str, index: FileIndex) -> str:
    directory = importer.rpartition("/")[0]
    while True:
        if f"{directory}/lib.rs".lstrip("/") in index.files or f"{directory}/main.rs".lstrip("/") in index.files:
            return directory
        if not directory:
            break
        directory = directory.rpartition("/")[0]
    parts = importer.split("/")
    if "src" in parts[:-1]:
        return "/".join(parts[: len(parts) - 1 - parts[:-1][::-1].index("src")])
    return importer.rpartition("/")[0]


def rust_module_file(directory: str, segments: list[str], index: FileIndex) -> str | None:
    """The file of module ``segments`` under module directory ``directory``; [] segments: the directory's own."""
    if segments:
        base = "/".join([directory, *segments]).lstrip("/")
        candidates = [f"{base}.rs", f"{base}/mod.rs"]
    else:
        own = ("mod.rs", "lib.rs", "main.rs")
        candidates = [f"{directory}.rs"] + [f"{directory}/{name}".lstrip("/") for name in own]
    return next((c for c in candidates if c in index.files), None)


def _resolve_rust(importer: str, imp: Import, index: FileIndex) -> list[str]:
    own_dir = rust_module_dir(importer)
    if not imp.names:  # `mod foo;`
        found = rust_module_file(own_dir, [imp.module], index)
        return [found] if found else []
    segments = [s for s in imp.module.split("::") if s]
    anchored = bool(segments) and segments[0] in ("crate", "self", "super")
    if segments and segments[0] == "crate":
        base, segments = rust_crate_root(importer, index), segments[1:]
    elif segments and segments[0] in ("self", "super"):
        base = own_dir
        while segments and segments[0] in ("self", "super"):
            if segments.pop(0) == "super":
                base = base.rpartition("/")[0]
    else:
        base = own_dir  # a submodule in scope (`use area::round`) or an external crate, which will not match
    paths = [segments + [name] for name, _ in imp.names if name not in ("*", "self")] + [segments]
    results: list[str] = []
    for full in paths:
        # Trailing segments may be items (types, functions) rather than modules: drop them until a file matches.
        for keep in range(len(full), -1, -1):
            if keep == 0 and not anchored:
                break  # `use name::...` naming no module of ours is an external crate
            found = rust_module_file(base, full[:keep], index)
            if found:
                if found not in results:
                    results.append(found)
                break
    return results


def _resolve_java(importer: str, imp: Import, index: FileIndex) -> list[str]:
    segments = imp.module.split(".")
    if imp.names and imp.names[0][0] == "*":
        directory = "/".join(segments)
        found = [p for d in index.dirs_ending_with(directory) for p in index.by_dir[d] if p.endswith(".java")]
        if found:
            return found
    # Static imports and nested classes name something inside a file: drop segments until a file matches.
    for keep in range(len(segments), 1, -1):
        found = index.ending_with("/".join(segments[:keep]) + ".java")
        if found:
            return found
    return []


_INCLUDE_DIRS = frozenset({"include", "inc", "includes"})


def _resolve_c(importer: str, imp: Import, index: FileIndex) -> list[str]:
    if imp.module.startswith("<"):
        return []  # system or library header
    directory = importer.rpartition("/")[0]
    local = _normalized(directory, imp.module)
    if local is not None and local in index.files:
        return [local]
    suffix = "/".join(part for part in imp.module.split("/") if part not in (".", ".."))
    found = index.ending_with(suffix)
    if len(found) <= 1:
        return found
    # Several headers end so: those right under an include directory are the ones a build's -I finds.
    on_include_path = [p for p in found if p[: len(p) - len(suffix)].rstrip("/").rpartition("/")[2] in _INCLUDE_DIRS]
    found = on_include_path or found
    if len(found) == 1:
        return found
    # Several headers share the name: keep those nearest the including file.
    closeness = {p: _shared_dirs(directory, p.rpartition("/")[0]) for p in found}
    best = max(closeness.values())
    return [p for p in found if closeness[p] == best]


def _shared_dirs(a: str, b: str) -> int:
    count = 0
    for x, y in zip(a.split("/"), b.split("/")):
        if x != y or not x:
            break
        count += 1
    return count


_RULES: dict[str, Callable[[str, Import, FileIndex], list[str]]] = {
    "javascript": _resolve_js,
    "typescript": _resolve_js,
    "tsx": _resolve_js,
    "go": _resolve_go,
    "rust": _resolve_rust,
    "java": _resolve_java,
    "c": _resolve_c,
    "cpp": _resolve_c,
}
