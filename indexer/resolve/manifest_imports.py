"""Imports resolved through the manifests (``manifests.py``) before the path-based rules of ``import_paths.py``.

- Go: an import path under a module of the repository (its ``go.mod``'s ``module`` line, or a ``replace``
  to a local directory) is that module's directory plus the rest of the path; under the importer's own
  module nothing else can be ours (a package of another module, vendored copies aside).
- JavaScript/TypeScript: a bare specifier is first a ``paths`` alias or a ``baseUrl`` path of the nearest
  tsconfig/jsconfig above the importer, then a package of the repository by its ``package.json`` name, the
  subpath through ``exports`` (or ``main``/``module``/``source``), a built file (``dist/index.js``) mapped
  to its source (``src/index.ts``) when the build output is not in the repository.
- Rust: the crates a package's code can name (its own library, its dependencies), each either a crate
  of the repository or one from elsewhere (see ``RustResolver``).
- Java: the source directories a ``pom.xml`` declares, as package roots (see ``JavaResolver``).

Each answer says which manifest decided it: the edge keeps it as ``via``.
"""

from __future__ import annotations

import posixpath

from .import_paths import FileIndex, go_package_files, js_module_file
from .manifests import GO_MOD, PACKAGE_JSON, Crate, JsPackage, Manifests, TsConfig, join_inside

# Directories builds write to, whose files come from `src/` of the same package.
_BUILD_DIRS = ("dist", "lib", "build", "out", "esm", "cjs", "types")


def _above(directory: str, path: str) -> bool:
    return not directory or path.startswith(directory + "/")


def _nearest(items: dict[str, object], path: str) -> object | None:
    """The item keyed by the deepest directory that contains ``path``."""
    directory = path.rpartition("/")[0]
    while True:
        if directory in items:
            return items[directory]
        if not directory:
            return None
        directory = directory.rpartition("/")[0]


class ManifestImports:
    def __init__(self, manifests: Manifests, index: FileIndex):
        self.manifests = manifests
        self.index = index
        self._go_by_dir = {m.directory: m for m in manifests.go_modules}
        self._crates_by_dir = {c.directory: c for c in manifests.crates}
        self._crate_tables: dict[str, dict[str, str | None]] = {}  # package directory -> names its code can use
        self._packages = self._js_packages_by_name()

    def targets(self, language: str, importer: str, module: str) -> tuple[list[str], str] | None:
        """(repository files, the manifest that decided) for an import, or None when no manifest applies."""
        if language == "go":
            return self._go(importer, module)
        if language in ("javascript", "typescript", "tsx"):
            return self._javascript(importer, module)
        return None

    # ------------------------------------------------------------------------------------------------------ Go

    def _go(self, importer: str, module: str) -> tuple[list[str], str] | None:
        own = _nearest(self._go_by_dir, importer)
        if own is None:
            return None  # no go.mod above the file: the path rules guess
        candidates = [(m.path, m.directory) for m in self.manifests.go_modules] + self.manifests.go_replaces
        best: tuple[str, str] | None = None
        for prefix, directory in candidates:
            if (module == prefix or module.startswith(prefix + "/")) and (best is None or len(prefix) > len(best[0])):
                best = (prefix, directory)
        if best is None:
            vendored = join_inside(own.directory, f"vendor/{module}")
            return (go_package_files(vendored, self.index) if vendored is not None else []), GO_MOD
        package = join_inside(best[1], module[len(best[0]):].lstrip("/") or ".")
        return (go_package_files(package, self.index) if package is not None else []), GO_MOD

    # ------------------------------------------------------------------------------------ JavaScript/TypeScript

    def _javascript(self, importer: str, spec: str) -> tuple[list[str], str] | None:
        spec = spec.split("?", 1)[0]
        if not spec or spec.startswith((".", "/")) or ":" in spec:
            return None  # relative (the path rules), absolute, or `node:fs`
        config = _nearest(self.manifests.ts_configs, importer)
        if isinstance(config, TsConfig):
            found = self._alias(config, spec)
            if found is not None:
                return [found], config.file.rpartition("/")[2]
        package = self._package_for(spec)
        if package is not None:
            found = self._package_entry(package, "." + spec[len(package.name):])
            if found is not None:
                return [found], PACKAGE_JSON
        return None

    def _alias(self, config: TsConfig, spec: str) -> str | None:
        """A ``paths`` pattern (the longest matching prefix first), then ``baseUrl``."""
        matches: list[tuple[int, list[str], str]] = []
        for pattern, substitutions in config.paths:
            prefix, star, suffix = pattern.partition("*")
            if not star and spec == pattern:
                matches.append((len(pattern) + 1, substitutions, ""))
            elif star and spec.startswith(prefix) and spec.endswith(suffix) and len(spec) >= len(prefix) + len(suffix):
                matches.append((len(prefix), substitutions, spec[len(prefix):len(spec) - len(suffix)]))
        for _, substitutions, captured in sorted(matches, key=lambda m: -m[0]):
            for substitution in substitutions:
                found = js_module_file(substitution.replace("*", captured), self.index)
                if found is not None:
                    return found
        if config.base_url is not None:
            base = join_inside(config.base_url, spec)
            return js_module_file(base, self.index) if base else None
        return None

    def _js_packages_by_name(self) -> dict[str, JsPackage]:
        """One package per name: a workspace member before any other, then the shallowest."""
        packages: dict[str, JsPackage] = {}
        members = self.manifests.js_workspaces

        def rank(package: JsPackage) -> tuple[bool, int, str]:
            member = self.manifests.member_of(members, package.directory) or not package.directory
            return not member, package.directory.count("/"), package.directory

        for package in sorted(self.manifests.js_packages, key=rank):
            packages.setdefault(package.name, package)
        return packages

    def _package_for(self, spec: str) -> JsPackage | None:
        parts = spec.split("/")
        for length in (2, 1) if spec.startswith("@") else (1,):  # `@scope/name/sub` or `name/sub`
            package = self._packages.get("/".join(parts[:length]))
            if package is not None:
                return package
        return None

    def _package_entry(self, package: JsPackage, subpath: str) -> str | None:
        targets = package.entries.get(subpath)
        if targets is None:
            for pattern, pattern_targets in sorted(package.entries.items(), key=lambda e: -len(e[0])):
                prefix, star, suffix = pattern.partition("*")
                if star and subpath.startswith(prefix) and subpath.endswith(suffix):
                    captured = subpath[len(prefix):len(subpath) - len(suffix)]
                    targets = [t.replace("*", captured) for t in pattern_targets]
                    break
        if targets is None and not package.has_exports:
            targets = [subpath] if subpath != "." else ["./index", "./src/index"]
        if subpath == "." and not targets:
            targets = ["./index", "./src/index"]
        for target in targets or ():
            found = self._package_file(package.directory, target)
            if found is not None:
                return found
        return None

    def _package_file(self, directory: str, target: str) -> str | None:
        """The repository file a package's entry names, or its source when the entry is build output."""
        path = join_inside(directory, target)
        if path is None:
            return None
        found = js_module_file(path, self.index) if path else None
        if found is not None:
            return found
        relative = path[len(directory) + 1:] if directory else path
        first, _, rest = relative.partition("/")
        if first in _BUILD_DIRS and rest:
            stem = rest.removesuffix(".d.ts")
            stem = posixpath.splitext(stem)[0] if stem == rest else stem
            source = join_inside(directory, f"src/{stem}")
            return js_module_file(source, self.index) if source else None
        return None

    # ---------------------------------------------------------------------------------------------------- Rust

    def rust_crates(self, importer: str) -> dict[str, str | None] | None:
        """Crate name -> the directory of its root module for the crates of the repository the importer's
        package can name (its own library, its path dependencies); None for a dependency from elsewhere.
        None altogether when no Cargo.toml is above the importer."""
        package = _nearest(self._crates_by_dir, importer)
        if not isinstance(package, Crate):
            return None
        if package.directory not in self._crate_tables:
            table: dict[str, str | None] = {package.name: package.root.rpartition("/")[0]}
            shared = _nearest(self.manifests.workspace_dependencies, package.directory + "/Cargo.toml") or {}
            for name in package.workspace_dependencies:
                table[name] = self._crate_dir(shared.get(name)) if isinstance(shared, dict) else None
            for name, directory in package.dependencies.items():
                table[name] = self._crate_dir(directory)
            self._crate_tables[package.directory] = table
        return self._crate_tables[package.directory]

    def _crate_dir(self, package_directory: str | None) -> str | None:
        if package_directory is None:
            return None
        crate = self._crates_by_dir.get(package_directory)
        root = crate.root if crate is not None else f"{package_directory}/src/lib.rs".lstrip("/")
        return root.rpartition("/")[0]

    def rust_workspace_crates(self) -> dict[str, str]:
        """Every crate of the repository by name -> its root module's directory, workspace members first."""
        members = self.manifests.workspace_members
        ordered = sorted(self.manifests.crates,
                         key=lambda c: (not self.manifests.member_of(members, c.directory), c.directory))
        table: dict[str, str] = {}
        for crate in ordered:
            table.setdefault(crate.name, crate.root.rpartition("/")[0])
        return table

