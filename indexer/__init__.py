"""Parses a repository into a code graph, symbol chunks, vectors and a lexical index.

Knows nothing of language models or user interfaces.
"""
