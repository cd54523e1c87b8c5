"""What the MCP tools do, without MCP: one repository's index answered as text (for the model) and data.

``RepoTools`` is plain synchronous Python over the one retriever, so it can be tested and reused without a
protocol. Every failure is a ``ToolFailure`` whose message says what to do; the server turns it into a
tool error. Only the repository's own files are ever read: names resolve through the index, and a file's
text is read only after its path is checked to stay inside the repository (no ``..``, no absolute path,
no symlink on the way).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.retrieval import RELATIONS
from indexer.safe_fs import PathRefused, resolve_inside

MAX_SOURCE_LINES = 400


class ToolFailure(Exception):
    """A request the tools cannot answer (no index, unknown symbol, path outside the repository)."""


@dataclass
class Answer:
    text: str  # what a model reads
    data: dict[str, Any]  # the same, structured


def inside_repo(root: Path, relative: str) -> Path:
    """``root / relative`` when it names something inside ``root`` without a symlink on the way; else
    ``ToolFailure``. Nothing is opened here; the rules are ``indexer.safe_fs.resolve_inside``'s."""
    try:
        return root / resolve_inside(root, relative).relative
    except PathRefused as exc:
        raise ToolFailure(f"{relative!r} is not a path inside the repository {root} ({exc.reason}): use a path "
                          f"relative to it, without '..' or a symbolic link") from None


class RepoTools:
    def __init__(self, root: Path, use_vectors: bool = True, index_config=None):
        self.root = root.resolve()
        self.use_vectors = use_vectors
        self._index_config = index_config
        self._retriever = None
        self._filler = None
        self._lock = threading.RLock()

    @property
    def index_config(self):
        """The repository's ``[index]`` settings unless given; ToolFailure when its config file is wrong."""
        if self._index_config is None:
            from ..index_settings import repository_index_config

            self._index_config = repository_index_config(self.root, ToolFailure)
        return self._index_config

    def fill_vectors_in_background(self):
        """Embed what the index lacks in a low-priority child process while the tools answer."""
        from indexer.lifecycle import VectorFiller

        with self._lock:
            if self._filler is None:
                self._filler = VectorFiller(self.root, self.index_config)
            return self._filler.start()

    # ------------------------------------------------------------------------------ the index

    def retriever(self):
        from indexer.retrieval import RetrievalError, Retriever

        with self._lock:
            if self._retriever is None:
                try:
                    self._retriever = Retriever(self.root, use_vectors=self.use_vectors)
                except RetrievalError as exc:
                    raise ToolFailure(f"{exc} (or call the reindex tool)") from exc
            return self._retriever

    def close(self) -> None:
        with self._lock:
            if self._filler is not None:
                self._filler.stop()
            if self._retriever is not None:
                self._retriever.close()
                self._retriever = None

    def _resolve(self, name: str) -> str:
        from indexer.retrieval import RetrievalError

        name = name.strip()
        if not name:
            raise ToolFailure("the name is empty: give a symbol (Class.method, module.function, path::Name) or a "
                              "file path")
        try:
            return self.retriever().resolve(name)
        except RetrievalError as exc:
            raise ToolFailure(str(exc)) from exc

    # ------------------------------------------------------------------------------ the tools

    def search_code(self, query: str, top_k: int = 10, kind: str = "symbol") -> Answer:
        from indexer.retrieval import RetrievalError

        try:
            hits = self.retriever().search(query, top=top_k, kind=kind)
        except RetrievalError as exc:
            raise ToolFailure(str(exc)) from exc
        results = []
        lines = [f"{len(hits)} {kind} results for {query!r} in {self.root.name}:"]
        for rank, hit in enumerate(hits, 1):
            data = hit.to_json()
            data["graph_path"] = hit.why.path_text()
            results.append(data)
            span = f":{hit.start_line}-{hit.end_line}" if hit.start_line else ""
            name = f"  {hit.symbol.partition('::')[2]}" if hit.symbol else ""
            why = ", ".join(hit.why.signals) or "ranked"
            stale = " (changed since indexing)" if hit.why.stale else ""
            lines.append(f"{rank}. {hit.path}{span}{name}  score {hit.score:.2f}  [{why}]{stale}")
            if data["graph_path"]:
                lines.append(f"   via {data['graph_path']}")
        return Answer("\n".join(lines), {"query": query, "kind": kind, "results": results})

    def get_context(self, query: str, budget_tokens: int = 4000) -> Answer:
        from indexer.retrieval import RetrievalError

        try:
            pack = self.retriever().context(query, budget_tokens=budget_tokens)
        except RetrievalError as exc:
            raise ToolFailure(str(exc)) from exc
        data = pack.to_json()
        summary = f"[{len(pack.items)} items, {pack.total_tokens}/{pack.budget} tokens]"
        notes = "".join(f"\n[note: {note}]" for note in pack.notes)
        return Answer((pack.text + "\n\n" if pack.text else "") + summary + notes, data)

    def get_symbol(self, name: str) -> Answer:
        node = self._resolve(name)
        retriever = self.retriever()
        info = retriever.node(node)
        path, kind, start, end = info.path, info.kind, info.start_line, info.end_line
        source_text, truncated = None, False
        if kind != "module":
            inside_repo(self.root, path)
            source = retriever.current_source(node)
            if source is not None:
                start, end = source.start_line, source.end_line
                truncated = len(source.lines) > MAX_SOURCE_LINES
                source_text = "\n".join(source.lines[:MAX_SOURCE_LINES])
        result = {
            "node": node,
            "name": info.name,
            "kind": kind,
            "path": path,
            "language": info.language,
            "start_line": start,
            "end_line": end,
            "signature": info.signature,
            "docstring": info.docstring,
            "parent": info.parent,
            "source": source_text,
            "source_truncated": truncated,
        }
        head = f"{node} ({kind}) at {path}" + (f":{start}-{end}" if start else "")
        parts = [head]
        if result["signature"]:
            parts.append(f"signature: {' '.join(str(result['signature']).split())}")
        if result["parent"]:
            parts.append(f"in {result['parent']}")
        if source_text is not None:
            fence = "```" + (result["language"] or "")
            parts.append(f"{fence}\n{source_text}\n```" + (f"\n[first {MAX_SOURCE_LINES} lines]" if truncated else ""))
        elif kind != "module":
            parts.append("[the file is gone or no longer text since indexing; call reindex]")
        return Answer("\n".join(parts), result)

    def related(self, name: str, relation: str) -> Answer:
        if relation not in RELATIONS:
            raise ToolFailure(f"unknown relation {relation!r}: use one of {', '.join(RELATIONS)}")
        node = self._resolve(name)
        found = self.retriever().related(node, relation)
        results = [n.to_json() for n in found]
        lines = [f"{relation} of {node}: {len(found)}"]
        for n in found:
            where = f"{n.path}:{n.start_line}" if n.start_line else (n.path or "")
            extra = f" (line {n.line})" if n.line else ""
            detail = f" [{n.detail}]" if n.detail else ""
            lines.append(f"- {n.node}  {where}{extra}{detail}")
        return Answer("\n".join(lines), {"node": node, "relation": relation, "results": results})

    def index_status(self) -> Answer:
        from indexer.status import NoIndex, index_status

        try:
            status = index_status(self.root)
        except NoIndex as exc:
            raise ToolFailure(f"{exc} (or call the reindex tool)") from exc
        data = status.to_json()
        data.pop("skipped_files", None)
        filler = self._filler.state if self._filler is not None else "off"
        data["vectors"]["background"] = filler
        stale = sum(len(v) for v in status.stale.values())
        text = (f"{status.root}: {status.files_indexed} files, {status.symbols} symbols, {status.chunks} chunks, "
                f"embedding model {status.embedding_model}; "
                + (f"{stale} files changed since indexing (call reindex)" if stale else "up to date")
                + ("; the last index run was interrupted" if status.interrupted else "")
                + f"; {status.vectors['text']}"
                + ("" if status.vectors["stored"] >= status.vectors["chunks"] else
                   " (search uses the vectors there are; " + (
                       "the rest are being embedded in the background)" if filler == "filling" else
                       f"background embedding: {filler}; reindex embeds the rest)")))
        return Answer(text, data)

    def reindex(self, paths: list[str] | None = None, progress=None) -> Answer:
        from indexer.lifecycle import IndexingError, reindex

        missing = []
        for path in paths or []:
            if not inside_repo(self.root, path).exists():
                missing.append(path)
        if missing:
            raise ToolFailure(f"no such file in the repository: {', '.join(missing)}")
        notices: list[str] = []
        try:
            report = reindex(self.root, self.index_config, progress=progress, notice=notices.append)
        except IndexingError as exc:
            raise ToolFailure(f"indexing failed: {exc}") from exc
        with self._lock:
            if self._retriever is not None:
                self._retriever.refresh()
            if self._filler is not None:
                self._filler.poke()
        data = report.to_json()
        data["requested_paths"] = list(paths or [])
        text = (f"indexed {report.files_indexed} files: {report.files_changed} changed, {report.files_removed} "
                f"removed, {report.chunks_embedded} chunks embedded"
                + (" (the whole repository is refreshed incrementally; unchanged files cost nothing)" if paths else ""))
        if notices:
            text += "\n" + "\n".join(notices)
        return Answer(text, data)
