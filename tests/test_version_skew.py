"""Version skew: assist's own code changed on disk (pip, an editable install, `git pull`) while a long-lived
process (TUI, MCP or ACP server, chat) runs, or an index was built by another version than the reader's.

Either way the index's tokens or extracts would be read with other rules than they were written with, and
search results would be quietly wrong: the parse workers must refuse, and the reader must say so."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from support import PROJECT_ROOT, git
from indexer.pipeline import PIPELINE_VERSION, index_repository
from indexer.config import IndexConfig
from indexer.retrieval import IndexUnreadable, Retriever
from indexer.state_dir import StateDir
from indexer.store import IndexState

# The "upgrade": every lexical token the new code makes carries a prefix, so an index whose tokens came from
# it cannot be searched with the old tokenizer (as unstemmed queries missed stemmed tokens).
NEW_TOKENIZER = '''

_unskewed_tokenize_code = tokenize_code


def tokenize_code(text, stem=True):
    return ["upgraded" + token for token in _unskewed_tokenize_code(text, stem)]
'''

PARENT = '''
import sys
from pathlib import Path


def main():
    package_root, repo = Path(sys.argv[1]), Path(sys.argv[2])
    import indexer.lexical  # noqa: F401 (loaded, as in a process that has searched before)
    import indexer.prepare as prepare
    from indexer.config import IndexConfig
    from indexer.pipeline import index_repository
    from indexer.retrieval import Retriever
    from indexer.state_dir import StateDir

    assert Path(prepare.__file__).resolve().is_relative_to(package_root.resolve()), prepare.__file__
    with open(package_root / "indexer" / "lexical.py", "a") as lexical:  # upgraded in place, after start-up
        lexical.write(sys.stdin.read())
    prepare.PARALLEL_PARSE_MIN_BYTES = 0  # use the worker pool for this small repository
    notices = []
    for run in range(2):  # the second run re-parses everything again, in a process that knows of the change
        if run:
            StateDir(repo).remove_index()
        report = index_repository(repo, IndexConfig(vectors="off"), notice=notices.append)
        print("FILES", report.files_indexed)
    retriever = Retriever(repo, use_vectors=False)
    reader = retriever.reader
    hits = reader.lexical.search("quarterly ledger reconciliation", 3)
    print("TOP", reader.chunks[hits[0][0]].path if hits else None)
    for message in notices:
        print("NOTICE", message)


if __name__ == "__main__":  # spawned workers import this script too
    main()
'''


def _generated_repo(root):
    """Sixty Python files of filler and one that holds the function the search must find."""
    root.mkdir()
    for i in range(60):
        body = "\n\n".join(f"def helper_{i}_{j}(value):\n    return value * {j} + {i}\n" for j in range(40))
        (root / f"filler_{i}.py").write_text(body)
    (root / "ledger.py").write_text(
        "def reconcile_ledger(entries):\n"
        '    """Quarterly ledger reconciliation: sums the entries of each account."""\n'
        "    return sum(entries)\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "init")
    return root


def test_workers_running_upgraded_code_refuse_and_the_parent_parses_with_its_own(tmp_path):
    package_root = tmp_path / "installed"
    shutil.copytree(PROJECT_ROOT / "indexer", package_root / "indexer",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (package_root / "parent.py").write_text(PARENT)
    repo = _generated_repo(tmp_path / "repo")
    # `python parent.py` puts the script's folder first on sys.path: the copy, not the project, is imported.
    result = subprocess.run([sys.executable, str(package_root / "parent.py"), str(package_root), str(repo)],
                            input=NEW_TOKENIZER, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert [line for line in lines if line.startswith("FILES")] == ["FILES 61", "FILES 61"]
    # The parent's own tokenizer finds the function: the index's tokens are its own, not the upgraded ones.
    assert "TOP ledger.py" in lines
    notices = [line for line in lines if line.startswith("NOTICE")]
    skew = [line for line in notices if "changed on disk" in line]
    assert len(skew) == 2, notices  # once per run, not once per worker or per file
    assert "restart" in skew[0] and "\n" not in skew[0]
    assert "Traceback" not in result.stderr


def test_workers_running_the_same_code_parse_without_a_notice(tmp_path, monkeypatch):
    import indexer.prepare as prepare

    repo = _generated_repo(tmp_path / "repo")
    monkeypatch.setattr(prepare, "PARALLEL_PARSE_MIN_BYTES", 0)
    notices = []
    report = index_repository(repo, IndexConfig(vectors="off"), notice=notices.append)
    assert report.files_indexed == 61
    assert not [n for n in notices if "changed on disk" in n]
    retriever = Retriever(repo, use_vectors=False)
    try:
        assert retriever.search("reconcile_ledger", top=1)[0].path == "ledger.py"
    finally:
        retriever.close()


def _stamp(repo, **values):
    state = IndexState(StateDir(repo).index_db)
    try:
        state.set_meta(**values)
    finally:
        state.close()


@pytest.mark.parametrize("stored, says", [
    (str(int(PIPELINE_VERSION) + 1), "restart this process"),  # a newer `assist index` rebuilt it
    (str(int(PIPELINE_VERSION) - 1), "assist index"),  # this process is the newer one
])
def test_an_index_of_another_pipeline_version_is_reported_not_searched(indexed_copy, stored, says):
    retriever = Retriever(indexed_copy, use_vectors=False)  # built by this code: searches untouched
    try:
        assert retriever.search("reserve stock", top=3)
        _stamp(indexed_copy, pipeline_version=stored)
        StateDir(indexed_copy).graph.touch()  # what a finished re-index does: refresh() notices and reloads
        with pytest.raises(IndexUnreadable) as raised:
            retriever.refresh()
    finally:
        retriever.close()
    message = str(raised.value)
    assert "different version of assist" in message and says in message and "\n" not in message
    with pytest.raises(IndexUnreadable):
        Retriever(indexed_copy, use_vectors=False)

    _stamp(indexed_copy, pipeline_version=PIPELINE_VERSION)
    retriever = Retriever(indexed_copy, use_vectors=False)
    try:
        assert retriever.search("reserve stock", top=3)
    finally:
        retriever.close()


def test_an_index_of_other_extraction_rules_is_reported(indexed_copy):
    import json

    state = IndexState(StateDir(indexed_copy).index_db)
    try:
        grammars = json.loads(state.get_meta("grammars"))
        grammars["assist-extraction"] = "0"
        state.set_meta(grammars=json.dumps(grammars, sort_keys=True))
    finally:
        state.close()
    with pytest.raises(IndexUnreadable, match=r"extraction rules 0 in the index, \d+ here\).*run `assist index"):
        Retriever(indexed_copy, use_vectors=False)


def test_the_cli_says_it_in_one_line(indexed_copy):
    from support import run_assist

    _stamp(indexed_copy, pipeline_version=str(int(PIPELINE_VERSION) - 1))
    result = run_assist("search", "reserve stock", "-C", str(indexed_copy))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    said = [line for line in (result.stderr + result.stdout).splitlines() if "different version of assist" in line]
    assert len(said) == 1 and "assist index" in said[0]
