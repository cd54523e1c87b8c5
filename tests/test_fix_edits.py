"""Parsing model replies into edits and applying them safely: the rules a user relies on never to lose work
to a malformed, ambiguous or hostile reply."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from assistant.fix import apply
from indexer.safe_fs import TEMP_MARK
from assistant.fix.edits import SEARCH_REPLACE, WHOLE_FILE, FormatError, SearchReplace, WholeFile, parse_reply

PRICING = '''def total(prices, discount):
    subtotal = sum(prices)
    return subtotal - subtotal * discount


def shipping(weight):
    if weight > 10:
        return 5.0
    return 2.5
'''


def sr(path: str, search: str, replace: str) -> str:
    return f"{path}\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "shop").mkdir(parents=True)
    (root / "shop" / "pricing.py").write_text(PRICING)
    return root


# ------------------------------------------------------------------------------------------- parsing


def test_search_replace_blocks_parse_with_paths_fences_and_explanations():
    reply = ("The discount is applied twice.\n\n`shop/pricing.py`:\n```python\n<<<<<<< SEARCH\n    return 5.0\n"
             "=======\n    return 6.0\n>>>>>>> REPLACE\n```\n\nAnd a second change in the same file:\n\n"
             "<<<<<<< SEARCH\n    return 2.5\n=======\n    return 3.0\n>>>>>>> REPLACE\n")
    parsed = parse_reply(reply)
    assert parsed.edit_format == SEARCH_REPLACE
    assert parsed.edits == [SearchReplace("shop/pricing.py", ["    return 5.0"], ["    return 6.0"], 1),
                            SearchReplace("shop/pricing.py", ["    return 2.5"], ["    return 3.0"], 2)]


def test_whole_file_replies_parse_and_abbreviated_files_are_refused():
    parsed = parse_reply("Here is the file.\n\nshop/pricing.py\n```python\ndef f():\n    return 1\n```\n")
    assert parsed.edit_format == WHOLE_FILE
    assert parsed.edits == [WholeFile("shop/pricing.py", ["def f():", "    return 1"], 1)]
    with pytest.raises(FormatError, match="leaves code out"):
        parse_reply("shop/pricing.py\n```python\ndef f():\n    return 1\n# ... rest of the file unchanged\n```\n")


@pytest.mark.parametrize("reply, message", [
    ("shop/pricing.py\n<<<<<<< SEARCH\n    return 5.0\n", "no '=======' line"),
    ("shop/pricing.py\n<<<<<<< SEARCH\n    return 5.0\n=======\n    return 6.0\n", "no '>>>>>>> REPLACE'"),
    ("<<<<<<< SEARCH\n    return 5.0\n=======\n    return 6.0\n>>>>>>> REPLACE\n", "has no file path"),
    ("I changed it.\n=======\n>>>>>>> REPLACE\n", "no '<<<<<<< SEARCH' line"),
    ("shop/pricing.py\n```python\ndef f():\n    return 1\n", "never closed"),
    ("Sorry, I cannot see the problem.", "contains no edits"),
])
def test_malformed_and_truncated_replies_say_exactly_what_is_wrong(reply, message):
    with pytest.raises(FormatError, match=message):
        parse_reply(reply)


def test_a_reply_cut_off_at_the_token_limit_says_so():
    with pytest.raises(FormatError, match="token limit"):
        parse_reply("shop/pricing.py\n<<<<<<< SEARCH\n    return 5.0\n", cut_off=True)


# ------------------------------------------------------------------------------------------- applying


def plan(repo: Path, reply: str) -> list[apply.FileChange]:
    return apply.plan(repo, parse_reply(reply).edits)


def test_exact_match_is_applied_and_written_atomically_keeping_mode(repo):
    target = repo / "shop" / "pricing.py"
    os.chmod(target, 0o755)
    changes = plan(repo, sr("shop/pricing.py", "    if weight > 10:\n        return 5.0",
                            "    if weight >= 10:\n        return 5.0"))
    apply.write(changes)
    assert target.read_text() == PRICING.replace("weight > 10", "weight >= 10")
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    assert not [p for p in target.parent.iterdir() if TEMP_MARK in p.name]


def test_whitespace_tolerant_match_reindents_the_replacement(repo):
    # The model lost the indentation of the lines it quoted; the file's indentation is kept.
    changes = plan(repo, sr("shop/pricing.py", "if weight > 10:\n    return 5.0", "if weight > 20:\n    return 5.0"))
    apply.write(changes)
    assert "    if weight > 20:\n        return 5.0\n" in (repo / "shop" / "pricing.py").read_text()


def test_crlf_line_endings_latin1_encoding_and_no_final_newline_are_kept(repo):
    target = repo / "legacy.py"
    original = "# caf\xe9\r\ndef rate():\r\n    return 1\r\n\r\ndef other():\r\n    return 2"
    target.write_bytes(original.encode("latin-1"))
    apply.write(plan(repo, sr("legacy.py", "    return 1", "    return 10")))
    assert target.read_bytes() == original.replace("return 1\r", "return 10\r").encode("latin-1")


def test_a_block_matching_twice_is_refused_as_ambiguous_and_nothing_is_written(repo):
    (repo / "twice.py").write_text("def a():\n    return 0\n\n\ndef b():\n    return 0\n")
    before = (repo / "twice.py").read_bytes()
    with pytest.raises(apply.EditRefused, match=r"ambiguous.*lines 2, 6"):
        plan(repo, sr("twice.py", "    return 0", "    return 1"))
    assert (repo / "twice.py").read_bytes() == before


def test_a_block_that_does_not_match_shows_the_real_nearby_lines(repo):
    with pytest.raises(apply.EditRefused) as refused:
        plan(repo, sr("shop/pricing.py", "    if weight > 12:\n        return 5.5", "    return 0"))
    message = str(refused.value)
    assert "not in the file" in message
    assert "    7|     if weight > 10:" in message and "    8|         return 5.0" in message


def test_all_or_nothing_one_bad_block_among_good_ones_writes_nothing(repo):
    (repo / "other.py").write_text("X = 1\n")
    reply = sr("other.py", "X = 1", "X = 2") + sr("shop/pricing.py", "no such line", "whatever")
    with pytest.raises(apply.EditRefused):
        plan(repo, reply)
    assert (repo / "other.py").read_text() == "X = 1\n"


def test_a_syntax_error_introduced_by_the_edit_is_refused(repo):
    with pytest.raises(apply.EditRefused, match="does not parse"):
        plan(repo, sr("shop/pricing.py", "    if weight > 10:", "    if weight > 10"))


def test_an_empty_search_creates_a_new_file_but_not_over_an_existing_one(repo):
    apply.write(plan(repo, "shop/new_module.py\n<<<<<<< SEARCH\n=======\nVALUE = 3\n>>>>>>> REPLACE\n"))
    assert (repo / "shop" / "new_module.py").read_text() == "VALUE = 3\n"
    with pytest.raises(apply.EditRefused, match="SEARCH part is empty"):
        plan(repo, "shop/pricing.py\n<<<<<<< SEARCH\n=======\nVALUE = 3\n>>>>>>> REPLACE\n")


@pytest.mark.parametrize("path, reason", [
    ("../canary.txt", "'..' is refused"),
    ("shop/../../canary.txt", "'..' is refused"),
    ("{canary}", "absolute paths are refused"),
    ("~/canary.txt", "absolute paths are refused"),
    (".git/config", "inside .git/"),
    (".assist/config.toml", "inside .assist/"),
    ("link/canary.txt", "symbolic link"),
    ("shop/linked.txt", "symbolic link"),
    (".env", "secrets file"),
])
def test_every_path_escape_is_refused_and_the_canary_outside_stays_untouched(repo, path, reason):
    canary = repo.parent / "canary.txt"
    canary.write_text("do not touch\n")
    (repo / ".git").mkdir()
    (repo / ".git" / "config").write_text("[core]\n")
    (repo / "link").symlink_to(repo.parent)
    (repo / "shop" / "linked.txt").symlink_to(canary)
    name = path.format(canary=canary)
    with pytest.raises(apply.EditRefused, match=reason):
        plan(repo, sr(name, "do not touch", "owned"))
    with pytest.raises(apply.EditRefused, match=reason):
        plan(repo, f"{name}\n```\nowned\n```\n")
    assert canary.read_text() == "do not touch\n"
    assert (repo / ".git" / "config").read_text() == "[core]\n"


def test_an_interrupted_write_puts_back_the_files_already_written(repo):
    (repo / "a.py").write_text("A = 1\n")
    (repo / "b.py").write_text("B = 1\n")
    changes = plan(repo, sr("a.py", "A = 1", "A = 2") + sr("b.py", "B = 1", "B = 2"))

    class InterruptedWriter(apply.AtomicWriter):
        def write(self, path, data, mode):
            if path.name == "b.py":
                raise KeyboardInterrupt
            super().write(path, data, mode)

    with pytest.raises(KeyboardInterrupt):
        apply.write(changes, InterruptedWriter())
    assert (repo / "a.py").read_text() == "A = 1\n"
    assert (repo / "b.py").read_text() == "B = 1\n"


# ------------------------------------------------------------------------------------------- format choice


def test_the_edit_format_falls_back_to_whole_files_for_a_model_that_keeps_failing_blocks(tmp_path):
    from assistant.fix.formats import FormatRecord

    record = FormatRecord(tmp_path)
    assert record.choose("ollama:small") == SEARCH_REPLACE  # no history: the precise format first
    for ok in (False, True, False, False):
        record.record("ollama:small", SEARCH_REPLACE, ok)
    record.record("ollama:big", SEARCH_REPLACE, True)
    reread = FormatRecord(tmp_path)  # kept on disk under .assist/
    assert reread.choose("ollama:small") == WHOLE_FILE
    assert reread.choose("ollama:big") == SEARCH_REPLACE
    for _ in range(3):
        reread.record("ollama:small", WHOLE_FILE, False)
    assert reread.choose("ollama:small") == SEARCH_REPLACE  # whole files did even worse: back to blocks
    (tmp_path / ".assist" / "fix" / "formats.json").write_text("{not json")
    assert FormatRecord(tmp_path).choose("ollama:small") == SEARCH_REPLACE  # a damaged record is no record


def test_the_fix_prompts_render_strictly_with_the_chosen_format():
    from assistant.fix.prompt import Attempt, round_message, system_message

    assert "<<<<<<< SEARCH" in system_message("shop", SEARCH_REPLACE)
    whole = system_message("shop", WHOLE_FILE)
    assert "complete new content" in whole and "<<<<<<< SEARCH" not in whole
    count = lambda text: len(text) // 4  # noqa: E731
    attempts = [Attempt(1, "x" * 4000, "your reply could not be applied: cut off")]
    user = round_message("pytest tests/", "FAILED tests/test_a.py::test_b", "shop/a.py:1-2\n```\nA = 1\n```",
                         attempts, room=200, count=count)
    assert "FAILED tests/test_a.py::test_b" in user and "A = 1" in user
    assert "Attempt 1: your reply could not be applied: cut off" in user and "x" * 100 not in user
