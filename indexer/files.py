"""Which files of a repository get indexed, and why the others do not.

``discover`` lists files and decides from the path and ``lstat`` alone (no file is opened);
``classify_content`` decides from the bytes once a file is read. Every file left out is reported as a
``SkippedFile`` with one of ``SKIP_REASONS``: nothing is dropped silently except what git itself ignores
(``.gitignore``) and our own state (``.git/``, ``.assist/``).

Inside a git work tree the file list comes from git, so every ignore rule git knows (nested
``.gitignore``, ``.git/info/exclude``, the global excludes file) is honoured exactly. Elsewhere the tree
is walked and ``.gitignore`` files are applied with ``pathspec``. A whole skipped directory (vendored,
ignored, a submodule) is reported once, by its path, with detail "directory" where it is not obvious.

Submodules: with ``include_submodules`` a checked-out submodule (or nested repository) is listed like
the rest of the tree, through its own git in git mode; one that is not checked out is still reported
as skipped.
"""

from __future__ import annotations

import os
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pathspec

from indexer.config import IndexConfig
from indexer.model import SkippedFile
from indexer.secrets import is_secret_path, mask_secrets

SKIP_REASONS = (
    "binary", "too_large", "minified", "undecodable", "symlink", "not_regular_file",
    "vendored", "secret", "ignored", "submodule", "parse_timeout", "parse_error", "unreadable",
)  # fmt: skip

ASSIST_IGNORE_FILE = ".assistignore"
# Our own state and git's: never listed, never reported.
_PRIVATE_DIRS = frozenset({".git", ".assist"})
# Dependencies, environments and build output: code the user did not write, often in bulk.
VENDORED_DIR_NAMES = frozenset({
    "node_modules", "vendor", "third_party", ".venv", "venv", "site-packages", "__pycache__",
    "build", "dist", "target", ".tox", ".mypy_cache", ".pytest_cache",
})  # fmt: skip
_VIRTUALENV_MARKER = "pyvenv.cfg"

_BINARY_SNIFF_BYTES = 8192
_MINIFIED_LINE_CHARS = 1000
_MINIFIED_MEAN_LINE_CHARS = 300
_GENERATED_HEADER_LINES = 10
_COMMENT_STARTS = ("//", "#", "/*", "*", "--", ";", "<!--", "%")


@dataclass
class Candidate:
    """A file worth reading."""

    path: str  # repo-relative posix path
    size: int
    mtime_ns: int
    inode: int


@dataclass
class Discovery:
    root: Path
    candidates: list[Candidate]
    skipped: list[SkippedFile]  # decided from the path / lstat alone
    in_git: bool


def discover(root: Path, config: IndexConfig) -> Discovery:
    """Every file under ``root`` either as a candidate to read or as a skipped file with its reason."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise NotADirectoryError(f"not a directory: {root}")
    sorter = _Sorter(root, config)
    listing = _git_listing(root)
    if listing is not None:
        sorter.take_git_listing(listing, prefix="")
    else:
        sorter.walk(str(root), prefix="", gitignores=[])
    return Discovery(
        root=root,
        candidates=sorted(sorter.candidates, key=lambda candidate: candidate.path),
        skipped=sorted(sorter.skipped, key=lambda skipped: skipped.path),
        in_git=listing is not None,
    )


def classify_content(path: str, data: bytes, config: IndexConfig) -> tuple[str | None, SkippedFile | None]:
    """The file's text with inline secrets masked, or why its content is not worth indexing."""
    if len(data) > config.max_file_bytes:  # the file grew after discovery
        return None, SkippedFile(path, "too_large", f"{len(data)} bytes > limit {config.max_file_bytes}")
    if b"\0" in data[:_BINARY_SNIFF_BYTES]:
        return None, SkippedFile(path, "binary", "NUL byte in the first 8 KiB")
    try:
        # A UTF-8 byte order mark is dropped: parsers and tokenisers would see it as a stray character.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return None, SkippedFile(path, "undecodable", f"not UTF-8 (byte {error.start})")
    rule = _minified_or_generated(path, text)
    if rule is not None:
        return None, SkippedFile(path, "minified", rule)
    return mask_secrets(text), None


def _minified_or_generated(path: str, text: str) -> str | None:
    name = path.rsplit("/", 1)[-1].lower()
    if name.endswith((".min.js", ".min.css")):
        return "minified file name"
    line_count = text.count("\n") + 1
    if len(text) / line_count > _MINIFIED_MEAN_LINE_CHARS:
        longest = max(len(line) for line in text.split("\n"))
        if longest > _MINIFIED_LINE_CHARS:
            return f"long lines: longest {longest} chars, mean {len(text) // line_count}"
    for line in text.split("\n", _GENERATED_HEADER_LINES)[:_GENERATED_HEADER_LINES]:
        stripped = line.strip()
        if stripped.startswith(_COMMENT_STARTS):
            lowered = stripped.lower()
            if "@generated" in lowered or ("generated" in lowered and "do not edit" in lowered):
                return f"generated-file header: {stripped[:80]}"
    return None


def _git_listing(directory: Path) -> list[str] | None:
    """Paths under ``directory`` (relative to it) that git tracks or would track, or None outside git.

    Untracked nested repositories come back with a trailing slash. None also when git is missing or
    refuses the repository (not a work tree, "dubious ownership"), and when ``directory`` is itself
    ignored by an enclosing repository: then git lists nothing, and walking it is the useful answer.
    """
    output = _run_git(directory, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    if output is None:
        return None
    if not output and _run_git(directory, "check-ignore", "-q", ".") is not None:
        return None
    # A path in conflict is listed once per stage.
    return list(dict.fromkeys(os.fsdecode(raw) for raw in output.split(b"\0") if raw))


def _run_git(directory: Path, *args: str) -> bytes | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(directory), *args],
            capture_output=True,
            check=False,
            env=_git_env(),
        )
    except OSError:
        return None
    return result.stdout if result.returncode == 0 else None


def _git_env() -> dict[str, str]:
    # Variables a git hook or wrapper may set would point git at another repository than `-C` names.
    env = {key: value for key, value in os.environ.items() if key not in _GIT_REPOSITORY_VARIABLES}
    env["GIT_OPTIONAL_LOCKS"] = "0"  # never take the index lock from under the user's own git
    return env


_GIT_REPOSITORY_VARIABLES = frozenset(
    {"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_PREFIX", "GIT_COMMON_DIR"}
)


class _Sorter:
    """Sorts paths into candidates and skipped files; shared by the git and the walking modes so that
    both decide the same way."""

    def __init__(self, root: Path, config: IndexConfig) -> None:
        self.root = root
        self.config = config
        self.ignore = _assist_ignore_spec(root, config)
        self.candidates: list[Candidate] = []
        self.skipped: list[SkippedFile] = []
        # directory path -> whether files under it are listed (ancestors included); git mode only
        self._open_dirs: dict[str, bool] = {"": True}

    # -- git mode -------------------------------------------------------------------------------------

    def take_git_listing(self, listing: list[str], prefix: str) -> None:
        root_slash = str(self.root).rstrip("/") + "/"
        for listed in listing:
            rel = prefix + listed.rstrip("/")
            parent, _, _ = rel.rpartition("/")
            if not self._dir_is_open(parent):
                continue
            full = root_slash + rel
            try:
                info: os.stat_result | OSError = os.lstat(full)
            except FileNotFoundError:
                continue  # tracked but deleted from the work tree: nothing to index
            except OSError as error:
                info = error
            if isinstance(info, os.stat_result) and stat.S_ISDIR(info.st_mode):
                # Git lists a directory only for a submodule (gitlink) or an untracked nested repository.
                self._nested_repository(rel, full, untracked=listed.endswith("/"))
            else:
                self.consider_file(rel, full, info)

    def _dir_is_open(self, rel: str) -> bool:
        known = self._open_dirs.get(rel)
        if known is not None:
            return known
        parent, _, _ = rel.rpartition("/")
        is_open = self._dir_is_open(parent) and self.consider_dir(rel, os.path.join(self.root, rel), None)
        self._open_dirs[rel] = is_open
        return is_open

    def _nested_repository(self, rel: str, full: str, untracked: bool) -> None:
        if not self.consider_dir(rel, full, None):
            return
        checked_out = os.path.lexists(os.path.join(full, ".git"))
        if not (self.config.include_submodules and checked_out):
            detail = "nested git repository" if untracked else "git submodule"
            self.skipped.append(SkippedFile(rel, "submodule", detail if checked_out else f"{detail}, not checked out"))
            return
        listing = _git_listing(Path(full))
        if listing is None:
            self.skipped.append(SkippedFile(rel, "submodule", "git could not list it"))
            return
        self._open_dirs[rel] = True
        self.take_git_listing(listing, prefix=rel + "/")

    # -- walking mode ---------------------------------------------------------------------------------

    def walk(self, directory: str, prefix: str, gitignores: list[tuple[str, pathspec.GitIgnoreSpec]]) -> None:
        entries = self._scan(directory, prefix.rstrip("/") or ".")
        if entries is not None:
            self._walk_entries(directory, entries, prefix, gitignores)

    def _walk_entries(
        self,
        directory: str,
        entries: list[os.DirEntry[str]],
        prefix: str,
        gitignores: list[tuple[str, pathspec.GitIgnoreSpec]],
    ) -> None:
        gitignores = gitignores + _gitignore_here(directory, entries, prefix)
        for entry in entries:
            if entry.name in _PRIVATE_DIRS:
                continue
            rel = prefix + entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False  # left to lstat in consider_file
            if _git_ignores(gitignores, rel, is_dir):
                continue
            if not is_dir:
                self.consider_file(rel, entry.path)
                continue
            children = self._scan(entry.path, rel)
            if children is None:
                continue
            names = {child.name for child in children}
            if not self.consider_dir(rel, entry.path, names):
                continue
            if ".git" not in names:
                self._walk_entries(entry.path, children, rel + "/", gitignores)
            elif self.config.include_submodules:
                self._walk_entries(entry.path, children, rel + "/", [])  # a nested repository has its own rules
            else:
                self.skipped.append(SkippedFile(rel, "submodule", "nested git repository"))

    def _scan(self, directory: str, rel: str) -> list[os.DirEntry[str]] | None:
        try:
            with os.scandir(directory) as scan:
                return list(scan)
        except OSError as error:
            self.skipped.append(SkippedFile(rel, "unreadable", f"directory: {error.strerror}"))
            return None

    # -- decisions shared by both modes ---------------------------------------------------------------

    def consider_dir(self, rel: str, full: str, names: set[str] | None) -> bool:
        """Whether to look inside a directory; records why not. ``names``: its entries, if already read."""
        name = rel.rpartition("/")[2]
        if name in _PRIVATE_DIRS:
            return False
        if self.ignore is not None and self.ignore.match_file(rel + "/"):
            self.skipped.append(SkippedFile(rel, "ignored", f"directory, by {ASSIST_IGNORE_FILE}"))
            return False
        if name in VENDORED_DIR_NAMES or name.endswith(".egg-info"):
            self.skipped.append(SkippedFile(rel, "vendored", "directory"))
            return False
        has_marker = _VIRTUALENV_MARKER in names if names is not None else os.path.lexists(
            os.path.join(full, _VIRTUALENV_MARKER)
        )
        if has_marker:
            self.skipped.append(SkippedFile(rel, "vendored", "directory: virtualenv"))
            return False
        return True

    def consider_file(self, rel: str, full: str, info: os.stat_result | OSError | None = None) -> None:
        """``info``: the file's lstat result (or the error it raised), if already taken."""
        if not _is_utf8(rel):
            shown = os.fsencode(rel).decode("utf-8", "backslashreplace")
            self.skipped.append(SkippedFile(shown, "undecodable", "file name is not UTF-8"))
            return
        if self.ignore is not None and self.ignore.match_file(rel):
            self.skipped.append(SkippedFile(rel, "ignored", f"by {ASSIST_IGNORE_FILE}"))
            return
        if is_secret_path(rel):
            self.skipped.append(SkippedFile(rel, "secret", "file name"))
            return
        if info is None:
            try:
                info = os.lstat(full)
            except FileNotFoundError:
                return  # vanished while we looked
            except OSError as error:
                info = error
        if isinstance(info, OSError):
            self.skipped.append(SkippedFile(rel, "unreadable", info.strerror or str(info)))
            return
        skipped = _skip_by_lstat(rel, full, info, self.config)
        if skipped is not None:
            self.skipped.append(skipped)
        else:
            self.candidates.append(Candidate(rel, info.st_size, info.st_mtime_ns, info.st_ino))


def _skip_by_lstat(rel: str, full: str, info: os.stat_result, config: IndexConfig) -> SkippedFile | None:
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        try:
            target = os.readlink(full)
        except OSError:
            target = "?"
        return SkippedFile(rel, "symlink", f"-> {target}")
    if not stat.S_ISREG(mode):
        return SkippedFile(rel, "not_regular_file", _file_type(mode))
    if info.st_size > config.max_file_bytes:
        return SkippedFile(rel, "too_large", f"{info.st_size} bytes > limit {config.max_file_bytes}")
    # Readable by everyone is the common case and needs no access() call per file.
    if not mode & stat.S_IROTH and not os.access(full, os.R_OK):
        return SkippedFile(rel, "unreadable", "permission denied")
    return None


def _file_type(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "fifo"), (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"), (stat.S_ISDIR, "directory"),
    ):  # fmt: skip
        if test(mode):
            return name
    return "special file"


def _is_utf8(path: str) -> bool:
    if path.isascii():
        return True
    try:
        path.encode("utf-8")  # names git or the OS gave us in another encoding carry surrogate escapes
    except UnicodeEncodeError:
        return False
    return True


def _assist_ignore_spec(root: Path, config: IndexConfig) -> pathspec.GitIgnoreSpec | None:
    lines = list(config.extra_ignore)
    ignore_file = root / ASSIST_IGNORE_FILE
    # A symlinked ignore file is not read: it could point anywhere, and we never follow symlinks.
    if ignore_file.is_file() and not ignore_file.is_symlink():
        try:
            lines = ignore_file.read_text(encoding="utf-8", errors="replace").splitlines() + lines
        except OSError:
            pass
    return pathspec.GitIgnoreSpec.from_lines(lines) if lines else None


def _gitignore_here(
    directory: str, entries: list[os.DirEntry[str]], prefix: str
) -> list[tuple[str, pathspec.GitIgnoreSpec]]:
    if not any(entry.name == ".gitignore" and entry.is_file(follow_symlinks=False) for entry in entries):
        return []
    try:
        lines = Path(directory, ".gitignore").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return [(prefix, pathspec.GitIgnoreSpec.from_lines(lines))]


def _git_ignores(gitignores: list[tuple[str, pathspec.GitIgnoreSpec]], rel: str, is_dir: bool) -> bool:
    """Whether git would ignore ``rel``: each .gitignore matches paths relative to its own directory,
    and the deepest file that has an opinion (a pattern or a ``!`` negation) decides."""
    ignored = False
    for base, spec in gitignores:
        local = rel[len(base) :] + ("/" if is_dir else "")
        result = spec.check_file(local)
        if result.include is not None:
            ignored = result.include
    return ignored
