"""Python's imports and names: which file an ``import`` loads, which definition a call or base class names.

Names are looked up the way Python would: the caller's enclosing functions, the file's own definitions, the
names its imports bind (followed through re-exports and star imports), ``self``/``super()`` through the class
hierarchy, a parameter's method through the class its annotation names (``parameter``), a local variable's
through its annotation or the class its call made (``variable``: ``cart = Cart()``) or the class the function
it was assigned from returns (``result``: ``cart = load()`` with ``def load() -> Cart``), an instance attribute's
(``self.cart.put()``) through the type its class or a base gives it (``attribute``: ``self.cart = Cart()`` in a
method, ``cart: Cart`` in the class body), and, failing all that, a definition whose name is unique in the
repository.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Mapping

from ..model import CLASS, FileExtract, Import
from .names import NameTable
from .parameters import attribute_holder, declared_type, made_by, made_type
from .python_modules import PythonModules

BUILTINS = frozenset(dir(builtins))
# Method names every str/list/dict/... has: `x.append()` on an unknown object is almost never a call
# into the repository, so these never resolve by unique name.
_BUILTIN_TYPE_ATTRIBUTES = frozenset(
    name
    for kind in (object, str, bytes, bytearray, list, dict, set, frozenset, tuple, int, float, complex)
    for name in dir(kind)
)
_SUPER_CALL = re.compile(r"super\(\)\.([A-Za-z_]\w*)")
_INSTANCE_CALL = re.compile(r"([A-Za-z_][\w.]*)\(\)\.([A-Za-z_]\w*)")
_MAX_FOLLOW = 8  # re-export chains followed when resolving a name through modules


class _Binding:
    """A name bound by an import: a module (``file`` set, ``name`` None), a name imported from a module
    (``file`` is that module, ``name`` the imported name), or something outside the repository (``file`` None)."""

    __slots__ = ("file", "name", "aliased")

    def __init__(self, file: str | None, name: str | None, aliased: bool):
        self.file = file
        self.name = name
        self.aliased = aliased


class PythonResolver:
    def __init__(self, names: NameTable, extracts: Mapping[str, FileExtract]):
        self.names = names
        self.symbols = names.symbols
        python = {p: e for p, e in extracts.items() if e.language == "python"}
        self.modules = PythonModules(python)
        self.module_names = {p: frozenset(e.module_names) for p, e in python.items()}
        self.bindings: dict[tuple[str, str | None], dict[str, _Binding]] = {}  # (file, scope) -> name -> binding
        self.star_imports: dict[str, list[str]] = {}
        self.external_star_imports: set[str] = set()
        self._member_cache: dict[tuple[str, str], str | None] = {}
        self._results: dict[tuple[str, str, str, str], tuple[str, str] | None] = {}
        self._attribute_classes: dict[tuple[str, str], str | None] = {}  # (holder, attribute) -> its class

    def forget_lookups(self) -> None:
        self._member_cache.clear()
        self._results.clear()
        self._attribute_classes.clear()

    def is_builtin(self, callee: str) -> bool:
        return callee in BUILTINS

    # ------------------------------------------------------------------------------------- imports

    def imports(self, path: str, extract: FileExtract) -> list[tuple[str | None, str]]:
        """(file imported or None when outside the repository, the import as written) for each import;
        binds the names each one introduces in its scope."""
        modules = self.modules
        links: list[tuple[str | None, str]] = []
        # When a name is imported twice (`if posix: import posixpath as path / else: import ntpath as
        # path`, `try: from a import x / except ImportError: from b import x`) the first import wins.
        for imp in extract.imports:
            scope_bindings = self.bindings.setdefault((path, imp.scope), {})
            written = "." * imp.level + imp.module
            if not imp.names:
                target = modules.resolve(path, imp.module, imp.level)
                links.append((target, written))
                if imp.alias:
                    scope_bindings.setdefault(imp.alias, _Binding(target, None, aliased=True))
                else:
                    scope_bindings.setdefault(imp.module, _Binding(target, None, aliased=False))
                    head = imp.module.partition(".")[0]
                    if head not in scope_bindings:
                        scope_bindings[head] = _Binding(modules.resolve(path, head, 0), None, aliased=False)
                continue
            package = modules.resolve(path, imp.module, imp.level) if (imp.module or imp.level) else None
            for name, alias in imp.names:
                if name == "*":
                    links.append((package, written))
                    if package is not None:
                        self.star_imports.setdefault(path, []).append(package)
                    else:
                        self.external_star_imports.add(path)
                    continue
                submodule = self._submodule(path, imp, package, name)
                if submodule is not None:
                    links.append((submodule, f"{written}.{name}" if imp.module else f"{written}{name}"))
                    binding = _Binding(submodule, None, aliased=alias is not None)
                else:
                    links.append((package, written or name))
                    binding = _Binding(package, name if package is not None else None, aliased=alias is not None)
                scope_bindings.setdefault(alias or name, binding)
        return links

    def _submodule(self, path: str, imp: Import, package: str | None, name: str) -> str | None:
        if package is not None:
            return self.modules.submodule(package, name)
        if imp.level:
            # `from . import x` in a directory without __init__.py: x can still be a sibling module.
            return self.modules.resolve(path, f"{imp.module}.{name}" if imp.module else name, imp.level)
        # A namespace package (no __init__.py) has no file, but its submodules do.
        return self.modules.resolve(path, f"{imp.module}.{name}", 0)

    def _binding(self, path: str, scopes: list[str | None], key: str) -> _Binding | None:
        for scope in scopes:
            found = self.bindings.get((path, scope))
            if found is not None and key in found:
                return found[key]
        return None

    def _binding_target(self, binding: _Binding) -> tuple[str, str] | None:
        """("module", file) or ("symbol", qname) for an in-repo binding; None for external or unknown."""
        if binding.file is None:
            return None
        if binding.name is None:
            return ("module", binding.file)
        qname = self._member(binding.file, binding.name, 0)
        return ("symbol", qname) if qname is not None else None

    def _member(self, file: str, dotted: str, depth: int) -> str | None:
        """The symbol that ``dotted`` names in module ``file``'s namespace: its own definitions, names it
        imports (re-exports), its submodules if it is a package, and its star imports."""
        key = (file, dotted)
        if key in self._member_cache:
            return self._member_cache[key]
        self._member_cache[key] = None  # breaks import cycles
        found = self._find_member(file, dotted, depth) if depth <= _MAX_FOLLOW else None
        self._member_cache[key] = found
        return found

    def _find_member(self, file: str, dotted: str, depth: int) -> str | None:
        qname = f"{file}::{dotted}"
        if qname in self.symbols:
            return qname
        head, _, rest = dotted.partition(".")
        head_qname = f"{file}::{head}"
        if head_qname in self.symbols:
            return self._attribute(head_qname, rest) if rest else head_qname
        binding = self._binding(file, [None], head)
        if binding is not None:
            target = self._binding_target(binding)
            if target is None:
                return None
            if target[0] == "module":
                return self._member(target[1], rest, depth + 1) if rest else None
            return self._attribute(target[1], rest) if rest else target[1]
        submodule = self.modules.submodule(file, head)
        if submodule is not None:
            return self._member(submodule, rest, depth + 1) if rest else None
        for star in self.star_imports.get(file, ()):
            found = self._member(star, dotted, depth + 1)
            if found is not None:
                return found
        return None

    def _attribute(self, qname: str, rest: str) -> str | None:
        """``rest`` looked up on the class ``qname`` and, failing that, on its bases."""
        if self.symbols[qname].kind != CLASS:
            return None
        return self.names.in_class_hierarchy(qname, rest, include_self=True)

    # --------------------------------------------------------------------------------------- names

    def _scopes(self, caller: str) -> list[str | None]:
        scopes: list[str | None] = []
        current = self.symbols.get(caller)
        while current is not None:
            scopes.append(current.qname)
            current = self.symbols.get(current.parent) if current.parent else None
        scopes.append(None)
        return scopes

    def _local(self, path: str, caller: str, name: str) -> str | None:
        """A definition of ``name`` visible from ``caller``'s body: nested in an enclosing function, or
        top-level in the file. Class bodies are not enclosing scopes for the functions inside them."""
        current = self.symbols.get(caller)
        if current is not None and current.kind == CLASS:
            candidate = f"{current.qname}.{name}"
            if candidate in self.symbols:
                return candidate
        while current is not None:
            if current.kind != CLASS:
                candidate = f"{current.qname}.{name}"
                if candidate in self.symbols:
                    return candidate
            current = self.symbols.get(current.parent) if current.parent else None
        candidate = f"{path}::{name}"
        return candidate if candidate in self.symbols else None

    def resolve(self, path: str, caller: str, text: str, for_class: bool) -> tuple[str, str] | None:
        """(qname, resolution) for a callee or base-class expression written in ``path`` inside ``caller``."""
        if "(" in text or "[" in text or "<" in text:
            return None if for_class else self._resolve_chained(path, caller, text)
        parts = text.split(".")
        head = parts[0]
        if head in ("self", "cls") and len(parts) == 2 and not for_class:
            cls = self.names.enclosing_class(caller)
            if cls is not None:
                found = self.names.in_class_hierarchy(cls, parts[1], include_self=True)
                return (found, "self") if found is not None else None
        if head == "self" and len(parts) >= 3 and not for_class:
            cls = self.names.enclosing_class(caller)
            for attribute in parts[1:-2]:  # `self.session.adapter.send()`: the attribute's class, then its attribute
                cls = self._attribute_class(cls, attribute) if cls is not None else None
            found = self._attribute_method(cls, parts[-2], parts[-1]) if cls is not None else None
            if found is not None:
                return found
        scopes = self._scopes(caller)
        if len(parts) == 1:
            return self._resolve_name(path, caller, scopes, head, for_class)
        local = self._local(path, caller, head)
        if local is not None:
            found = self._attribute(local, ".".join(parts[1:]))
            return (found, "class") if found is not None else None
        if len(parts) == 2 and not for_class:
            found = self._parameter_method(path, caller, head, parts[1]) or self._variable_method(
                path, caller, head, parts[1])
            if found is not None:
                return found
        for cut in range(len(parts) - 1, 0, -1):
            binding = self._binding(path, scopes, ".".join(parts[:cut]))
            if binding is None:
                continue
            target = self._binding_target(binding)
            if target is None:
                return None
            rest = ".".join(parts[cut:])
            if target[0] == "module":
                found = self._member(target[1], rest, 0)
                return (found, "module") if found is not None else None
            found = self._attribute(target[1], rest)
            return (found, "class") if found is not None else None
        for star in self.star_imports.get(path, ()):
            found = self._member(star, text, 0)
            if found is not None:
                return found, "import"
        return self._unique(caller, parts[-1], for_class, attribute=True)

    def _parameter_method(self, path: str, caller: str, variable: str, name: str) -> tuple[str, str] | None:
        """Method ``name`` of the class the caller's signature annotates parameter ``variable`` with
        (``order.total()`` in ``def pay(order: Order)``, resolution "parameter") or a local annotation
        (``order: Order = load()``, "variable")."""
        declared = self._declared_class(path, caller, variable)
        found = self._attribute(declared[0], name) if declared is not None else None
        return (found, declared[1]) if found is not None else None

    def _variable_method(self, path: str, caller: str, variable: str, name: str) -> tuple[str, str] | None:
        """Method ``name`` of what local ``variable`` was assigned from a call: ``cart = Cart()``, remembered
        (a variable is usually called on many times) and guarded (``x = x.copy()`` would loop)."""
        maker = made_by(self.symbols, caller, variable)
        if maker is None:
            return None
        key = (path, caller, maker, name)
        if key not in self._results:
            self._results[key] = None
            self._results[key] = self._made_method(path, caller, maker, name)
        return self._results[key]

    def _attribute_method(self, cls: str, attribute: str, name: str) -> tuple[str, str] | None:
        """Method ``name`` of instance attribute ``attribute`` of class ``cls`` or a base (resolution "attribute"),
        through the class ``_attribute_class`` gives it."""
        owner = self._attribute_class(cls, attribute)
        found = self._attribute(owner, name) if owner is not None else None
        return (found, "attribute") if found is not None else None

    def _attribute_class(self, cls: str, attribute: str) -> str | None:
        """The class of instance attribute ``attribute`` of class ``cls`` or a base: the class a method's
        assignment makes (``self.cart = Cart()``) or the function it calls returns, the class an annotation names
        (``self.cart: Cart``, or ``cart: Cart`` in the class body), or a parameter's annotation (``self.cart =
        cart`` in ``def __init__(self, cart: Cart)``). The type names are read in the scope of the class or method
        that assigns them; remembered, and guarded against an attribute typed by itself."""
        holder = attribute_holder(self.symbols, self.names.bases, cls, attribute)
        if holder is None:
            return None
        key = (holder, attribute)
        if key not in self._attribute_classes:
            self._attribute_classes[key] = None
            path = self.symbols[holder].path
            written = self.symbols[holder].local_types[attribute]
            if written.startswith("="):  # `=__init__.cart`: `self.cart = cart` in a method typing `cart: Cart`
                method, _, parameter = written[1:].partition(".")
                declared = self._declared_class(path, f"{holder}.{method}", parameter)
            else:
                declared = self._declared_class(path, holder, attribute)
            owner = declared[0] if declared is not None else None
            maker = made_by(self.symbols, holder, attribute) if owner is None else None
            if maker is not None:
                made = made_type(self.symbols, self.resolve, path, holder, maker)
                owner = made[0] if made is not None else None
            self._attribute_classes[key] = owner
        return self._attribute_classes[key]

    def _declared_class(self, path: str, caller: str, variable: str) -> tuple[str, str] | None:
        """(the class the caller's signature or a local annotation declares ``variable`` with, how: "parameter" or
        "variable"), or None."""
        declared = declared_type(self.symbols, caller, variable)
        if declared is None or declared[0] == variable:
            return None
        owner = self.resolve(path, caller, declared[0], for_class=True)
        return (owner[0], declared[1]) if owner is not None else None

    def _made_method(self, path: str, caller: str, maker: str, name: str) -> tuple[str, str] | None:
        """Method ``name`` of what calling ``maker`` gives: the class it constructs (resolution "variable"), or
        the class its signature says it returns (``def load() -> Cart``, ``-> Self``; "result")."""
        made = made_type(self.symbols, self.resolve, path, caller, maker)
        found = self._attribute(made[0], name) if made is not None else None
        return (found, "variable" if made[1] else "result") if found is not None else None

    def _resolve_name(
        self, path: str, caller: str, scopes: list[str | None], name: str, for_class: bool
    ) -> tuple[str, str] | None:
        local = self._local(path, caller, name)
        if local is not None:
            return local, "local"
        binding = self._binding(path, scopes, name)
        if binding is not None:
            target = self._binding_target(binding)
            if target is None or target[0] == "module":
                return None
            return target[1], ("alias" if binding.aliased else "import")
        for star in self.star_imports.get(path, ()):
            found = self._member(star, name, 0)
            if found is not None:
                return found, "import"
        if name in self.module_names.get(path, ()) or name in BUILTINS:
            return None
        # Any other bare name in a body is almost always a parameter or local variable, which extracts do
        # not record; only a star import from outside the repository can explain it as a definition.
        if not for_class and path not in self.external_star_imports:
            return None
        return self._unique(caller, name, for_class, attribute=False)

    def _resolve_chained(self, path: str, caller: str, text: str) -> tuple[str, str] | None:
        match = _SUPER_CALL.fullmatch(text)
        if match is not None:
            cls = self.names.enclosing_class(caller)
            if cls is None:
                return None
            found = self.names.in_class_hierarchy(cls, match.group(1), include_self=False)
            return (found, "self") if found is not None else None
        match = _INSTANCE_CALL.fullmatch(text)
        if match is not None:
            # Foo().method: the method of the class just constructed; load().method: of the class load returns.
            found = self._made_method(path, caller, match.group(1), match.group(2))
            if found is not None:
                return found[0], ("class" if found[1] == "variable" else found[1])
        return None

    def _unique(self, caller: str, name: str, for_class: bool, attribute: bool) -> tuple[str, str] | None:
        key = ("python", name)
        if attribute and not for_class:
            if name in _BUILTIN_TYPE_ATTRIBUTES or (name.startswith("__") and name.endswith("__")):
                return None
            candidates = self.names.methods_by_name.get(key, ())
        else:
            candidates = self.names.top_level_by_name.get(key, ())
        if for_class:
            candidates = [c for c in candidates if self.symbols[c].kind == CLASS]
        # `self.inner.run()` inside `run` is delegation to another object, not recursion.
        if len(candidates) == 1 and candidates[0] != caller:
            return candidates[0], "unique_name"
        return None
