"""The fault benchmark's bug injector: one line changed, inside a function, still valid Python."""

from __future__ import annotations

import ast
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from mutants import OPERATORS, choose, mutation_sites  # noqa: E402

SOURCE = '''\
"""Module docstring with 1 number."""
LIMIT = 10  # module level: never mutated


class Window:
    size = 3  # class body: never mutated

    def shift(self, items, step):
        """Docstring 2."""
        if step < 0 and self.size:
            return items[1:]
        return sorted(items, key=len)[step]


def clamp(value, low, high):
    return max(low, min(value, high)) if low <= high else value


def outer(xs):
    def inner(x):
        return x == 0
    return [x for x in xs if inner(x) or x > 5]
'''


def test_every_operator_changes_one_line_inside_a_function():
    mutants = mutation_sites("pkg/mod.py", SOURCE)
    assert {m.operator for m in mutants} == set(OPERATORS)
    original = SOURCE.splitlines()
    for mutant in mutants:
        changed = mutant.apply(SOURCE)
        ast.parse(changed)
        assert ast.dump(ast.parse(changed)) != ast.dump(ast.parse(SOURCE)), mutant.describe()
        lines = changed.splitlines()
        assert len(lines) == len(original)
        assert [i + 1 for i, (a, b) in enumerate(zip(original, lines)) if a != b] == [mutant.line]
        assert mutant.function, "every mutant names its enclosing function"
        assert mutant.line not in (1, 2, 6, 9)  # docstrings, module and class level stay intact


def test_sites_name_their_enclosing_function_and_its_first_line():
    by_line = {}
    for mutant in mutation_sites("pkg/mod.py", SOURCE):
        by_line.setdefault(mutant.line, set()).add((mutant.function, mutant.function_first_line))
    assert by_line[10] == {(("Window", "shift"), 8)}
    assert by_line[16] == {(("clamp",), 15)}
    assert by_line[21] == {(("outer", "inner"), 20)}
    assert by_line[22] == {(("outer",), 19)}


def test_examples_of_each_operator():
    described = {m.describe() for m in mutation_sites("pkg/mod.py", SOURCE)}
    assert "pkg/mod.py:10 compare: if step < 0 and self.size:  →  if step <= 0 and self.size:" in described
    assert "pkg/mod.py:11 off_by_one: return items[1:]  →  return items[2:]" in described
    assert "pkg/mod.py:12 swap_args: return sorted(items, key=len)[step]  →  return sorted(key=len, items)[step]" \
        not in described  # a keyword argument is not a positional one
    assert "pkg/mod.py:16 swap_args: return max(low, min(value, high)) if low <= high else value  →  " \
           "return max(min(value, high), low) if low <= high else value" in described
    assert "pkg/mod.py:10 negate_if: if step < 0 and self.size:  →  if not (step < 0 and self.size):" in described
    assert "pkg/mod.py:10 drop_condition: if step < 0 and self.size:  →  if (step < 0):" in described


def test_choice_is_deterministic_and_spreads_operators():
    mutants = mutation_sites("pkg/mod.py", SOURCE)
    first = [m.describe() for m in choose(mutants, random.Random("seed"))]
    again = [m.describe() for m in choose(mutants, random.Random("seed"))]
    assert first == again
    assert len({m.split()[1] for m in first[: len(OPERATORS)]}) == len(OPERATORS)


def test_a_mutant_left_by_a_killed_run_is_put_back_before_the_next_run(tmp_path):
    """SIGKILL skips the `finally` that undoes a mutant: the next run must not mutate mutated code."""
    from fault_bench import restore_pristine

    sdist, copy = tmp_path / "sdist", tmp_path / "work"
    (sdist / "pkg").mkdir(parents=True)
    (sdist / "pkg" / "window.py").write_text(SOURCE)
    (sdist / "README.rst").write_text("not Python: never mutated\n")
    (copy / "pkg").mkdir(parents=True)
    (copy / "pkg" / "window.py").write_text(SOURCE.replace("step < 0", "step <= 0"))
    (copy / "pkg" / "generated.py").write_text("made by the test run\n")
    assert restore_pristine(sdist, copy) == ["pkg/window.py"]
    assert (copy / "pkg" / "window.py").read_text() == SOURCE
    assert (copy / "pkg" / "generated.py").exists()  # files the sdist lacks are the run's, and stay
    assert restore_pristine(sdist, copy) == []
