"""Mining fix commits of other languages than Python (issue 15): a real git history made here, mined by
bench/mine_tasks.py, whose labels come from our own extractor at the parent commit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from mine_tasks import main, mine  # noqa: E402

CALC_GO = """\
package calc

// Sum adds the amounts.
func Sum(amounts []int) int {
\ttotal := 0
\tfor _, a := range amounts {
\t\ttotal += a
\t}
\treturn total
}

// Mean is the average amount.
func Mean(amounts []int) int {
\treturn Sum(amounts) / len(amounts)
}
"""

LEDGER_JAVA = """\
package com.acme.books;

public class Ledger {
    private int balance;

    public void post(int amount) {
        balance += amount;
    }

    public int balance() {
        return balance;
    }
}
"""

FIX_MESSAGE = "Fix division by zero in Mean for an empty list\n\nMean panicked on a nil slice; it now returns 0.\n"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=Tester", "-c", "user.email=t@example.com", "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def new_repo(tmp_path: Path, files: dict[str, str]) -> Path:
    repo = tmp_path / "calc"
    repo.mkdir()
    git(repo, "init", "-q")
    commit(repo, files, "Start the calc package")
    return repo


def mine_all(repo: Path, language: str) -> list[dict]:
    return mine(repo, "acme/calc", "2000-01-01", "2099-12-31", 10, language=language)


def test_a_go_fix_commit_is_a_task_labelled_with_the_function_it_changes(tmp_path):
    repo = new_repo(tmp_path, {"calc.go": CALC_GO})
    parent = git(repo, "rev-parse", "HEAD").strip()
    fixed = CALC_GO.replace("\treturn Sum(amounts) / len(amounts)\n",
                            "\tif len(amounts) == 0 {\n\t\treturn 0\n\t}\n\treturn Sum(amounts) / len(amounts)\n")
    commit(repo, {"calc.go": fixed, "calc_test.go": "package calc\n"}, FIX_MESSAGE)

    (task,) = mine_all(repo, "go")

    assert task["problem_statement"] == FIX_MESSAGE.strip()
    assert task["functions"] == ["calc.go::Mean"]  # not Sum, whose lines did not change
    assert task["base_commit"] == parent
    assert task["language"] == "go"
    assert "calc_test.go" in task["patch"]  # the test file travels with the patch; it is no label


def test_a_java_method_is_labelled_by_its_class(tmp_path):
    repo = new_repo(tmp_path, {"src/main/java/com/acme/books/Ledger.java": LEDGER_JAVA})
    commit(repo, {"src/main/java/com/acme/books/Ledger.java": LEDGER_JAVA.replace(
        "balance += amount;", "if (amount != 0) {\n            balance += amount;\n        }")},
        "Fix posting of zero amounts to the ledger")

    (task,) = mine_all(repo, "java")

    assert task["functions"] == ["src/main/java/com/acme/books/Ledger.java::Ledger.post"]


def test_commits_that_change_no_function_or_only_another_language_are_left_out(tmp_path):
    repo = new_repo(tmp_path, {"calc.go": CALC_GO, "tool.py": "def run():\n    return 1\n"})
    commit(repo, {"calc.go": CALC_GO.replace("package calc\n", "package calc // import \"acme/calc\"\n")},
           "Fix the import path comment of the calc package")
    commit(repo, {"tool.py": "def run():\n    return 2\n"}, "Fix the value run returns to the caller")

    assert mine_all(repo, "go") == []  # a package-clause change labels no function
    (python_task,) = mine_all(repo, "python")  # Python keeps its tasks as before: no labels attached
    assert python_task["problem_statement"] == "Fix the value run returns to the caller"
    assert "functions" not in python_task and "language" not in python_task


def test_the_command_line_writes_one_json_task_per_line(tmp_path, capsys):
    repo = new_repo(tmp_path, {"calc.go": CALC_GO})
    commit(repo, {"calc.go": CALC_GO.replace("total += a", "total += a // overflow is the caller's")},
           "Fix the comment about overflow handling in Sum")

    assert main([str(repo), "--repo", "acme/calc", "--since", "2000-01-01", "--until", "2099-12-31",
                 "--language", "go", "--max-commits", "5"]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and '"functions": ["calc.go::Sum"]' in lines[0]


def test_each_language_holds_one_repository_aside_and_the_choice_does_not_move():
    from multilingual_set import REPOSITORIES, parts

    held = {language: parts(language)["held"] for language in REPOSITORIES}
    # Fixed before anything was measured (SHA-256 order of the names): figures of the held part stay comparable.
    assert held == {"go": ["spf13/cobra"], "rust": ["rust-lang/regex"], "java": ["google/guice"],
                    "jsts": ["colinhacks/zod"]}
    for language, names in REPOSITORIES.items():
        assert sorted(parts(language)["tune"] + held[language]) == sorted(names)


def test_whole_file_bm25_ranks_the_file_whose_words_the_message_uses(tmp_path):
    from multilingual_set import whole_file_ranking

    texts = {"ledger.go": "func PostEntry(amount int) { balance += amount }",
             "report.go": "func RenderReport(rows []Row) string { return table(rows) }",
             "calc.go": CALC_GO}
    assert whole_file_ranking(texts, "Fix the report rendering of empty rows")[0] == "report.go"
