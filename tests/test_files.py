"""File discovery: what gets indexed, what is skipped and why, in git work trees and plain directories.

Fixtures are built in tmp_path because symlinks, FIFOs, NUL bytes and nested repositories cannot be
committed sensibly; git is the real binary.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from indexer.config import IndexConfig
from indexer.files import SKIP_REASONS, Candidate, Discovery, classify_content, discover

CAP = 2000  # a small max_file_bytes so "too_large" needs no megabyte fixture


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's global git config (an excludes file, hooks) must not change what these tests see."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    assert shutil.which("git"), "these tests drive the real git binary"
    for variable in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(variable, raising=False)


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "init.defaultBranch=main",
         "-c", "protocol.file.allow=always", *args],
        cwd=repo, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return result.stdout


def write(root: Path, rel: str, content: str | bytes = "x = 1\n") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def build_tree(root: Path) -> None:
    """A repository-shaped tree with one example of every path-level decision."""
    write(root, "README.md", "# demo\n")
    write(root, "src/app.py", "def main():\n    return 1\n")
    write(root, "src/util/helpers.py")
    write(root, "src/env/settings.py")  # a package called env, not a virtualenv
    write(root, "src/local_keep.py")
    # .gitignore files, nested, with a negation in the nested one
    write(root, ".gitignore", "*.log\n/scratch/\n*.gen.py\n")
    write(root, "src/.gitignore", "local_*.py\n!local_keep.py\n!kept.gen.py\n")  # a deeper file overrides
    write(root, "src/kept.gen.py")
    write(root, "src/dropped.gen.py")
    write(root, "debug.log", "noise\n")
    write(root, "src/local_settings.py")
    write(root, "scratch/notes.py")
    # our own ignore file
    write(root, ".assistignore", "generated/\n*.snap\n")
    write(root, "generated/out.py")
    write(root, "generated/more/out2.py")
    write(root, "tests/ui.snap", "snapshot\n")
    # secrets by name, and the template that is kept
    for rel in (
        ".env", ".env.production", "config/credentials.json", "config/credentials-prod.json",
        "certs/server.pem", "certs/server.key", "certs/store.p12", "certs/store.pfx", "certs/app.keystore",
        "home/id_rsa", "home/id_dsa", "home/id_ecdsa", "home/id_ed25519", ".npmrc", ".pypirc", ".netrc",
        "deploy/secrets.yml", "deploy/secrets.yaml",
    ):  # fmt: skip
        write(root, rel, "SECRET=1\n")
    write(root, ".env.example", "API_KEY=\n")
    write(root, "home/id_rsa.pub", "ssh-ed25519 AAAA user@host\n")
    # vendored, virtualenvs and build output: one record per directory
    for rel in (
        "node_modules/left-pad/index.js", "node_modules/left-pad/package.json", "web/node_modules/x/index.js",
        "vendor/github.com/pkg/errors/errors.go", "third_party/zlib/zlib.c", "build/lib/app.py",
        "dist/app.js", "target/debug/main.rs", "src/__pycache__/app.pyc", "mypkg.egg-info/PKG-INFO",
        ".tox/py311/log.txt", ".mypy_cache/3.11/app.json", ".pytest_cache/v/cache/lastfailed",
        ".venv/lib/python3.11/site-packages/six.py", "venv/bin/activate",
        "lib/site-packages/pkg/mod.py",
    ):  # fmt: skip
        write(root, rel)
    write(root, "env/pyvenv.cfg", "home = /usr/bin\n")
    write(root, "env/lib/python3.11/site.py")
    write(root, "tools/myenv/pyvenv.cfg", "home = /usr/bin\n")
    write(root, "tools/myenv/lib/x.py")
    # size and file type
    write(root, "data/huge.txt", "y" * (CAP + 1))
    write(root, "data/exact.txt", "y" * CAP)
    os.symlink("src/app.py", root / "link_to_file")
    os.symlink("src", root / "link_to_dir")
    os.symlink("/etc/passwd", root / "src/link_outside")
    # our own state is invisible
    write(root, ".assist/index.json", "{}")


EXPECTED_CANDIDATES = [
    ".assistignore", ".env.example", ".gitignore", "README.md", "data/exact.txt", "home/id_rsa.pub",
    "src/.gitignore", "src/app.py", "src/env/settings.py", "src/kept.gen.py", "src/local_keep.py",
    "src/util/helpers.py",
]  # fmt: skip

EXPECTED_SKIPS = {
    ".env": "secret", ".env.production": "secret", ".npmrc": "secret", ".netrc": "secret", ".pypirc": "secret",
    "certs/app.keystore": "secret", "certs/server.key": "secret", "certs/server.pem": "secret",
    "certs/store.p12": "secret", "certs/store.pfx": "secret", "config/credentials-prod.json": "secret",
    "config/credentials.json": "secret", "deploy/secrets.yaml": "secret", "deploy/secrets.yml": "secret",
    "home/id_dsa": "secret", "home/id_ecdsa": "secret", "home/id_ed25519": "secret", "home/id_rsa": "secret",
    "generated": "ignored", "tests/ui.snap": "ignored",
    "node_modules": "vendored", "web/node_modules": "vendored", "vendor": "vendored", "third_party": "vendored",
    "build": "vendored", "dist": "vendored", "target": "vendored", "src/__pycache__": "vendored",
    "mypkg.egg-info": "vendored", ".tox": "vendored", ".mypy_cache": "vendored", ".pytest_cache": "vendored",
    ".venv": "vendored", "venv": "vendored", "env": "vendored", "tools/myenv": "vendored",
    "lib/site-packages": "vendored",
    "data/huge.txt": "too_large",
    "link_to_file": "symlink", "link_to_dir": "symlink", "src/link_outside": "symlink",
}  # fmt: skip


def candidate_paths(discovery: Discovery) -> list[str]:
    return [candidate.path for candidate in discovery.candidates]


def skip_reasons(discovery: Discovery) -> dict[str, str]:
    reasons = {skipped.path: skipped.reason for skipped in discovery.skipped}
    assert len(reasons) == len(discovery.skipped), "a path was reported twice"
    return reasons


def make_repo(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    return root


# -- discover: the same decisions with and without git -------------------------------------------------


@pytest.mark.parametrize("in_git", [False, True], ids=["walking", "git"])
def test_every_path_level_skip_reason_is_reported(tmp_path: Path, in_git: bool) -> None:
    root = tmp_path / "project"
    root.mkdir()
    build_tree(root)
    if in_git:
        make_repo(root)
        git(root, "add", "README.md", "src/app.py", ".gitignore")
        git(root, "commit", "-q", "-m", "first")  # the rest stays untracked, and must be listed all the same

    discovery = discover(root, IndexConfig(max_file_bytes=CAP))

    assert discovery.in_git is in_git
    assert discovery.root == root.resolve()
    assert candidate_paths(discovery) == EXPECTED_CANDIDATES
    assert skip_reasons(discovery) == EXPECTED_SKIPS
    assert {skipped.reason for skipped in discovery.skipped} <= set(SKIP_REASONS)


def test_git_and_walking_agree_on_the_same_tree(tmp_path: Path) -> None:
    plain, repo = tmp_path / "plain", tmp_path / "repo"
    for root in (plain, repo):
        root.mkdir()
        build_tree(root)
    make_repo(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "all")

    walked = discover(plain, IndexConfig(max_file_bytes=CAP))
    listed = discover(repo, IndexConfig(max_file_bytes=CAP))

    assert (walked.in_git, listed.in_git) == (False, True)
    assert candidate_paths(walked) == candidate_paths(listed)
    assert [(s.path, s.reason, s.detail) for s in walked.skipped] == [
        (s.path, s.reason, s.detail) for s in listed.skipped
    ]


def test_skipped_directories_are_reported_once_not_per_file(tmp_path: Path) -> None:
    for number in range(200):
        write(tmp_path, f"node_modules/pkg{number}/index.js")
    write(tmp_path, "main.js")

    discovery = discover(tmp_path, IndexConfig())

    assert candidate_paths(discovery) == ["main.js"]
    assert [(s.path, s.reason) for s in discovery.skipped] == [("node_modules", "vendored")]
    assert "directory" in discovery.skipped[0].detail


def test_candidates_carry_the_files_stat(tmp_path: Path) -> None:
    path = write(tmp_path, "a.py", "print('hello')\n")
    info = os.stat(path)

    (candidate,) = discover(tmp_path, IndexConfig()).candidates

    assert candidate == Candidate("a.py", info.st_size, info.st_mtime_ns, info.st_ino)


def test_too_large_says_how_large(tmp_path: Path) -> None:
    write(tmp_path, "big.txt", "z" * 5000)

    (skipped,) = discover(tmp_path, IndexConfig(max_file_bytes=4096)).skipped

    assert (skipped.path, skipped.reason) == ("big.txt", "too_large")
    assert "5000" in skipped.detail


def test_extra_ignore_patterns_from_config(tmp_path: Path) -> None:
    write(tmp_path, "keep.py")
    write(tmp_path, "fixtures/big.json", "{}")
    write(tmp_path, "notes.tmp")

    discovery = discover(tmp_path, IndexConfig(extra_ignore=["fixtures/", "*.tmp"]))

    assert candidate_paths(discovery) == ["keep.py"]
    assert skip_reasons(discovery) == {"fixtures": "ignored", "notes.tmp": "ignored"}


def test_fifo_is_not_a_regular_file(tmp_path: Path) -> None:
    write(tmp_path, "real.py")
    os.mkfifo(tmp_path / "pipe")

    discovery = discover(tmp_path, IndexConfig())

    assert candidate_paths(discovery) == ["real.py"]
    assert [(s.path, s.reason, s.detail) for s in discovery.skipped] == [("pipe", "not_regular_file", "fifo")]


def test_tracked_file_replaced_by_a_fifo_is_not_read_in_git_mode(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    write(repo, "pipe", "was a file\n")
    write(repo, "real.py")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "files")
    (repo / "pipe").unlink()
    os.mkfifo(repo / "pipe")

    discovery = discover(repo, IndexConfig())

    assert candidate_paths(discovery) == ["real.py"]
    assert skip_reasons(discovery) == {"pipe": "not_regular_file"}


@pytest.mark.parametrize("in_git", [False, True], ids=["walking", "git"])
def test_file_name_that_is_not_utf8_is_undecodable(tmp_path: Path, in_git: bool) -> None:
    if in_git:
        make_repo(tmp_path)
    write(tmp_path, "good.py")
    with open(os.path.join(os.fsencode(tmp_path), b"caf\xe9.py"), "wb") as latin1_named:
        latin1_named.write(b"x = 1\n")

    discovery = discover(tmp_path, IndexConfig())

    assert candidate_paths(discovery) == ["good.py"]
    assert [(s.path, s.reason) for s in discovery.skipped] == [("caf\\xe9.py", "undecodable")]


def test_root_must_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError):
        discover(tmp_path / "missing", IndexConfig())


def test_output_is_sorted(tmp_path: Path) -> None:
    for rel in ("z.py", "a/b.py", "m.py", "a/a.py", "B.py", "node_modules/x.js", ".env", "a/.env"):
        write(tmp_path, rel)

    discovery = discover(tmp_path, IndexConfig())

    assert candidate_paths(discovery) == sorted(candidate_paths(discovery))
    assert [s.path for s in discovery.skipped] == sorted(s.path for s in discovery.skipped)


# -- discover: git specifics ---------------------------------------------------------------------------


def test_git_mode_lists_untracked_files_but_not_ignored_ones(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    write(repo, ".gitignore", "*.pyc\nout/\n")
    write(repo, "tracked.py")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "tracked")
    write(repo, "new_module.py")
    write(repo, "cache.pyc", b"\x00\x01")
    write(repo, "out/report.txt")
    write(repo, ".git/info/exclude", "private_notes.md\n")
    write(repo, "private_notes.md")

    discovery = discover(repo, IndexConfig())

    assert candidate_paths(discovery) == [".gitignore", "new_module.py", "tracked.py"]
    assert discovery.skipped == []  # what git ignores is simply not listed


def test_git_repository_without_commits(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    write(repo, "a.py")
    write(repo, "pkg/b.py")

    discovery = discover(repo, IndexConfig())

    assert discovery.in_git
    assert candidate_paths(discovery) == ["a.py", "pkg/b.py"]


def test_root_in_a_subdirectory_of_a_repository(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    write(repo, ".gitignore", "*.tmp\n")
    write(repo, "top.py")
    write(repo, "service/api.py")
    write(repo, "service/handlers/users.py")
    write(repo, "service/cache.tmp")  # ignored by the repository's root .gitignore
    write(repo, "service/.assistignore", "handlers/legacy.py\n")  # the index root's own ignore file
    write(repo, "service/handlers/legacy.py")
    git(repo, "add", "top.py", "service/api.py")
    git(repo, "commit", "-q", "-m", "some")

    discovery = discover(repo / "service", IndexConfig())

    assert discovery.in_git
    assert discovery.root == (repo / "service").resolve()
    assert candidate_paths(discovery) == [".assistignore", "api.py", "handlers/users.py"]
    assert skip_reasons(discovery) == {"handlers/legacy.py": "ignored"}


def test_root_ignored_by_the_enclosing_repository_is_walked(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    write(repo, ".gitignore", "scratch/\n")
    write(repo, "scratch/experiment.py")
    write(repo, "scratch/.gitignore", "*.out\n")
    write(repo, "scratch/result.out")

    discovery = discover(repo / "scratch", IndexConfig())

    assert not discovery.in_git
    assert candidate_paths(discovery) == [".gitignore", "experiment.py"]


def test_deleted_tracked_file_is_simply_absent(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    write(repo, "kept.py")
    write(repo, "gone.py")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "two")
    (repo / "gone.py").unlink()

    discovery = discover(repo, IndexConfig())

    assert candidate_paths(discovery) == ["kept.py"]
    assert discovery.skipped == []


def test_without_a_git_binary_the_tree_is_walked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "repo")
    write(repo, ".gitignore", "*.log\n")
    write(repo, "app.py")
    write(repo, "run.log")
    monkeypatch.setenv("PATH", str(tmp_path / "no-binaries-here"))

    discovery = discover(repo, IndexConfig())

    assert not discovery.in_git
    assert candidate_paths(discovery) == [".gitignore", "app.py"]  # and nothing from .git/


def _repo_with_submodule(tmp_path: Path) -> Path:
    library = make_repo(tmp_path / "library")
    write(library, "lib.py", "def helper():\n    return 2\n")
    write(library, "lib_test.py")
    git(library, "add", "-A")
    git(library, "commit", "-q", "-m", "library")
    main = make_repo(tmp_path / "main")
    write(main, "app.py")
    git(main, "submodule", "add", "-q", str(library), "deps/library")
    git(main, "commit", "-q", "-am", "with submodule")
    return main


def test_submodule_is_skipped_by_default(tmp_path: Path) -> None:
    main = _repo_with_submodule(tmp_path)

    discovery = discover(main, IndexConfig())

    assert candidate_paths(discovery) == [".gitmodules", "app.py"]
    assert skip_reasons(discovery) == {"deps/library": "submodule"}


def test_submodule_is_indexed_when_asked(tmp_path: Path) -> None:
    main = _repo_with_submodule(tmp_path)

    discovery = discover(main, IndexConfig(include_submodules=True))

    assert candidate_paths(discovery) == [".gitmodules", "app.py", "deps/library/lib.py", "deps/library/lib_test.py"]
    assert discovery.skipped == []


def test_submodule_not_checked_out_stays_skipped(tmp_path: Path) -> None:
    main = _repo_with_submodule(tmp_path)
    git(main, "submodule", "deinit", "-q", "-f", "deps/library")

    discovery = discover(main, IndexConfig(include_submodules=True))

    assert candidate_paths(discovery) == [".gitmodules", "app.py"]
    (skipped,) = discovery.skipped
    assert (skipped.path, skipped.reason) == ("deps/library", "submodule")
    assert "not checked out" in skipped.detail


@pytest.mark.parametrize("outer_is_git", [False, True], ids=["walking", "git"])
def test_nested_repository_is_a_submodule(tmp_path: Path, outer_is_git: bool) -> None:
    outer = tmp_path / "outer"
    write(outer, "main.py")
    if outer_is_git:
        make_repo(outer)
    nested = make_repo(outer / "experiments")
    write(nested, "trial.py")

    assert skip_reasons(discover(outer, IndexConfig())) == {"experiments": "submodule"}
    included = discover(outer, IndexConfig(include_submodules=True))
    assert candidate_paths(included) == ["experiments/trial.py", "main.py"]


def test_ten_thousand_files_in_git_mode_are_all_listed(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    seed = write(tmp_path, "seed.py")
    for package in range(100):
        directory = repo / f"pkg{package}" / "sub"
        directory.mkdir(parents=True)
        for module in range(50):
            # Hard links: writing 10k real files takes seconds on a busy disk; git and lstat see files.
            os.link(seed, directory.parent / f"m{module}.py")
            os.link(seed, directory / f"m{module}.py")

    # Speed is measured in bench/, not here: this checks that nothing is lost at that size.
    discovery = discover(repo, IndexConfig())
    assert len(discovery.candidates) == 10_000
    assert not discovery.skipped


# -- classify_content ----------------------------------------------------------------------------------


def classify(path: str, data: bytes, config: IndexConfig | None = None) -> tuple[str | None, str | None, str]:
    text, skipped = classify_content(path, data, config or IndexConfig())
    if skipped is None:
        return text, None, ""
    assert skipped.path == path and text is None
    return None, skipped.reason, skipped.detail


def test_nul_byte_means_binary() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(100)
    assert classify("logo.png", png)[1] == "binary"
    assert classify("late_nul.txt", b"a" * 9000 + b"\x00")[1] != "binary"  # only the first 8 KiB is sniffed


def test_latin1_bytes_are_undecodable() -> None:
    assert classify("legacy.py", "name = 'café'\n".encode("latin-1"))[1] == "undecodable"


def test_utf8_with_and_without_bom_is_read() -> None:
    source = "greeting = 'héllo'\n"
    assert classify("a.py", source.encode("utf-8")) == (source, None, "")
    assert classify("b.py", b"\xef\xbb\xbf" + source.encode("utf-8")) == (source, None, "")


def test_minified_by_line_length() -> None:
    bundle = ("var a=function(){return 1};" * 200 + "\n").encode()

    _, reason, detail = classify("static/bundle.js", bundle)

    assert reason == "minified"
    assert "long lines" in detail


def test_minified_by_name() -> None:
    _, reason, detail = classify("static/jquery.min.js", b"function f() {\n  return 1;\n}\n")

    assert reason == "minified"
    assert "name" in detail
    assert classify("static/site.min.css", b"a { color: red }\n")[1] == "minified"


def test_one_long_line_in_ordinary_code_is_kept() -> None:
    source = "def f():\n    return 1\n" * 200 + "DATA = '" + "x" * 3000 + "'\n"

    assert classify("app.py", source.encode()) == (source, None, "")


@pytest.mark.parametrize(
    "header",
    [
        "// Code generated by protoc-gen-go. DO NOT EDIT.",
        "# This file is automatically @generated by Poetry 1.8.2 and should not be changed by hand.",
        "# Generated by the protocol buffer compiler.  DO NOT EDIT!",
        "/* @generated by Relay */",
    ],
)
def test_generated_file_headers(header: str) -> None:
    _, reason, detail = classify("gen/file.txt", f"{header}\npackage x\n".encode())

    assert reason == "minified"
    assert "generated" in detail


def test_generated_mentioned_later_in_a_file_is_kept() -> None:
    source = "".join(f"line_{n} = {n}\n" for n in range(20)) + "# the parser is @generated by hand, DO NOT EDIT\n"

    assert classify("app.py", source.encode())[1] is None


def test_content_comes_back_with_secrets_masked() -> None:
    key_id = "AKIA" + "Z7Q2M4XK9B3RT6PL"
    source = f'import boto3\nclient = boto3.client("s3", aws_access_key_id="{key_id}")\n'

    text, reason, _ = classify("aws.py", source.encode())

    assert reason is None
    assert text == source.replace(key_id, "*" * len(key_id))


def test_content_that_grew_past_the_cap_is_too_large() -> None:
    assert classify("grew.txt", b"a" * 101, IndexConfig(max_file_bytes=100))[1] == "too_large"


def test_discover_then_classify_covers_the_content_reasons(tmp_path: Path) -> None:
    write(tmp_path, "app.py", "print('ok')\n")
    write(tmp_path, "logo.png", b"\x89PNG\r\n\x1a\n\x00\x00")
    write(tmp_path, "legacy.txt", "caf\xe9\n".encode("latin-1"))
    write(tmp_path, "static/vendor.min.js", "var a=1;\n")
    write(tmp_path, "static/bundle.js", "var a=1;" * 500)
    config = IndexConfig()

    reasons = {}
    for candidate in discover(tmp_path, config).candidates:
        data = (tmp_path / candidate.path).read_bytes()
        _, skipped = classify_content(candidate.path, data, config)
        reasons[candidate.path] = skipped.reason if skipped else None

    assert reasons == {
        "app.py": None,
        "legacy.txt": "undecodable",
        "logo.png": "binary",
        "static/bundle.js": "minified",
        "static/vendor.min.js": "minified",
    }
