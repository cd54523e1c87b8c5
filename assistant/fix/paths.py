"""Where an edit may write: a path the model names, resolved strictly inside the repository.

Refused: absolute paths, ``~``, ``..``, NUL bytes, names over the file system's limits, anything inside
``.git/`` or ``.assist/``, secrets files (``.env``, keys, credentials: the model never saw them and must not
overwrite them), a path that passes through a symlink (even one pointing back inside: the file it names is
not the file written), and anything that is not a regular file.

The rules are ``indexer.safe_fs.resolve_inside(..., for_write=True)``, shared with every other front end
(protected names are compared the way case-folding, normalising file systems compare them); this module
only words a refusal for the model. ``safe_fs`` enforces the same walk again at the moment of writing, so a
link swapped in after this check is refused then.
"""

from __future__ import annotations

from pathlib import Path

from indexer.safe_fs import PathRefused
from indexer.safe_fs import resolve_inside as _resolve_inside


class UnsafePath(ValueError):
    """The model named a path an edit must not touch; the message says why, for the model and the user."""


def resolve_inside(root: Path, raw: str) -> tuple[str, Path]:
    """``(normalized relative path, absolute path)`` for a path the model wrote; raises UnsafePath."""
    try:
        return tuple(_resolve_inside(root, raw, for_write=True))
    except PathRefused as exc:
        raise UnsafePath(str(exc)) from None
