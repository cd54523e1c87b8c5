"""What the model is shown for an edit request: the files and symbols the request names, pinned, and the
code around them the graph knows about, all through the retriever's public facade.

Targets come from the command's arguments (``assist edit "…" bookings/stay.py Room.book``) and from the
request itself: a path of an existing file, or a `backticked` name that resolves to one symbol. A named
target that is a binary file, or an argument that names nothing, stops the run before the model is asked
(``TargetRefused``). Each pinned target seeds the ranking at full weight and its callers, callees and tests
at half; the pinned ones then lead the ranking and their neighbours follow, so they are packed first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from indexer.retrieval import AmbiguousSymbol, Pack, Retriever, UnknownSymbol
from indexer.safe_fs import PathRefused, SafeRoot, resolve_inside

from ..fix import textfile

PIN_WEIGHT = 1.0
NEARBY_WEIGHT = 0.5
NEARBY_RELATIONS = ("callers", "callees", "tests")
NEARBY_PER_TARGET = 12
_QUOTED = re.compile(r"`([^`\s]{2,200})`")
_PATHISH = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w-]+\.[A-Za-z0-9]{1,8})(?![\w/-])")


class TargetRefused(ValueError):
    """A named target cannot be edited (binary, unknown, ambiguous); the message says which and why."""


@dataclass
class Targets:
    named: list[str] = field(default_factory=list)  # as written, arguments first
    pinned: list[str] = field(default_factory=list)  # graph nodes
    unindexed: list[str] = field(default_factory=list)  # existing text files the index does not hold
    new_files: list[str] = field(default_factory=list)  # argument paths that do not exist yet
    nearby: list[str] = field(default_factory=list)


@dataclass
class EditContext:
    text: str
    pack: Pack | None
    files: list[str]  # every file the model was shown code from
    found_little: str | None  # why the context is thin, for the user; None when it is not


def mentioned(request: str) -> list[str]:
    """Names the request itself points at: `backticked` names, and words shaped like file paths."""
    found = [m.group(1).rstrip("()") for m in _QUOTED.finditer(request)]
    found += [m.group(1) for m in _PATHISH.finditer(request)]
    return list(dict.fromkeys(name for name in found if name))


def resolve_targets(root: Path, retriever: Retriever, arguments: list[str], request: str) -> Targets:
    """Pin every argument (each must name a text file or one symbol) and whatever the request names that
    exists; raises TargetRefused for a binary file either way, and for an argument that names nothing."""
    targets = Targets(named=list(dict.fromkeys([*arguments, *mentioned(request)])))
    for name in targets.named:
        explicit = name in arguments
        if _pin_file(root, retriever, name, targets, explicit):
            continue
        try:
            node = retriever.resolve(name)
        except UnknownSymbol as exc:
            if explicit:
                raise TargetRefused(f"{exc}; name an existing file or symbol (or a new file's path, with an "
                                    f"extension)") from None
            continue
        except AmbiguousSymbol as exc:
            if explicit:
                raise TargetRefused(str(exc)) from None
            continue
        if node not in targets.pinned:
            info = retriever.node(node)
            if info.kind == "module":
                if explicit:
                    raise TargetRefused(f"{name} is a directory: name its files or symbols")
                continue
            targets.pinned.append(node)
    for node in targets.pinned:
        for relation in NEARBY_RELATIONS:
            try:
                neighbours = retriever.related(node, relation)
            except ValueError:
                continue
            for neighbour in neighbours[:NEARBY_PER_TARGET]:
                if neighbour.node not in targets.pinned and neighbour.node not in targets.nearby:
                    targets.nearby.append(neighbour.node)
    return targets


def _pin_file(root: Path, retriever: Retriever, name: str, targets: Targets, explicit: bool) -> bool:
    """Handle ``name`` as a file path when it is one; False when it should be tried as a symbol."""
    try:
        # for_write: a secrets file, .git/ or .assist/ is neither sent to the model nor edited
        rel, absolute = resolve_inside(root, name, for_write=True)
    except PathRefused as exc:
        if explicit and ("/" in name or Path(name).suffix):
            raise TargetRefused(f"{name}: {exc.reason}") from None
        return False
    rel = str(rel)
    try:
        found = SafeRoot(root).lstat(rel)
    except OSError:
        found = None
    if found is None:
        if explicit and Path(rel).suffix and "::" not in name and not _symbol_like(retriever, name):
            targets.new_files.append(rel)
            return True
        return False
    if not absolute.is_file():
        if explicit:
            raise TargetRefused(f"{rel} is not a file: name the files or symbols to change")
        return True
    data = SafeRoot(root).read_bytes(rel)
    try:
        textfile.decode(data, None)
    except textfile.NotText:
        raise TargetRefused(f"{rel} is a binary file: assist edit changes text files only; nothing was "
                            "written") from None
    if retriever.has_node(rel):
        if rel not in targets.pinned:
            targets.pinned.append(rel)
    elif rel not in targets.unindexed:
        targets.unindexed.append(rel)
    return True


def _symbol_like(retriever: Retriever, name: str) -> bool:
    """``Order.cancel`` looks like a file name with an extension; it is a symbol when the index has it."""
    try:
        retriever.resolve(name)
    except (UnknownSymbol, AmbiguousSymbol):
        return False
    return True


def build_context(root: Path, retriever: Retriever, request: str, targets: Targets, budget: int,
                  count: Callable[[str], int]) -> EditContext:
    """The code for the request packed into ``budget`` tokens: unindexed named files whole, then the packed
    ranking with the pinned targets first and their neighbours next."""
    from ..chat.prompting import code_block

    blocks: list[str] = []
    files: list[str] = []
    for rel in targets.unindexed:
        lines = textfile.decode(SafeRoot(root).read_bytes(rel), None).lines
        block = code_block(rel, 1, len(lines), "file, named in the request", None, lines)
        if count(block) <= budget:
            blocks.append(block)
            files.append(rel)
            budget -= count(block)
    seeds = {node: (PIN_WEIGHT, "named in the request") for node in targets.pinned}
    seeds.update({node: (NEARBY_WEIGHT, "next to a named target") for node in targets.nearby if node not in seeds})
    ranking = retriever.rank(request, extra_seeds=seeds or None)
    order = {node: position for position, node in enumerate([*targets.pinned, *targets.nearby])}
    ranked = sorted(ranking.nodes, key=lambda n: (order.get(n.node, len(order)), -n.score))
    pack = retriever.pack(replace(ranking, nodes=ranked), max(0, budget), count_tokens=count)
    if pack.text:
        blocks.append(pack.text)
    files += [path for path in dict.fromkeys(item.path for item in pack.items) if path not in files]
    return EditContext("\n\n".join(blocks), pack, files, _thin(targets, pack, files))


def _thin(targets: Targets, pack: Pack, files: list[str]) -> str | None:
    if targets.pinned or targets.unindexed:
        return None
    if not files:
        return ("the request names no file or symbol of this repository and retrieval found no code for it; name "
                "the files or symbols to change (as arguments, or `quoted` in the request)")
    mentions = any("mention" in item.why.signals for item in pack.items)
    if mentions:
        return None
    shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
    return (f"the request names no file or symbol of this repository; the model sees what text search found: "
            f"{shown}; name the files or symbols to change for a better edit")
