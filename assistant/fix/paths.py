"""Where an edit may write: a path the model names, resolved strictly inside the repository.

Refused: absolute paths, ``~``, ``..``, NUL bytes, names over the file system's limits, anything inside
``.git/`` or ``.assist/``, secrets files (``.env``, keys, credentials: the model never saw them and must not
overwrite them), a path that passes through a symlink (even one pointing back inside: the file it names is
not the file written), and anything that is not a regular file.

Protected names are compared the way the file systems users run on compare them: case-folded (macOS and
Windows fold case, so ``.GIT/config`` *is* ``.git/config`` there), Unicode-normalised (NFKC: a full-width
``．ｇｉｔ`` or other compatibility look-alike), without invisible format characters (HFS+ ignores them),
without trailing dots and spaces and an NTFS stream suffix (Windows drops or resolves them), and with the
8.3 short name ``GIT~1``. The checks here decide what to write; ``safe_fs`` enforces the same walk again at
the moment of writing, so a link swapped in after this check is refused then.
"""

from __future__ import annotations

import os
import stat
import unicodedata
from pathlib import Path

from indexer.secrets import is_secret_path

from .safe_fs import PATH_MAX, PathRefused, SafeRoot, components

PROTECTED_DIRS = (".git", ".assist")
_SHORT_NAMES = {"git~1": ".git", "assist~1": ".assist"}  # NTFS 8.3 aliases of the two directories


class UnsafePath(ValueError):
    """The model named a path an edit must not touch; the message says why, for the model and the user."""


def comparable_name(part: str) -> str:
    """One path component as a case-insensitive, normalising file system would see it."""
    text = unicodedata.normalize("NFKC", part)
    text = unicodedata.normalize("NFKC", text.casefold())
    text = "".join(char for char in text if unicodedata.category(char) != "Cf")  # zero-width and other format
    text = text.split(":", 1)[0]  # NTFS: '.git::$INDEX_ALLOCATION' is the directory itself
    text = text.rstrip(" .") or text
    return _SHORT_NAMES.get(text, text)


def protected_reason(parts: list[str]) -> str | None:
    """Why an edit may not write these path components, or None when the name itself is fine."""
    for part in parts:
        name = comparable_name(part)
        if name in PROTECTED_DIRS:
            alias = "" if part == name else f" ({part!r} is {name} on a case-insensitive or normalising file system)"
            return f"files inside {name}/ are never edited{alias}"
    if is_secret_path("/".join(parts)) or is_secret_path("/".join(comparable_name(part) for part in parts)):
        return "a secrets file (keys, credentials, .env); never edited by assist"
    return None


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
    try:
        parts = components(text)
    except PathRefused as exc:
        raise UnsafePath(f"{exc.path}: {exc.reason}") from None
    protected = protected_reason(parts)
    if protected:
        raise UnsafePath(f"{raw}: {protected}")
    rel = "/".join(parts)
    tree = SafeRoot(root)
    absolute = tree.root / rel
    size = len(os.fsencode(str(absolute)))
    if size > PATH_MAX:
        raise UnsafePath(f"{rel[:80]}…: the full path would be {size} bytes; the file system allows {PATH_MAX}")
    try:
        found = tree.lstat(rel)
    except PathRefused as exc:
        raise UnsafePath(f"{raw}: {exc.reason}") from None
    except OSError as exc:  # whatever the OS refuses to look up is refused as a path, never a crash of the run
        raise UnsafePath(f"{raw}: cannot be used as a file name here ({exc.strerror or exc})") from None
    if found is not None:
        if stat.S_ISLNK(found.st_mode):
            raise UnsafePath(f"{raw}: {rel} is a symbolic link; edits do not follow links")
        if not stat.S_ISREG(found.st_mode):
            raise UnsafePath(f"{raw}: not a regular file")
    return rel, absolute

