"""One safe-filesystem module for the indexer and every front end (``indexer/safe_fs.py``).

``atomic_write``: whatever fails, the old content stays and no temp file is left beside the target — checked
on the function and on each writer that uses it (the index's identity stamp, the code graph, the lexical
index, an edit). The failures are real ones: a directory where the file should go, and a write past the
file-size limit (``RLIMIT_FSIZE``, the same ``EFBIG`` a full quota gives) in a child process. The fsyncs cannot
be observed; what a crash would leave behind can.

``resolve_inside``: one set of refusals for a path someone else named, for reading (the MCP tools, ACP's
attached files) and for writing (an edit), and both front-end guards refuse exactly what it refuses.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from indexer.safe_fs import TEMP_MARK, PathRefused, atomic_write, resolve_inside


def leftovers(directory: Path) -> list[str]:
    """Anything in ``directory`` that looks like a temp file of a writer (ours or the old ones)."""
    return sorted(p.name for p in directory.iterdir() if TEMP_MARK in p.name or p.name.endswith(".tmp"))


# ------------------------------------------------------------------------------------ atomic_write

def test_a_new_file_gets_the_data_and_the_default_mode_and_no_temp_is_left(tmp_path):
    target = tmp_path / "deep" / "er" / "state.json"
    atomic_write(target, b"{}\n")
    assert target.read_bytes() == b"{}\n"
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644 & ~umask
    atomic_write(target, b"[]\n", mode=0o600)
    assert target.read_bytes() == b"[]\n" and stat.S_IMODE(target.stat().st_mode) == 0o600
    assert leftovers(target.parent) == []


def test_a_directory_where_the_file_should_go_is_refused_and_nothing_is_left(tmp_path):
    (tmp_path / "graph.json.gz").mkdir()
    (tmp_path / "graph.json.gz" / "inside").write_text("kept\n")
    with pytest.raises(OSError):
        atomic_write(tmp_path / "graph.json.gz", b"new")
    assert (tmp_path / "graph.json.gz" / "inside").read_text() == "kept\n"
    assert leftovers(tmp_path) == []


def test_a_symlink_in_the_files_place_is_refused_and_what_it_points_to_is_untouched(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("do not touch\n")
    state = tmp_path / "state"
    state.mkdir()
    (state / "identity.json").symlink_to(outside)
    with pytest.raises(PathRefused, match="symbolic link"):
        atomic_write(state / "identity.json", b"{}")
    assert outside.read_text() == "do not touch\n" and (state / "identity.json").is_symlink()
    assert leftovers(state) == []


def test_with_a_root_a_link_on_the_way_or_a_path_outside_it_is_refused(tmp_path):
    root, outside = tmp_path / "repo", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "lib").symlink_to(outside)
    with pytest.raises(PathRefused, match="lib is a symbolic link"):
        atomic_write(root / "lib" / "x.py", b"owned", root=root)
    with pytest.raises(PathRefused, match="outside the repository"):
        atomic_write(outside / "x.py", b"owned", root=root)
    assert list(outside.iterdir()) == []


_FULL_DISK = textwrap.dedent("""
    import resource, signal, sys
    from pathlib import Path
    from indexer.safe_fs import atomic_write
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    try:
        atomic_write(Path(sys.argv[1]), b"n" * 65536)
    except OSError as exc:
        print("failed:", exc.errno)
    else:
        print("written")
""")


def test_a_write_that_fails_half_way_keeps_the_old_content_and_leaves_no_temp(tmp_path):
    target = tmp_path / "CURRENT"
    target.write_bytes(b"old")
    run = subprocess.run([sys.executable, "-c", _FULL_DISK, str(target)], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1], timeout=60)
    assert run.stdout.strip() == "failed: 27", run.stdout + run.stderr  # EFBIG
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


# ------------------------------------------------------------------------------------ the writers

def test_the_identity_stamp_leaves_no_temp_when_its_write_fails(tmp_path):
    from indexer.state_dir import StateDir

    state = StateDir(tmp_path)
    state.path.mkdir()
    state.identity.mkdir()  # a directory where identity.json should go
    with pytest.raises(OSError):
        state.stamp_identity()
    assert leftovers(state.path) == []


def test_the_lexical_index_leaves_no_temp_when_its_pointer_cannot_be_written(tmp_path):
    from indexer.lexical import LexicalIndex, tokenize_code

    texts = {"a": "def total(prices): return sum(prices)", "b": "class Order: pass"}
    index = LexicalIndex.build(list(texts), [tokenize_code(text) for text in texts.values()])
    directory = tmp_path / "bm25"
    directory.mkdir()
    (directory / "CURRENT").mkdir()
    with pytest.raises(OSError):
        index.save(directory)
    assert leftovers(directory) == []
    for generation in directory.glob("gen-*"):
        assert leftovers(generation) == []


def test_the_code_graph_leaves_the_old_graph_and_no_temp_when_its_write_fails(tmp_path):
    from indexer.graph import build_graph, load_graph, save_graph

    path = tmp_path / "graph.json.gz"
    save_graph(build_graph({}, ["README.md"]), path)
    before = path.read_bytes()
    path.chmod(0o600)
    run = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        import resource, signal, sys
        from pathlib import Path
        from indexer.graph import build_graph, save_graph
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
        try:
            save_graph(build_graph({}, [f"docs/file{i}.md" for i in range(2000)]), Path(sys.argv[1]))
        except OSError as exc:
            print("failed:", exc.errno)
    """), str(path)], capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert run.stdout.strip() == "failed: 27", run.stdout + run.stderr
    assert path.read_bytes() == before and "README.md" in load_graph(path)
    assert leftovers(tmp_path) == []


# ------------------------------------------------------------------------------------ resolve_inside

@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "mod.py").write_text("x = 1\n")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]\n")
    (root / ".env").write_text("TOKEN=1\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "canary.py").write_text("secret = 1\n")
    (root / "escape").symlink_to(outside)
    (root / "pkg" / "link.py").symlink_to(outside / "canary.py")
    (root / "pkg" / "inner").symlink_to(root / "pkg")  # a link back inside is still a link
    return root


REFUSED_ALWAYS = [
    ("", "names no file"),
    ("   ", "names no file"),
    ("pkg/\x00mod.py", "NUL byte"),
    ("/etc/passwd", "absolute paths are refused"),
    ("~/notes.txt", "absolute paths are refused"),
    ("C:/Windows/win.ini", "absolute paths are refused"),
    ("../outside/canary.py", "'..' is refused"),
    ("pkg/../../outside/canary.py", "'..' is refused"),
    ("pkg\\..\\..\\outside\\canary.py", "'..' is refused"),
    (".", "names the repository itself"),
    ("escape/canary.py", "escape is a symbolic link"),
    ("pkg/inner/mod.py", "pkg/inner is a symbolic link"),
    ("pkg/link.py", "pkg/link.py is a symbolic link"),
    ("escape", "escape is a symbolic link"),
    ("x" * 300 + ".py", "the file system allows 255"),
]
REFUSED_FOR_WRITES = [
    (".git/config", "inside .git/"),
    (".GIT/config", "inside .git/"),
    ("GIT~1/config", "inside .git/"),
    (".assist/config.toml", "inside .assist/"),
    (".env", "secrets file"),
    ("deploy/id_rsa", "secrets file"),
    ("pkg", "not a regular file"),
]


@pytest.mark.parametrize("for_write", [False, True])
@pytest.mark.parametrize("relative, reason", REFUSED_ALWAYS)
def test_resolve_inside_refuses_for_reading_and_writing(tree, relative, reason, for_write):
    with pytest.raises(PathRefused, match=re.escape(reason)):
        resolve_inside(tree, relative, for_write=for_write)


@pytest.mark.parametrize("relative, reason", REFUSED_FOR_WRITES)
def test_resolve_inside_refuses_protected_names_for_writing_only(tree, relative, reason):
    with pytest.raises(PathRefused, match=re.escape(reason)):
        resolve_inside(tree, relative, for_write=True)
    assert resolve_inside(tree, relative).relative == relative  # reading them is the caller's decision


def test_resolve_inside_gives_the_normalized_path_inside_the_real_root(tree):
    found = resolve_inside(tree, " ./pkg//mod.py ", for_write=True)
    assert found.relative == "pkg/mod.py" and found.path == tree.resolve() / "pkg" / "mod.py"
    assert resolve_inside(tree, "pkg\\new_module.py", for_write=True).relative == "pkg/new_module.py"
    assert resolve_inside(tree, "new/dir/file.py").relative == "new/dir/file.py"  # need not exist yet


@pytest.mark.parametrize("relative, reason", REFUSED_ALWAYS)
def test_the_mcp_tools_and_acp_refuse_what_resolve_inside_refuses(tree, relative, reason):
    from assistant.mcp.tools import ToolFailure, inside_repo

    with pytest.raises(ToolFailure, match="not a path inside the repository") as refused:
        inside_repo(tree, relative)
    assert "outside the repository" not in str(refused.value).replace("not a path inside the repository", "")
    assert inside_repo(tree, "pkg/mod.py") == tree / "pkg" / "mod.py"


@pytest.mark.parametrize("relative, reason", REFUSED_ALWAYS + REFUSED_FOR_WRITES)
def test_an_edit_refuses_what_resolve_inside_refuses_for_writing(tree, relative, reason):
    from assistant.fix.paths import UnsafePath
    from assistant.fix.paths import resolve_inside as edit_path

    with pytest.raises(UnsafePath, match=re.escape(reason)):
        edit_path(tree, relative)
