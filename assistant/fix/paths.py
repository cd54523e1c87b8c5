"""Where an edit may write: a path the model names, resolved strictly inside the repository.

Refused: absolute paths, ``~``, ``..``, NUL bytes, anything inside ``.git/`` or ``.assist/``, secrets files
(``.env``, keys, credentials: the model never saw them and must not overwrite them), a path that
passes through a symlink (even one pointing back inside: the file it names is not the file written), and
anything that is not a regular file.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from indexer.secrets import is_secret_path

PROTECTED_DIRS = (".git", ".assist")


class UnsafePath(ValueError):
    """The model named a path an edit must not touch; the message says why, for the model and the user."""


def resolve_inside(root: Path, raw: str) -> tuple[str, Path]:
    """``(normalized relative path, absolute path)`` for a path the model wrote; raises UnsafePath."""
    text = raw.strip()
    if not text:
        raise UnsafePath("an edit names no file")
    if "\x00" in text:
        raise UnsafePath(f"{text!r}: a file name cannot contain a NUL byte")
    text = text.replace("\\", "/")
    if text.startswith(("/", "~")) or (len(text) > 1 and text[1] == ":"):
        raise UnsafePath(f"{raw}: absolute paths are refused; name files relative to the repository root")
    parts = [part for part in PurePosixPath(text).parts if part not in ("", ".")]
    if not parts:
        raise UnsafePath(f"{raw}: names the repository itself, not a file")
    if ".." in parts:
        raise UnsafePath(f"{raw}: '..' is refused; edits stay inside the repository")
    protected = next((part for part in parts if part in PROTECTED_DIRS), None)
    if protected:
        raise UnsafePath(f"{raw}: files inside {protected}/ are never edited")
    if is_secret_path("/".join(parts)):
        raise UnsafePath(f"{raw}: a secrets file (keys, credentials, .env); never edited by assist")
    root = root.resolve()
    current = root
    for index, part in enumerate(parts):
        current = current / part
        if current.is_symlink():
            raise UnsafePath(f"{raw}: {'/'.join(parts[: index + 1])} is a symbolic link; edits do not follow links")
        if index < len(parts) - 1 and current.exists() and not current.is_dir():
            raise UnsafePath(f"{raw}: {'/'.join(parts[: index + 1])} is a file, not a directory")
    if current.exists() and not current.is_file():
        raise UnsafePath(f"{raw}: not a regular file")
    # Belt and braces: whatever the checks above missed, the real location must be under the root.
    real = Path(os.path.realpath(current))
    if real != root and root not in real.parents:
        raise UnsafePath(f"{raw}: resolves outside the repository")
    return "/".join(parts), current
