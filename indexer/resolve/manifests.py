"""The build manifests that say what an import means: ``go.mod``, ``Cargo.toml``, ``package.json``,
``tsconfig.json``/``jsconfig.json`` and Maven's ``pom.xml``, read once per graph build and kept parsed.

The graph builder sees only extracts and paths; these few files are the exception. They are read from the
repository through ``SafeRoot`` (a link anywhere on the way is refused, never followed), capped in size, and
each one that cannot be read or parsed becomes a one-line warning: the imports it would have resolved fall
back to the path-based rules of ``import_paths.py``. Nothing here raises for bad input.

Only what resolution needs is kept:

- Go: each module's path and directory (``module example.com/app``) and ``replace`` directives to local
  directories.
- Rust: each package's crate name (``[lib] name`` or ``[package] name``, ``-`` as ``_``), its library root file
  and the crates each package depends on by the name its code writes (a path dependency is ours, a version
  is another crate's, ``workspace = true`` goes through the workspace's ``[workspace.dependencies]``), and
  which packages the ``[workspace] members`` globs include.
- JavaScript/TypeScript: each package's ``name``, its entry points (``exports``, else ``source``/``module``/
  ``main``/``types``) and which packages the ``workspaces`` globs include; each tsconfig's ``baseUrl`` and
  ``paths``, through relative ``extends``.
- Java: the source directories and modules a ``pom.xml`` declares.
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..safe_fs import SafeRoot

MAX_MANIFEST_BYTES = 512 * 1024  # far above any real manifest; a bigger file is data, not configuration
GO_MOD = "go.mod"
CARGO_TOML = "Cargo.toml"
PACKAGE_JSON = "package.json"
POM_XML = "pom.xml"
_TSCONFIG = re.compile(r"^[jt]sconfig(?:\.[\w.-]+)?\.json$")  # tsconfig.json, tsconfig.base.json, jsconfig.json
_NAMES = frozenset({GO_MOD, CARGO_TOML, PACKAGE_JSON, POM_XML})
_MAX_EXTENDS = 5  # tsconfig `extends` followed this many files deep; a cycle stops here


def is_manifest(path: str) -> bool:
    name = path.rpartition("/")[2]
    parts = path.split("/")
    return (name in _NAMES or bool(_TSCONFIG.match(name))) and "node_modules" not in parts


def _dir(path: str) -> str:
    return path.rpartition("/")[0]


def join_inside(directory: str, relative: str) -> str | None:
    """``directory``/``relative`` normalised, "" for the root; None when it leaves the repository."""
    if relative.startswith("/") or "\x00" in relative:
        return None
    joined = posixpath.normpath(posixpath.join(directory or ".", relative))
    if joined == ".." or joined.startswith("../"):
        return None
    return "" if joined == "." else joined


# ---------------------------------------------------------------------------------------------- parsed forms


@dataclass(frozen=True)
class GoModule:
    path: str  # the module path, `example.com/app`
    directory: str  # where its go.mod is, "" for the repository root


@dataclass(frozen=True)
class Crate:
    name: str  # as code writes it: `my_crate`
    directory: str  # the package's directory (its Cargo.toml's)
    root: str  # the library's root file, `crates/x/src/lib.rs`
    # name written in code -> the package directory of a path dependency, or None for a crate from elsewhere
    dependencies: dict[str, str | None] = field(default_factory=dict)
    workspace_dependencies: frozenset[str] = frozenset()  # `foo.workspace = true`: the workspace says which


@dataclass(frozen=True)
class JsPackage:
    name: str
    directory: str
    # subpath ("." or "./utils" or "./*") -> targets relative to the package directory, likeliest first
    entries: dict[str, list[str]]
    has_exports: bool  # `exports` closes every subpath it does not list


@dataclass(frozen=True)
class TsConfig:
    file: str  # tsconfig.json or jsconfig.json, with its directory
    directory: str
    base_url: str | None  # a repository directory, or None
    paths: list[tuple[str, list[str]]]  # pattern -> substitutions, each a repository path pattern


@dataclass
class Manifests:
    """Everything resolution reads from the manifests of one repository, and what could not be read."""

    go_modules: list[GoModule] = field(default_factory=list)
    go_replaces: list[tuple[str, str]] = field(default_factory=list)  # (module path, local directory)
    crates: list[Crate] = field(default_factory=list)
    workspace_members: dict[str, list[str]] = field(default_factory=dict)  # workspace dir -> member globs
    workspace_dependencies: dict[str, dict[str, str | None]] = field(default_factory=dict)  # workspace dir -> ...
    js_packages: list[JsPackage] = field(default_factory=list)
    js_workspaces: dict[str, list[str]] = field(default_factory=dict)  # root dir -> workspace globs
    ts_configs: dict[str, TsConfig] = field(default_factory=dict)  # directory -> its tsconfig/jsconfig
    java_roots: list[tuple[str, str]] = field(default_factory=list)  # (project directory, a source dir it declares)
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def from_texts(cls, texts: Mapping[str, str]) -> Manifests:
        """Parse manifests given as {repository path: content}; bad ones become warnings."""
        manifests = cls()
        raw_tsconfigs: dict[str, dict] = {}
        for path in sorted(texts):
            name = path.rpartition("/")[2]
            try:
                if name == GO_MOD:
                    _read_go_mod(path, texts[path], manifests)
                elif name == CARGO_TOML:
                    _read_cargo(path, texts[path], manifests)
                elif name == PACKAGE_JSON:
                    _read_package_json(path, texts[path], manifests)
                elif name == POM_XML:
                    _read_pom(path, texts[path], manifests)
                elif _TSCONFIG.match(name):
                    raw_tsconfigs[path] = _json_object(_without_comments(texts[path]))
            except (ValueError, TypeError, AttributeError, RecursionError) as exc:
                manifests.warnings.append(f"{path}: not a valid {name} ({_first_line(exc)}); imports it would "
                                          "resolve are matched by path alone")
        for path in raw_tsconfigs:
            if path.rpartition("/")[2] in ("tsconfig.json", "jsconfig.json"):
                config = _ts_config(path, raw_tsconfigs, manifests.warnings)
                manifests.ts_configs.setdefault(config.directory, config)
        return manifests

    @staticmethod
    def member_of(globs: Mapping[str, list[str]], directory: str) -> bool:
        """Whether ``directory`` is matched by the member globs of a workspace above it."""
        for root, patterns in globs.items():
            inside = directory[len(root) + 1:] if root else directory
            if (not root or directory.startswith(root + "/")) and any(fnmatch.fnmatchcase(inside, p) for p in patterns):
                return True
        return False


def read_manifests(root: Path | str, paths: Iterable[str]) -> Manifests:
    """The manifests among ``paths`` (repository-relative) read under ``root``, never through a link and never
    more than ``MAX_MANIFEST_BYTES`` each; a file that cannot be read is a warning."""
    tree = SafeRoot(root)
    texts: dict[str, str] = {}
    warnings: list[str] = []
    for path in sorted(p for p in paths if is_manifest(p)):
        try:
            info = tree.lstat(path)
            if info is None:
                continue  # removed since the scan: the next run will not list it
            if info.st_size > MAX_MANIFEST_BYTES:
                raise ValueError(f"{info.st_size} bytes, over the {MAX_MANIFEST_BYTES} read for a manifest")
            data = tree.read_bytes(path)
            if len(data) > MAX_MANIFEST_BYTES:
                raise ValueError(f"over {MAX_MANIFEST_BYTES} bytes")
            texts[path] = data.decode("utf-8-sig")
        except (OSError, ValueError) as exc:
            warnings.append(f"{path}: not read ({_first_line(exc)}); imports it would resolve are matched by "
                            "path alone")
    manifests = Manifests.from_texts(texts)
    manifests.warnings[:0] = warnings
    return manifests


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]


# ------------------------------------------------------------------------------------------------------- Go

_GO_DIRECTIVE = re.compile(r"^\s*(module|replace)\b\s*(\(?)\s*(.*?)\s*$")


def _read_go_mod(path: str, text: str, manifests: Manifests) -> None:
    directory = _dir(path)
    module = None
    block = None
    for raw in text.splitlines():
        line = raw.split("//", 1)[0].strip()
        if not line:
            continue
        if block is not None:
            if line == ")":
                block = None
            elif block == "replace":
                _go_replace(directory, line, manifests)
            continue
        match = _GO_DIRECTIVE.match(line)
        if match is None:
            block = line[:-1].strip() if line.endswith("(") else None
            continue
        directive, opens, rest = match.groups()
        if opens:
            block = directive
        elif directive == "module":
            module = rest.strip('"`')
        else:
            _go_replace(directory, rest, manifests)
    if not module:
        raise ValueError("no module line")
    manifests.go_modules.append(GoModule(module, directory))


def _go_replace(directory: str, spec: str, manifests: Manifests) -> None:
    """``old [version] => ./local``: a module whose code is the local directory (a version target is not ours)."""
    old, arrow, new = spec.partition("=>")
    if not arrow:
        return
    old_path = old.split()[0].strip('"') if old.split() else ""
    target = new.split()[0].strip('"') if new.split() else ""
    if old_path and target.startswith(("./", "../")):
        local = join_inside(directory, target)
        if local is not None:
            manifests.go_replaces.append((old_path, local))


# ----------------------------------------------------------------------------------------------------- Rust

_DEPENDENCY_TABLES = ("dependencies", "dev-dependencies", "build-dependencies")


def _read_cargo(path: str, text: str, manifests: Manifests) -> None:
    document = tomllib.loads(text)
    directory = _dir(path)
    workspace = document.get("workspace")
    if isinstance(workspace, dict):
        members = workspace.get("members", [])
        manifests.workspace_members[directory] = [m.strip("/") for m in members if isinstance(m, str)]
        shared = workspace.get("dependencies", {})
        shared = shared if isinstance(shared, dict) else {}
        manifests.workspace_dependencies[directory] = _dependencies(directory, shared)[0]
    package = document.get("package")
    if not isinstance(package, dict) or not isinstance(package.get("name"), str):
        return  # a virtual workspace manifest
    lib = document.get("lib") if isinstance(document.get("lib"), dict) else {}
    name = lib.get("name") if isinstance(lib.get("name"), str) else package["name"]
    lib_path = lib.get("path") if isinstance(lib.get("path"), str) else "src/lib.rs"
    root = join_inside(directory, lib_path)
    dependencies: dict[str, str | None] = {}
    from_workspace: set[str] = set()
    tables = [document.get(t) for t in _DEPENDENCY_TABLES]
    for target in (document.get("target") or {}).values() if isinstance(document.get("target"), dict) else ():
        if isinstance(target, dict):
            tables += [target.get(t) for t in _DEPENDENCY_TABLES]
    for table in tables:
        if isinstance(table, dict):
            found, inherited = _dependencies(directory, table)
            dependencies.update(found)
            from_workspace.update(inherited)
    manifests.crates.append(Crate(name.replace("-", "_"), directory, root or lib_path, dependencies,
                                  frozenset(from_workspace)))


def _dependencies(directory: str, table: dict) -> tuple[dict[str, str | None], set[str]]:
    """(name in code -> local package directory or None, names whose details the workspace gives)."""
    found: dict[str, str | None] = {}
    inherited: set[str] = set()
    for key, spec in table.items():
        written = key.replace("-", "_")
        if isinstance(spec, dict) and spec.get("workspace") is True:
            inherited.add(written)
        elif isinstance(spec, dict) and isinstance(spec.get("path"), str):
            found[written] = join_inside(directory, spec["path"])
        else:
            found[written] = None
    return found, inherited


# ---------------------------------------------------------------------------------------- JavaScript/TypeScript

# Which condition of an `exports` entry to try first: the source a bundler reads, then ES modules, CommonJS,
# and the type declarations last (they hold no code, only signatures).
_CONDITIONS = ("source", "development", "import", "module", "require", "node", "browser", "default", "types")


def _read_package_json(path: str, text: str, manifests: Manifests) -> None:
    document = _json_object(text)
    directory = _dir(path)
    workspaces = document.get("workspaces")
    if isinstance(workspaces, dict):
        workspaces = workspaces.get("packages")
    if isinstance(workspaces, list):
        manifests.js_workspaces[directory] = [w.strip("/").removeprefix("./") for w in workspaces if isinstance(w, str)]
    name = document.get("name")
    if not isinstance(name, str) or not name:
        return
    entries: dict[str, list[str]] = {}
    exports = document.get("exports")
    if exports is not None:
        if isinstance(exports, dict) and any(isinstance(k, str) and k.startswith(".") for k in exports):
            for subpath, value in exports.items():
                if isinstance(subpath, str) and subpath.startswith("."):
                    entries[subpath] = _export_targets(value)
        else:
            entries["."] = _export_targets(exports)
    else:
        fields = [document.get(f) for f in ("source", "module", "main", "types", "typings")]
        entries["."] = [f for f in fields if isinstance(f, str) and f]
    manifests.js_packages.append(JsPackage(name, directory, entries, exports is not None))


def _export_targets(value: object, depth: int = 0) -> list[str]:
    """The files an `exports` value names, in the order of ``_CONDITIONS``; nested conditions flattened."""
    if depth > 8:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [t for item in value for t in _export_targets(item, depth + 1)]
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: _CONDITIONS.index(k) if k in _CONDITIONS else len(_CONDITIONS))
        return list(dict.fromkeys(t for k in keys for t in _export_targets(value[k], depth + 1)))
    return []


def _ts_config(path: str, raw: dict[str, dict], warnings: list[str]) -> TsConfig:
    """A tsconfig's own ``baseUrl``/``paths`` over those of the files it extends; each is relative to the
    file that writes it."""
    base_url: str | None = None
    paths: dict[str, list[str]] = {}
    chain: list[str] = []
    current: str | None = path
    while current is not None and current not in chain and len(chain) < _MAX_EXTENDS:
        chain.append(current)
        extends = raw[current].get("extends")
        current = None
        for parent in [extends] if isinstance(extends, str) else extends if isinstance(extends, list) else []:
            if isinstance(parent, str) and parent.startswith("."):
                target = join_inside(_dir(chain[-1]), parent if parent.endswith(".json") else parent + ".json")
                if target in raw:
                    current = target
                    break
                if target is not None:
                    warnings.append(f"{chain[-1]}: extends {parent}, which is not in the repository or not "
                                    "readable; its options are left out")
    for config_path in reversed(chain):  # the file itself last: its options win
        options = raw[config_path].get("compilerOptions")
        if not isinstance(options, dict):
            continue
        here = _dir(config_path)
        if isinstance(options.get("baseUrl"), str):
            base_url = join_inside(here, options["baseUrl"])
        if isinstance(options.get("paths"), dict):
            relative_to = base_url if base_url is not None else here
            paths = {}
            for pattern, targets in options["paths"].items():
                if isinstance(pattern, str) and isinstance(targets, list):
                    resolved = [join_inside(relative_to, t) for t in targets if isinstance(t, str)]
                    paths[pattern] = [t for t in resolved if t is not None]
    return TsConfig(path, _dir(path), base_url, list(paths.items()))


def _json_object(text: str) -> dict:
    document = json.loads(text)
    if not isinstance(document, dict):
        raise ValueError("the top level is not an object")
    return document


def _without_comments(text: str) -> str:
    """tsconfig is JSON with comments and trailing commas: drop both outside strings."""
    out: list[str] = []
    i, length = 0, len(text)
    while i < length:
        char = text[i]
        if char == '"':
            end = i + 1
            while end < length and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            out.append(text[i:end + 1])
            i = end + 1
        elif text.startswith("//", i):
            newline = text.find("\n", i)
            i = length if newline < 0 else newline
        elif text.startswith("/*", i):
            close = text.find("*/", i + 2)
            i = length if close < 0 else close + 2
        else:
            out.append(char)
            i += 1
    return re.sub(r",(\s*[}\]])", r"\1", "".join(out))


# ----------------------------------------------------------------------------------------------------- Java

# pom.xml is read with patterns, not an XML parser: the few elements needed are plain text, and a document
# type with entities (which an XML parser would expand) has no business in a build file.
_POM_ELEMENT = re.compile(r"<(sourceDirectory|testSourceDirectory|module)>\s*([^<>]+?)\s*</\1>")
_POM_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def _read_pom(path: str, text: str, manifests: Manifests) -> None:
    """The source directories the pom declares, for its own directory and, as Maven's inheritance would
    give them, for each of its ``<modules>``."""
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise ValueError("a document type declaration; not read")
    if "<project" not in text:
        raise ValueError("no <project> element")
    directory = _dir(path)
    declared: list[str] = []
    projects = [directory]
    for element, value in _POM_ELEMENT.findall(_POM_COMMENT.sub("", text)):
        value = value.removeprefix("${project.basedir}/").removeprefix("${basedir}/")
        if "${" in value:
            continue  # a property Maven would substitute: not knowable here
        if element == "module":
            module = join_inside(directory, value)
            if module is not None:
                projects.append(module)
        else:
            declared.append(value)
    for project in projects:
        for relative in declared:
            local = join_inside(project, relative)
            if local is not None and (project, local) not in manifests.java_roots:
                manifests.java_roots.append((project, local))
