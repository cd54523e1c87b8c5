"""A syntax check with the indexer's own tree-sitter grammars, for the languages it parses.

An edit is refused when it turns a file that parsed cleanly into one with errors; a file that already had
errors is not held to a standard it did not meet before."""

from __future__ import annotations

import tree_sitter

from indexer.languages import get_language, language_for_path


def syntax_error(path: str, data: bytes) -> str | None:
    """``None`` when ``data`` parses (or is not a language we parse); else where the first error is."""
    language = language_for_path(path)
    if language is None:
        return None
    tree = tree_sitter.Parser(get_language(language)).parse(data)
    if not tree.root_node.has_error:
        return None
    node = _first_error(tree.root_node)
    if node is None:
        return f"{language} syntax error"
    line = node.start_point[0] + 1
    what = f"missing {node.type}" if node.is_missing else "unexpected code"
    snippet = data.split(b"\n")[line - 1].decode("utf-8", "replace").strip() if line else ""
    return f"{language} syntax error at line {line} ({what}): {snippet[:120]}"


def has_errors(path: str, data: bytes) -> bool:
    return syntax_error(path, data) is not None


def _first_error(node: tree_sitter.Node) -> tree_sitter.Node | None:
    if node.type == "ERROR" or node.is_missing:
        return node
    for child in node.children:
        if child.has_error or child.is_missing:
            found = _first_error(child)
            if found is not None:
                return found
    return None
