"""Which tree-sitter grammar parses which file. Grammars come from the per-language wheels, never a download."""

from __future__ import annotations

import importlib
import importlib.util
from functools import lru_cache
from pathlib import PurePosixPath

import tree_sitter

# language -> (module, function returning the grammar pointer)
_GRAMMARS: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "java": ("tree_sitter_java", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
    # Extracted by indexer/extract/tagged.py from their queries alone.
    "csharp": ("tree_sitter_c_sharp", "language"),
    "ruby": ("tree_sitter_ruby", "language"),
    "php": ("tree_sitter_php", "language_php"),  # PHP inside HTML, as .php files are
    "kotlin": ("tree_sitter_kotlin", "language"),
    "swift": ("tree_sitter_swift", "language"),
    "scala": ("tree_sitter_scala", "language"),
    "lua": ("tree_sitter_lua", "language"),
    "bash": ("tree_sitter_bash", "language"),
    "elixir": ("tree_sitter_elixir", "language"),
    "haskell": ("tree_sitter_haskell", "language"),
    "dart": ("tree_sitter_dart", "language"),
    "zig": ("tree_sitter_zig", "language"),
}

_EXTENSIONS: dict[str, str] = {
    ".py": "python", ".pyi": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp", ".hxx": "cpp",
    ".cs": "csharp",
    ".rb": "ruby", ".rake": "ruby",
    ".php": "php",
    ".kt": "kotlin", ".kts": "kotlin",
    ".swift": "swift",
    ".scala": "scala", ".sc": "scala",
    ".lua": "lua",
    ".sh": "bash", ".bash": "bash",
    ".ex": "elixir", ".exs": "elixir",
    ".hs": "haskell",
    ".dart": "dart",
    ".zig": "zig",
}

PARSED_LANGUAGES = tuple(_GRAMMARS)


def language_for_path(path: str) -> str | None:
    """The parsed language of a file, or None for files we index as plain text."""
    language = _EXTENSIONS.get(PurePosixPath(path).suffix.lower())
    return language if language is not None and _grammar_installed(language) else None


@lru_cache(maxsize=None)
def _grammar_installed(language: str) -> bool:
    """An environment that lacks one grammar wheel (installed before the language was added) indexes that
    language's files as plain text rather than failing on them."""
    return importlib.util.find_spec(_GRAMMARS[language][0]) is not None


@lru_cache(maxsize=None)
def get_language(language: str) -> tree_sitter.Language:
    module_name, function_name = _GRAMMARS[language]
    module = importlib.import_module(module_name)
    return tree_sitter.Language(getattr(module, function_name)())


# Bumped when our own extraction changes what a file's symbols are keyed by (2: redefinitions get ``~N``; 3:
# JS/TS object-literal methods and functions assigned to an object are symbols; 4: twelve more languages, and
# comments marked `#`, `--` or `-- |` are docstrings; 5: C# files record the namespaces they declare), which
# stales cached extracts just as a grammar upgrade does.
EXTRACTION_RULES = "5"


def grammar_versions() -> dict[str, str]:
    """Installed grammar package versions and our extraction rules, stamped into the index so that a change
    of either triggers a rebuild."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {"tree-sitter": version("tree-sitter"), "assist-extraction": EXTRACTION_RULES}
    for module_name, _ in set(_GRAMMARS.values()):
        dist = module_name.replace("_", "-")
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            versions[dist] = "missing"
    return versions
