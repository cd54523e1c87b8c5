"""Why an item was retrieved: the signals that found it, what each added, and the graph path that led to it.

Kept with every ranked item, hit and packed item, so a front end can show the reasons in one line
(``Why.line``) or in full (``Why.to_json``) without knowing how ranking works.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SIGNALS = ("mention", "code", "trace", "literal", "bm25", "vector", "graph", "in-file", "scope", "hint")


@dataclass
class Evidence:
    """One signal that found an item, and what it added to the item's score."""

    signal: str  # mention | trace | bm25 | vector | graph | hint (a seed the caller gave, e.g. a failing test's)
    score: float
    rank: int | None = None  # 1-based rank within its signal, for ranked signals
    detail: str = ""

    def to_json(self) -> dict:
        data = {"signal": self.signal, "score": round(self.score, 4), "detail": self.detail}
        if self.rank is not None:
            data["rank"] = self.rank
        return data


@dataclass
class Why:
    score: float = 0.0
    evidence: list[Evidence] = field(default_factory=list)
    path: list[tuple[str, str, str]] = field(default_factory=list)  # (source, edge kind, target) from a seed
    path_end: str | None = None  # the item the path leads to
    stale: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def signals(self) -> list[str]:
        present = {e.signal for e in self.evidence}
        return [s for s in SIGNALS if s in present]

    def path_nodes(self) -> list[str]:
        """The nodes along ``path``, seed first, item last."""
        if not self.path or self.path_end is None:
            return []
        sequence = [self.path_end]
        for source, _, target in reversed(self.path):
            sequence.append(source if target == sequence[-1] else target)
        sequence.reverse()
        return sequence

    def path_text(self) -> str | None:
        """``seed a --calls--> b <--contains-- c``: each step names the real edge and its direction."""
        sequence = self.path_nodes()
        if not sequence:
            return None
        text = f"seed {sequence[0]}"
        for (_, kind, target), node in zip(self.path, sequence[1:]):
            text += f" --{kind}--> {node}" if target == node else f" <--{kind}-- {node}"
        return text

    def line(self, kind: str | None = None) -> str:
        """One human-readable line: the signals that found the item (best rank each), its score, its graph path.
        ``kind`` is the packed item's kind: an ``"outline"`` says so first."""
        best: dict[str, int | None] = {}
        for evidence in self.evidence:
            if evidence.signal not in best or (evidence.rank or 10**9) < (best[evidence.signal] or 10**9):
                best[evidence.signal] = evidence.rank
        signals = ", ".join(f"{signal} #{rank}" if rank else signal for signal, rank in best.items())
        parts = [f"{signals or 'ranked'}; score {self.score:.2f}"]
        if kind == "outline":
            parts.insert(0, "outline of the file around the code sent")
        path = self.path_text()
        if path:
            parts.append(path)
        if self.stale:
            parts.append("changed since indexing")
        return "; ".join(parts)

    def merge(self, other: Why) -> None:
        """Fold in the reasons of an item this one covers (a method inside a packed class)."""
        for evidence in other.evidence:
            self.evidence.append(evidence)
        self.notes.extend(n for n in other.notes if n not in self.notes)

    def to_json(self) -> dict:
        data: dict = {
            "signals": self.signals,
            "score": round(self.score, 4),
            "evidence": [e.to_json() for e in self.evidence],
            "stale": self.stale,
        }
        if self.path:
            data["path"] = [{"source": s, "kind": k, "target": t} for s, k, t in self.path]
            data["path_text"] = self.path_text()
        if self.notes:
            data["notes"] = list(self.notes)
        return data
