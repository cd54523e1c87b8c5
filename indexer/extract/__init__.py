"""Turns one file's bytes into a FileExtract: definitions, imports, calls and inheritance."""

from __future__ import annotations

import time

import tree_sitter

from ..languages import get_language
from ..model import FileExtract


class ParseTimeout(Exception):
    """tree-sitter did not finish within the time bound (pathological nesting, huge generated code)."""


def parse(source: bytes, language: str, timeout_s: float) -> tree_sitter.Tree:
    parser = tree_sitter.Parser(get_language(language))
    deadline = time.monotonic() + timeout_s

    def read(offset: int, _point: object) -> bytes:
        return source[offset : offset + (1 << 16)]

    def cancel_when_late(*_state: object) -> bool:
        return time.monotonic() > deadline

    # The progress callback (our only way to bound parse time) works with a read callback, not bytes.
    try:
        return parser.parse(read, progress_callback=cancel_when_late)
    except ValueError as exc:
        raise ParseTimeout(f"parse exceeded {timeout_s:g}s") from exc


def extract_file(path: str, source: bytes, language: str, timeout_s: float = 5.0) -> FileExtract:
    """Parse ``source`` (the file at repo-relative ``path``) and extract its symbols and references.

    Raises ParseTimeout when parsing or extraction runs past ``timeout_s``.
    """
    tree = parse(source, language, timeout_s)
    if language == "python":
        from .python import extract_python

        extract = extract_python(path, source, tree)
    else:
        from .generic import READ_HERE, extract_generic

        if language in READ_HERE:
            extract = extract_generic(path, source, tree, language)
        else:
            from .tagged import extract_tagged

            extract = extract_tagged(path, source, tree, language)
    extract.has_errors = extract.has_errors or tree.root_node.has_error
    extract.line_count = source.count(b"\n") + (0 if source.endswith(b"\n") or not source else 1)
    return extract
