"""Files under one root directory, reached without ever following a symbolic link.

Every operation walks from an open descriptor of the root, one path component at a time, each directory
opened with ``O_NOFOLLOW | O_DIRECTORY`` relative to the one before (``openat``). A symlink anywhere on the
way — put there before the call or swapped in between a check and a write — is refused, not followed, and
the directory finally reached must still be inside the root by its real path. Writes go to a temp file in
that directory's descriptor and are renamed over the target with ``os.replace(src_dir_fd=, dst_dir_fd=)``,
then read back; deletes and ``mkdir``/``rmdir`` use the descriptor too.

    tree = SafeRoot(repo)
    tree.write_bytes("pkg/mod.py", data, 0o644)   # creates pkg/ if missing
    tree.read_bytes("pkg/mod.py"); tree.lstat("pkg/mod.py"); tree.unlink("pkg/mod.py"); tree.rmdir("pkg")

Paths are '/'-separated and relative to the root. A refusal raises ``PathRefused`` (an ``OSError``, so
code that already handles I/O errors handles it too) naming the path and the reason.

Shared by the indexer and every front end (the indexer imports nothing from ``assistant/``, so it lives here):

- ``atomic_write(path, data, mode=)``: every file assist writes — its own state under ``.assist/`` and the
  user's files an edit changes — goes through the walk above: temp file beside the target, fsync, mode,
  ``os.replace``, fsync of the directory, read back; the temp file is removed on any error.
- ``resolve_inside(root, relative, for_write=)``: the one set of refusals for a path someone else named (a
  model, an MCP client, an editor): absolute, ``~``, ``..``, NUL, over the name limits, a symlink on the way,
  outside the root; for a write also anything inside ``.git/`` or ``.assist/`` (compared the way
  case-folding, normalising file systems compare names) and secrets files.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
import sys
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from .secrets import is_secret_path

NAME_MAX = 255  # bytes in one path component: Linux, macOS and Windows alike
PATH_MAX = 4096  # bytes in a whole path on Linux (macOS allows 1024; the OS then refuses with ENAMETOOLONG)
TEMP_MARK = ".assist-tmp-"
DEFAULT_MODE = 0o644  # a new file's mode, less the umask
PROTECTED_DIRS = (".git", ".assist")  # never written by a path someone else named
_SHORT_NAMES = {"git~1": ".git", "assist~1": ".assist"}  # NTFS 8.3 aliases of the two directories

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
# getattr: importable everywhere; where the OS lacks these flags or dir_fd (Windows), operations raise instead.
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _O_NOFOLLOW | _O_CLOEXEC


class PathRefused(OSError):
    """A path that cannot be used without leaving the root or following a link; ``reason`` says why."""

    def __init__(self, path: str, reason: str):
        super().__init__(errno.EPERM, reason)
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def components(path: str) -> list[str]:
    """The components of a path relative to the root; raises PathRefused for one that could leave it
    (absolute, ``..``), name nothing, or exceed the file system's name limits."""
    text = str(path)
    if "\x00" in text:
        raise PathRefused(repr(text), "a file name cannot contain a NUL byte")
    if text.startswith("/"):
        raise PathRefused(text, "an absolute path; paths are relative to the repository")
    parts = [part for part in PurePosixPath(text).parts if part not in ("", ".")]
    if not parts:
        raise PathRefused(text or "''", "names the repository itself, not a file")
    if ".." in parts:
        raise PathRefused(text, "'..' is refused; paths stay inside the repository")
    for part in parts:
        size = len(os.fsencode(part))
        if size > NAME_MAX:
            raise PathRefused(_short(text), f"a name of {size} bytes; the file system allows {NAME_MAX}")
    size = len(os.fsencode("/".join(parts)))
    if size > PATH_MAX:
        raise PathRefused(_short(text), f"a path of {size} bytes; the file system allows {PATH_MAX}")
    return parts


def temp_prefix(name: str) -> str:
    """The prefix of the temp files written beside ``name`` (short enough to stay under NAME_MAX)."""
    short = os.fsencode(name)[:NAME_MAX - 64].decode(errors="ignore") if len(os.fsencode(name)) > NAME_MAX - 64 else name
    return f".{short}{TEMP_MARK}"


class SafeRoot:
    def __init__(self, root: Path | str):
        self.root = Path(os.path.realpath(root))

    # ------------------------------------------------------------------------------------ queries

    def lstat(self, path: str) -> os.stat_result | None:
        """The path's own status (a link is not followed), or None when it does not exist."""
        parts = components(path)
        try:
            with self._directory(parts[:-1], path, create=False) as fd:
                return _lstat_at(fd, parts[-1])
        except FileNotFoundError:
            return None

    def read_bytes(self, path: str) -> bytes:
        """The content of a regular file; raises PathRefused for a link or anything else."""
        parts = components(path)
        with self._directory(parts[:-1], path, create=False) as fd:
            return _read_at(fd, parts[-1], path)

    def listdir(self, path: str = ".") -> list[str]:
        parts = [] if path in ("", ".") else components(path)
        with self._directory(parts, path, create=False) as fd:
            return os.listdir(fd)

    # ------------------------------------------------------------------------------------ changes

    def write_bytes(self, path: str, data: bytes, mode: int, *, make_parents: bool = True) -> None:
        """Replace a regular file (or create it, and its missing parent directories) so that a reader sees
        the old or the new content, never half; then read it back. A link in its place is refused."""
        parts = components(path)
        with self._directory(parts[:-1], path, create=make_parents) as fd:
            name = parts[-1]
            current = _lstat_at(fd, name)
            if current is not None and not stat.S_ISREG(current.st_mode):
                raise PathRefused(path, f"it {_kind(current)}; only regular files are written")
            temp = temp_prefix(name) + secrets.token_hex(4)
            handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC, 0o600,
                             dir_fd=fd)
            try:
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(handle, view):]
                    os.fchmod(handle, mode)
                    os.fsync(handle)
                finally:
                    os.close(handle)
                os.replace(temp, name, src_dir_fd=fd, dst_dir_fd=fd)
            except BaseException:
                _unlink_quietly(fd, temp)
                raise
            _fsync(fd)
            if _read_at(fd, name, path) != data:
                raise OSError(f"{path}: reading the file back after writing it gave different bytes")

    def unlink(self, path: str, *, missing_ok: bool = False) -> bool:
        """Delete a file or a link (never what a link points to); False when it was already gone."""
        parts = components(path)
        try:
            with self._directory(parts[:-1], path, create=False) as fd:
                current = _lstat_at(fd, parts[-1])
                if current is not None and stat.S_ISDIR(current.st_mode):
                    raise PathRefused(path, "it is a directory, not a file")
                os.unlink(parts[-1], dir_fd=fd)
                return True
        except FileNotFoundError:
            if missing_ok:
                return False
            raise

    def rmdir(self, path: str) -> None:
        """Remove an empty directory (OSError when it is not empty; PathRefused for a link)."""
        parts = components(path)
        with self._directory(parts[:-1], path, create=False) as fd:
            current = _lstat_at(fd, parts[-1])
            if current is None:
                raise FileNotFoundError(errno.ENOENT, "no such directory", path)
            if not stat.S_ISDIR(current.st_mode):
                raise PathRefused(path, f"it {_kind(current)}, not a directory")
            os.rmdir(parts[-1], dir_fd=fd)

    def make_dirs(self, path: str) -> None:
        """Create a directory and its missing parents, none of them through a link."""
        with self._directory(components(path), path, create=True):
            pass

    # ---------------------------------------------------------------------------------- the walk

    @contextmanager
    def _directory(self, parts: list[str], path: str, *, create: bool) -> Iterator[int]:
        """A descriptor of the directory ``parts`` under the root, reached without following a link."""
        fd = os.open(self.root, _DIRECTORY_FLAGS & ~_O_NOFOLLOW)  # the root may itself sit behind a link
        try:
            root_path = _descriptor_path(fd)  # as the OS spells it (case, /private on macOS), for the check below
            for index, part in enumerate(parts):
                parent, fd = fd, -1
                try:
                    fd = _step(parent, part, "/".join(parts[: index + 1]), path, create)
                finally:
                    os.close(parent)
            _check_inside(fd, root_path, path)
            yield fd
        finally:
            if fd >= 0:
                os.close(fd)


def _step(fd: int, part: str, shown: str, path: str, create: bool) -> int:
    """Open the directory ``part`` inside ``fd``, creating it if asked."""
    for _ in range(2):
        try:
            return os.open(part, _DIRECTORY_FLAGS, dir_fd=fd)
        except FileNotFoundError:
            if not create:
                raise FileNotFoundError(errno.ENOENT, "no such directory", shown) from None
            try:
                os.mkdir(part, 0o777, dir_fd=fd)
            except FileExistsError:
                pass  # made by someone else a moment ago: open what is there now, under the same rules
        except OSError:
            found = _lstat_at(fd, part)
            if found is not None and not stat.S_ISDIR(found.st_mode):
                why = "; links are never followed" if stat.S_ISLNK(found.st_mode) else ", not a directory"
                raise PathRefused(path, f"{shown} {_kind(found)}{why}") from None
            raise
    return os.open(part, _DIRECTORY_FLAGS, dir_fd=fd)


def _check_inside(fd: int, root: str | None, path: str) -> None:
    """No link was followed on the way, so only a directory moved out from under us while we held it could
    be elsewhere: ask the OS where the descriptor really is, where it can say."""
    where = _descriptor_path(fd)
    if where is None or root is None:
        return
    if where != root and not where.startswith(root.rstrip("/") + "/"):
        raise PathRefused(path, f"outside the repository (it is in {where})")


def _descriptor_path(fd: int) -> str | None:
    if sys.platform.startswith("linux"):
        try:
            return os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return None
    if sys.platform == "darwin":
        import fcntl

        try:
            return os.fsdecode(fcntl.fcntl(fd, fcntl.F_GETPATH, bytes(1024)).rstrip(b"\x00"))
        except (OSError, AttributeError):
            return None
    return None


def _lstat_at(fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _read_at(fd: int, name: str, path: str) -> bytes:
    try:
        handle = os.open(name, os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC | getattr(os, "O_NONBLOCK", 0), dir_fd=fd)
    except OSError as exc:
        found = _lstat_at(fd, name) if exc.errno != errno.ENOENT else None
        if found is not None and not stat.S_ISREG(found.st_mode):
            raise PathRefused(path, f"it {_kind(found)}; only regular files are read") from None
        raise
    with os.fdopen(handle, "rb") as opened:
        if not stat.S_ISREG(os.fstat(opened.fileno()).st_mode):
            raise PathRefused(path, "it is not a regular file; only regular files are read")
        return opened.read()


def _kind(found: os.stat_result) -> str:
    if stat.S_ISLNK(found.st_mode):
        return "is a symbolic link"
    if stat.S_ISDIR(found.st_mode):
        return "is a directory"
    if stat.S_ISREG(found.st_mode):
        return "is a file"
    return "is not a regular file"


def _unlink_quietly(fd: int, name: str) -> None:
    try:
        os.unlink(name, dir_fd=fd)
    except OSError:
        pass


def _fsync(fd: int) -> None:
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a directory; the rename itself is still atomic


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} characters)"


def _read_umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


_UMASK = _read_umask()  # read once: os.umask is process-wide, so reading it later would race other threads


# ------------------------------------------------------------------------------------ atomic writes

def atomic_write(path: Path | str, data: bytes, *, mode: int | None = None, root: Path | str | None = None) -> None:
    """Replace ``path`` with ``data`` so a reader sees the old or the new content, never half, and no temp
    file is left whatever fails: temp file beside it, write, mode, fsync, ``os.replace``, fsync of the
    directory, read back. ``mode`` None: ``DEFAULT_MODE`` less the umask.

    With ``root``: ``path`` must lie inside it, and no component below it may be a link (missing
    directories are created). Without: the parent directory (created if missing) is taken as it is and only
    the file itself is never followed — for assist's own state files."""
    path = Path(path)
    if root is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tree, rel = SafeRoot(path.parent), path.name
    else:
        tree = SafeRoot(root)
        try:
            rel = Path(os.path.abspath(path)).relative_to(tree.root).as_posix()
        except ValueError:
            raise PathRefused(str(path), f"outside the repository {tree.root}") from None
    tree.write_bytes(rel, data, mode if mode is not None else DEFAULT_MODE & ~_UMASK)


def sync_directory(path: Path | str) -> None:
    """Flush every regular file directly in ``path``, then ``path`` itself: for files a library wrote (e.g.
    bm25s's arrays) that must be on disk before a pointer written with ``atomic_write`` names them."""
    directory = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        for entry in os.scandir(directory):
            if entry.is_file(follow_symlinks=False):
                descriptor = os.open(entry.name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=directory)
                try:
                    _fsync(descriptor)
                finally:
                    os.close(descriptor)
        _fsync(directory)
    finally:
        os.close(directory)


# ------------------------------------------------------------------------------------ named paths

class Inside(NamedTuple):
    relative: str  # '/'-separated, normalized
    path: Path  # the root (its real path) joined with ``relative``


def comparable_name(part: str) -> str:
    """One path component as a case-insensitive, normalising file system would see it: case-folded (macOS
    and Windows fold case, so ``.GIT/config`` *is* ``.git/config`` there), NFKC-normalised (a full-width
    ``．ｇｉｔ``), without invisible format characters (HFS+ ignores them), trailing dots and spaces or an
    NTFS stream suffix (Windows drops or resolves them), and the 8.3 short name ``GIT~1`` as ``.git``."""
    text = unicodedata.normalize("NFKC", part)
    text = unicodedata.normalize("NFKC", text.casefold())
    text = "".join(char for char in text if unicodedata.category(char) != "Cf")  # zero-width and other format
    text = text.split(":", 1)[0]  # NTFS: '.git::$INDEX_ALLOCATION' is the directory itself
    text = text.rstrip(" .") or text
    return _SHORT_NAMES.get(text, text)


def protected_reason(parts: list[str]) -> str | None:
    """Why these path components may not be written, or None when the name itself is fine."""
    for part in parts:
        name = comparable_name(part)
        if name in PROTECTED_DIRS:
            alias = "" if part == name else f" ({part!r} is {name} on a case-insensitive or normalising file system)"
            return f"files inside {name}/ are never edited{alias}"
    if is_secret_path("/".join(parts)) or is_secret_path("/".join(comparable_name(part) for part in parts)):
        return "a secrets file (keys, credentials, .env); never edited by assist"
    return None


def resolve_inside(root: Path | str, relative: str, *, for_write: bool = False) -> Inside:
    """Where a path someone else named (a model, a protocol client) lands under ``root``, or ``PathRefused``
    saying why it may not be used: empty, NUL, absolute (``/``, ``~``, a drive letter), ``..``, over the file
    system's limits, a symbolic link on the way or at the end, outside the root. ``for_write`` also refuses
    ``.git/``, ``.assist/``, secrets files and anything that exists but is not a regular file. Nothing is
    opened; whoever reads or writes afterwards goes through ``SafeRoot``, which walks the same way again."""
    text = str(relative).strip()
    if not text:
        raise PathRefused("''", "names no file")
    if "\x00" in text:
        raise PathRefused(repr(text), "a file name cannot contain a NUL byte")
    text = text.replace("\\", "/")
    if text.startswith(("/", "~")) or (len(text) > 1 and text[1] == ":"):
        raise PathRefused(str(relative), "absolute paths are refused; name files relative to the repository root")
    parts = components(text)
    if for_write:
        protected = protected_reason(parts)
        if protected:
            raise PathRefused(str(relative), protected)
    rel = "/".join(parts)
    tree = SafeRoot(root)
    absolute = tree.root / rel
    size = len(os.fsencode(str(absolute)))
    if size > PATH_MAX:
        raise PathRefused(_short(rel), f"the full path would be {size} bytes; the file system allows {PATH_MAX}")
    try:
        found = tree.lstat(rel)
    except PathRefused:
        raise
    except OSError as exc:  # whatever the OS refuses to look up is refused as a path, never a crash
        raise PathRefused(str(relative), f"cannot be used as a file name here ({exc.strerror or exc})") from None
    if found is not None:
        if stat.S_ISLNK(found.st_mode):
            raise PathRefused(str(relative), f"{rel} is a symbolic link; links are never followed")
        if for_write and not stat.S_ISREG(found.st_mode):
            raise PathRefused(str(relative), "not a regular file")
    return Inside(rel, absolute)
