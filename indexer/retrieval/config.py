"""Every knob of retrieval in one place, so a tuning script can change them without touching the code."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class RetrievalConfig:
    """Weights and limits of seeding, graph expansion, fusion and packing.

    Scores are built in two steps. Each direct signal (bm25, vector, mention, trace) gives a node a
    *seed score*; ranked signals turn a rank r (0 = best) into ``rrf_k / (rrf_k + r)``, times the
    signal's weight. A personalized PageRank seeded with those scores then spreads them along the
    code graph; the final score is ``seed + weight_graph * max_seed * spread / max_ppr``, where
    ``spread`` is the walk score a node got beyond its own restarts and ``max_ppr`` the largest walk
    score of any symbol (so one hop from a single seed never outweighs that seed).
    """

    # -- seeding ---------------------------------------------------------------------------------
    bm25_k: int = 60
    """Chunks taken from BM25."""
    vector_k: int = 60
    """Chunks taken from the vector store."""
    rrf_k: float = 8.0
    """Rank damping of ranked signals: rank r scores rrf_k / (rrf_k + r); smaller favours the top ranks more."""
    weight_bm25: float = 1.0
    """Weight of a BM25 hit at rank 0."""
    weight_vector: float = 1.0
    """Weight of a vector (embedding similarity) hit at rank 0."""
    min_vector_cosine: float = 0.15
    """Vector hits below this cosine similarity are ignored: they match nothing in particular."""
    weight_mention: float = 2.5
    """Weight of a symbol or file named exactly in the query (split among the candidates of an ambiguous name)."""
    weak_mention_factor: float = 0.15
    """A weak mention — a capitalized plain word such as ``Dialect`` — keeps this fraction of
    ``weight_mention``. In an issue report most are prose (headings, sentence starts: "## Dialect",
    "Note", "Version") that happen to name a class; at 0.6 such a word outranked the best BM25 hit.
    A names-only query promotes its words to strong mentions, so ``reserve`` alone still counts fully."""
    weight_trace: float = 3.5
    """Weight of the innermost stack-trace frame's enclosing symbol."""
    trace_decay: float = 0.6
    """Each frame further from the innermost one keeps this fraction of the frame before it."""
    trace_callee: float = 0.6
    """Fraction of a frame's weight given to the functions called on the frame's line."""
    weight_code_mention: float = 1.5
    """Weight of a name that a code block in the query calls or imports (``render(tpl, data)``,
    ``from pkg.mod import Thing``) and the prose did not already name: the user's reproduction, calling
    our code. Lower than a prose mention because the block also calls the user's own helpers."""
    weight_literal: float = 3.0
    """Weight of a function holding a string literal that a message in the query quotes (``ValueError:
    x must be positive`` finds the ``raise ValueError(f"{name} must be positive")``), for a literal with
    at least ``literal_full_chars`` fixed characters; shorter ones in proportion."""
    literal_full_chars: int = 24
    """Fixed characters (placeholders left out) at which a matching literal earns its full weight."""
    literal_min_chars: int = 8
    """A code literal with fewer fixed characters matches too much to count."""
    literal_k: int = 20
    """Chunks BM25 finds for each quoted message, whose string literals are then compared with it."""
    weight_scope: float = 3.0
    """What the other signals found in the part of the code a title names before its colon ("net/http: ...",
    "fix(parser): ...") weighs this share more. On the tuning parts (vectors off) file Acc@5 rose with it up to
    3.0 and stayed level to 8.0; 3.0 is where the plateau starts (bench/README "A title's scope")."""
    code_query_text_factor: float = 0.35
    """When the query is nothing but code names (``Order.place``), BM25 and vector weights are scaled by
    this: the names already say where to look, and text similarity mostly finds their look-alikes."""
    test_penalty: float = 0.15
    """Multiplier for test code unless the query talks about tests. An issue report shares its words with
    the tests that reproduce it; at 0.6 test files outranked the source file on mined fix commits
    (file Acc@5 on dev + mined tasks: 88 % at 0.6, 93 % anywhere in 0.2–0.4). Since then the in-file signals
    lift a best file's functions, tests' too, and Rust and Go keep tests beside the code; on the tuning sets
    (vectors off) 0.15 rather than 0.4 raised file Acc@10 from 85.3 to 87.8 % and ctx@8k from 67.6 to 68.3 %
    (Python), and file Acc@5 from 83.9 to 84.7 %, function Acc@10 from 66.9 to 68.6 % and ctx@8k from 67.8 to
    69.5 % (Go, Rust, Java, JS/TS); 0.1-0.2 did about as well (bench/README "Tests beside the code")."""

    query_embed_threads: int = 1
    """Torch threads while embedding a query (restored afterwards). One short text gains nothing from
    more, and on a busy machine extra threads made a query 10x slower (measured: 37 ms vs 385 ms p50)."""

    # -- graph expansion (personalized PageRank) -------------------------------------------------
    weight_graph: float = 0.8
    """Weight of the graph score relative to the best seed score."""
    ppr_seeds: int = 40
    """The best seeds that personalize the walk."""
    ppr_restart: float = 0.35
    """Probability of jumping back to the seeds at each step; higher keeps the walk closer to them."""
    ppr_iterations: int = 16
    """Power-iteration steps; walks longer than this contribute nothing."""
    calls_forward: float = 0.7
    """Edge weight from a caller to what it calls."""
    calls_backward: float = 1.0
    """Edge weight from a callee back to its callers."""
    contains_forward: float = 0.25
    """Edge weight from a file or class down to the symbols it contains."""
    contains_backward: float = 0.25
    """Edge weight from a symbol up to its class or file."""
    inherits_forward: float = 0.6
    """Edge weight from a subclass to its base."""
    inherits_backward: float = 0.4
    """Edge weight from a base class to its subclasses."""
    imports_forward: float = 0.25
    """Edge weight from a file to the files it imports."""
    imports_backward: float = 0.15
    """Edge weight from a file to the files importing it."""
    tests_forward: float = 0.2
    """Edge weight from a test to the code it tests."""
    tests_backward: float = 0.35
    """Edge weight from code to the tests that exercise it."""
    path_max_hops: int = 3
    """Longest seed-to-item path searched when explaining a graph-found item."""

    # -- ranking inside the best files --------------------------------------------------------------
    weight_in_file: float = 0.5
    """Once a file ranks among the first ``in_file_files``, each of its functions earns up to this
    fraction of the best score for looking like the query: its name's words in the query, a literal
    the query quotes, calls into what the query named, its text (``in_file_text``). The right file then brings
    its right function."""
    in_file_files: int = 4
    """How many of the best files have their functions re-ranked against the query. 4 rather than 3 changed
    nothing alone and let ``in_file_text`` reach one more file (bench/README "The words inside a function")."""
    in_file_full_words: float = 2.0
    """How much of a function's name the query must hold for the name to match fully, in words of typical
    rarity among the repository's function names. A rare word (``padding``) counts for more than a common one
    (``write``, ``help``), so a short name of common words that the query happens to use (``help``, ``short``)
    no longer matches as fully as ``write_padding`` matches "padding". 0 counts every word alike, as before
    rarity counted. On the tuning sets (vectors off) 2 raised function Acc@10 from 60.0 to 62.1 % (Python)
    and from 59.3 to 61.0 % (Go, Rust, Java, JS/TS), and anywhere in 1.5-3 did about as well (bench/README
    "Rarity of a name's words")."""
    in_file_prior: float = 0.6
    """A floor for each function of one of the best files: this fraction of the best score, scaled by how its file
    ranks against the best file, times ``min(1, in_file_prior_span / the file's functions)``, whatever its name.
    Once a file is likely the one meant, so is each of its few functions, more than a weak look-alike elsewhere,
    and less so the more functions the file has ("the direction of edges in propagation.py" → ``asyn_lpa``, in
    tests/test_retrieval_signals.py). A floor, not a bonus: what already scores above it keeps its place, and
    what it adds never counts toward its file's rank. None when the query holds a stack trace or the caller
    passes seeds of its own (a fix run's failing frames): those say which functions ran. 0 turns it off. On the
    tuning sets (vectors off) 0.6 raised function Acc@5 from 49.0 to 51.0 %, Acc@10 from 64.1 to 64.8 % and
    ctx@8k from 66.2 to 66.9 % (Python) and function Acc@10 from 62.7 to 63.6 % (Go, Rust, Java, JS/TS), file
    ranks unchanged; 0.4-0.8 did about as well (bench/README "A floor inside the best files")."""
    in_file_prior_span: float = 5.0
    """How many functions a best file may have and each still earn the whole ``in_file_prior``."""
    in_file_text: float = 0.5
    """Inside each of the best files, a function whose text is the file's most like the query (its BM25 score for
    the query, its best chunk's, over the best of its file's functions) earns this much likeness, in the same
    units as a name that matches fully; one that scores less, that share to the power ``in_file_text_power``.
    The BM25 seeds rank a function among the whole repository, where a file's plain helpers lose to look-alikes
    of other files; measured against its own file, the helper that holds the report's words stands out. On the
    tuning sets (vectors off) 0.5 with power 2 and ``in_file_files`` 4 raised function Acc@5 from 51.0 to 53.8 %
    and ctx@8k from 66.9 to 67.6 % (Python), and function Acc@10 from 63.6 to 66.9 % and ctx@8k from 64.4 to
    66.9 % (Go, Rust, Java, JS/TS); file ranks unchanged. 1.0 with power 1 did worse (bench/README "The words
    inside a function"). 0 turns it off."""
    in_file_text_power: float = 2.0
    """How sharply ``in_file_text`` favours its file's best-matching function: 2 gives one that scores half the
    best a quarter of the likeness."""

    # -- ranking output --------------------------------------------------------------------------
    min_score_ratio: float = 0.02
    """Items scoring below this fraction of the best item are dropped."""
    file_rollup_extra: float = 0.3
    """A file scores its best symbol plus this fraction of each of its next two best."""

    # -- packing ---------------------------------------------------------------------------------
    pack_candidates: int = 40
    """Ranked items considered for a context pack."""
    whole_class_max_tokens: int = 350
    """A class this small is packed whole; a larger one by its header (signature, docstring, fields)."""
    min_partial_tokens: int = 48
    """An item that does not fit is cut to its first lines only if at least this many tokens remain."""
    outline_max_lines: int = 30
    """Signature lines per file outline."""
    outline_priority_ratio: float = 0.3
    """Items scoring below this fraction of the best item are packed only after the outlines."""

    def edge_weights(self) -> dict[str, tuple[float, float]]:
        """(forward, backward) weight per edge kind."""
        return {
            "calls": (self.calls_forward, self.calls_backward),
            "contains": (self.contains_forward, self.contains_backward),
            "inherits": (self.inherits_forward, self.inherits_backward),
            "imports": (self.imports_forward, self.imports_backward),
            "tests": (self.tests_forward, self.tests_backward),
        }

    def with_changes(self, **changes: object) -> RetrievalConfig:
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise TypeError(f"unknown retrieval settings: {', '.join(sorted(unknown))}")
        return replace(self, **changes)
