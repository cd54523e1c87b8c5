"""Failure parsing on the real output of real runners: pytest (long, short, summary-only), unittest, node."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.fix.failures import Frame, parse_failures, pytest_counts

CALC = '''\
def add(a, b):
    return a + b + 1


def divide(a, b):
    return helper(a, b)


def helper(a, b):
    if b == 0:
        raise ValueError(f"cannot divide {a} by zero")
    return a / b
'''

TESTS = '''\
import pytest
from pkg.calc import add, divide


def test_add():
    assert add(1, 2) == 3


class TestDivide:
    def test_zero(self):
        assert divide(4, 0) == 0

    @pytest.mark.parametrize("x", [1, 2])
    def test_param(self, x):
        assert add(x, 0) == x


def test_ok():
    assert divide(4, 2) == 2


@pytest.fixture
def broken():
    raise RuntimeError("fixture exploded")


def test_uses_broken(broken):
    pass


def test_identity():
    assert object() is None
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "calc.py").write_text(CALC)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_calc.py").write_text(TESTS)
    return tmp_path


# Third-party plugins of this venv (hypothesis, textual snapshots) only slow the small runs down.
QUIET_ENV = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


def pytest_output(root: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--color=no", *args, "tests"],
                          cwd=root, capture_output=True, text=True, timeout=300, env=QUIET_ENV)
    return done.stdout + done.stderr


@pytest.mark.parametrize("style", [["-rfE"], ["-rfE", "--tb=short"], ["-q", "--tb=short"]])
def test_pytest_report_gives_tests_exceptions_details_and_frames(project: Path, style: list[str]):
    failures = {f.test_id: f for f in parse_failures(pytest_output(project, *style), project)}

    assert set(failures) == {
        "tests/test_calc.py::test_add",
        "tests/test_calc.py::TestDivide::test_zero",
        "tests/test_calc.py::TestDivide::test_param[1]",
        "tests/test_calc.py::TestDivide::test_param[2]",
        "tests/test_calc.py::test_uses_broken",
        "tests/test_calc.py::test_identity",
    }
    add = failures["tests/test_calc.py::test_add"]
    assert add.exc_type == "AssertionError"
    assert add.message == "assert 4 == 3"
    assert "where 4 = add(1, 2)" in add.detail
    assert add.frames == [Frame("tests/test_calc.py", 6, "test_add")]

    zero = failures["tests/test_calc.py::TestDivide::test_zero"]
    assert (zero.exc_type, zero.message) == ("ValueError", "cannot divide 4 by zero")
    assert zero.frames == [Frame("tests/test_calc.py", 11, "test_zero"), Frame("pkg/calc.py", 6, "divide"),
                           Frame("pkg/calc.py", 11, "helper")]
    assert zero.innermost == Frame("pkg/calc.py", 11, "helper")

    setup = failures["tests/test_calc.py::test_uses_broken"]
    assert (setup.exc_type, setup.message) == ("RuntimeError", "fixture exploded")
    assert setup.frames[-1] == Frame("tests/test_calc.py", 24, "broken")


def test_pytest_counts_include_errors(project: Path):
    assert pytest_counts(pytest_output(project, "-rfE")) == (1, 6)
    assert pytest_counts(pytest_output(project, "-q")) == (1, 6)


def test_summary_lines_alone_still_name_the_failures(project: Path):
    failures = parse_failures(pytest_output(project, "-rfE", "--tb=no"), project)
    by_id = {f.test_id: f for f in failures}
    assert len(failures) == 6
    assert by_id["tests/test_calc.py::test_add"].exc_type == "AssertionError"
    assert by_id["tests/test_calc.py::TestDivide::test_zero"].exc_type == "ValueError"


def test_collection_error_is_a_failure_with_its_import_error(project: Path):
    (project / "tests" / "test_broken_import.py").write_text("import no_such_module_here\n")
    failures = parse_failures(pytest_output(project, "-rfE"), project)
    assert [f.test_id for f in failures] == ["tests/test_broken_import.py"]
    assert failures[0].exc_type == "ModuleNotFoundError"
    assert "no_such_module_here" in failures[0].message
    assert Frame("tests/test_broken_import.py", 1, None) in failures[0].frames


def test_signature_ignores_addresses_but_not_a_changed_failure(project: Path):
    first = {f.test_id: f.signature for f in parse_failures(pytest_output(project, "-rfE"), project)}
    second = {f.test_id: f.signature for f in parse_failures(pytest_output(project, "-rfE"), project)}
    assert first == second  # `assert <object object at 0x...> is None` prints a new address each run
    assert "0x" in first["tests/test_calc.py::test_identity"]

    (project / "pkg" / "calc.py").write_text(CALC.replace("a + b + 1", "a + b + 2"))
    third = {f.test_id: f.signature for f in parse_failures(pytest_output(project, "-rfE"), project)}
    assert third["tests/test_calc.py::test_add"] != first["tests/test_calc.py::test_add"]
    assert third["tests/test_calc.py::TestDivide::test_zero"] == first["tests/test_calc.py::TestDivide::test_zero"]


def test_absolute_paths_inside_the_repository_become_relative(project: Path, tmp_path_factory):
    # Running from elsewhere makes pytest print paths that are not relative to the repository.
    elsewhere = tmp_path_factory.mktemp("cwd")
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--color=no", "-rfE",
                           "--rootdir", str(elsewhere), str(project / "tests")],
                          cwd=elsewhere, capture_output=True, text=True, timeout=300,
                          env={**QUIET_ENV, "PYTHONPATH": str(project)})
    zero = next(f for f in parse_failures(done.stdout, project) if f.test_id.endswith("TestDivide::test_zero"))
    assert zero.innermost == Frame("pkg/calc.py", 11, "helper")


def test_unittest_output(project: Path):
    (project / "test_unit.py").write_text(
        "import unittest\nfrom pkg.calc import add, divide\n\n\n"
        "class CalcTest(unittest.TestCase):\n"
        "    def test_add(self):\n        self.assertEqual(add(1, 2), 3)\n\n"
        "    def test_divide(self):\n        divide(1, 0)\n"
    )
    done = subprocess.run([sys.executable, "-m", "unittest", "test_unit"], cwd=project,
                          capture_output=True, text=True, timeout=120)
    failures = {f.test_id: f for f in parse_failures(done.stdout + done.stderr, project)}
    assert set(failures) == {"test_unit.CalcTest.test_add", "test_unit.CalcTest.test_divide"}
    add = failures["test_unit.CalcTest.test_add"]
    assert (add.exc_type, add.message) == ("AssertionError", "4 != 3")
    assert add.frames == [Frame("test_unit.py", 7, "test_add")]
    divide = failures["test_unit.CalcTest.test_divide"]
    assert divide.exc_type == "ValueError"
    assert divide.frames[-2:] == [Frame("pkg/calc.py", 6, "divide"), Frame("pkg/calc.py", 11, "helper")]


def test_node_stack_trace_innermost_last(project: Path):
    (project / "lib.js").write_text(
        "function parse(text) {\n  if (!text) {\n    throw new Error('empty input');\n  }\n  return text;\n}\n"
        "module.exports = { parse };\n"
    )
    (project / "main.js").write_text("const { parse } = require('./lib');\nfunction run() {\n  parse('');\n}\nrun();\n")
    done = subprocess.run(["node", "main.js"], cwd=project, capture_output=True, text=True, timeout=120)
    failures = parse_failures(done.stdout + done.stderr, project)
    assert len(failures) == 1
    frames = [f for f in failures[0].frames if not f.path.startswith(("node:", "/"))]
    assert frames[-1] == Frame("lib.js", 3, "parse")
    assert Frame("main.js", 3, "run") in frames
    assert "empty input" in failures[0].message + failures[0].detail


def test_output_without_failures_gives_none(tmp_path: Path):
    assert parse_failures("all good\n3 tests passed\n", tmp_path) == []
    assert parse_failures("", tmp_path) == []


def test_a_conftest_that_fails_to_import(project: Path):
    # pytest prints this traceback outside its report: no FAILURES section, no summary line.
    (project / "conftest.py").write_text("from pkg.calc import divide\ndivide(1, 0)\n")
    [failure] = parse_failures(pytest_output(project, "-rfE"), project)
    assert (failure.exc_type, failure.message) == ("ValueError", "cannot divide 1 by zero")
    assert failure.frames == [Frame("conftest.py", 2, None), Frame("pkg/calc.py", 6, "divide"),
                              Frame("pkg/calc.py", 11, "helper")]
