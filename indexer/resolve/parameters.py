"""The type a function's signature gives one of its parameters, as written: ``c`` in Go's
``func Serve(c *gin.Context)`` is ``gin.Context``, ``shell`` in Rust's ``fn install(shell: &mut Fish)`` is
``Fish``, ``bell`` in Java's ``void ring(final Bell bell)``, TypeScript's ``ring(bell: Bell)`` and Python's
``def ring(bell: Bell | None = None)`` is ``Bell``.

A method called on that parameter (``c.JSON()``) is then a method of that type, which the language's resolver
looks up as it looks up any type name; likewise a method called on what a function returns
(``NewServer().Start()``) is one of the type its signature says it returns (``returned_type``). Only a named
type counts: a slice, map, function, tuple or array type says nothing about whose method is called.

A local variable counts where its declaration writes its type or makes it (``let x: Foo``, ``x := &Foo{}``,
``Foo x = …``, ``const x = new Foo()``, Rust's ``Foo::new()``/``Foo::default()``): the extractor records
those on the function (``Symbol.local_types``). Where another call's result is assigned (``s, err :=
NewServer()``) it records the callee (``made_by``), and the resolver reads what that function returns. A class's
or struct's fields are recorded on it the same way (``pool: Pool``, ``Ledger ledger``, Python's ``self.pool =
Pool()``), and ``attribute_holder`` finds the class of a hierarchy that types one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from types import MappingProxyType

from ..model import CLASS, Symbol

Resolve = Callable[[str, str, str, bool], "tuple[str, str] | None"]  # (path, caller, text, for_class) -> (qname, how)

_NAMED = re.compile(r"[A-Za-z_][\w.:]*")
_GO_HEAD = re.compile(r"\s*func\s*(?:\([^()]*\)\s*)?\w+\s*(?:\[[^\]]*\]\s*)?\(")
_GO_UNNAMED = ("[", "map[", "func", "chan", "...", "interface", "struct")  # types that are no class of ours
_NAME_FIRST = {"python", "rust", "typescript", "tsx", "kotlin", "scala", "swift"}  # `name: Type`
_RUST_WRAPPER = re.compile(r"^(?:Result|Option|Box|Rc|Arc)<(.*)>$")
_RUST_POINTER = re.compile(r"^(?:Box|Rc|Arc)<(.*)>$")  # a method call goes through them to what they hold
_MODIFIERS = frozenset({"public", "private", "protected", "internal", "static", "final", "abstract", "override",
                        "virtual", "sealed", "async", "synchronized", "native", "default", "new", "extern"})
_OPTIONAL = re.compile(r"^(?:typing\.)?Optional\[(.*)\]$")
_TYPE_FIRST = {"java", "csharp", "dart"}  # `Type name`
_RUST_PREFIXES = re.compile(r"^(?:&\s*)?(?:'\w+\s+)?(?:mut\s+)?(?:dyn\s+|impl\s+)?")
_TYPE_ARGUMENTS = re.compile(r"<[^<>]*>")
_JAVA_MODIFIERS = re.compile(r"(?:@[\w.]+(?:\([^()]*\))?\s*|\bfinal\s+|\b(?:ref|out|in|params|this)\s+)")


def declared_type(symbols: Mapping[str, Symbol], function: str, variable: str) -> tuple[str, str] | None:
    """(named type, how it is known) of ``variable`` inside ``function`` (a qname): "parameter" when the
    function's signature types it, "variable" when a local declaration writes or makes it; else None."""
    symbol = symbols.get(function)
    if symbol is None:
        return None
    written = parameter_type(symbol.language, symbol.signature, variable)
    if written is not None:
        return written, "parameter"
    local = symbol.local_types.get(variable)
    written = _named(symbol.language, local) if local and not local.endswith("()") else None
    return (written, "variable") if written else None


def attribute_holder(symbols: Mapping[str, Symbol], bases: Mapping[str, list[str]], cls: str,
                     attribute: str) -> str | None:
    """The first class of ``cls``'s hierarchy (itself, then its bases breadth-first) that gives ``attribute`` a
    type, as fields and instance attributes are recorded on a class (``Symbol.local_types``: Rust's ``pool:
    Pool``, Go's ``pool *Pool``, Java's ``Pool pool``, TypeScript's ``pool: Pool``, Python's ``self.pool =
    Pool()``); None when none does, or the first to declare it says nothing of its type. ``declared_type`` and
    ``made_by`` then read it there, with the holder as the "function"."""
    queue, seen = [cls], {cls}
    while queue:
        current = queue.pop(0)
        symbol = symbols.get(current)
        written = symbol.local_types.get(attribute) if symbol is not None else None
        if written is not None:
            return current if written else None
        for base in bases.get(current, ()):
            if base not in seen:
                seen.add(base)
                queue.append(base)
    return None


def field_type(symbols: Mapping[str, Symbol], bases: Mapping[str, list[str]], resolve: Resolve, cls: str,
               field: str) -> str | None:
    """The class that field ``field`` of ``cls`` (or of a base: ``attribute_holder``) is declared with, its name
    looked up by the language's ``resolve`` where the field is declared; None when nothing of ours types it."""
    holder = attribute_holder(symbols, bases, cls, field)
    declared = declared_type(symbols, holder, field) if holder is not None else None
    found = resolve(symbols[holder].path, holder, declared[0], True) if declared is not None else None
    return found[0] if found is not None else None


def made_by(symbols: Mapping[str, Symbol], function: str, variable: str) -> str | None:
    """The callee whose result local ``variable`` of ``function`` holds (``NewServer`` of ``s, err :=
    NewServer()``, ``Foo::builder().build`` of ``let b = Foo::builder().build()?``), or None."""
    symbol = symbols.get(function)
    local = symbol.local_types.get(variable) if symbol is not None else None
    return local[:-2] if local and local.endswith("()") else None


def made_type(symbols: Mapping[str, Symbol], resolve: Resolve, path: str, caller: str,
              maker: str) -> tuple[str, bool] | None:
    """The class that calling ``maker`` inside ``caller`` gives, and whether the call constructs it: (``Foo``,
    True) for ``Foo()``/``new Foo()``; (the class, False) for a function whose signature says it returns one
    (``def load() -> Cart``, ``func NewServer() *Server``; ``-> Self`` is the function's own class). ``resolve``
    is the language's resolver, which finds both the callee and the returned type's name."""
    made = resolve(path, caller, maker, False)
    symbol = symbols.get(made[0]) if made is not None else None
    if symbol is None:
        return None
    if symbol.kind == CLASS:
        return symbol.qname, True
    returned = returned_type(symbol.language, symbol.signature, symbol.name)
    if returned == "Self":
        return (symbol.parent, False) if symbol.parent else None
    found = resolve(symbol.path, symbol.qname, returned, True) if returned else None
    return (found[0], False) if found is not None else None


def parameter_type(language: str, signature: str, variable: str) -> str | None:
    """The named type ``signature`` gives parameter ``variable`` (``pkg.Type``, ``crate::a::Type``), or None."""
    return _parameter_types(language, signature).get(variable)


@lru_cache(maxsize=16384)
def _parameter_types(language: str, signature: str) -> Mapping[str, str | None]:
    """Each parameter of ``signature`` -> its named type, read once per signature: a graph build asks about the
    same caller's parameters at each of its calls (74,000 times for commons-lang), and parsing the signature
    every time made the build a third slower."""
    if language == "go":
        return MappingProxyType(_go_parameters(signature))
    inner = _parameter_list(signature, signature.find("("))
    types: dict[str, str | None] = {}
    for piece in _top_level(inner or ""):
        if language in _NAME_FIRST:
            name, colon, written = piece.partition(":")
            name = name.split()[-1].rstrip("?") if name.split() else ""
            if colon and name not in types:
                written = written.partition("=")[0].strip() if language == "python" else written.strip()
                types[name] = _named(language, written)
        elif language in _TYPE_FIRST:
            words = _without_type_arguments(_JAVA_MODIFIERS.sub("", piece)).split("=")[0].split()
            if len(words) >= 2 and "[" not in words[-2] and "..." not in words[-2]:
                types.setdefault(words[-1], _named(language, words[-2]))
    return MappingProxyType(types)


def returned_type(language: str, signature: str, name: str) -> str | None:
    """The named type a function returns, as its signature writes it: ``Self`` or ``Man`` for Rust's
    ``fn new() -> Self``, ``Foo`` for Go's ``func NewFoo() (*Foo, error)``, Java's ``static Foo of(int x)`` and
    TypeScript's ``static of(x: number): Foo``, Python's ``def load() -> Optional[Cart]:``; Rust's
    ``Result<Self, E>``/``Option<T>``/``Box<T>`` unwrapped."""
    if language == "rust":
        arrow = signature.rpartition("->")[2] if "->" in signature else ""
        written = _RUST_PREFIXES.sub("", arrow.split(" where ")[0].strip())
        wrapper = _RUST_WRAPPER.match(written)
        return _head(_RUST_PREFIXES.sub("", wrapper.group(1))) if wrapper else _head(written)
    if language == "go":
        head = _GO_HEAD.match(signature)
        inner = _parameter_list(signature, head.end() - 1) if head else None
        if inner is None:
            return None
        results = signature[head.end() + len(inner) + 1:].strip().lstrip("(").strip().lstrip("*")
        return _head(results) if results and not results.startswith(_GO_UNNAMED) else None
    if language in _TYPE_FIRST:
        before = _without_type_arguments(signature.partition("(")[0]).split()
        named = len(before) >= 2 and before[-1] == name and before[-2] not in _MODIFIERS
        return _head(before[-2]) if named else None
    if language == "python":
        written = signature.rpartition("->")[2].removesuffix(":").strip() if "->" in signature else ""
        return _named(language, written) if written else None
    if language in ("typescript", "tsx"):
        opening = signature.find("(")
        inner = _parameter_list(signature, opening)
        after = signature[opening + len(inner) + 2:].strip() if inner is not None else ""
        return _head(after[1:].strip()) if after.startswith(":") else None
    return None


def _named(language: str, written: str) -> str | None:
    """The named type a parameter's or a local variable's declaration writes: ``*gin.Context`` → ``gin.Context``,
    ``&mut Fish`` and ``Arc<Fish>`` → ``Fish``, ``Map<K, V>`` → ``Map``, ``Optional[Order]`` and ``Cookies | null``
    → the class; None for Go's slice, map, function, channel, interface and struct types."""
    if language == "go":
        written = written.strip().lstrip("*")
        return None if written.startswith(_GO_UNNAMED) else _head(written)
    if language in _TYPE_FIRST:
        return _head(_without_type_arguments(written))
    if language == "rust":
        written = _RUST_PREFIXES.sub("", written.strip())
        while (pointer := _RUST_POINTER.match(written)) is not None:
            written = _RUST_PREFIXES.sub("", pointer.group(1).strip())
        return _head(written)
    return _head(_RUST_PREFIXES.sub("", _python_annotation(written)))


def _python_annotation(written: str) -> str:
    """``"Order"``, ``Optional[Order]`` and ``Order | None`` as ``Order``."""
    written = written.strip("'\" ")
    optional = _OPTIONAL.match(written)
    if optional:
        written = optional.group(1)
    parts = [p.strip() for p in written.split("|") if p.strip() != "None"]
    return parts[0] if len(parts) == 1 else written


def _go_parameters(signature: str) -> dict[str, str]:
    head = _GO_HEAD.match(signature)
    inner = _parameter_list(signature, head.end() - 1) if head else None
    types: dict[str, str] = {}
    waiting: list[str] = []  # `a, b *Node`: names before the one that carries their type
    for piece in _top_level(inner or ""):
        words = piece.split(None, 1)
        if len(words) == 1:
            waiting.append(words[0])
            continue
        named = _named("go", words[1])
        for name in (*waiting, words[0]):
            if named:
                types[name] = named
        waiting = []
    return types


def _parameter_list(signature: str, opening: int) -> str | None:
    """The text between the parenthesis at ``opening`` and the one closing it."""
    if opening < 0 or opening >= len(signature) or signature[opening] != "(":
        return None
    depth = 0
    for i in range(opening, len(signature)):
        depth += {"(": 1, ")": -1}.get(signature[i], 0)
        if depth == 0:
            return signature[opening + 1:i]
    return None


def _top_level(text: str) -> list[str]:
    """``text`` split at the commas outside brackets (``Map<K, V> m, int n`` is two pieces)."""
    pieces, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "(<[{":
            depth += 1
        elif ch in ")]}" or (ch == ">" and text[i - 1:i] not in ("-", "=")):  # not Rust's `->`, JS's `=>`
            depth -= 1
        elif ch == "," and depth == 0:
            pieces.append(text[start:i])
            start = i + 1
    pieces.append(text[start:])
    return [p.strip() for p in pieces if p.strip()]


def _without_type_arguments(text: str) -> str:
    """``Map<K, List<V>> m`` as ``Map m``."""
    while True:
        shorter = _TYPE_ARGUMENTS.sub("", text)
        if shorter == text:
            return text
        text = shorter


def _head(written: str) -> str | None:
    """The type's name without its arguments: ``Map<K, V>`` is ``Map``, ``Vec<T>`` is ``Vec``."""
    match = _NAMED.match(written)
    return match.group(0).rstrip(".:") if match else None
