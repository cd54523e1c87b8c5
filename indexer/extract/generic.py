"""Definitions, imports, calls and inheritance for JavaScript, TypeScript/TSX, Go, Rust, Java, C and C++ (the
other parsed languages but Python are read by ``tagged.py``, which uses this module's symbol sweep).

One tree-sitter query per language (``queries/<language>.scm``) finds the interesting nodes in C; Python
then reads names from them and assigns each definition to its container in a single sweep over byte
offsets, so the cost stays close to the parse itself.

Conventions of the resulting ``FileExtract``:

- Methods are ``path::Type.method`` whether written inside the type (classes, traits, Rust ``impl Type``)
  or outside it (Go receivers, C++ ``Type::method``, JS ``Type.prototype.method``). ``parent`` is the
  type's qname only when the type is defined in the same file; otherwise it is None.
- Imports keep ``module`` as written. Rust: ``use a::b::C`` gives module ``a::b::C`` with names
  ``[("C", None)]``, ``use a::b::{C, D}`` module ``a::b`` with names C and D, and ``mod foo;`` module
  ``foo`` with no names. C/C++ system includes keep their angle brackets (``<stdio.h>``).
- Calls record the callee text without arguments; a call nested in the callee keeps empty parentheses
  (``order.lines().isEmpty``), ``new Foo(...)`` gives ``Foo``, and template/generic arguments are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

import tree_sitter

from ..languages import get_language
from ..model import CLASS, FUNCTION, METHOD, Call, DistinctNames, FileExtract, Import, Inheritance, Symbol
from ..model import qualified_name

__all__ = ["READ_HERE", "extract_generic"]

Node = tree_sitter.Node

_QUERY_DIR = Path(__file__).with_name("queries")
_QUERY_FILES = {
    "javascript": ("javascript", "jsx"),
    "typescript": ("typescript",),
    "tsx": ("typescript", "jsx"),
}

# What a definition node is to the symbols around it.
TYPE = "type"  # class-like: becomes a CLASS symbol, functions inside it are methods
NAMESPACE = "namespace"  # CLASS symbol too, but functions inside it stay functions
CALLABLE = "callable"  # FUNCTION or METHOD, depending on its container
IMPL = "impl"  # Rust impl block: no symbol, only names the type its functions belong to

_MAX_SIGNATURE = 300
_MAX_CALLEE = 200
_WHITESPACE = re.compile(r"\s+")


@dataclass
class _Definition:
    outer: Node  # the node whose span is the symbol's span (includes `export`, `template<...>`, typedef)
    name: str
    role: str
    body: Node | None = None
    owner: list[str] = field(default_factory=list)  # type path written outside the body: Go receiver, C++ A::B::
    bases: list[str] = field(default_factory=list)
    is_scoped_function: bool = False  # C++ `X::f`: a method unless X is a namespace of this file
    attributes: str = ""  # Rust outer attributes, which the grammar leaves outside the item: `#[test]`
    last: Node | None = None  # where the definition ends when not with ``outer``: Dart's body, Haskell's last clause
    signature_end: int | None = None  # where its signature ends when no body marks it: after Ruby's parameters

    @property
    def end_node(self) -> Node:
        return self.last if self.last is not None and self.last.end_byte > self.outer.end_byte else self.outer


# ---------------------------------------------------------------------------------------------- text helpers


def _text(source: bytes, node: Node) -> str:
    return source[node.start_byte : node.end_byte].decode("utf-8", "replace")


def _one_line(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


def _strip_type_arguments(text: str, opening: str = "<", closing: str = ">") -> str:
    """``Base<T>`` -> ``Base``, ``Foo::<u8>::new`` -> ``Foo::new``; unbalanced text is returned unchanged.
    Scala writes type arguments in square brackets: ``opt[Unit]`` with ``opening="["``."""
    if opening not in text:
        return text
    out, depth = [], 0
    for ch in text:
        if ch == opening:
            depth += 1
        elif ch == closing and depth:
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return text if depth else "".join(out).replace("::::", "::").rstrip(":")


def _name_of(source: bytes, node: Node, field_name: str = "name") -> str | None:
    child = node.child_by_field_name(field_name)
    return _text(source, child) if child is not None else None


def _wrapped_by(node: Node, *types: str) -> Node:
    """The node itself, or its parent when the parent is only a wrapper of this one definition."""
    parent = node.parent
    return parent if parent is not None and parent.type in types else node


# ------------------------------------------------------------------------------------- JavaScript, TypeScript

_JS_CLASS_DECLARATIONS = {"class_declaration", "abstract_class_declaration", "class"}


def _js_bases(source: bytes, node: Node) -> list[str]:
    bases: list[str] = []
    for child in node.named_children:
        if child.type == "class_heritage":
            clauses = child.named_children
            if clauses and clauses[0].type not in ("extends_clause", "implements_clause"):
                bases.extend(_text(source, c) for c in clauses)  # JavaScript: the expression itself
                continue
            for clause in clauses:
                bases.extend(_text(source, t) for t in clause.named_children if t.type != "type_arguments")
        elif child.type == "extends_type_clause":  # interface I extends A, B
            bases.extend(_text(source, t) for t in child.named_children)
    return [_strip_type_arguments(b) for b in bases]


def _js_type(source: bytes, node: Node) -> _Definition | None:
    name = _name_of(source, node)
    if name is None:
        return None
    role = NAMESPACE if node.type == "internal_module" else TYPE
    outer = _wrapped_by(node, "export_statement")
    return _Definition(outer, name, role, node.child_by_field_name("body"), bases=_js_bases(source, node))


def _js_function(source: bytes, node: Node) -> _Definition | None:
    name = _name_of(source, node)
    if name is None:
        return None
    return _Definition(_wrapped_by(node, "export_statement"), name, CALLABLE, node.child_by_field_name("body"))


def _js_class_member(source: bytes, node: Node) -> _Definition | None:
    body = node.parent
    if _named_object(body) is not None:  # const api = { get() { ... } }
        name = _name_of(source, node)
        return _Definition(node, name, CALLABLE, node.child_by_field_name("body")) if name else None
    owner = body.parent if body is not None and body.type == "class_body" else None
    if owner is None or owner.type not in _JS_CLASS_DECLARATIONS or owner.child_by_field_name("name") is None:
        return None  # methods of anonymous objects and class expressions are not indexed as symbols
    name = _name_of(source, node) or _name_of(source, node, "property")
    if name is None:
        return None
    value = node.child_by_field_name("value")
    function = value if value is not None else node
    return _Definition(node, name, CALLABLE, function.child_by_field_name("body"))


_JS_FUNCTION_VALUES = {"arrow_function", "function_expression", "generator_function"}


def _named_object(node: Node | None) -> Node | None:
    """The ``variable_declarator`` of ``const name = { ... }`` when ``node`` is that object; else None."""
    parent = node.parent if node is not None and node.type == "object" else None
    if parent is None or parent.type != "variable_declarator":
        return None
    name = parent.child_by_field_name("name")
    return parent if name is not None and name.type == "identifier" else None


def _js_object(source: bytes, node: Node) -> _Definition | None:
    """``const api = { get() {...}, put: function () {...} }``: a namespace of methods, as a class is. An
    object without functions (settings, tables) is data, not a definition."""
    value = node.child_by_field_name("value")
    has_functions = any(
        member.type == "method_definition"
        or (member.type == "pair" and (member.child_by_field_name("value") or member).type in _JS_FUNCTION_VALUES)
        for member in value.named_children
    )
    if not has_functions:
        return None
    declaration = node.parent
    outer = node
    if declaration is not None and declaration.named_child_count == 1:
        outer = _wrapped_by(declaration, "export_statement")
    return _Definition(outer, _name_of(source, node) or "", TYPE, value)


def _js_pair(source: bytes, node: Node) -> _Definition | None:
    """``put: function () {...}`` in an object that ``_js_object`` made a definition."""
    key = node.child_by_field_name("key")
    if _named_object(node.parent) is None or key is None or key.type != "property_identifier":
        return None
    body = node.child_by_field_name("value").child_by_field_name("body")
    return _Definition(node, _text(source, key), CALLABLE, body)


def _js_variable(source: bytes, node: Node) -> _Definition | None:
    if node.child_by_field_name("value").type == "object":
        return _js_object(source, node)
    value = node.child_by_field_name("value")
    declaration = node.parent
    outer = node
    if declaration is not None and declaration.named_child_count == 1:
        outer = _wrapped_by(declaration, "export_statement")
    return _Definition(outer, _name_of(source, node) or "", CALLABLE, value.child_by_field_name("body"))


def _js_assignment(source: bytes, node: Node) -> _Definition | None:
    """``exports.f = function`` and ``Type.prototype.m = function``; other assignments are not definitions."""
    left = node.child_by_field_name("left")
    target, prop = left.child_by_field_name("object"), left.child_by_field_name("property")
    if target is None or prop is None:
        return None
    outer = _wrapped_by(node, "expression_statement")
    body = node.child_by_field_name("right").child_by_field_name("body")
    target_text = _text(source, target)
    if target_text in ("exports", "module.exports"):
        return _Definition(outer, _text(source, prop), CALLABLE, body)
    if target.type == "member_expression" and _name_of(source, target, "property") == "prototype":
        owner = _text(source, target.child_by_field_name("object"))
        return _Definition(outer, _text(source, prop), CALLABLE, body, owner=[owner])
    at_top = outer.parent is not None and outer.parent.type == "program"
    if target_text == "module" and _text(source, prop) == "exports":  # module.exports = function name() {}
        name = _name_of(source, node.child_by_field_name("right"))
        return _Definition(outer, name, CALLABLE, body) if name and at_top else None
    if target.type == "identifier" and at_top:  # res.location = function location(url) {...}
        return _Definition(outer, _text(source, prop), CALLABLE, body, owner=[target_text])
    return None


_JS_READERS: dict[str, Callable[[bytes, Node], _Definition | None]] = {
    "class_declaration": _js_type,
    "class": _js_type,
    "abstract_class_declaration": _js_type,
    "interface_declaration": _js_type,
    "type_alias_declaration": _js_type,
    "enum_declaration": _js_type,
    "internal_module": _js_type,
    "function_declaration": _js_function,
    "generator_function_declaration": _js_function,
    "method_definition": _js_class_member,
    "field_definition": _js_class_member,
    "public_field_definition": _js_class_member,
    "variable_declarator": _js_variable,
    "assignment_expression": _js_assignment,
    "pair": _js_pair,
}

# ------------------------------------------------------------------------------------------------------- Go


def _go_type_name(source: bytes, node: Node | None) -> str | None:
    """The named type under pointers and type arguments: ``*List[T]`` -> ``List``."""
    while node is not None and node.type in ("pointer_type", "generic_type", "parenthesized_type"):
        node = node.child_by_field_name("type") or (node.named_children[0] if node.named_children else None)
    return _text(source, node) if node is not None else None


def _go_embedded(source: bytes, type_node: Node | None) -> list[str]:
    if type_node is None:
        return []
    if type_node.type == "struct_type":
        fields = next((c for c in type_node.named_children if c.type == "field_declaration_list"), None)
        if fields is None:
            return []
        return [
            _strip_type_arguments(_text(source, f.child_by_field_name("type")))
            for f in fields.named_children
            if f.type == "field_declaration" and f.child_by_field_name("name") is None and f.child_by_field_name("type")
        ]
    if type_node.type == "interface_type":
        return [
            _strip_type_arguments(_text(source, elem.named_children[0]))
            for elem in type_node.named_children
            if elem.type == "type_elem" and elem.named_child_count == 1
        ]
    return []


def _go_type(source: bytes, node: Node) -> _Definition | None:
    name = _name_of(source, node)
    if name is None:
        return None
    declaration = node.parent
    outer = declaration if declaration is not None and declaration.named_child_count == 1 else node
    type_node = node.child_by_field_name("type")
    body = None
    if type_node is not None and type_node.type == "struct_type":
        body = next((c for c in type_node.named_children if c.type == "field_declaration_list"), None)
    return _Definition(outer, name, TYPE, body, bases=_go_embedded(source, type_node))


def _go_function(source: bytes, node: Node) -> _Definition | None:
    name = _name_of(source, node)
    if name is None:
        return None
    owner: list[str] = []
    receiver = node.child_by_field_name("receiver")
    if receiver is not None:
        params = [c for c in receiver.named_children if c.type == "parameter_declaration"]
        type_name = _go_type_name(source, params[0].child_by_field_name("type")) if params else None
        if type_name:
            owner = [type_name]
    return _Definition(node, name, CALLABLE, node.child_by_field_name("body"), owner=owner)


_GO_READERS = {
    "type_spec": _go_type,
    "type_alias": _go_type,
    "function_declaration": _go_function,
    "method_declaration": _go_function,
}

# ----------------------------------------------------------------------------------------------------- Rust


def _rust_type_name(source: bytes, node: Node | None) -> str | None:
    """The type an impl is for: ``Foo<T>`` -> ``Foo``, ``a::Foo`` -> ``Foo``, ``&Foo`` -> ``Foo``."""
    while node is not None:
        if node.type in ("type_identifier", "primitive_type"):
            return _text(source, node)
        if node.type == "scoped_type_identifier":
            node = node.child_by_field_name("name")
        elif node.type == "generic_type":
            node = node.child_by_field_name("type")
        else:  # reference_type, pointer_type, ...
            node = node.child_by_field_name("type")
    return None


def _rust_attributes(source: bytes, node: Node) -> str:
    """The outer attributes written above an item (doc comments between them skipped), in source order.
    They start its signature, as Java's annotations do: ``#[test] fn adds()``, ``#[cfg(test)] mod tests``."""
    found: list[str] = []
    sibling = node.prev_sibling
    while sibling is not None and sibling.type in ("attribute_item", "line_comment", "block_comment"):
        if sibling.type == "attribute_item":
            found.append(_one_line(_text(source, sibling)))
        sibling = sibling.prev_sibling
    return " ".join(reversed(found))


def _rust_item(source: bytes, node: Node) -> _Definition | None:
    name = _name_of(source, node)
    if name is None:
        return None
    bases: list[str] = []
    bounds = node.child_by_field_name("bounds")  # trait Shape: Debug + Clone
    if bounds is not None:
        bases = [_strip_type_arguments(_text(source, b)) for b in bounds.named_children if b.type != "lifetime"]
    role = NAMESPACE if node.type == "mod_item" else TYPE
    return _Definition(node, name, role, node.child_by_field_name("body"), bases=bases,
                       attributes=_rust_attributes(source, node))


def _rust_impl(source: bytes, node: Node) -> _Definition | None:
    name = _rust_type_name(source, node.child_by_field_name("type"))
    if name is None:
        return None
    trait = node.child_by_field_name("trait")
    bases = [_strip_type_arguments(_text(source, trait))] if trait is not None else []
    return _Definition(node, name, IMPL, node.child_by_field_name("body"), bases=bases)


def _rust_function(source: bytes, node: Node) -> _Definition | None:
    name = _name_of(source, node)
    if name is None:
        return None
    body = node.child_by_field_name("body")
    return _Definition(node, name, CALLABLE, body, attributes=_rust_attributes(source, node))


_RUST_READERS = {
    "struct_item": _rust_item,
    "enum_item": _rust_item,
    "union_item": _rust_item,
    "trait_item": _rust_item,
    "mod_item": _rust_item,
    "impl_item": _rust_impl,
    "function_item": _rust_function,
}

# ----------------------------------------------------------------------------------------------------- Java


def _java_type_text(source: bytes, node: Node) -> str:
    if node.type == "generic_type":
        node = node.named_children[0]
    return _strip_type_arguments(_text(source, node))


def _java_type(source: bytes, node: Node) -> _Definition | None:
    name = _name_of(source, node)
    if name is None:
        return None
    bases: list[str] = []
    superclass = node.child_by_field_name("superclass")
    if superclass is not None and superclass.named_children:
        bases.append(_java_type_text(source, superclass.named_children[0]))
    for child in node.named_children:
        if child.type in ("super_interfaces", "extends_interfaces"):
            for type_list in child.named_children:
                bases.extend(_java_type_text(source, t) for t in type_list.named_children)
    return _Definition(node, name, TYPE, node.child_by_field_name("body"), bases=bases)


def _java_method(source: bytes, node: Node) -> _Definition | None:
    body_of = node.parent
    holder = body_of.parent if body_of is not None else None
    if holder is not None and holder.type in ("object_creation_expression", "enum_constant"):
        return None  # anonymous class bodies belong to the method that creates them
    name = _name_of(source, node)
    if name is None:
        return None
    return _Definition(node, name, CALLABLE, node.child_by_field_name("body"))


_JAVA_READERS = {
    "class_declaration": _java_type,
    "interface_declaration": _java_type,
    "enum_declaration": _java_type,
    "record_declaration": _java_type,
    "annotation_type_declaration": _java_type,
    "method_declaration": _java_method,
    "constructor_declaration": _java_method,
    "compact_constructor_declaration": _java_method,
}

# -------------------------------------------------------------------------------------------------- C, C++


def _scope_parts(source: bytes, node: Node) -> list[str]:
    """``geo::Circle<T>::area`` -> ["geo", "Circle", "area"]."""
    parts: list[str] = []
    while node is not None and node.type == "qualified_identifier":
        scope = node.child_by_field_name("scope")
        if scope is not None:
            parts.append(_strip_type_arguments(_text(source, scope)))
        node = node.child_by_field_name("name")
    if node is not None:
        if node.type == "template_function":
            node = node.child_by_field_name("name")
        if node.type == "operator_cast":  # operator bool() const -> "operator bool"
            parts.append("operator " + _one_line(_text(source, node.child_by_field_name("type"))))
        else:
            parts.append(_one_line(_text(source, node)))
    return parts


_C_NAMES = {"identifier", "field_identifier", "qualified_identifier", "destructor_name", "operator_name",
            "template_function", "operator_cast"}


def _c_function_name(source: bytes, declarator: Node | None) -> list[str] | None:
    """Follow declarators (pointer, reference, parenthesized, function) down to the name; read its parts.

    ``int (*get_handler(int x))(int)`` nests function declarators, so the name is the innermost one.
    """
    is_function = False
    while declarator is not None and declarator.type not in _C_NAMES:
        is_function = is_function or declarator.type == "function_declarator"
        inner = declarator.child_by_field_name("declarator")
        if inner is None:  # reference_declarator and parenthesized_declarator have no field name
            inner = next(
                (c for c in declarator.named_children if c.type.endswith("declarator") or c.type in _C_NAMES), None
            )
        declarator = inner
    if declarator is None:
        return None
    parts = _scope_parts(source, declarator)
    if not is_function and not parts[-1].startswith("operator "):  # conversion operators have no function declarator
        return None  # macro-mangled or K&R definitions we cannot read
    return parts


def _c_function(source: bytes, node: Node) -> _Definition | None:
    parts = _c_function_name(source, node.child_by_field_name("declarator"))
    if not parts:
        return None
    outer = _wrapped_by(node, "template_declaration")
    body = node.child_by_field_name("body")
    return _Definition(outer, parts[-1], CALLABLE, body, owner=parts[:-1], is_scoped_function=len(parts) > 1)


def _c_type(source: bytes, node: Node) -> _Definition | None:
    name = _name_of(source, node)
    outer = _wrapped_by(node, "template_declaration")
    parent = node.parent
    if parent is not None and parent.type == "type_definition":
        outer = parent
        if name is None:  # typedef struct { ... } list_t;
            name = _name_of(source, parent, "declarator")
    if name is None:
        return None
    bases: list[str] = []
    for child in node.named_children:
        if child.type == "base_class_clause":
            bases = [
                _strip_type_arguments(_text(source, b)) for b in child.named_children if b.type != "access_specifier"
            ]
    return _Definition(outer, _strip_type_arguments(name), TYPE, node.child_by_field_name("body"), bases=bases)


def _cpp_namespace(source: bytes, node: Node) -> _Definition | None:
    name = _name_of(source, node)
    if name is None:
        return None  # anonymous namespace: its contents belong to the file
    return _Definition(node, name.replace("::", ".").replace(" ", ""), NAMESPACE, node.child_by_field_name("body"))


_C_READERS = {
    "struct_specifier": _c_type,
    "union_specifier": _c_type,
    "enum_specifier": _c_type,
    "class_specifier": _c_type,
    "namespace_definition": _cpp_namespace,
    "function_definition": _c_function,
}

_READERS = {
    "javascript": _JS_READERS,
    "typescript": _JS_READERS,
    "tsx": _JS_READERS,
    "go": _GO_READERS,
    "rust": _RUST_READERS,
    "java": _JAVA_READERS,
    "c": _C_READERS,
    "cpp": _C_READERS,
}
READ_HERE = frozenset(_READERS)
"""The languages this module reads node by node; the others' query files name every part (``tagged.py``)."""

# ------------------------------------------------------------------------------------------ local variables


_CALLS = frozenset({"call_expression", "method_invocation"})
_UNWRAPPED = frozenset({"try_expression", "await_expression"})  # Rust's `make()?`, JavaScript's `await make()`


def _made_by_call(source: bytes, value: Node | None) -> str | None:
    """``make()`` for a value another call returns (``make(…)``, ``make(…)?``, ``await make(…)``): the callee as a
    call site records it, with ``()`` to tell it from a type; the resolver reads what that function returns."""
    if value is not None and value.type in _UNWRAPPED and value.named_child_count == 1:
        value = value.named_children[0]
    callee = _callee(source, value) if value is not None and value.type in _CALLS else None
    return f"{callee}()" if callee else None


def _go_made_type(source: bytes, value: Node | None) -> str | None:
    """``Foo`` of ``Foo{…}`` and ``&pkg.Foo{…}``: the type a composite literal makes."""
    if value is not None and value.type == "unary_expression" and _text(source, value).startswith("&"):
        value = value.child_by_field_name("operand")
    if value is not None and value.type == "composite_literal":
        written = value.child_by_field_name("type")
        return _text(source, written) if written is not None else None
    return None


def _go_locals(source: bytes, node: Node) -> list[tuple[str, str]]:
    if node.type == "short_var_declaration":
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        names = [c for c in left.named_children] if left is not None else []
        values = [c for c in right.named_children] if right is not None else []
        if len(values) == 1 and len(names) > 1:  # `x, err := NewX()`: x is what NewX returns first
            names = names[:1]
        elif len(names) != len(values):
            return []
        pairs = ((_text(source, n), _go_made_type(source, v) or _made_by_call(source, v))
                 for n, v in zip(names, values) if n.type == "identifier")
        return [(name, made) for name, made in pairs if made]
    written = node.child_by_field_name("type")  # var_spec
    value = node.child_by_field_name("value")
    values = value.named_children if value is not None else []
    if written is not None:
        made = _text(source, written)
    else:
        made = _go_made_type(source, values[0]) or _made_by_call(source, values[0]) if len(values) == 1 else None
    names = [_text(source, c) for c in node.children_by_field_name("name")]
    return [(name, made) for name in names] if made else []


_RUST_CONSTRUCTORS = frozenset({"new", "default"})


def _rust_locals(source: bytes, node: Node) -> list[tuple[str, str]]:
    pattern = node.child_by_field_name("pattern")
    if pattern is None or pattern.type != "identifier":
        return []
    written = node.child_by_field_name("type")
    if written is not None:
        return [(_text(source, pattern), _text(source, written))]
    value = node.child_by_field_name("value")
    if value is not None and value.type == "struct_expression":
        made = value.child_by_field_name("name")
        return [(_text(source, pattern), _text(source, made))] if made is not None else []
    function = value.child_by_field_name("function") if value is not None and value.type == "call_expression" else None
    if function is not None and function.type == "scoped_identifier":
        # `Foo::new(…)`, `Foo::default()`: by convention they make a Foo; other functions may return anything.
        owner, name = function.child_by_field_name("path"), function.child_by_field_name("name")
        if owner is not None and name is not None and _text(source, name) in _RUST_CONSTRUCTORS:
            return [(_text(source, pattern), _text(source, owner))]
    made = _made_by_call(source, value)
    return [(_text(source, pattern), made)] if made else []


def _java_locals(source: bytes, node: Node) -> list[tuple[str, str]]:
    if node.type == "lambda_expression":
        return _java_lambda_parameters(source, node.child_by_field_name("parameters"))
    written = node.child_by_field_name("type")
    if node.type == "enhanced_for_statement":  # `for (Bell b : bells)`; `for (var b : bells)` names a local too
        name = node.child_by_field_name("name")
        if name is None or written is None:
            return []
        return [(_text(source, name), _java_written_type(source, written))]
    found = []
    for declarator in node.children_by_field_name("declarator"):
        name = declarator.child_by_field_name("name")
        made = _text(source, written) if written is not None else ""
        if made == "var":  # `var x = new Foo<>()`
            value = declarator.child_by_field_name("value")
            created = value is not None and value.type == "object_creation_expression"
            made_by = value.child_by_field_name("type") if created else None
            made = _text(source, made_by) if made_by is not None else _made_by_call(source, value) or ""
        if name is not None and made:
            found.append((_text(source, name), made))
    return found


def _java_lambda_parameters(source: bytes, parameters: Node | None) -> list[tuple[str, str]]:
    """``b -> …`` and ``(a, b) -> …`` name locals of unknown type; ``(Bell b) -> …`` a Bell."""
    if parameters is None:
        return []
    if parameters.type == "identifier":
        return [(_text(source, parameters), "")]
    found = []
    for parameter in parameters.named_children:
        if parameter.type == "identifier":
            found.append((_text(source, parameter), ""))
        elif parameter.type == "formal_parameter":
            name = parameter.child_by_field_name("name")
            if name is not None:
                found.append((_text(source, name), _java_written_type(source, parameter.child_by_field_name("type"))))
    return found


def _java_written_type(source: bytes, written: Node | None) -> str:
    """The type a declaration writes; ``var`` or none is a local of unknown type ("")."""
    text = _text(source, written) if written is not None else ""
    return "" if text == "var" else text


def _js_locals(source: bytes, node: Node) -> list[tuple[str, str]]:
    """A variable's (``const x = new Foo()``, ``let x: Foo``) or, alike, a TypeScript class field's."""
    name = node.child_by_field_name("name")
    if name is None or name.type not in ("identifier", "property_identifier"):
        return []
    written = node.child_by_field_name("type")  # TypeScript's `: Foo`
    if written is not None:
        return [(_text(source, name), _text(source, written).lstrip(":").strip())]
    value = node.child_by_field_name("value")
    made = value.child_by_field_name("constructor") if value is not None and value.type == "new_expression" else None
    if made is not None:
        return [(_text(source, name), _text(source, made))]
    called = _made_by_call(source, value)
    return [(_text(source, name), called)] if called else []


_LOCAL_READERS = {
    "go": _go_locals,
    "rust": _rust_locals,
    "java": _java_locals,
    "javascript": _js_locals,
    "typescript": _js_locals,
    "tsx": _js_locals,
}


def _named_fields(source: bytes, node: Node) -> list[tuple[str, str]]:
    """Rust's ``pool: Arc<Pool>`` and Go's ``a, b *Cart``: each name with the type written (Go's embedded
    fields have no name: they are bases, read elsewhere). A Rust tuple struct's fields are named ``0``, ``1``, …"""
    if node.type == "ordered_field_declaration_list":
        return [(str(n), _text(source, written)) for n, written in enumerate(node.children_by_field_name("type"))]
    written = node.child_by_field_name("type")
    if written is None:
        return []
    return [(_text(source, name), _text(source, written)) for name in node.children_by_field_name("name")]


def _js_fields(source: bytes, node: Node) -> list[tuple[str, str]]:
    """A class field's type: ``bell: Bell`` or ``cart = new Cart()`` in the class body (as ``_js_locals``), a
    constructor's ``private jar: Jar``, or ``this.cart = new Cart()`` in a method (other values assigned to a
    field say nothing: TypeScript's declaration already gives its type)."""
    if node.type == "required_parameter":
        name, written = node.child_by_field_name("pattern"), node.child_by_field_name("type")
        if name is None or name.type != "identifier" or written is None:
            return []
        return [(_text(source, name), _text(source, written).lstrip(":").strip())]
    if node.type == "assignment_expression":
        left, value = node.child_by_field_name("left"), node.child_by_field_name("right")
        field = left.child_by_field_name("property") if left is not None else None
        made = value.child_by_field_name("constructor") if value is not None else None
        return [(_text(source, field), _text(source, made))] if field is not None and made is not None else []
    return _js_locals(source, node)


_FIELD_READERS = {
    "go": _named_fields,
    "rust": _named_fields,
    "java": _java_locals,  # `private final Bell bell = …;` is shaped as a local declaration
    "javascript": _js_fields,
    "typescript": _js_fields,
    "tsx": _js_fields,
}


def _add_local_types(extract: FileExtract, source: bytes, nodes, intervals: list[tuple[int, int, str]],
                     readers: Mapping[str, Callable[[bytes, Node], list[tuple[str, str]]]] = _LOCAL_READERS,
                     kinds: tuple[str, ...] = (FUNCTION, METHOD)) -> None:
    """Record on each function the types its local variables are declared with or made as (with the field
    readers and the class kind: on each class its fields' types); a name that two declarations in one symbol
    give different types is recorded as unknown (an empty type)."""
    read = readers.get(extract.language)
    if read is None:
        return
    symbols = {s.qname: s for s in extract.symbols}
    for node, owner in _owners(nodes, intervals):
        symbol = symbols.get(owner) if owner is not None else None
        if node.type in ("required_parameter", "assignment_expression"):
            # A field a JS/TS method declares (`constructor(private jar: Jar)`, `this.cart = …`): its class's.
            while symbol is not None and symbol.kind not in kinds:
                symbol = symbols.get(symbol.parent) if symbol.parent else None
        if symbol is None or symbol.kind not in kinds:
            continue
        for name, written in read(source, node):
            written = _one_line(written)
            known = symbol.local_types.get(name)
            symbol.local_types[name] = written if known in (None, written) else ""

# ------------------------------------------------------------------------------------------------- imports


def _string_content(source: bytes, node: Node) -> str:
    return _text(source, node).strip("'\"`")


def _js_import(source: bytes, node: Node) -> list[Import]:
    line = node.start_point[0] + 1
    source_node = node.child_by_field_name("source")
    names: list[tuple[str, str | None]] = []
    alias = None
    for child in node.named_children:
        if child.type == "import_require_clause":  # TS: import x = require("y")
            source_node = child.child_by_field_name("source")
            alias = _text(source, child.named_children[0])
        elif child.type == "import_clause":
            for part in child.named_children:
                if part.type == "identifier":
                    names.append(("default", _text(source, part)))
                elif part.type == "namespace_import":
                    alias = _text(source, part.named_children[0])
                elif part.type == "named_imports":
                    names.extend(_js_specifiers(source, part))
        elif child.type == "export_clause":
            names.extend(_js_specifiers(source, child))
        elif child.type == "namespace_export":
            alias = _text(source, child.named_children[0])
    if source_node is None:
        return []
    if node.type == "export_statement" and not names and alias is None:
        names = [("*", None)]
    return [Import(module=_string_content(source, source_node), line=line, names=names, alias=alias)]


def _js_specifiers(source: bytes, node: Node) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for spec in node.named_children:
        name = spec.child_by_field_name("name")
        if name is not None:
            out.append((_string_content(source, name), _name_of(source, spec, "alias")))
    return out


def _go_import(source: bytes, node: Node) -> list[Import]:
    path = node.child_by_field_name("path")
    if path is None:
        return []
    alias = _name_of(source, node)
    return [Import(module=_string_content(source, path), line=node.start_point[0] + 1, alias=alias)]


def _rust_import(source: bytes, node: Node) -> list[Import]:
    line = node.start_point[0] + 1
    if node.type == "mod_item":  # `mod foo;` -- no names marks a module declaration
        name = _name_of(source, node)
        return [Import(module=name, line=line)] if name else []
    argument = node.child_by_field_name("argument")
    imports: list[Import] = []
    if argument is not None:
        _rust_use_tree(source, argument, "", line, imports)
    return imports


def _rust_use_tree(source: bytes, node: Node, prefix: str, line: int, out: list[Import]) -> None:
    def path_text(n: Node) -> str:
        return _WHITESPACE.sub("", _text(source, n))

    kind = node.type
    if kind == "use_as_clause":
        path = path_text(node.child_by_field_name("path"))
        alias = _name_of(source, node, "alias")
        out.append(Import(module=prefix + path, line=line, names=[(path.rsplit("::", 1)[-1], alias)]))
    elif kind == "use_wildcard":
        inner = node.named_children
        module = (prefix + (path_text(inner[0]) if inner else "")).rstrip(":")
        out.append(Import(module=module, line=line, names=[("*", None)]))
    elif kind in ("scoped_use_list", "use_list"):
        path = node.child_by_field_name("path")
        module = prefix + (path_text(path) if path is not None else "")
        items = node.child_by_field_name("list") if kind == "scoped_use_list" else node
        simple: list[tuple[str, str | None]] = []
        for item in items.named_children if items is not None else []:
            if item.type in ("identifier", "self", "crate", "super"):
                simple.append((_text(source, item), None))
            elif item.type == "use_as_clause" and item.child_by_field_name("path").type == "identifier":
                simple.append((_text(source, item.child_by_field_name("path")), _name_of(source, item, "alias")))
            elif item.type == "use_wildcard" and not item.named_children:
                simple.append(("*", None))
            else:
                _rust_use_tree(source, item, module + "::" if module else "", line, out)
        if simple:
            out.append(Import(module=module, line=line, names=simple))
    else:  # identifier, scoped_identifier, crate, self, super
        path = path_text(node)
        out.append(Import(module=prefix + path, line=line, names=[(path.rsplit("::", 1)[-1], None)]))


def _java_import(source: bytes, node: Node) -> list[Import]:
    path = next((c for c in node.named_children if c.type in ("scoped_identifier", "identifier")), None)
    if path is None:
        return []
    module = _WHITESPACE.sub("", _text(source, path))
    wildcard = any(c.type == "asterisk" for c in node.named_children)
    names = [("*", None)] if wildcard else [(module.rsplit(".", 1)[-1], None)]
    return [Import(module=module, line=node.start_point[0] + 1, names=names)]


def _c_include(source: bytes, node: Node) -> list[Import]:
    path = node.child_by_field_name("path")
    if path is None:
        return []
    module = _text(source, path) if path.type == "system_lib_string" else _string_content(source, path)
    return [Import(module=module, line=node.start_point[0] + 1)]


_IMPORT_READERS: dict[str, Callable[[bytes, Node], list[Import]]] = {
    "javascript": _js_import,
    "typescript": _js_import,
    "tsx": _js_import,
    "go": _go_import,
    "rust": _rust_import,
    "java": _java_import,
    "c": _c_include,
    "cpp": _c_include,
}

# --------------------------------------------------------------------------------------------------- calls

_CALLEE_FIELD = {
    "call_expression": "function",
    "new_expression": "constructor",  # JS/TS; C++ uses the "type" field
    "object_creation_expression": "type",
    "explicit_constructor_invocation": "constructor",
}
_CALL_TYPES = {
    "call_expression", "new_expression", "method_invocation", "object_creation_expression",
    "explicit_constructor_invocation",
}
# member access: (object field, property field)
_MEMBER_FIELDS = {
    "member_expression": ("object", "property"),
    "selector_expression": ("operand", "field"),
    "field_expression": ("value", "field"),  # Rust; C/C++ use "argument"
    "field_access": ("object", "field"),
}
_FUNCTION_LITERALS = {"arrow_function", "function_expression", "func_literal", "closure_expression", "lambda_expression"}
_JSX_ELEMENTS = {"jsx_opening_element", "jsx_self_closing_element"}


def _callee(source: bytes, call: Node) -> str | None:
    if call.type in _JSX_ELEMENTS:
        name = _text(source, call.child_by_field_name("name"))
        return name if name[:1].isupper() or "." in name else None  # lower case: an HTML tag
    if call.type == "method_invocation":
        name = call.child_by_field_name("name")
        target = call.child_by_field_name("object")
        if target is None:
            return _text(source, name)
        text = f"{_expression(source, target)}.{_text(source, name)}"
    else:
        node = call.child_by_field_name(_CALLEE_FIELD[call.type]) or call.child_by_field_name("type")
        if node is None:
            return None
        raw = source[node.start_byte : node.end_byte]
        if _SIMPLE_CALLEE.fullmatch(raw):  # most callees: a name or a dotted path, taken as is
            return raw.decode("ascii")
        while node.type == "parenthesized_expression" and node.named_child_count == 1:
            node = node.named_children[0]
        if node.type in _FUNCTION_LITERALS:
            return None  # an immediately invoked function has no name to link to
        text = _strip_type_arguments(_expression(source, node))
    if len(text) > _MAX_CALLEE or _NOT_A_CALLEE.search(text):
        return None  # macro soup or a parse gone wrong, not something to link
    return text


_SIMPLE_CALLEE = re.compile(rb"[A-Za-z_$][\w$]*(?:(?:\.|::|->)[A-Za-z_$][\w$]*)*")
_NOT_A_CALLEE = re.compile(r"[{};\n]")
_HAS_SPACE = re.compile(r"\s")
_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
_SPACED_OPERATOR = re.compile(r"\s*(\?\.|\.|->|::)\s*")


def _tidy(text: str) -> str:
    """One line, no comments, no spaces around member operators: ``Array\n  .from`` -> ``Array.from``."""
    if "/" in text:
        text = _COMMENT.sub(" ", text)
    return _SPACED_OPERATOR.sub(r"\1", _one_line(text))


def _expression(source: bytes, node: Node) -> str:
    """The text of a callee expression, with the arguments of any call inside it emptied."""
    if node.type in _CALL_TYPES:
        return f"{_callee(source, node) or ''}()"
    raw = source[node.start_byte : node.end_byte]
    if b"(" not in raw:
        text = raw.decode("utf-8", "replace")
        return _tidy(text) if _HAS_SPACE.search(text) else text
    fields = _MEMBER_FIELDS.get(node.type)
    if fields is not None:
        target = node.child_by_field_name(fields[0]) or node.child_by_field_name("argument")
        member = node.child_by_field_name(fields[1])
        if target is not None and member is not None:
            operator = _tidy(source[target.end_byte : member.start_byte].decode("utf-8", "replace"))
            return f"{_expression(source, target)}{operator}{_text(source, member)}"
    if node.type in ("generic_function", "template_function"):
        inner = node.child_by_field_name("function") or node.child_by_field_name("name")
        if inner is not None:
            return _expression(source, inner)
    # Any other compound (`x?`, `await x`, `a[i]`, `(a || b)`): rebuild it so that inner calls lose arguments.
    pieces: list[str] = []
    for child in node.children:
        if child.type in _COMMENT_TYPES:
            continue
        piece = _expression(source, child) if child.child_count or child.type in _CALL_TYPES else _text(source, child)
        if pieces and _is_word_char(pieces[-1][-1:]) and _is_word_char(piece[:1]):
            pieces.append(" ")
        pieces.append(piece)
    return "".join(pieces)


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"  # "" (a zero-width MISSING node) is not


def _require_import(source: bytes, call: Node) -> Import | None:
    """``require("./x")`` and dynamic ``import("./x")`` are imports too."""
    arguments = call.child_by_field_name("arguments")
    if arguments is None or arguments.named_child_count == 0:
        return None
    first = arguments.named_children[0]
    if first.type not in ("string", "template_string") or b"${" in source[first.start_byte : first.end_byte]:
        return None
    alias = None
    declarator = call.parent
    if declarator is not None and declarator.type == "variable_declarator":
        target = declarator.child_by_field_name("name")
        if target is not None and target.type == "identifier":
            alias = _text(source, target)
    return Import(module=_string_content(source, first), line=call.start_point[0] + 1, alias=alias)


# -------------------------------------------------------------------------------------------------- docs


# Haskell's `-- |` is a "haddock" node; Kotlin and Swift say multiline_comment, Dart documentation_comment.
_COMMENT_TYPES = {"comment", "line_comment", "block_comment", "multiline_comment", "documentation_comment", "haddock"}
_SKIPPED_BEFORE_DEFINITION = {"attribute_item", "decorator", "signature"}  # signature: a Haskell type line


def _starts_line(source: bytes, node: Node) -> bool:
    line_start = source.rfind(b"\n", 0, node.start_byte) + 1
    return not source[line_start : node.start_byte].strip()


def _doc_comment(source: bytes, node: Node) -> str | None:
    """The comments directly above ``node`` (no blank line between), with comment markers removed."""
    comments: list[Node] = []
    next_row = node.start_point[0]
    sibling = node.prev_sibling
    while sibling is not None:
        if sibling.type in _SKIPPED_BEFORE_DEFINITION:
            next_row = sibling.start_point[0]
        elif sibling.type in _COMMENT_TYPES and sibling.end_point[0] >= next_row - 1 and _starts_line(source, sibling):
            comments.append(sibling)
            next_row = sibling.start_point[0]
        else:
            break
        sibling = sibling.prev_sibling
    if not comments:
        return None
    return _clean_comment("\n".join(_text(source, c) for c in reversed(comments)))


def _clean_comment(text: str) -> str | None:
    lines = []
    for line in text.splitlines():
        line = line.strip()
        for marker in ("/**", "/*!", "/*", "///", "//!", "//", "-- |", "---", "--", "#"):
            if line.startswith(marker):
                line = line[len(marker) :]
                break
        else:
            if line.startswith("*") and not line.startswith("*/"):
                line = line[1:]
        if line.endswith("*/"):
            line = line[:-2]
        lines.append(line.rstrip()[1:] if line.startswith(" ") else line.rstrip())
    cleaned = "\n".join(lines).strip()
    return cleaned or None


def _module_doc(source: bytes, tree: tree_sitter.Tree, language: str) -> str | None:
    """Go's package comment and Rust's ``//!`` inner docs."""
    root = tree.root_node
    if language == "go":
        package = next((c for c in root.named_children if c.type == "package_clause"), None)
        return _doc_comment(source, package) if package is not None else None
    if language == "rust":
        inner = []
        for child in root.children:
            text = _text(source, child) if child.type == "line_comment" else ""
            if not text.startswith("//!"):
                break
            inner.append(text)
        return _clean_comment("\n".join(inner)) if inner else None
    return None


# ------------------------------------------------------------------------------------------------- engine


@lru_cache(maxsize=None)
def _query(language: str) -> tree_sitter.Query:
    files = _QUERY_FILES.get(language, (language,))
    text = "\n".join((_QUERY_DIR / f"{name}.scm").read_text(encoding="utf-8") for name in files)
    return tree_sitter.Query(get_language(language), text)


def _signature(source: bytes, definition: _Definition) -> str:
    outer, body = definition.outer, definition.body
    if definition.signature_end is not None:
        header = source[outer.start_byte : definition.signature_end]
    elif body is not None and outer.start_byte <= body.start_byte <= outer.end_byte:
        header = source[outer.start_byte : body.start_byte]
    else:
        end = source.find(b"\n", outer.start_byte, outer.end_byte)
        header = source[outer.start_byte : outer.end_byte if end < 0 else end]
    text = _one_line(header.decode("utf-8", "replace")).rstrip("{").rstrip()
    if definition.attributes:
        text = f"{definition.attributes} {text}"
    return text[:_MAX_SIGNATURE]


def _end_line(node: Node) -> int:
    row, column = node.end_point
    return row if column == 0 and row > node.start_point[0] else row + 1


@dataclass
class _Scope:
    end_byte: int
    dotted: str
    role: str
    qname: str | None  # None for scopes that are not symbols (Rust impl blocks)


def extract_generic(path: str, source: bytes, tree: tree_sitter.Tree, language: str) -> FileExtract:
    """Symbols, imports, calls and inheritance of one parsed file in any non-Python language we parse."""
    captures = tree_sitter.QueryCursor(_query(language)).captures(tree.root_node)
    extract = FileExtract(path=path, language=language, has_errors=tree.root_node.has_error)
    extract.module_docstring = _module_doc(source, tree, language)

    readers = _READERS[language]
    definitions = []
    for node in captures.get("definition", ()):
        definition = readers[node.type](source, node)
        if definition is not None and definition.name:
            definitions.append(definition)
    definitions.sort(key=lambda d: (d.outer.start_byte, -d.outer.end_byte))
    _add_symbols(extract, source, definitions)

    intervals = [(s.start_byte, s.end_byte, s.qname) for s in extract.symbols]  # already in start order
    read_imports = _IMPORT_READERS[language]
    for node, owner in _owners(captures.get("import", ()), intervals):
        for imp in read_imports(source, node):
            imp.scope = owner
            extract.imports.append(imp)
    is_js = language in ("javascript", "typescript", "tsx")
    for node, owner in _owners(captures.get("call", ()), intervals):
        callee = _callee(source, node)
        if not callee:
            continue
        extract.calls.append(Call(caller=owner or path, callee=callee, line=node.start_point[0] + 1))
        if is_js and callee in ("require", "import"):
            imp = _require_import(source, node)
            if imp is not None:
                imp.scope = owner
                extract.imports.append(imp)
    extract.imports.sort(key=lambda i: i.line)
    _add_local_types(extract, source, captures.get("local", ()), intervals)
    _add_local_types(extract, source, captures.get("field", ()), intervals, _FIELD_READERS, (CLASS,))

    defined = {s.name for s in extract.symbols if s.parent is None}
    names = (_text(source, n) for n in _in_source_order(captures.get("module_name", ())))
    extract.module_names = list(dict.fromkeys(n for n in names if n not in defined))
    return extract


def _add_symbols(extract: FileExtract, source: bytes, definitions: list[_Definition]) -> None:
    """Name each definition after its containers and record its symbol and bases."""
    path = extract.path
    stack: list[_Scope] = []
    pending_parents: list[tuple[Symbol, str, bool]] = []  # (symbol, would-be parent qname, is C++ X::f)
    namespaces: set[str] = set()
    names = DistinctNames()  # overloads and other same-named definitions get keys of their own
    for definition in definitions:
        outer = definition.outer
        while stack and stack[-1].end_byte <= outer.start_byte:
            stack.pop()
        container = stack[-1] if stack else None
        prefix = [container.dotted] if container is not None else []
        dotted = ".".join(prefix + definition.owner + [definition.name])
        owner_dotted = ".".join(prefix + definition.owner)

        if definition.role == IMPL:
            stack.append(_Scope(definition.end_node.end_byte, dotted, IMPL, None))
            qname = qualified_name(path, dotted)
            extract.inherits.extend(Inheritance(qname, base, outer.start_point[0] + 1) for base in definition.bases)
            continue
        if definition.role == NAMESPACE and qualified_name(path, dotted) in namespaces:
            # A namespace reopened in the same file is the same scope: its members join it, no second symbol.
            stack.append(_Scope(definition.end_node.end_byte, dotted, NAMESPACE, qualified_name(path, dotted)))
            continue
        dotted = names.claim(dotted)
        if definition.role == CALLABLE:
            in_type = definition.owner or (container is not None and container.role in (TYPE, IMPL))
            kind = METHOD if in_type else FUNCTION
        else:
            kind = CLASS
        qname = qualified_name(path, dotted)
        symbol = Symbol(
            qname=qname, name=definition.name, kind=kind, path=path, language=extract.language,
            start_line=outer.start_point[0] + 1, end_line=_end_line(definition.end_node),
            start_byte=outer.start_byte, end_byte=definition.end_node.end_byte,
            signature=_signature(source, definition), docstring=_doc_comment(source, outer),
        )
        extract.symbols.append(symbol)
        if owner_dotted:
            pending_parents.append((symbol, qualified_name(path, owner_dotted), definition.is_scoped_function))
        extract.inherits.extend(Inheritance(qname, base, outer.start_point[0] + 1) for base in definition.bases)
        stack.append(_Scope(definition.end_node.end_byte, dotted, definition.role, qname))
        if definition.role == NAMESPACE:
            namespaces.add(qname)

    # A container written outside the body (Go receiver, C++ X::, impl) may live in another file.
    defined = {s.qname for s in extract.symbols}
    for symbol, parent, scoped_function in pending_parents:
        symbol.parent = parent if parent in defined else None
        if scoped_function and parent in namespaces:
            symbol.kind = FUNCTION  # `ns::f` defined out of line is a function of namespace ns


def _in_source_order(nodes) -> list[Node]:
    """By start, the outer of two nodes that start together first. tree-sitter returns each capture list
    in an order that changes from one parse of the same bytes to the next; the extract must not."""
    return sorted(nodes, key=lambda n: (n.start_byte, -n.end_byte))


def _owners(nodes, intervals: list[tuple[int, int, str]]):
    """Pair each node with the qname of the innermost symbol containing it (None at file level).

    ``intervals`` are properly nested spans sorted by start; a sweep with a stack keeps this linear.
    """
    ordered = _in_source_order(nodes)
    stack: list[tuple[int, int, str]] = []
    i = 0
    for node in ordered:
        position = node.start_byte
        while i < len(intervals) and intervals[i][0] <= position:
            while stack and stack[-1][1] <= intervals[i][0]:
                stack.pop()
            stack.append(intervals[i])
            i += 1
        while stack and stack[-1][1] <= position:
            stack.pop()
        yield node, (stack[-1][2] if stack else None)
