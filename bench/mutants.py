"""Single-function bug injection for the fault-localization benchmark.

Sites are chosen with Python's ``ast`` inside function bodies, one expression on one line, and the edit is
spliced into the original text at the node's own columns (so the rest of the file, comments and layout
included, is untouched). Operators:

- ``compare``: a comparison's boundary or sense flipped (``<`` ↔ ``<=``, ``>`` ↔ ``>=``, ``==`` ↔ ``!=``,
  ``is`` ↔ ``is not``, ``in`` ↔ ``not in``);
- ``off_by_one``: an integer constant (an index, a bound, a step) plus one;
- ``swap_args``: the first two positional arguments of a call exchanged;
- ``negate_if``: an ``if``/``while``/ternary condition negated;
- ``drop_condition``: the last operand of an ``and``/``or`` removed.
"""

from __future__ import annotations

import ast
import random
from dataclasses import dataclass

OPERATORS = ("compare", "off_by_one", "swap_args", "negate_if", "drop_condition")

_FLIP = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In,
}


@dataclass(frozen=True)
class Mutant:
    path: str  # repository-relative
    line: int
    operator: str
    function: tuple[str, ...]  # enclosing class/function names, outermost first
    function_first_line: int  # first line of the innermost enclosing function (its first decorator)
    before: str  # the line as it was
    after: str  # the line as mutated
    edits: tuple[tuple[int, int, str], ...]  # (start byte, end byte, replacement) within the line

    def apply(self, source: str) -> str:
        lines = source.splitlines(keepends=True)
        raw = lines[self.line - 1]
        body = raw.rstrip("\r\n")
        ending = raw[len(body):]
        data = body.encode("utf-8")
        for start, end, text in sorted(self.edits, reverse=True):
            data = data[:start] + text.encode("utf-8") + data[end:]
        lines[self.line - 1] = data.decode("utf-8") + ending
        return "".join(lines)

    def describe(self) -> str:
        return f"{self.path}:{self.line} {self.operator}: {self.before.strip()}  →  {self.after.strip()}"


def mutation_sites(path: str, source: str, validate: bool = True) -> list[Mutant]:
    """Every mutant of one file that the operators allow (deterministic order). ``validate`` re-parses
    the file once per mutant (see ``is_valid``); a big file has thousands of sites, so callers that try
    only a few may check those alone."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    lines = source.splitlines()
    found: list[Mutant] = []

    def visit_function(function: ast.FunctionDef | ast.AsyncFunctionDef, scope: tuple[str, ...]) -> None:
        first_line = min([function.lineno, *(d.lineno for d in function.decorator_list)])
        inner = (*scope, function.name)
        for statement in function.body:
            if not _is_docstring(statement):
                visit_code(statement, inner, first_line)

    def visit_definitions(node: ast.AST, scope: tuple[str, ...]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit_function(child, scope)
            elif isinstance(child, ast.ClassDef):
                visit_definitions(child, (*scope, child.name))
            else:
                visit_definitions(child, scope)

    def visit_code(node: ast.AST, scope: tuple[str, ...], first_line: int) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            visit_function(node, scope)
            return
        if isinstance(node, ast.ClassDef):
            visit_definitions(node, (*scope, node.name))
            return
        if isinstance(node, ast.Lambda):
            return
        found.extend(_mutants_of(node, path, lines, scope, first_line))
        for child in ast.iter_child_nodes(node):
            if not (isinstance(child, ast.expr_context) or isinstance(node, ast.JoinedStr)):
                visit_code(child, scope, first_line)

    visit_definitions(tree, ())
    unique: dict[tuple[int, tuple], Mutant] = {}
    for mutant in found:
        unique.setdefault((mutant.line, mutant.edits), mutant)
    if not validate:
        return list(unique.values())
    original = ast.dump(tree)
    return [mutant for mutant in unique.values() if is_valid(mutant, source, original)]


def is_valid(mutant: Mutant, source: str, original_dump: str | None = None) -> bool:
    """The mutated file still parses and means something else than the original."""
    try:
        changed = ast.dump(ast.parse(mutant.apply(source)))
    except SyntaxError:
        return False
    return changed != (original_dump if original_dump is not None else ast.dump(ast.parse(source)))


def choose(mutants: list[Mutant], rng: random.Random) -> list[Mutant]:
    """A deterministic shuffle that spreads the operators: round-robin over shuffled per-operator lists."""
    by_operator: dict[str, list[Mutant]] = {}
    for mutant in mutants:
        by_operator.setdefault(mutant.operator, []).append(mutant)
    for group in by_operator.values():
        rng.shuffle(group)
    order = [op for op in OPERATORS if op in by_operator]
    result: list[Mutant] = []
    while any(by_operator.values()):
        for op in order:
            if by_operator[op]:
                result.append(by_operator[op].pop())
    return result


def _is_docstring(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant) and isinstance(
        statement.value.value, str)


def _one_line(node: ast.AST) -> bool:
    return getattr(node, "lineno", None) is not None and node.lineno == node.end_lineno


def _mutants_of(node: ast.AST, path: str, lines: list[str], scope: tuple[str, ...], first_line: int):
    def make(operator: str, edits: list[tuple[ast.AST, str]]) -> Mutant | None:
        line = edits[0][0].lineno
        if any(not _one_line(n) or n.lineno != line for n, _ in edits):
            return None
        before = lines[line - 1]
        data = before.encode("utf-8")
        spans = tuple((n.col_offset, n.end_col_offset, text) for n, text in edits)
        for start, end, text in sorted(spans, reverse=True):
            data = data[:start] + text.encode("utf-8") + data[end:]
        after = data.decode("utf-8")
        if after == before:
            return None
        return Mutant(path, line, operator, scope, first_line, before, after, spans)

    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _FLIP:
        flipped = ast.Compare(left=node.left, ops=[_FLIP[type(node.ops[0])]()], comparators=node.comparators)
        mutant = make("compare", [(node, ast.unparse(flipped))])
        if mutant:
            yield mutant
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        mutant = make("off_by_one", [(node, str(node.value + 1))])
        if mutant:
            yield mutant
    elif isinstance(node, ast.Call) and len(node.args) >= 2 and not any(isinstance(a, ast.Starred) for a in node.args[:2]):
        first, second = node.args[0], node.args[1]
        if _one_line(first) and _one_line(second) and ast.dump(first) != ast.dump(second):
            mutant = make("swap_args", [(first, _segment(lines, second)), (second, _segment(lines, first))])
            if mutant:
                yield mutant
    elif isinstance(node, (ast.If, ast.While, ast.IfExp)):
        test = node.test
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            mutant = make("negate_if", [(test, _segment(lines, test.operand))])
        else:
            mutant = make("negate_if", [(test, f"not ({_segment(lines, test)})")])
        if mutant:
            yield mutant
    elif isinstance(node, ast.BoolOp) and len(node.values) >= 2:
        kept = ast.BoolOp(op=node.op, values=node.values[:-1]) if len(node.values) > 2 else node.values[0]
        mutant = make("drop_condition", [(node, f"({ast.unparse(kept)})")])
        if mutant:
            yield mutant


def _segment(lines: list[str], node: ast.AST) -> str:
    data = lines[node.lineno - 1].encode("utf-8")
    return data[node.col_offset:node.end_col_offset].decode("utf-8")
