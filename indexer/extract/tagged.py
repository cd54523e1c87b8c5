"""Definitions, imports and calls for the languages whose query file says it all: C#, Ruby, PHP, Kotlin,
Swift, Scala, Lua, Bash, Elixir, Haskell, Dart and Zig.

``generic.py`` reads its languages' nodes with Python code per node type; here the patterns of
``queries/<language>.scm`` name every part, so a language is added by writing its query. Per match:

- ``@definition.type`` / ``.namespace`` / ``.callable`` / ``.impl`` (the roles of ``generic.py``) on the node
  whose span the symbol has, with ``@name``; optionally ``@owner`` (a type written outside the body: Lua's
  ``function Greeter:greet()``), ``@body`` (the signature stops there; a body written after the node, as
  Dart's is, extends the span) and ``@head`` (a node of the definition's own syntax that looks like a call:
  Elixir's ``def greet(name)``); without a body, ``@signature.end`` (the last of them) ends the signature.
  ``@definition.table`` is a type only if a function of the file names it as its owner (Lua's
  ``local Greeter = {}``: other tables are data).
- ``@bases`` on a type's node, one ``@base`` per supertype.
- ``@call`` with ``@call.name`` and optionally ``@call.receiver`` (the callee is ``receiver.name``), or with
  ``@callee`` (an expression that is the callee); ``@call.after`` is a call whose callee is the run of
  siblings before it (Dart's ``greeter.greet`` ``('world')``).
- ``@import`` with ``@import.module`` (quotes stripped), ``@import.name`` for each name it imports and
  ``@import.alias``; ``@import.paths`` instead of a module joins the statement's ``path`` children with dots.
- ``@namespace`` with ``@namespace.name``: a namespace the file declares (C#), for ``FileExtract.namespaces``;
  one written inside another's span is joined to it (``namespace A { namespace B`` is ``A.B``).

Captures starting with ``_`` only serve predicates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import tree_sitter

from ..model import Call, FileExtract, Import, Inheritance
from .generic import CALLABLE, IMPL, NAMESPACE, TYPE, Node, _add_symbols, _Definition, _owners, _query
from .generic import _SIMPLE_CALLEE, _strip_type_arguments, _text, _tidy

# A function written as several clauses, one per pattern (`shout "" = ""` then `shout text = ...`), is one symbol.
_CLAUSE_LANGUAGES = frozenset({"haskell", "elixir"})

# Where type arguments are not in angle brackets (Scala's are in square ones, and index with parentheses).
_TYPE_BRACKETS = {"scala": "[]"}
_ROLES = {"type": TYPE, "namespace": NAMESPACE, "callable": CALLABLE, "impl": IMPL, "table": TYPE}
_MAX_CALLEE = 200
_NOT_A_CALLEE = re.compile(r"[\s{};\"'`]")


@dataclass
class _Match:
    pattern: int
    nodes: dict[str, list[Node]]

    def first(self, capture: str) -> Node | None:
        found = self.nodes.get(capture)
        return found[0] if found else None


def _key(node: Node) -> tuple[int, int, str]:
    return node.start_byte, node.end_byte, node.type


def extract_tagged(path: str, source: bytes, tree: tree_sitter.Tree, language: str) -> FileExtract:
    """Symbols, imports, calls and inheritance of one file in a language described by its query alone."""
    extract = FileExtract(path=path, language=language, has_errors=tree.root_node.has_error)
    matches = [_Match(i, nodes) for i, nodes in tree_sitter.QueryCursor(_query(language)).matches(tree.root_node)]

    definitions, heads = _definitions(source, matches, language)
    _add_symbols(extract, source, definitions)
    by_node = {_key(d.outer): d for d in definitions}
    symbol_at = {(s.start_byte, s.name): s.qname for s in extract.symbols}
    for match in matches:
        holder, bases = match.first("bases"), match.nodes.get("base", ())
        definition = by_node.get(_key(holder)) if holder is not None else None
        qname = symbol_at.get((definition.outer.start_byte, definition.name)) if definition else None
        if qname is not None:
            line = holder.start_point[0] + 1
            extract.inherits.extend(Inheritance(qname, _one_name(source, b), line) for b in bases)

    extract.namespaces = _namespaces(source, matches)
    intervals = [(s.start_byte, s.end_byte, s.qname) for s in extract.symbols]
    imports = _imports(source, matches)
    for node, owner in _owners(imports, intervals):
        imports[node].scope = owner
        extract.imports.append(imports[node])

    calls = {}
    for match in matches:
        node = match.first("call") or match.first("call.after")
        if node is not None and _key(node) not in heads:
            callee = _callee(source, match, node, _TYPE_BRACKETS.get(language, "<>"))
            if callee:
                calls[node] = callee
    for node, owner in _owners(calls, intervals):
        extract.calls.append(Call(caller=owner or path, callee=calls[node], line=node.start_point[0] + 1))
    return extract


def _definitions(source: bytes, matches: list[_Match], language: str) -> tuple[list[_Definition], set]:
    """The file's definitions in source order, and the keys of nodes that are part of a definition's syntax."""
    found: dict[tuple, _Definition] = {}
    tables: set[tuple] = set()
    heads: set[tuple[int, int, str]] = set()
    for match in matches:
        role_capture = next((c for c in match.nodes if c.startswith("definition.")), None)
        name_node = match.first("name")
        if role_capture is None or name_node is None:
            continue
        heads.update(_key(n) for n in match.nodes.get("head", ()))
        outer, role = match.nodes[role_capture][0], role_capture.partition(".")[2]
        body = match.first("body")
        owner = match.first("owner")
        definition = _Definition(
            outer, _one_name(source, name_node), _ROLES[role], body,
            owner=[_one_name(source, owner)] if owner is not None else [],
            last=body if body is not None and body.end_byte > outer.end_byte else None,
            signature_end=max((n.end_byte for n in match.nodes.get("signature.end", ())), default=None),
        )
        key = (outer.start_byte, outer.end_byte, definition.name)
        if role == "table":
            tables.add(key)
        found.setdefault(key, definition)
    owners = {d.owner[0] for d in found.values() if d.owner}
    definitions = [d for key, d in found.items() if key not in tables or d.name in owners]
    definitions.sort(key=lambda d: (d.outer.start_byte, -d.end_node.end_byte))
    if language in _CLAUSE_LANGUAGES:
        definitions = _merge_clauses(definitions)
    return definitions, heads


def _merge_clauses(definitions: list[_Definition]) -> list[_Definition]:
    """Consecutive same-named functions of one scope become one definition spanning all their clauses."""
    merged: list[_Definition] = []
    for definition in definitions:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and previous.role == definition.role == CALLABLE
            and previous.name == definition.name
            and previous.outer.parent is not None
            and definition.outer.parent is not None
            and _key(previous.outer.parent) == _key(definition.outer.parent)
        ):
            previous.last = definition.end_node
            continue
        merged.append(definition)
    return merged


def _one_name(source: bytes, node: Node) -> str:
    """A name as a dotted path: ``Shop::Greeter`` and ``App\\Greeter`` read ``Shop.Greeter``, ``App.Greeter``."""
    text = _strip_type_arguments(_tidy(_text(source, node))).replace("::", ".").replace("\\", ".")
    return text.replace("`", "").strip(".")  # Kotlin and Scala quote odd names: class `-JsonUtf8Reader`


def _namespaces(source: bytes, matches: list[_Match]) -> list[str]:
    """The file's declared namespaces, each once, in source order, nested ones with their outer ones' names."""
    declared = sorted(
        (node.start_byte, -node.end_byte, _one_name(source, name))
        for match in matches
        if (node := match.first("namespace")) is not None and (name := match.first("namespace.name")) is not None
    )
    names: list[str] = []
    open_ones: list[tuple[int, str]] = []  # (end byte, full name) of the namespaces around the current one
    for start, negative_end, name in declared:
        while open_ones and open_ones[-1][0] <= start:
            open_ones.pop()
        full = f"{open_ones[-1][1]}.{name}" if open_ones else name
        open_ones.append((-negative_end, full))
        names.append(full)
    return list(dict.fromkeys(n for n in names if n))


def _imports(source: bytes, matches: list[_Match]) -> dict[Node, Import]:
    """One ``Import`` per module an import statement names; patterns that match the same statement again add
    its names and alias."""
    imports: dict[tuple, Import] = {}
    nodes: dict[tuple, Node] = {}
    for match in matches:
        statement = match.first("import")
        modules = match.nodes.get("import.module", [])
        if statement is not None and "import.paths" in match.nodes:
            paths = enumerate(statement.children)
            modules = [c for i, c in paths if c.is_named and statement.field_name_for_child(i) == "path"]
        if statement is None or not modules:
            continue
        module = ".".join(_text(source, m).strip("'\"`") for m in modules)
        key = (_key(statement), module)
        imp = imports.get(key)
        if imp is None:
            imp = imports[key] = Import(module=module, line=statement.start_point[0] + 1)
            nodes[key] = statement
        alias = match.first("import.alias")
        if alias is not None:
            imp.alias = _text(source, alias)
        for name in match.nodes.get("import.name", ()):
            entry = (_text(source, name), None)
            if entry not in imp.names:
                imp.names.append(entry)
    return {_Keyed(nodes[k]): imp for k, imp in imports.items()}


class _Keyed:
    """An import statement standing in for a node in ``_owners`` (which sorts by ``start_byte``), so that two
    imports of one statement stay two entries."""

    def __init__(self, node: Node) -> None:
        self.start_byte, self.end_byte = node.start_byte, node.end_byte


def _callee(source: bytes, match: _Match, call: Node, type_brackets: str) -> str | None:
    callee = match.first("callee")
    name = match.first("call.name")
    if callee is not None:
        text = _expression(source, callee.start_byte, callee.end_byte)
    elif name is not None:
        receiver = match.first("call.receiver")
        text = _text(source, name)
        if receiver is not None:
            text = f"{_expression(source, receiver.start_byte, receiver.end_byte)}.{text}"
    elif match.first("call.after") is not None:
        head = call
        while head.prev_named_sibling is not None and head.prev_named_sibling.type == call.type:
            head = head.prev_named_sibling
        head = head.prev_named_sibling or head
        text = _expression(source, head.start_byte, call.start_byte)
    else:
        return None
    text = text.replace("$", "").replace("::", ".").replace("->", ".")  # PHP's $this->greet is this.greet
    text = _strip_type_arguments(text, *type_brackets)  # cfg.For<IMediator> and opt[Unit] call For and opt
    if not text or len(text) > _MAX_CALLEE or _NOT_A_CALLEE.search(text):
        return None  # a string, a block or a parse gone wrong: nothing to link
    return text


def _expression(source: bytes, start: int, end: int) -> str:
    """The text of a callee expression on one line, with the arguments of calls inside it emptied."""
    raw = source[start:end]
    if _SIMPLE_CALLEE.fullmatch(raw):  # most callees: a name or a dotted path, taken as is
        return raw.decode("ascii")
    return _tidy(_without_arguments(raw.decode("utf-8", "replace")))


@lru_cache(maxsize=4096)
def _without_arguments(text: str) -> str:
    """``Greeter.new(prefix).greet`` -> ``Greeter.new().greet``."""
    if "(" not in text:
        return text
    out, depth = [], 0
    for ch in text:
        if ch == "(":
            if depth == 0:
                out.append(ch)
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
            if depth == 0:
                out.append(ch)
        elif depth == 0:
            out.append(ch)
    return "".join(out)
