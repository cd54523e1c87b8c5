"""Python extraction: definitions, imports, calls and inheritance from a tree-sitter-python tree.

One query collects every definition, call and import node (the walk runs in C); a single sweep over
them in source order keeps a stack of enclosing definitions, which yields qualified names, parents
and each call's caller without visiting the rest of the tree from Python.
"""

from __future__ import annotations

import inspect
import re
from functools import lru_cache

import tree_sitter

from ..languages import get_language
from ..model import (
    CLASS,
    FUNCTION,
    METHOD,
    Call,
    DistinctNames,
    FileExtract,
    Import,
    Inheritance,
    Symbol,
    qualified_name,
)

_QUERY_SOURCE = """
(function_definition) @def
(class_definition) @def
(call) @call
(import_statement) @import
(import_from_statement) @import
(assignment) @local
(with_item value: (as_pattern)) @local
(for_statement) @local
"""

# Statements whose bodies still run at module level, so assignments inside them bind module names.
_MODULE_LEVEL_CONTAINERS = frozenset(
    {
        "if_statement", "elif_clause", "else_clause", "try_statement", "except_clause",
        "except_group_clause", "finally_clause", "with_statement", "for_statement",
        "while_statement", "block", "ERROR",
    }
)
_TARGET_CONTAINERS = frozenset(
    {
        "pattern_list", "tuple_pattern", "list_pattern", "expression_list", "tuple", "list",
        "list_splat_pattern", "type",
    }
)
_MAX_CALLEE_DEPTH = 40
_MAX_LITERAL_CALLEE = 40


@lru_cache(maxsize=1)
def _query() -> tree_sitter.Query:
    return tree_sitter.Query(get_language("python"), _QUERY_SOURCE)


def extract_python(path: str, source: bytes, tree: tree_sitter.Tree) -> FileExtract:
    """Everything the graph needs from one Python file; ``path`` is its repo-relative posix path."""
    root = tree.root_node
    extract = FileExtract(path=path, language="python", has_errors=root.has_error)
    extract.module_docstring = _docstring(root, source)
    extract.module_names = _module_names(root, source)

    captures = tree_sitter.QueryCursor(_query()).captures(root)
    # (start, -end) puts an enclosing node before anything it contains that starts at the same byte.
    nodes = [node for group in captures.values() for node in group]
    nodes.sort(key=lambda n: (n.start_byte, -n.end_byte))

    # Enclosing definitions: (end_byte, qname, dotted name, kind).
    stack: list[tuple[int, str, str, str]] = []
    names = DistinctNames()  # a property's setter or an @overload stub is a definition of its own
    functions: dict[str, Symbol] = {}
    classes: dict[str, Symbol] = {}
    for node in nodes:
        start = node.start_byte
        while stack and stack[-1][0] <= start:
            stack.pop()
        node_type = node.type
        if node_type == "call":
            function = node.child_by_field_name("function")
            if function is not None:
                caller = stack[-1][1] if stack else path
                callee = _callee_text(function, source, 0)
                extract.calls.append(Call(caller=caller, callee=callee, line=node.start_point[0] + 1))
        elif node_type == "import_statement" or node_type == "import_from_statement":
            scope = stack[-1][1] if stack else None
            extract.imports.extend(_imports(node, source, scope))
        elif node_type in ("with_item", "for_statement") and stack:
            function = functions.get(stack[-1][1])
            if function is not None:
                for name, made in _bound_by(node, source):
                    declared = function.local_types.get(name)
                    # `payload: Reader = None` declares what a loop binds to it; a call's result does not
                    if made or not declared or declared.endswith("()"):
                        _remember(function.local_types, (name, made))
        elif node_type == "assignment" and stack:
            function = functions.get(stack[-1][1])
            if function is not None:
                _remember(function.local_types, _local_type(node, source))
                cls = classes.get(function.parent or "")
                if cls is not None:  # a method's `self.cart = Cart()`: the instance's attribute
                    _remember(cls.local_types, _self_attribute_type(node, source, function.name))
            elif stack[-1][1] in classes:  # the class body's `cart: Cart` or `cart = Cart()`
                _remember(classes[stack[-1][1]].local_types, _local_type(node, source))
        else:
            symbol = _symbol(node, source, path, stack[-1] if stack else None, names)
            if symbol is None:
                continue
            extract.symbols.append(symbol)
            (classes if symbol.kind == CLASS else functions)[symbol.qname] = symbol
            dotted = symbol.qname.partition("::")[2]
            stack.append((node.end_byte, symbol.qname, dotted, symbol.kind))
            if symbol.kind == CLASS:
                extract.inherits.extend(_bases(node, source, symbol.qname))
    return extract


def _remember(types: dict[str, str], typed: tuple[str, str] | None) -> None:
    """Record what one more assignment says of a name: a name given two different types is known as neither,
    and a value first bound to something untyped (`x = None` then `x = Cart()`) is still a Cart."""
    if typed is None:
        return
    name, written = typed
    known = types.get(name)
    if written or known is not None:
        types[name] = written if known in (None, written) else ""


def _local_type(node: tree_sitter.Node, source: bytes) -> tuple[str, str] | None:
    """(name, type) of a local variable an assignment gives one: the annotation (``cart: Cart = load()``), else
    ``make()`` for a call's result (``cart = Cart()``, ``cart = await load()``), which the resolver reads as the
    class made or what the function returns; else (name, "") for any other value, so that a name bound to a
    call's result and to something else in one function is known as neither."""
    left = node.child_by_field_name("left")
    if left is None or left.type != "identifier":
        return None
    return _text(left, source), _assigned_type(node, source)


def _bound_by(node: tree_sitter.Node, source: bytes) -> list[tuple[str, str]]:
    """The names a ``with`` item or a ``for`` loop binds, as ``_local_type``: ``with Session() as s`` makes ``s``
    a ``Session()`` (what entering most context managers gives back: themselves); ``for s in sessions`` and
    ``with open(p) as (a, b)`` bind names of unknown type, so a ``s = Cart()`` elsewhere in the function no longer
    types them."""
    if node.type == "for_statement":
        target, made = node.child_by_field_name("left"), ""
    else:
        pattern = node.child_by_field_name("value")
        alias = pattern.child_by_field_name("alias") if pattern is not None else None
        target = alias.named_children[0] if alias is not None and alias.named_child_count == 1 else alias
        value = pattern.named_children[0] if pattern is not None and pattern.named_child_count else None
        made = _made_by_call(value, source)
    if target is None:
        return []
    if target.type == "identifier":
        return [(_text(target, source), made)]
    return [(_text(name, source), "") for name in _identifiers_in(target)]


def _identifiers_in(node: tree_sitter.Node) -> list[tree_sitter.Node]:
    """The plain names an unpacking target binds (``a, (b, *c)``); ``x.y`` and ``x[0]`` bind none."""
    if node.type == "identifier":
        return [node]
    if node.type in _TARGET_CONTAINERS:
        return [found for child in node.named_children for found in _identifiers_in(child)]
    return []


def _self_attribute_type(node: tree_sitter.Node, source: bytes, method: str) -> tuple[str, str] | None:
    """(attribute, type) for ``self.cart = Cart()`` or ``self.cart: Cart = …`` in a method, as ``_local_type``;
    ``self.cart = cart`` is recorded as ``=method.cart``: whatever type that method's signature gives ``cart``."""
    left = node.child_by_field_name("left")
    if left is None or left.type != "attribute":
        return None
    owner, attribute = left.child_by_field_name("object"), left.child_by_field_name("attribute")
    if owner is None or attribute is None or owner.type != "identifier" or _text(owner, source) != "self":
        return None
    value = node.child_by_field_name("right")
    if node.child_by_field_name("type") is None and value is not None and value.type == "identifier":
        return _text(attribute, source), f"={method}.{_text(value, source)}"
    return _text(attribute, source), _assigned_type(node, source)


def _assigned_type(node: tree_sitter.Node, source: bytes) -> str:
    annotation = node.child_by_field_name("type")
    if annotation is not None:
        return _one_line(_text(annotation, source))
    value = node.child_by_field_name("right")
    if value is not None and value.type == "await" and value.named_child_count == 1:
        value = value.named_children[0]
    return _made_by_call(value, source)


def _made_by_call(value: tree_sitter.Node | None, source: bytes) -> str:
    """``load()`` for a value that calls ``load`` or ``shop.load`` (the resolver reads it as the class made or what
    the function returns); "" for any other value."""
    function = value.child_by_field_name("function") if value is not None and value.type == "call" else None
    if function is None or function.type not in ("identifier", "attribute"):
        return ""
    callee = _callee_text(function, source, 0)
    return f"{callee}()" if "<" not in callee else ""


def _text(node: tree_sitter.Node, source: bytes) -> str:
    return source[node.start_byte : node.end_byte].decode("utf-8", "replace")


def _symbol(
    node: tree_sitter.Node,
    source: bytes,
    path: str,
    parent: tuple[int, str, str, str] | None,
    names: DistinctNames,
) -> Symbol | None:
    name_node = node.child_by_field_name("name")
    if name_node is None:
        return None
    name = _text(name_node, source)
    if node.type == "class_definition":
        kind = CLASS
    else:
        kind = METHOD if parent is not None and parent[3] == CLASS else FUNCTION
    dotted = names.claim(f"{parent[2]}.{name}" if parent is not None else name)
    # Decorators belong to the definition: its span starts at the first one.
    outer = node
    wrapper = node.parent
    if wrapper is not None and wrapper.type == "decorated_definition":
        outer = wrapper
    body = node.child_by_field_name("body")
    return Symbol(
        qname=qualified_name(path, dotted),
        name=name,
        kind=kind,
        path=path,
        language="python",
        start_line=outer.start_point[0] + 1,
        end_line=node.end_point[0] + 1,
        start_byte=outer.start_byte,
        end_byte=node.end_byte,
        signature=_signature(node, body, source),
        docstring=_docstring(body, source) if body is not None else None,
        parent=parent[1] if parent is not None else None,
    )


def _signature(node: tree_sitter.Node, body: tree_sitter.Node | None, source: bytes) -> str:
    end = node.end_byte
    if body is not None:
        end = body.start_byte
        for child in node.children:
            if child.start_byte >= body.start_byte:
                break
            if child.type == ":":
                end = child.end_byte
    header = source[node.start_byte : end].decode("utf-8", "replace").rstrip()
    if "\n" not in header:
        return header
    return _one_line(header)


def _one_line(header: str) -> str:
    header = re.sub(r"#[^\n]*", "", header)
    header = " ".join(header.split())
    header = re.sub(r"([(\[]) ", r"\1", header)
    return re.sub(r",? ([)\]])", r"\1", header)


def _docstring(block: tree_sitter.Node, source: bytes) -> str | None:
    """The docstring of a module or a definition body: a string as its first statement."""
    for child in block.children:
        child_type = child.type
        if child_type == "comment":
            continue
        if child_type != "expression_statement" or child.named_child_count != 1:
            return None
        value = child.named_children[0]
        if value.type == "string":
            return _clean_string(value, source)
        if value.type == "concatenated_string":
            parts = [_clean_string(s, source, clean=False) for s in value.named_children if s.type == "string"]
            return inspect.cleandoc("".join(p for p in parts if p))
        return None
    return None


def _clean_string(node: tree_sitter.Node, source: bytes, clean: bool = True) -> str | None:
    children = node.children
    if len(children) < 2 or children[0].type != "string_start" or children[-1].type != "string_end":
        return None
    raw = source[children[0].end_byte : children[-1].start_byte].decode("utf-8", "replace")
    return inspect.cleandoc(raw) if clean else raw


def _module_names(root: tree_sitter.Node, source: bytes) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    # Explicit stacks, not recursion: a generated file can nest blocks deeper than Python's recursion limit.
    pending = list(reversed(root.children))
    while pending:
        statement = pending.pop()
        statement_type = statement.type
        if statement_type == "expression_statement":
            for child in statement.named_children:
                node = child
                # a = b = value: the right side of an assignment can itself be an assignment.
                while node is not None and node.type in ("assignment", "augmented_assignment"):
                    _bound_names(node.child_by_field_name("left"), source, names, seen)
                    node = node.child_by_field_name("right")
        elif statement_type in _MODULE_LEVEL_CONTAINERS:
            pending.extend(reversed(statement.children))
        elif statement_type == "type_alias_statement":
            _bound_names(statement.child_by_field_name("left"), source, names, seen)
    return names


def _bound_names(target: tree_sitter.Node | None, source: bytes, names: list[str], seen: set[str]) -> None:
    pending = [target] if target is not None else []
    while pending:
        node = pending.pop()
        node_type = node.type
        if node_type == "identifier":
            name = _text(node, source)
            if name not in seen:
                seen.add(name)
                names.append(name)
        elif node_type in _TARGET_CONTAINERS:
            pending.extend(reversed(node.named_children))


def _callee_text(node: tree_sitter.Node, source: bytes, depth: int) -> str:
    """The callee as written with arguments dropped: ``a.b``, ``super().run``, ``make()()``."""
    node_type = node.type
    if node_type == "identifier":
        return _text(node, source)
    if depth > _MAX_CALLEE_DEPTH:
        return "<expr>"
    if node_type == "attribute":
        obj = node.child_by_field_name("object")
        attr = node.child_by_field_name("attribute")
        if obj is None or attr is None:
            return "<expr>"
        return f"{_callee_text(obj, source, depth + 1)}.{_text(attr, source)}"
    if node_type == "call":
        function = node.child_by_field_name("function")
        return f"{_callee_text(function, source, depth + 1)}()" if function is not None else "<expr>"
    if node_type == "subscript":
        value = node.child_by_field_name("value")
        return f"{_callee_text(value, source, depth + 1)}[]" if value is not None else "<expr>"
    if node_type == "parenthesized_expression" and node.named_child_count == 1:
        return _callee_text(node.named_children[0], source, depth + 1)
    if node.end_byte - node.start_byte <= _MAX_LITERAL_CALLEE:
        text = _text(node, source)
        if "\n" not in text:
            return text
    return f"<{node_type}>"


def _dotted(node: tree_sitter.Node, source: bytes) -> str:
    return "".join(_text(node, source).split())


def _imports(node: tree_sitter.Node, source: bytes, scope: str | None) -> list[Import]:
    line = node.start_point[0] + 1
    if node.type == "import_statement":
        found = []
        for child in node.children_by_field_name("name"):
            if child.type == "aliased_import":
                name = child.child_by_field_name("name")
                alias = child.child_by_field_name("alias")
                if name is not None:
                    found.append(Import(
                        module=_dotted(name, source), line=line,
                        alias=_text(alias, source) if alias is not None else None, scope=scope,
                    ))
            elif child.type == "dotted_name":
                found.append(Import(module=_dotted(child, source), line=line, scope=scope))
        return found

    module_node = node.child_by_field_name("module_name")
    if module_node is None:
        return []
    level = 0
    module = ""
    if module_node.type == "relative_import":
        for part in module_node.children:
            if part.type == "import_prefix":
                level = part.end_byte - part.start_byte
            elif part.type == "dotted_name":
                module = _dotted(part, source)
    else:
        module = _dotted(module_node, source)
    names: list[tuple[str, str | None]] = []
    for child in node.children_by_field_name("name"):
        if child.type == "aliased_import":
            name = child.child_by_field_name("name")
            alias = child.child_by_field_name("alias")
            if name is not None:
                names.append((_dotted(name, source), _text(alias, source) if alias is not None else None))
        elif child.type == "dotted_name":
            names.append((_dotted(child, source), None))
    if any(child.type == "wildcard_import" for child in node.children):
        names.append(("*", None))
    return [Import(module=module, line=line, names=names, level=level, scope=scope)]


def _bases(node: tree_sitter.Node, source: bytes, qname: str) -> list[Inheritance]:
    superclasses = node.child_by_field_name("superclasses")
    if superclasses is None:
        return []
    found = []
    for base in superclasses.named_children:
        # Generic[T] inherits from Generic; keyword arguments (metaclass=...) are not bases.
        if base.type == "subscript":
            base = base.child_by_field_name("value")
        if base is None or base.type not in ("identifier", "attribute"):
            continue
        found.append(Inheritance(cls=qname, base=_dotted(base, source), line=base.start_point[0] + 1))
    return found
