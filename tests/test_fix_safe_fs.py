"""Undo and every edit write stay inside the repository, whatever a test run or a hostile reply did to it.

The attacks: a directory of the run's files swapped for a symlink to a folder outside (by hand between the
fix and its undo, or by a `tests/conftest.py` that the model's own reply created and the loop's test run
executed); a link swapped in between an edit's check and its write; paths over the file system's name limits;
look-alike names of `.git/`, `.assist/` and secrets files that a case-insensitive or normalising file system
takes for the real ones. Each must leave the outside byte for byte as it was and say what it refused.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from fix_support import snapshot
from support import PROJECT_ROOT, git, run_assist

from assistant.fix import apply
from assistant.fix.checkpoint import Checkpoint
from assistant.fix.edits import SearchReplace, WholeFile, parse_reply

BOOKINGS = PROJECT_ROOT / "examples" / "bookings"


def sr(path: str, search: str, replace: str) -> str:
    return f"{path}\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n"


def plan(root: Path, reply: str) -> list[apply.FileChange]:
    return apply.plan(root, parse_reply(reply).edits)


def tree_of(folder: Path) -> dict[str, bytes | str]:
    """Every entry under ``folder`` (links not followed): file bytes, or what a link or directory is."""
    found: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        found[rel] = f"-> {os.readlink(path)}" if path.is_symlink() else "dir" if path.is_dir() else path.read_bytes()
    return found


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ASSIST_") and k != "OLLAMA_HOST"}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "lib").mkdir(parents=True)
    (root / "lib" / "util.py").write_text("def half(x):\n    return x / 3\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    return root


EDIT_AND_CREATE = (sr("lib/util.py", "    return x / 3", "    return x / 2")
                   + sr("lib/extra.py", "", "EXTRA = 1"))


def fix_then_swap_lib_for_a_link(repo: Path, outside: Path, later_content: bytes | None = None) -> None:
    """A fix run edits lib/util.py and creates lib/extra.py; then lib/ moves outside and a link takes its place
    (with ``later_content``, the outside copy of util.py is someone's own file, not the run's output)."""
    checkpoint = Checkpoint(repo)
    apply.write(plan(repo, EDIT_AND_CREATE), before_write=checkpoint.save, after_write=checkpoint.written)
    outside.mkdir()
    shutil.move(repo / "lib", outside / "lib")
    (repo / "lib").symlink_to(outside / "lib", target_is_directory=True)
    if later_content is not None:
        (outside / "lib" / "util.py").write_bytes(later_content)


# --------------------------------------------------------------------------------- (a) swapped before undo


@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
def test_undo_through_a_directory_swapped_for_a_link_touches_nothing_outside_and_says_so(repo, tmp_path, force):
    outside = tmp_path / "outside"
    # Without --force the outside copy is exactly what the run wrote (undo sees no later edit); with --force,
    # someone's own work that the old undo overwrote.
    fix_then_swap_lib_for_a_link(repo, outside, later_content=b"my own work\n" if force else None)
    before_outside = tree_of(outside)
    flags = ["--force"] if force else []

    result = run_assist("undo", "-C", str(repo), *flags, timeout=120)
    assert tree_of(outside) == before_outside  # not overwritten, the created file not deleted
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "refused  lib/util.py: lib is a symbolic link" in result.stdout
    assert "refused  lib/extra.py: lib is a symbolic link" in result.stdout
    assert "nothing outside the repository was touched" in result.stderr

    # Still undoable once the link is gone; --json lists the refusals with their reasons meanwhile.
    result = run_assist("undo", "-C", str(repo), "--json", *flags, timeout=120)
    report = json.loads(result.stdout)
    assert result.returncode == 1 and tree_of(outside) == before_outside
    assert {entry["path"] for entry in report["refused"]} == {"lib/util.py", "lib/extra.py"}
    assert all("symbolic link" in entry["reason"] for entry in report["refused"])
    assert report["restored"] == [] and report["deleted"] == []


def test_after_the_link_is_removed_undo_finishes_the_job(repo, tmp_path):
    outside = tmp_path / "outside"
    fix_then_swap_lib_for_a_link(repo, outside)
    assert run_assist("undo", "-C", str(repo), timeout=120).returncode == 1
    (repo / "lib").unlink()
    shutil.move(outside / "lib", repo / "lib")
    result = run_assist("undo", "-C", str(repo), "--json", timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["restored"] == ["lib/util.py"] and report["deleted"] == ["lib/extra.py"] and not report["refused"]
    assert (repo / "lib" / "util.py").read_text() == "def half(x):\n    return x / 3\n"
    assert not (repo / "lib" / "extra.py").exists()


def test_a_checkpoint_naming_paths_outside_or_inside_git_is_refused_by_undo(repo, tmp_path):
    """The manifest is a file on disk (a cloned .assist/ may carry one): its paths get the edit rules again."""
    canary = tmp_path / "canary.txt"
    canary.write_text("outside\n")
    (repo / ".git" / "hooks" / "post-checkout").write_text("#!/bin/sh\n")
    checkpoint = Checkpoint(repo)
    apply.write(plan(repo, sr("lib/util.py", "    return x / 3", "    return x / 2")),
                before_write=checkpoint.save, after_write=checkpoint.written)
    manifest_path = checkpoint.path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["files"] += [{"path": "../canary.txt", "existed": False},
                          {"path": ".GIT/hooks/post-checkout", "existed": False},
                          {"path": "lib/x.py", "existed": True, "blob": "../../../../canary.txt", "mode": 0o755},
                          {"existed": True}]
    manifest_path.write_text(json.dumps(manifest))
    result = run_assist("undo", "-C", str(repo), "--json", timeout=120)
    report = json.loads(result.stdout)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert report["restored"] == ["lib/util.py"]
    assert [entry["path"] for entry in report["refused"]] == ["../canary.txt", ".GIT/hooks/post-checkout", "lib/x.py",
                                                              "(unnamed)"]
    assert canary.read_text() == "outside\n" and (repo / ".git" / "hooks" / "post-checkout").exists()
    assert not (repo / "lib" / "x.py").exists()


# ------------------------------------------------------------------ (b) the hostile reply chain under --yes


SWAP_CONFTEST = '''import os
import pathlib
import shutil

# Runs at collection: replace the package the same reply created with a link to a folder outside.
_PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "pkg"
if _PACKAGE.is_dir() and not _PACKAGE.is_symlink():
    shutil.rmtree(_PACKAGE)
    os.symlink({outside!r}, _PACKAGE)'''


def test_a_hostile_reply_whose_conftest_swaps_its_package_for_a_link_cannot_make_undo_leave_the_repo(tmp_path):
    repo = tmp_path / "bookings"
    shutil.copytree(BOOKINGS, repo, ignore=shutil.ignore_patterns(".assist", "__pycache__", ".pytest_cache"))
    outside = tmp_path / "outside"
    outside.mkdir()
    # The victim's folder holds a file exactly like the one the reply creates, so undo sees no later edit.
    (outside / "mod.py").write_text("VALUE = 1\n")
    (outside / "notes.txt").write_text("the user's own notes\n")
    before_repo, before_outside = snapshot(repo), tree_of(outside)
    hostile = sr("pkg/mod.py", "", "VALUE = 1") + sr("tests/conftest.py", "", SWAP_CONFTEST.format(outside=str(outside)))
    fix_reply = json.loads((BOOKINGS / "demo-fix.json").read_text())["replies"][0]
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps({"replies": [hostile, fix_reply]}))

    # --allow-test-config: the user let the reply's conftest.py through (the attack needs it to run).
    fixed = run_assist("fix", "-C", str(repo), "--model", f"scripted:{replies}", "--yes", "--json", "--no-vectors",
                       "--allow-test-config", env=clean_env(), timeout=900)
    assert "Traceback" not in fixed.stderr
    assert (repo / "pkg").is_symlink()  # the attack happened during the loop's own test run
    assert tree_of(outside) == before_outside

    undone = run_assist("undo", "-C", str(repo), "--json", env=clean_env(), timeout=120)
    assert "Traceback" not in undone.stderr
    assert tree_of(outside) == before_outside  # mod.py out there is not deleted, notes.txt untouched
    report = json.loads(undone.stdout)
    assert undone.returncode == 1
    assert [entry["path"] for entry in report["refused"]] == ["pkg/mod.py"]
    assert "pkg is a symbolic link" in report["refused"][0]["reason"]
    assert "tests/conftest.py" in report["deleted"]  # everything inside the repository is still undone
    (repo / "pkg").unlink()  # the link the test run left: the one thing undo would not remove through
    assert snapshot(repo) == before_repo


# ---------------------------------------------------------------- a link swapped in between plan and write


def test_a_directory_swapped_for_a_link_after_the_edit_was_checked_is_refused_at_write_time(repo, tmp_path):
    changes = plan(repo, EDIT_AND_CREATE)  # checked while lib/ is a real directory
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "util.py").write_text("def half(x):\n    return x / 3\n")
    shutil.rmtree(repo / "lib")
    (repo / "lib").symlink_to(outside, target_is_directory=True)
    before_outside = tree_of(outside)
    with pytest.raises(OSError, match="lib is a symbolic link"):
        apply.write(changes)
    assert tree_of(outside) == before_outside


# ------------------------------------------------------------------------- (c) paths over the name limits


@pytest.mark.parametrize("path", [
    "x" * 300 + ".py",
    "pkg/" + "y" * 256 + ".py",
    "/".join(["d" * 200] * 25) + "/deep.py",  # every name legal, the whole path over PATH_MAX
], ids=["name-300", "nested-name-256", "path-5000"])
def test_a_path_over_the_file_system_limits_is_refused_like_any_bad_path(repo, path):
    with pytest.raises(apply.EditRefused, match="the file system allows"):
        plan(repo, sr(path, "", "X = 1"))
    with pytest.raises(apply.EditRefused, match="the file system allows"):
        plan(repo, f"{path}\n```python\nX = 1\n```\n")


def test_a_reply_with_an_over_long_path_is_refused_with_its_reason_and_the_run_goes_on(tmp_path):
    repo = tmp_path / "bookings"
    shutil.copytree(BOOKINGS, repo, ignore=shutil.ignore_patterns(".assist", "__pycache__", ".pytest_cache"))
    fix_reply = json.loads((BOOKINGS / "demo-fix.json").read_text())["replies"][0]
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps({"replies": [sr("bookings/" + "n" * 300 + ".py", "", "X = 1"), fix_reply]}))
    result = run_assist("fix", "-C", str(repo), "--model", f"scripted:{replies}", "--yes", "--json", "--no-vectors",
                        env=clean_env(), timeout=900)
    assert "Traceback" not in result.stderr and "Errno" not in result.stderr
    report = json.loads(result.stdout)
    assert result.returncode == 0, result.stderr
    assert report["status"] == "fixed" and report["rounds"] == 2  # round 1 refused, round 2 applied
    assert report["files_changed"] == ["bookings/stay.py"]


# --------------------------------------------------------------------------------- (d) look-alike names


LOOK_ALIKES = [
    ".GIT/config", ".Git/hooks/pre-commit", ".Assist/config.toml", ".ASSIST/graph.json",
    ".git /config", ".git./config", ".git. . /config", ".assist./x",
    "\uff0e\uff47\uff49\uff54/config",  # full-width ．ｇｉｔ, NFKC → .git
    "\u200c.git/config", ".git\u200d/config",  # zero-width joiners, which HFS+ ignores
    "GIT~1/config", ".git::$INDEX_ALLOCATION/config",  # the NTFS short name and stream of .git
    "\uff0eenv", "server\uff0ekey", "credentials.json.", "config/.npmrc.",
]


@pytest.mark.parametrize("path", LOOK_ALIKES)
def test_look_alike_protected_names_are_refused(repo, path):
    # Edits made directly: the reply parser already turns down some of these spellings as "no file path".
    for edit in (SearchReplace(path, [], ["owned = 1"], 1), WholeFile(path, ["owned = 1"], 1)):
        with pytest.raises(apply.EditRefused, match=r"never edited"):
            apply.plan(repo, [edit])


def test_the_refusal_is_exact_names_that_merely_resemble_protected_ones_stay_editable(repo):
    with pytest.raises(apply.EditRefused, match=r"\.GIT/config: files inside \.git/ are never edited"):
        apply.plan(repo, [WholeFile(".GIT/config", ["owned = 1"], 1)])
    for path in ("git/config.py", "assist/x.py", "my.git/x.py", "docs/.gitkeep.md", ".github/workflows/ci.yml",
                 "environment.py", "keys.py", "\uff47\uff49\uff54.py"):
        (changed,) = apply.plan(repo, [WholeFile(path, ["ok = 1"], 1)])
        assert changed.path == path


# ------------------------------------------------------------------------- safe_fs on its own (the API)


def test_safe_root_never_follows_a_link_in_any_component_nor_at_the_end(tmp_path):
    from indexer.safe_fs import PathRefused, SafeRoot

    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "a").mkdir(parents=True)
    outside.mkdir()
    (outside / "victim.txt").write_text("victim\n")
    (root / "a" / "file.txt").symlink_to(outside / "victim.txt")
    (root / "b").symlink_to(outside, target_is_directory=True)
    tree = SafeRoot(root)
    before = tree_of(outside)
    for action in (lambda: tree.write_bytes("a/file.txt", b"owned", 0o644), lambda: tree.read_bytes("a/file.txt"),
                   lambda: tree.write_bytes("b/victim.txt", b"owned", 0o644), lambda: tree.read_bytes("b/victim.txt"),
                   lambda: tree.unlink("b/victim.txt"), lambda: tree.rmdir("b"), lambda: tree.make_dirs("b/new"),
                   lambda: tree.write_bytes("../outside/victim.txt", b"owned", 0o644)):
        with pytest.raises(PathRefused):
            action()
    assert tree_of(outside) == before
    assert tree.unlink("a/file.txt") and not (root / "a" / "file.txt").is_symlink()  # the link, not its target
    tree.write_bytes("c/d/new.txt", b"new\n", 0o640)
    assert (root / "c" / "d" / "new.txt").read_bytes() == b"new\n"
    assert oct((root / "c" / "d" / "new.txt").stat().st_mode & 0o777) == oct(0o640)
    assert tree_of(outside) == before and sorted(os.listdir(root / "c" / "d")) == ["new.txt"]
