"""Which of a project's tests the edit benchmark runs to verify an edit of one file (``--verify-tests``), and
which of them it leaves out after the edit because they already failed at the parent.

The file lists are the real layouts of the projects the benchmark mines (click, requests, attrs), cut down.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from edit_bench import failing_tests, select_tests  # noqa: E402

CLICK = ["tests/test_basic.py", "tests/test_options.py", "tests/test_types.py", "tests/test_utils.py"]
REQUESTS = ["tests/test_adapters.py", "tests/test_requests.py", "tests/test_utils.py"]
ATTRS = ["tests/test_make.py", "tests/test_validators.py", "tests/test_next_gen.py"]


def test_the_test_file_named_after_the_module_is_chosen():
    assert select_tests("src/click/types.py", CLICK) == (["tests/test_types.py"], "module")
    assert select_tests("src/requests/adapters.py", REQUESTS) == (["tests/test_adapters.py"], "module")


def test_a_private_module_matches_its_name_without_the_underscore():
    assert select_tests("src/attr/_make.py", ATTRS) == (["tests/test_make.py"], "module")


def test_without_a_module_test_file_the_package_test_file_is_chosen():
    assert select_tests("requests/api.py", REQUESTS) == (["tests/test_requests.py"], "package")
    assert select_tests("src/requests/__init__.py", REQUESTS) == (["tests/test_requests.py"], "package")


def test_without_either_the_whole_suite_runs():
    assert select_tests("src/click/core.py", CLICK) == (["tests"], "suite")


def test_a_file_outside_any_package_runs_the_whole_suite_not_a_same_named_test():
    # setup.py is imported by no test; a tests/test_setup.py (were there one) would test something else.
    assert select_tests("setup.py", ATTRS + ["tests/test_setup.py"]) == (["tests"], "suite")


# The end of a real `pytest -q -rfE` run of requests' tests at a 2024 parent (messages shortened).
PYTEST_TAIL = """\
=========================== short test summary info ============================
FAILED tests/test_requests.py::TestRequests::test_unicode_header_name - Failed: Timeout >60.0s
FAILED tests/test_requests.py::TestTimeout::test_total_timeout_connect[timeout0]
FAILED tests/test_requests.py::TestPreparingURLs::test_redirecting_to_bad_url[http://localhost:-1-InvalidURL] - a
ERROR tests/test_requests.py::TestRequests::test_https_warnings - ValueError: x
ERROR tests/test_requests.py::TestRequests::test_https_warnings - ValueError: x
ERROR tests/test_broken.py - ImportError: no module named q
7 failed, 320 passed, 1 xfailed, 12 warnings, 1 error in 69.70s (0:01:09)
"""


def test_the_failing_tests_are_read_from_the_short_summary_once_each():
    assert failing_tests(PYTEST_TAIL) == [
        "tests/test_requests.py::TestRequests::test_unicode_header_name",
        "tests/test_requests.py::TestTimeout::test_total_timeout_connect[timeout0]",
        "tests/test_requests.py::TestPreparingURLs::test_redirecting_to_bad_url[http://localhost:-1-InvalidURL]",
        "tests/test_requests.py::TestRequests::test_https_warnings",
    ]
