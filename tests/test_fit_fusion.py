"""bench/fit_fusion.py: the calibrated-fusion fit is deterministic, reproducible from its task file, and finds a weight
that matters.

The project is invented: three shop modules, each with one function a bug report is about, and for each a crowd of
test functions that repeat the report's words far more often than the function does. With test code counted at
full weight (``test_penalty=1``, a deliberately bad start) those tests bury the function and its file; the fit must
find a lower penalty. Indexes, rankings and scores are the real ones.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from indexer.retrieval import RetrievalConfig

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import fit_fusion  # noqa: E402

TOPICS = {
    # module: (function, words of its report, the report)
    "refunds": ("issue_refund", "refund rounding negative total",
                "Refund rounding is wrong when the order total is negative"),
    "shipping": ("shipping_fee", "shipping fee charged twice heavy parcel",
                 "Shipping fee charged twice for a heavy parcel"),
    "coupons": ("coupon_expiry", "coupon expiry timezone midnight",
                "Coupon expiry ignores the timezone around midnight"),
}


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


def _source(function: str, words: str) -> str:
    return (f'"""Shop {words.split()[0]} rules."""\n\n\n'
            f"def {function}(order):\n"
            f'    """Apply the {words.split()[0]} rule to an order."""\n'
            f"    amount = order.amount\n"
            f"    return round(amount, 2)\n\n\n"
            f"def describe(order):\n"
            f'    return str(order)\n')


def _tests(module: str, number: int, words: str) -> str:
    lines = [f'"""Checks of {module}, part {number}."""\n']
    for case in range(2):
        lines.append(f"def test_{module}_{number}_{case}():\n"
                     f'    """{words} {words} {words}"""\n'
                     f'    message = "{words} {words}"\n'
                     f"    assert message.count('{words.split()[0]}') == 2\n")
    return "\n\n".join(lines)


def make_tasks(tmp_path: Path) -> Path:
    """A git project with the three modules and their crowds of tests, and a task file with one task per module;
    returns the task file. Each task's patch changes its function's body (made with git, so its lines are right)."""
    root = tmp_path / "repos" / "acme+shop"
    (root / "shop").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "shop" / "__init__.py").write_text("")
    for module, (function, words, _) in TOPICS.items():
        (root / "shop" / f"{module}.py").write_text(_source(function, words))
        for number in range(6):
            (root / "tests" / f"test_{module}_{number}.py").write_text(_tests(module, number, words))
    _git(root, "init", "-q")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", "-A")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "shop")
    base = _git(root, "rev-parse", "HEAD").strip()
    rows = []
    for module, (function, _, report) in TOPICS.items():
        path = root / "shop" / f"{module}.py"
        original = path.read_text()
        path.write_text(original.replace("return round(amount, 2)", "return round(abs(amount), 2)"))
        patch = _git(root, "diff")
        path.write_text(original)
        rows.append({"repo": "acme/shop", "instance_id": f"acme__shop-{module}", "base_commit": base,
                     "problem_statement": report, "patch": patch})
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return tasks


def run_fit(tmp_path: Path, tasks: Path, cache: str, *extra: str) -> dict:
    out = tmp_path / f"{cache}.json"
    code = fit_fusion.main(["--tasks", str(tasks), "--repos-dir", str(tmp_path / "repos"),
                            "--cache", str(tmp_path / cache), "--json", str(out), *extra])
    assert code == 0
    return json.loads(out.read_text())


BAD_START = ["--fields", "test_penalty,weight_in_file", "--start", "test_penalty=1.0"]


@pytest.fixture(scope="module")
def two_fits(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("fit")
    tasks = make_tasks(tmp_path)
    return run_fit(tmp_path, tasks, "first", *BAD_START), run_fit(tmp_path, tasks, "second", *BAD_START)


def test_the_same_tasks_fit_to_the_same_weights_and_path(two_fits):
    first, second = two_fits
    assert first["fitted"] == second["fitted"]
    assert first["steps"] == second["steps"]
    assert first["objective"] == second["objective"]


def test_the_fitted_penalty_finds_what_the_bad_start_buries(two_fits):
    fit = two_fits[0]
    assert fit["start"]["test_penalty"] == 1.0
    assert fit["start_summary"]["file_acc@5"] < 1.0  # the bad start: test files crowd a source file out of the top 5
    assert fit["fitted"]["test_penalty"] < 1.0
    # every value of the grid finds all three here; among equals the fit takes the default, the fewest changes
    assert fit["fitted"]["test_penalty"] == RetrievalConfig().test_penalty
    assert fit["objective"] > fit["start_objective"]
    assert fit["summary"]["file_acc@5"] == 1.0
    assert fit["summary"]["func_acc@10"] == 1.0


def test_held_aside_repositories_are_refused(tmp_path, capsys):
    held = tmp_path / "held.jsonl"
    held.write_text(json.dumps({"repo": "psf/black", "instance_id": "psf__black-1", "base_commit": "0" * 40,
                                "problem_statement": "x", "patch": ""}) + "\n")
    assert fit_fusion.main(["--tasks", str(held), "--cache", str(tmp_path / "cache")]) == 2
    assert "psf/black is held aside" in capsys.readouterr().err
    assert not (tmp_path / "cache").exists()


def test_a_file_that_is_not_a_task_file_is_one_line(tmp_path, capsys):
    bad = tmp_path / "notes.jsonl"
    bad.write_text("tune on these\n")
    assert fit_fusion.main(["--tasks", str(bad), "--cache", str(tmp_path / "cache")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fit_fusion: ") and "not a task file" in err and err.count("\n") == 1
