"""Names in Rust by Rust's paths, before the name-based guesses every other language gets.

A module is a file (``mod plants;`` is ``plants.rs`` or ``plants/mod.rs`` beside it) or an inline ``mod``
block, and a name is in scope only when the module defines it or a ``use`` brings it in. So a path is walked
from where it is anchored: ``crate::`` at the crate root, ``self::``/``super::`` at this module or its
parent, and anything else at the name the file binds (a ``mod`` declaration, a ``use``'s last element or its
alias). Methods live in ``impl`` blocks, which may be written in any file of the crate: ``Type::method`` and,
inside an impl, ``self.method``/``Self::method`` are looked for among the methods of that type, then among
the traits it implements (their default methods). A path into the standard crates (``std::``, ``core::``, a
type of the prelude such as ``String``, a name a ``use std::...`` binds) names nothing of ours, nor does one
into a crate the package's Cargo.toml takes from crates.io or git. Another crate of the repository is
found by the name Cargo.toml gives it (a path dependency, the package's own library from ``tests/``, a
workspace member), else by its directory. A parameter's method is its type's (``shell.register()`` with
``shell: &Fish``). What the syntax does not tell (a local variable's method, ``self.field.method``) is left to
``GenericResolver``.

Edges say how: ``local`` (this module), ``import`` (through a name the file binds), ``path`` (a path from
``crate``/``self``/``super`` written at the call), ``self`` (the impl's own type), ``parameter`` (the type a
parameter is declared with).
"""

from __future__ import annotations

from typing import NamedTuple

from ..model import CLASS, FUNCTION, METHOD, FileExtract, Import, split_qualified_name
from .generic import GenericResolver
from .import_paths import FileIndex, rust_crate_root, rust_module_dir, rust_module_file
from .manifests import CARGO_TOML
from .parameters import declared_type, field_type

_ANCHORS = ("crate", "self", "super")
# Paths that never lead into this repository: the standard crates and the prelude's types. Any other crate
# may be this very one by its Cargo name (integration tests under tests/ write `use mycrate::...`): without
# a Cargo.toml to say, names from those go on to the name-based guesses.
_STANDARD = frozenset({"std", "core", "alloc", "String", "Vec", "Box", "Option", "Result", "Some", "Ok", "Err"})
_MAX_HOPS = 8  # re-exports followed from file to file (`pub use` chains); a cycle stops here


class Place(NamedTuple):
    """Where a path leads: a file, and the items inside it (``["Plant", "new"]``; [] for the module itself)."""

    file: str
    items: tuple[str, ...]


def _join(items: tuple[str, ...] | list[str]) -> str:
    return ".".join(items)


class RustResolver:
    def __init__(self, generic: GenericResolver):
        self.generic = generic
        self.names = generic.names
        self.symbols = generic.symbols
        # file -> name bound by a `mod` or `use` -> where it leads (None: another crate's)
        self._bound: dict[str, dict[str, Place | None]] = {}
        self._globs: dict[str, list[Place]] = {}  # file -> what its `use ...::*` bring in
        self._standard: dict[str, set[str]] = {}  # file -> names it binds to items of std, core or alloc
        self._crate_dirs: dict[str, str] | None = None
        self._crate_tables: dict[str, dict[str, str | None]] = {}  # file -> the crates its code can name
        self._items: dict[Place, str | None] = {}  # what _item found, once every file's imports are read
        self._by_dotted: dict[str, list[str]] | None = None  # Rust dotted name -> its qnames, in path order

    def is_builtin(self, callee: str) -> bool:
        return False

    def forget_lookups(self) -> None:
        """Drop what was found before every trait impl was known: a method may come from a trait."""
        self._items.clear()

    # ----------------------------------------------------------------------------------------------- imports

    def imports(self, path: str, extract: FileExtract) -> list[tuple[str | None, str]]:
        links: list[tuple[str | None, str]] = []
        bound = self._bound[path] = {}
        globs = self._globs[path] = []
        standard = self._standard[path] = set()
        crates = self._crate_table(path)
        for imp in extract.imports:
            head = imp.module.partition("::")[0]
            # `use other_crate::x` with other_crate a path dependency that Cargo.toml names (a module of
            # this file by that name would win, as in Rust).
            through_cargo = (bool(imp.names) and head not in bound and crates.get(head) is not None
                             and self._declared(path))
            for name, alias, place in self._imported(path, imp):
                if name == "*":
                    if place is not None:
                        globs.append(place)
                else:
                    bound.setdefault(alias or name, place)
                    if head in _STANDARD or self._external(path, head):
                        standard.add(alias or name)
                if place is not None and place.file != path:
                    links.append((place.file, imp.module))
                    if through_cargo:
                        self.generic.import_via.setdefault((path, place.file), CARGO_TOML)
                elif place is None:
                    links.append((None, imp.module))
        return links

    def _imported(self, path: str, imp: Import):
        """(name, alias, where it leads) for each name one `mod`/`use` brings into the file."""
        inline = self._inline_modules(path, imp.scope)
        if not imp.names:  # `mod plants;` beside this file (or inside an inline module of it)
            found = rust_module_file(rust_module_dir(path), [*inline, imp.module], self._index())
            yield imp.module, None, Place(found, ()) if found else None
            return
        segments = [s for s in imp.module.split("::") if s]
        for name, alias in imp.names:
            if name == "self":  # use plants::{self, Plant}: the module itself
                full, name = segments, segments[-1] if segments else name
            elif name == "*" or not segments or segments[-1] != name:
                full = [*segments, name] if name != "*" else segments
            else:  # `use a::b::C` is recorded with module a::b::C and the name C
                full = segments
            yield name, alias, self._walk(path, inline, full)

    def _inline_modules(self, path: str, scope: str | None) -> list[str]:
        """The inline `mod` blocks around ``scope`` in ``path``, outermost first."""
        names: list[str] = []
        current = self.symbols.get(scope) if scope else None
        while current is not None:
            if current.kind == CLASS and current.path == path:
                names.append(current.name)
            current = self.symbols.get(current.parent) if current.parent else None
        return names[::-1]

    def _index(self) -> FileIndex:
        return self.generic.file_index()

    def _crates(self) -> dict[str, str]:
        """Crate name -> the directory of its root module, for every crate of the repository: by the names
        the Cargo.toml files give, else by the directory of each ``<name>/src/lib.rs``."""
        if self._crate_dirs is None:
            self._crate_dirs = dict(self.generic.manifest_imports().rust_workspace_crates())
            for path in sorted(self._index().files):
                crate, _, rest = path.rpartition("/src/")
                if rest == "lib.rs" and crate:
                    self._crate_dirs.setdefault(crate.rpartition("/")[2].replace("-", "_"), f"{crate}/src")
        return self._crate_dirs

    def _declared(self, path: str) -> bool:
        """Whether a Cargo.toml says which crates the file's package can name."""
        return self.generic.manifest_imports().rust_crates(path) is not None

    def _crate_table(self, path: str) -> dict[str, str | None]:
        """The crates code in ``path`` can name -> their root module's directory (None: from elsewhere): its
        package's own and its dependencies when a Cargo.toml says, then every crate of the repository."""
        table = self._crate_tables.get(path)
        if table is None:
            declared = self.generic.manifest_imports().rust_crates(path) or {}
            table = self._crate_tables[path] = {**self._crates(), **declared}
        return table

    def _external(self, path: str, head: str) -> bool:
        """A crate from crates.io or git that the package's Cargo.toml depends on: nothing of ours."""
        declared = self.generic.manifest_imports().rust_crates(path)
        return declared is not None and head in declared and declared[head] is None

    # ------------------------------------------------------------------------------------------------- paths

    def _walk(self, path: str, inline: list[str], segments: list[str]) -> Place | None:
        """Where the path ``segments`` written in ``path`` (inside its inline modules ``inline``) leads; None
        for another crate's or nowhere. The file's bindings are those made so far: `use` follows `mod`."""
        if not segments:
            return None
        head = segments[0]
        index = self._index()
        if head == "crate":
            directory, inline, rest = rust_crate_root(path, index), [], segments[1:]
        elif head in ("self", "super"):
            directory, inline, rest = rust_module_dir(path), list(inline), list(segments)
            while rest and rest[0] in ("self", "super"):
                if rest.pop(0) == "super":
                    if inline:
                        inline.pop()
                    else:
                        directory = directory.rpartition("/")[0]
        elif head in self._bound.get(path, {}):
            place = self._bound[path][head]
            return Place(place.file, (*place.items, *segments[1:])) if place is not None else None
        elif self._crate_table(path).get(head) is not None:  # another crate of the repository, by its name
            directory, inline, rest = self._crate_table(path)[head], [], segments[1:]
        else:
            return None  # another crate, the prelude, or a local variable
        if inline:  # still inside an inline module of this file: its items are dotted under it
            return Place(path, (*inline, *rest))
        # The longest run of segments that names a module file; what follows are items inside it.
        for keep in range(len(rest), -1, -1):
            found = rust_module_file(directory, rest[:keep], index)
            if found:
                return Place(found, tuple(rest[keep:]))
        return None

    def _item(self, place: Place, hops: int = 0) -> str | None:
        """The qname of the item a place names: defined in its file, a method of a type (in any impl), or
        re-exported there by a `use` (followed a few files deep)."""
        if not place.items or hops > _MAX_HOPS:
            return None
        if place not in self._items:
            self._items[place] = None  # a glob or re-export cycle leads nowhere
            self._items[place] = self._find_item(place, hops)
        return self._items[place]

    def _find_item(self, place: Place, hops: int) -> str | None:
        qname = f"{place.file}::{_join(place.items)}"
        if qname in self.symbols:
            return qname
        if len(place.items) > 1:
            owner = self._item(Place(place.file, place.items[:-1]), hops + 1)
            if owner is not None and self.symbols[owner].kind == CLASS:
                found = self._method(owner, place.items[-1])
                if found is not None:
                    return found
        head, rest = place.items[0], place.items[1:]
        table = self._bound.get(place.file, {})
        if head in table:
            target = table[head]
            return self._item(Place(target.file, (*target.items, *rest)), hops + 1) if target else None
        for glob in self._globs.get(place.file, ()):
            found = self._item(Place(glob.file, (*glob.items, *place.items)), hops + 1)
            if found is not None:
                return found
        return None

    # ----------------------------------------------------------------------------------------------- methods

    def _dotted_table(self) -> dict[str, list[str]]:
        if self._by_dotted is None:
            self._by_dotted = {}
            for qname in sorted(self.symbols):
                if self.symbols[qname].language == "rust":
                    self._by_dotted.setdefault(split_qualified_name(qname)[1], []).append(qname)
        return self._by_dotted

    def _method(self, type_qname: str, name: str) -> str | None:
        """Method ``name`` of a type, from any impl block of it (``_nearest``), else of the traits it implements."""
        queue, seen = [type_qname], {type_qname}
        while queue:
            current = queue.pop(0)
            path, dotted = split_qualified_name(current)
            candidates = self._dotted_table().get(f"{dotted}.{name}", [])
            found = self._nearest(path, candidates)
            if found is not None:
                return found
            for base in self.names.bases.get(current, ()):
                if base not in seen:
                    seen.add(base)
                    queue.append(base)
        return None

    def _nearest(self, type_path: str, candidates: list[str]) -> str | None:
        """Among methods named alike, one of the type defined in ``type_path``: written in that file, else in
        a file that imports it, else in the same crate (a large type's impl blocks spread over many files,
        reaching the type through a re-export)."""
        if not candidates:
            return None
        imported = self.names.imported_files
        crate = rust_crate_root(type_path, self._index())
        tiers = (
            lambda file: file == type_path,
            lambda file: type_path in imported.get(file, ()),
            lambda file: rust_crate_root(file, self._index()) == crate,
        )
        for belongs in tiers:
            found = [q for q in candidates if belongs(split_qualified_name(q)[0])]
            if found:
                return found[0]
        return None

    def _impl_type(self, path: str, caller: str) -> str | None:
        """The type whose impl block ``caller`` is a method of."""
        method = self.symbols.get(caller)
        if method is None or method.kind != METHOD:
            return None
        type_dotted = split_qualified_name(caller)[1].rpartition(".")[0]
        if f"{path}::{type_dotted}" in self.symbols:
            return f"{path}::{type_dotted}"
        return self._item(Place(path, tuple(type_dotted.split("."))))  # `impl Plant` for a type of another file

    # --------------------------------------------------------------------------------------------- resolving

    def resolve(self, path: str, caller: str, text: str, for_class: bool) -> tuple[str, str] | None:
        if "::" not in text and "." not in text:
            found = self._bare(path, caller, text)
            if found is not None or text in self._standard.get(path, ()):
                return found  # a name the file binds to std's item is never one of ours
            return self.generic.resolve(path, caller, text, for_class)
        if "::" not in text:  # receiver.method
            receiver, _, method = text.replace("()", "").partition(".")
            if receiver == "self" and "." not in method:
                owner = self._impl_type(path, caller)
                found = self._method(owner, method) if owner else None
                return (found, "self") if found else None  # a method of a trait from another crate
            if receiver == "self" and method.count(".") == 1:
                found = self._field_method(path, caller, *method.split("."))
                if found is not None:
                    return found
            found = self._variable_method(path, caller, receiver, method) if "." not in method else None
            if found is not None:
                return found
            return self.generic.resolve(path, caller, text, for_class)
        segments = [s for s in text.split("::") if s]
        if not segments or any("." in s or "(" in s for s in segments):
            return self.generic.resolve(path, caller, text, for_class)
        found = self._path(path, caller, segments)
        if found is None:
            head = segments[0]
            if (head in _STANDARD or head in _ANCHORS or head == "Self" or head in self._standard.get(path, ())
                    or self._external(path, head)):
                return None  # std's or the prelude's (String::from, mem::swap), or a path of ours leading nowhere
            return self.generic.resolve(path, caller, text, for_class)
        if for_class and self.symbols[found[0]].kind != CLASS:
            return None
        return found

    def _variable_method(self, path: str, caller: str, variable: str, name: str) -> tuple[str, str] | None:
        """(method ``name`` of the type the caller gives ``variable``, how): its signature's ``shell: &Fish``
        ("parameter"), a local ``let fish = Fish::new()`` ("variable"; ``Self`` is the type of the caller's impl),
        or what ``let cmd = build()?`` returns ("result")."""
        declared = declared_type(self.symbols, caller, variable)
        if declared is None:
            found = self.generic.variable_result(path, caller, variable, name, self.resolve, self._method)
            return (found, "result") if found is not None else None
        if declared[0] == "Self":
            owner = self._impl_type(path, caller)
        else:
            found_type = self.resolve(path, caller, declared[0], True)
            owner = found_type[0] if found_type is not None else None
        found = self._method(owner, name) if owner is not None else None
        return (found, declared[1]) if found is not None else None

    def _field_method(self, path: str, caller: str, field: str, name: str) -> tuple[str, str] | None:
        """Method ``name`` of the type of field ``field`` of the caller's impl type (``self.pool.get()`` with
        ``pool: Arc<Pool>``; "field"), the type read where the struct is declared."""
        owner = self._impl_type(path, caller)
        typed = field_type(self.symbols, self.names.bases, self.resolve, owner, field) if owner else None
        found = self._method(typed, name) if typed is not None else None
        return (found, "field") if found else None

    def _path(self, path: str, caller: str, segments: list[str]) -> tuple[str, str] | None:
        head = segments[0]
        if head == "Self":
            owner = self._impl_type(path, caller)
            if owner is None or len(segments) != 2:
                return None
            found = self._method(owner, segments[1])
            return (found, "self") if found else None
        inline = self._inline_modules(path, caller if caller in self.symbols else None)
        if head in _ANCHORS:
            place = self._walk(path, inline, segments)
            found = self._item(place) if place else None
            return (found, "path") if found else None
        local = self._bare(path, caller, head)
        if local is not None:  # a type or inline module of this file, or one the file binds
            owner, resolution = local
            place = Place(self.symbols[owner].path, tuple(split_qualified_name(owner)[1].split(".")))
            found = self._item(Place(place.file, (*place.items, *segments[1:])))
            return (found, resolution) if found else None
        place = self._walk(path, inline, segments)
        found = self._item(place) if place else None
        return (found, "import") if found else None

    def _bare(self, path: str, caller: str, name: str) -> tuple[str, str] | None:
        """A name written alone: an item of this module (an inline module's, then the file's), or one that
        a `use` or a glob brings in."""
        inline = self._inline_modules(path, caller if caller in self.symbols else None)
        for depth in range(len(inline), -1, -1):
            qname = f"{path}::{_join([*inline[:depth], name])}"
            symbol = self.symbols.get(qname)
            if symbol is not None and symbol.kind in (CLASS, FUNCTION):
                return qname, "local"
        place = self._bound.get(path, {}).get(name)
        if place is not None:
            found = self._item(place)
            return (found, "import") if found else None
        for glob in self._globs.get(path, ()):
            found = self._item(Place(glob.file, (*glob.items, name)))
            if found is not None:
                return found, "local" if glob.file == path else "import"
        return None
