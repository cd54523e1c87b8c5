"""From failing tests to the code a model should see: suspects ranked with the code graph, packed to a budget.

A failure says more than any text query could: which test failed (a graph node with ``tests`` and
``calls`` edges), which frames it went through, where it raised, and which names its assertion printed.
Each failure scores graph nodes by those facts:

- the innermost frame inside the repository that is not test code ("raised"), and the outer
  non-test frames with decreasing weight;
- what the test calls on the failing line, then everything else it calls or ``tests`` ("under_test"),
  and, more weakly, what those call in turn — a fault one call away;
- names printed in the assertion detail (``where 4 = add(1, 2)``).

Scores are summed over the failures (a function that many failing tests reach is the likeliest fault)
and handed to the retriever as seeds next to the failure text, so BM25, embeddings and the graph walk
add what the failure does not say. Test code is context (role "test"), never a suspect.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from indexer.model import CLASS, FILE, split_qualified_name
from indexer.retrieval import Pack, RankedNode, Ranking, Retriever

from .failures import Failure, Frame

__all__ = ["FailureContext", "localize", "failure_query"]

CountTokens = Callable[[str], int]

_MAX_FAILURES = 12  # more failing tests add little evidence and cost a graph walk each
_HINT_WEIGHT = 4.0  # the best suspect's seed; above a mention (2.5) and a trace frame (3.5)
_RAISED = 1.0
_OUTER_DECAY = 0.5
_ON_FAILING_LINE = 0.9
_ENTRY_WHEN_RAISED = 0.4
_UNDER_TEST = 0.45
_SECOND_HOP = 0.35
_IN_DETAIL = 0.6
_TEST_SELF = 0.5
_SYMBOL_KINDS = ("function", "method", CLASS)
_CLASS_YIELD = 3
_CALL_NAME = re.compile(r"([A-Za-z_][\w.]*)\(")
_QUERY_FAILURES = 6
_UNSUPPORTED_OPERAND = re.compile(r"unsupported operand type\(s\) for (?P<op>\S+?): '(?P<left>\w+)' and '(?P<right>\w+)'")
_UNSUPPORTED_COMPARISON = re.compile(r"'(?P<op>[<>]=?)' not supported between instances of '(?P<left>\w+)' and '(?P<right>\w+)'")
_OPERATOR_NAMES = {"+": "add", "-": "sub", "*": "mul", "/": "truediv", "//": "floordiv", "%": "mod", "**": "pow",
                   "|": "or", "&": "and", "^": "xor", "<<": "lshift", ">>": "rshift", "@": "matmul",
                   "<": "lt", "<=": "le", ">": "gt", ">=": "ge", "+=": "iadd", "|=": "ior", "&=": "iand", "-=": "isub"}
_REFLECTED = {"lt": "__gt__", "le": "__ge__", "gt": "__lt__", "ge": "__le__"}
_RETRIEVAL_SHARE = 0.35  # how much the retriever's own score adds to the failure's (which counts 1)
_EXCEPTION_PREFIX = re.compile(r"^(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Failure|Warning)?: ")


@dataclass
class FailureContext:
    pack: Pack
    nodes: dict[str, list[str]]  # role (test | raised | under_test) -> graph node ids
    text: str  # what goes in the prompt: the roles in a few lines, then the packed code
    suspects: list[str] = field(default_factory=list)  # non-test symbols, likeliest fault first
    seeds: dict[str, float] = field(default_factory=dict)  # the failure's own scores, before retrieval
    ranking: Ranking | None = None
    tokens: int = 0


def localize(retriever: Retriever, failures: list[Failure], budget_tokens: int,
             count_tokens: CountTokens | None = None, *, ran: list[str] | None = None) -> FailureContext:
    """Rank the likely faults behind ``failures`` and pack the code for them into ``budget_tokens``.

    ``ran``: the test paths the run selected (files, folders or node ids; None: the files of the failing
    tests). The tests of the graph inside them that did not fail passed, and a function that passing
    tests call directly is less likely to be the fault than one only failing tests reach."""
    counter = count_tokens or retriever.count_tokens
    retriever.refresh()
    scorer = _Scorer(retriever)
    roles: dict[str, list[str]] = {"test": [], "raised": [], "under_test": []}
    total: dict[str, float] = {}
    reasons: dict[str, str] = {}
    for failure in failures[:_MAX_FAILURES]:
        scores, found_roles, why = scorer.score(failure)
        for node, score in scores.items():
            total[node] = total.get(node, 0.0) + score
            reasons.setdefault(node, why.get(node, "reached from the failing test"))
        for role, nodes in found_roles.items():
            for node in nodes:
                if node not in roles[role]:
                    roles[role].append(node)

    _discount_passing(scorer, total, failures, ran)
    best = max(total.values(), default=0.0)
    extra = {node: (_HINT_WEIGHT * score / best, f"failure: {reasons[node]}")
             for node, score in total.items() if best > 0}
    ranking = _failure_first(retriever.rank(failure_query(failures), extra_seeds=extra), total)
    suspects = _members_before_their_class(
        [n for n in ranking.nodes if not retriever.is_test_code(n.node) and scorer._is_symbol(n.node)])

    header = _roles_text(roles, failures)
    header_tokens = counter(header) if header else 0
    pack = retriever.pack(ranking, max(0, budget_tokens - header_tokens), count_tokens=counter)
    text = f"{header}\n\n{pack.text}" if header and pack.text else (header or pack.text)
    return FailureContext(pack=pack, nodes=roles, text=text, suspects=suspects, seeds=total,
                          ranking=ranking, tokens=header_tokens + pack.total_tokens)


def _discount_passing(scorer: _Scorer, total: dict[str, float], failures: list[Failure],
                      ran: list[str] | None) -> None:
    """Scale each suspect by sqrt((f + 1) / (f + p + 1)), f and p the failing and passing tests that call or
    test it directly (the Ochiai idea on the graph's edges instead of coverage)."""
    failing = {node for f in failures if (node := scorer._test_node(f.test_id)) is not None}
    if not failing:
        return
    selection = ran if ran else sorted({f.test_id.partition("::")[0] for f in failures if "::" in f.test_id})
    retriever = scorer.retriever
    for node in list(total):
        if retriever.is_test_code(node):
            continue
        failed = passed = 0
        for edge in retriever.edges_to(node, ("calls", "tests")):
            caller = edge.node
            if not retriever.is_test_code(caller) or not scorer._is_symbol(caller):
                continue
            if caller in failing:
                failed += 1
            elif _selected(caller, selection):
                passed += 1
        if passed:
            total[node] *= math.sqrt((failed + 1) / (failed + passed + 1))


def _selected(test_node: str, selection: list[str]) -> bool:
    """Whether the run's selection (paths or node ids) included this test function."""
    path, _, dotted = test_node.partition("::")
    for item in selection:
        item = item.rstrip("/")
        if "::" in item:
            selected_path, _, rest = item.partition("::")
            if selected_path == path and ".".join(p.split("[", 1)[0] for p in rest.split("::")) == dotted:
                return True
        elif path == item or path.startswith(item + "/") or item in ("", "."):
            return True
    return False


def _members_before_their_class(ranked: list[RankedNode]) -> list[str]:
    """Suspect names in rank order, except that a class yields its place to its own methods ranked within
    ``_CLASS_YIELD`` places below it: a fix inside ``URL.to_text`` touches ``URL`` too, and the method says where."""
    order = list(ranked)
    position = 0
    while position < len(order):
        suspect = order[position]
        if suspect.kind == CLASS:
            window = order[position + 1 : position + 1 + _CLASS_YIELD]
            members = [at for at, other in enumerate(window) if other.node.startswith(suspect.node + ".")]
            if members:
                order.insert(position + 1 + members[-1], order.pop(position))
                continue  # the next suspect now sits where the class was
        position += 1
    return [n.node for n in order]


def _failure_first(ranking: Ranking, failure_scores: dict[str, float]) -> Ranking:
    """Re-order the retriever's ranking so that the failure's own evidence leads and the retriever's
    score (text similarity, the graph walk) decides among items the failure rates alike. Left to the
    walk alone, a hub next to every seed (the function the test calls, which calls everything) would
    outrank the frame that raised."""
    if not ranking.nodes or not failure_scores:
        return ranking
    top_failure = max(failure_scores.values())
    top_retrieval = max(n.score for n in ranking.nodes)
    reordered = []
    for node in ranking.nodes:
        combined = failure_scores.get(node.node, 0.0) / top_failure + _RETRIEVAL_SHARE * node.score / top_retrieval
        node.why.notes.append(f"failure evidence {failure_scores.get(node.node, 0.0) / top_failure:.2f}")
        reordered.append(replace(node, score=combined * top_retrieval))
    reordered.sort(key=lambda n: (-n.score, n.node))
    return replace(ranking, nodes=reordered)


def failure_query(failures: list[Failure]) -> str:
    """The failures as text for BM25 and the embedding: test names, exceptions, assertion details.
    Frames are left out on purpose: the failure's own seeds already place them, more carefully than
    the query parser's order of frames across several tracebacks would."""
    parts: list[str] = []
    for failure in failures[:_QUERY_FAILURES]:
        name = failure.test_id.rpartition("::")[2].split("[", 1)[0]
        # The exception's class is left out: naming it would seed the class (and every raiser of it)
        # above the code that went wrong.
        lines = [name.replace("_", " ") if name else "", failure.message]
        for line in failure.detail.splitlines()[:8]:
            lines.append(_EXCEPTION_PREFIX.sub("", line.strip()))
        parts.append("\n".join(line for line in lines if line.strip()))
    return "\n\n".join(parts)


class _Scorer:
    """One failure's scores over graph nodes (best score per node within the failure)."""

    def __init__(self, retriever: Retriever):
        self.retriever = retriever

    def score(self, failure: Failure) -> tuple[dict[str, float], dict[str, list[str]], dict[str, str]]:
        scores: dict[str, float] = {}
        why: dict[str, str] = {}
        roles: dict[str, list[str]] = {"test": [], "raised": [], "under_test": []}

        def add(node: str | None, value: float, reason: str) -> None:
            if node is None or value <= 0 or not self.retriever.has_node(node):
                return
            if value > scores.get(node, 0.0):
                scores[node] = value
                why[node] = reason

        located = [(frame, node) for frame in failure.frames if (node := self._frame_node(frame)) is not None]
        test = self._test_node(failure.test_id) or next(
            (node for _, node in reversed(located) if self._is_test(node) and self._is_symbol(node)), None)
        if test is not None:
            roles["test"].append(test)
            add(test, _TEST_SELF, f"the failing test {failure.test_id}")

        # Frames, innermost first: the first non-test one raised; test frames say which line failed.
        weight = _RAISED
        failing_lines: list[tuple[str, Frame]] = []
        for frame, node in reversed(located):
            if self._is_test(node):
                failing_lines.append((node, frame))
                continue
            if not roles["raised"]:
                roles["raised"].append(node)
                add(node, weight, f"raised at {frame}")
            else:
                add(node, weight, f"on the stack at {frame}")
            weight *= _OUTER_DECAY
            for callee in self._called_on_line(node, frame):
                add(callee, weight * _SECOND_HOP, f"called on the line of {frame}")
        if not failing_lines and test is not None:
            failing_lines.append((test, Frame("", 0, None)))
        # When the code under test raised, the stack already says where; what the test calls is the way
        # in, weighed below the frame that raised.
        entry = _ENTRY_WHEN_RAISED if roles["raised"] else 1.0

        under_test: list[str] = []
        for node, frame in failing_lines[:2]:
            for callee in self._called_on_line(node, frame):
                if not self._is_test(callee):
                    add(callee, _ON_FAILING_LINE * entry, f"called on the failing line {frame}")
                    under_test.append(callee)
        if test is not None:
            targets = [t for t in self._callees(test, with_tests=True, by_name=True) if not self._is_test(t)]
            share = entry * _UNDER_TEST / math.sqrt(max(1, len(targets)))
            for target in targets:
                add(target, share, f"called by the failing test {failure.test_id}")
                if target not in under_test:
                    under_test.append(target)
        for node in list(under_test):
            for callee in self._callees(node):
                if not self._is_test(callee):
                    add(callee, scores.get(node, 0.0) * _SECOND_HOP, f"called by {node}")
        for node in self._operator_methods(f"{failure.message}\n{failure.detail}"):
            add(node, _ON_FAILING_LINE, "the operator the error names")
        for name in _CALL_NAME.findall(failure.detail):
            found = self._named(name)
            for node in found:
                add(node, _IN_DETAIL / math.sqrt(len(found)), f"{name}() in the assertion detail")
        roles["under_test"] = [n for n in under_test if self._is_symbol(n)][:12]
        return scores, roles, why

    # ------------------------------------------------------------------------------ graph lookups

    def _is_symbol(self, node: str) -> bool:
        return self.retriever.node(node).kind in _SYMBOL_KINDS

    def _is_test(self, node: str) -> bool:
        return self.retriever.is_test_code(node)

    def _test_node(self, test_id: str) -> str | None:
        if "::" not in test_id:
            return None
        path, _, rest = test_id.partition("::")
        dotted = ".".join(part.split("[", 1)[0] for part in rest.split("::") if part)
        for candidate in [path, *self.retriever.files_matching(path)]:
            node = f"{candidate}::{dotted}"
            if self.retriever.has_node(node):
                return node
        return None

    def _frame_node(self, frame: Frame) -> str | None:
        files = self.retriever.files_matching(frame.path)
        if len(files) > 1 and frame.function:
            # `./src/lib.rs` of a Rust backtrace is relative to its crate: the copy defining the frame's
            # function is the one that ran.
            files = [f for f in files if any(s.name == frame.function for s in self.retriever.symbols_in(f))]
        if len(files) != 1:
            return None  # outside the repository (a library) or not telling which copy
        path = files[0]
        node = self.retriever.symbol_at(path, frame.line)
        if frame.function and (node is None or self.retriever.node(node).name != frame.function):
            named = [s.node for s in self.retriever.symbols_in(path) if s.name == frame.function]
            if len(named) == 1:
                node = named[0]
        return node or path

    def _callees(self, node: str, with_tests: bool = False, by_name: bool = False) -> list[str]:
        """What ``node`` calls (and tests); ``by_name`` adds the calls the graph could not resolve
        (``obj.method()`` on a local) matched by name when the name is rare enough to mean something."""
        kinds = ("calls", "tests") if with_tests else ("calls",)
        found: list[str] = []
        for edge in self.retriever.edges_from(node, kinds):
            if edge.node not in found and edge.kind != FILE:
                found.append(edge.node)
        if by_name:
            for text in self.retriever.node(node).unresolved_calls:
                found.extend(t for t in self._resolve_call(text) if t not in found)
        return found

    def _operator_methods(self, text: str) -> list[str]:
        """``unsupported operand type(s) for |: 'A' and 'B'`` and ``'<' not supported between instances
        of 'A' and 'B'``: the operator's methods on those classes (``A.__or__``, ``B.__ror__``)."""
        found: list[str] = []
        for pattern in (_UNSUPPORTED_OPERAND, _UNSUPPORTED_COMPARISON):
            for match in pattern.finditer(text):
                name = _OPERATOR_NAMES.get(match["op"])
                if name is None:
                    continue
                for owner, method in ((match["left"], f"__{name}__"), (match["right"], f"__r{name}__"),
                                      (match["right"], _REFLECTED.get(name, ""))):
                    if method:
                        found.extend(n for n in self.retriever.symbols_named(f"{owner}.{method}")
                                     if not self._is_test(n) and n not in found)
        return found

    def _resolve_call(self, text: str) -> list[str]:
        parts = [p for p in re.split(r"\.|::|->", text.replace("()", "")) if p]
        if parts and parts[0] in ("self", "cls", "this"):
            parts = parts[1:]
        if not parts or not all(p.isidentifier() for p in parts):
            return []
        found = self.retriever.symbols_named(".".join(parts[-2:])) if len(parts) > 1 else []
        found = found or self.retriever.symbols_named(parts[-1])
        found = [n for n in found if not self._is_test(n)]
        return found if len(found) <= 3 else []

    def _called_on_line(self, node: str, frame: Frame) -> list[str]:
        """What ``node`` calls on the frame's line: resolved call edges, matched by the names of the calls
        the parser saw on that line (a call edge remembers only the first line it was seen on)."""
        callees = self._callees(node)
        if not frame.line:
            return []
        path = split_qualified_name(node)[0] if self._is_symbol(node) else node
        sites = self.retriever.calls_in(path)
        if sites is None:  # no parser record: the line each call edge remembers
            return [e.node for e in self.retriever.edges_from(node, ("calls",))
                    if e.node in callees and e.line == frame.line]
        found: list[str] = []
        for call in sites:
            if call.line != frame.line or call.caller not in (node, path):
                continue
            name = re.split(r"\.|::|->", call.callee.replace("()", ""))[-1]
            matched = [t for t in callees if self.retriever.node(t).name == name]
            found.extend(t for t in (matched or self._resolve_call(call.callee)) if t not in found)
        return found

    def _named(self, name: str) -> list[str]:
        parts = [p for p in name.split(".") if p]
        if not parts or parts[-1] in ("assert", "where", "and", "or", "not"):
            return []
        if parts[0] in ("self", "cls"):
            parts = parts[1:]
        if not parts:
            return []
        found = self.retriever.symbols_named(".".join(parts)) if len(parts) > 1 else []
        found = found or self.retriever.symbols_named(parts[-1])
        found = [n for n in found if not self._is_test(n)]
        return found if 0 < len(found) <= 4 else []


def _roles_text(roles: dict[str, list[str]], failures: list[Failure]) -> str:
    lines: list[str] = []
    if roles["test"]:
        lines.append("Failing test(s): " + ", ".join(roles["test"][:6]))
    if roles["raised"]:
        lines.append("Raised in: " + ", ".join(roles["raised"][:4]))
    if roles["under_test"]:
        lines.append("Code under test: " + ", ".join(roles["under_test"][:8]))
    if len(failures) > _MAX_FAILURES:
        lines.append(f"({len(failures)} failures; localized from the first {_MAX_FAILURES})")
    return "\n".join(lines)
