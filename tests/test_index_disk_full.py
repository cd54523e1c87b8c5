"""`assist index` when the disk fills up under it: a store write fails, and the user gets one line and exit 1,
never a traceback. The file-size limit (RLIMIT_FSIZE, what a full disk looks like to a writer: EFBIG) is swept
so that the failure lands in each store in turn: the manifest, the embedding cache, the vector store."""
from __future__ import annotations

import resource
import subprocess
import textwrap

import pytest

from support import run_assist


@pytest.mark.parametrize("limit_kib", [40, 120, 200, 280, 360, 440, 520, 600])
def test_a_store_that_cannot_write_is_one_line_and_exit_1(tmp_path, limit_kib):
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    for n in range(30):
        (repo / "src" / f"M{n}.java").write_text(textwrap.dedent(f"""\
            package demo;
            public class M{n} {{
                @Override public boolean equals(int a) {{ return a == {n}; }}
                @Override public boolean equals(int a, int b) {{ return a == b; }}
            }}
            """))
    subprocess.run(["git", "init", "-q", str(repo)], check=True)

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_kib * 1024, limit_kib * 1024))

    result = run_assist("index", str(repo), preexec_fn=limit)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode in (0, 1)
    if result.returncode == 1:
        assert len(result.stderr.strip().splitlines()) <= 2, result.stderr


def test_a_full_disk_never_discards_the_embedding_cache_or_the_manifest(tmp_path):
    """Opening a database can fail for want of space (its journal cannot be written): that is no damage, and
    rebuilding would throw away every cached vector. The run stops with one line; the next one embeds nothing."""
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "fees.py").write_text("def shipping_fee(order):\n    return 5 if order.total < 50 else 0\n")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    assert run_assist("index", str(repo)).returncode == 0
    databases = [repo / ".assist" / "index.sqlite", repo / ".assist" / "embeddings.sqlite"]
    for leftover in (repo / ".assist").glob("*.sqlite-*"):
        leftover.unlink()  # a journal left by the last run would let the next one open without writing
    before = [database.read_bytes() for database in databases]

    def no_room():  # room for the lock file, none for a database's 32 KiB shared-memory file
        resource.setrlimit(resource.RLIMIT_FSIZE, (8 * 1024, 8 * 1024))

    failed = run_assist("index", str(repo), preexec_fn=no_room)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert "damaged" not in failed.stderr and "rebuilding" not in failed.stderr, failed.stderr
    assert [database.read_bytes() for database in databases] == before
    again = run_assist("index", str(repo), "--json")
    assert again.returncode == 0 and '"chunks_embedded": 0' in again.stdout
