"""Localization of real test failures on a real indexed repository with an injected bug."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from assistant.fix.localize import localize
from assistant.fix.testrun import run_tests
from indexer.pipeline import index_repository
from indexer.retrieval import Retriever

PRICING = "inventory/pricing.py"


def inject(repo: Path, old: str, new: str) -> None:
    path = repo / PRICING
    text = path.read_text()
    assert text.count(old) == 1, f"the bug site {old!r} is not unique"
    path.write_text(text.replace(old, new))
    index_repository(repo)  # what the fix loop does between rounds: the changed file is re-read


def run_new_test(repo: Path, tmp_path: Path, module: str, code: str, test: str, test_code: str):
    """Add a module and its failing test to the indexed copy, re-index, and run that test."""
    (repo / module).write_text(code)
    (repo / test).write_text(test_code)
    index_repository(repo)
    return run_tests(repo, test_paths=[test], log_dir=tmp_path / "logs")


def packed_symbols(found) -> list[str]:
    return [item.symbol for item in found.pack.items if item.symbol and item.kind != "outline"]


@pytest.fixture(autouse=True)
def no_plugin_autoload(monkeypatch):
    """The small projects' pytest runs need none of this venv's third-party plugins (hypothesis, textual
    snapshots); loading them only slows every run down."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


@pytest.fixture
def retriever_for():
    opened: list[Retriever] = []

    def open_retriever(repo: Path) -> Retriever:
        opened.append(Retriever(repo))
        return opened[-1]

    yield open_retriever
    for retriever in opened:
        retriever.close()


def test_wrong_result_is_traced_to_the_function_under_test(indexed_copy: Path, tmp_path: Path, retriever_for):
    inject(indexed_copy, "        if quantity >= minimum:", "        if quantity > minimum:")
    run = run_tests(indexed_copy, test_paths=["tests/test_pricing.py"], log_dir=tmp_path / "logs")
    assert not run.green and run.failures

    found = localize(retriever_for(indexed_copy), run.failures, 4000)

    target = f"{PRICING}::bulk_discount_percent"
    assert found.suspects[0] == target
    assert target in packed_symbols(found)
    assert "tests/test_pricing.py::test_bulk_discount_tiers" in found.nodes["test"]
    assert target in found.nodes["under_test"]
    assert found.nodes["raised"] == []  # an assertion in the test: nothing below it raised
    assert found.tokens <= 4000
    item = next(i for i in found.pack.items if i.symbol == target)
    assert "hint" in item.why.signals
    assert found.text.startswith("Failing test(s): tests/test_pricing.py::test_bulk_discount_tiers")
    assert "def bulk_discount_percent" in found.text


def test_exception_deep_in_the_call_chain_names_where_it_raised(indexed_copy: Path, tmp_path: Path, retriever_for):
    inject(indexed_copy, "        return TAX_RATES[tax_class]", "        return TAX_RATES[tax_class.upper()]")
    run = run_tests(indexed_copy, test_paths=["tests/test_pricing.py"], log_dir=tmp_path / "logs")
    assert any(f.exc_type and f.exc_type.endswith("PricingError") for f in run.failures)

    found = localize(retriever_for(indexed_copy), run.failures, 4000)

    target = f"{PRICING}::tax_rate"
    assert found.nodes["raised"] == [target]
    assert found.suspects[0] == target
    assert target in packed_symbols(found)
    # The failing test and the functions between it and the raise are there for the model too.
    assert any(node.startswith("tests/test_pricing.py::") for node in found.nodes["test"])
    assert f"{PRICING}::tax_for" in found.suspects[:5]


def test_a_plain_traceback_from_any_command_is_localized(indexed_copy: Path, tmp_path: Path, retriever_for):
    inject(indexed_copy, "        return TAX_RATES[tax_class]", "        return TAX_RATES[tax_class.upper()]")
    script = "from decimal import Decimal; from inventory.pricing import tax_for; tax_for(Decimal(1), 'standard')"
    run = run_tests(indexed_copy, command=f"{sys.executable} -c \"{script}\"", log_dir=tmp_path / "logs")
    assert run.runner == "command" and not run.green
    [failure] = run.failures
    assert failure.exc_type.endswith("PricingError")

    found = localize(retriever_for(indexed_copy), run.failures, 3000)

    assert found.nodes["raised"] == [f"{PRICING}::tax_rate"]
    assert found.nodes["test"] == []
    assert found.suspects[0] == f"{PRICING}::tax_rate"


def test_a_small_budget_is_respected_and_keeps_the_suspect(indexed_copy: Path, tmp_path: Path, retriever_for):
    inject(indexed_copy, "        if quantity >= minimum:", "        if quantity > minimum:")
    run = run_tests(indexed_copy, test_paths=["tests/test_pricing.py"], log_dir=tmp_path / "logs")

    found = localize(retriever_for(indexed_copy), run.failures, 700)

    assert found.tokens <= 700
    assert f"{PRICING}::bulk_discount_percent" in packed_symbols(found)


def test_an_unsupported_operator_points_at_the_operator_method(indexed_copy: Path, tmp_path: Path, retriever_for):
    # The operator's method is never "called" in the graph's sense: the error message names it.
    run = run_new_test(
        indexed_copy, tmp_path, "inventory/money.py",
        "class Money:\n"
        "    def __init__(self, cents: int):\n        self.cents = cents\n\n"
        "    def __add__(self, other):\n"
        "        if isinstance(other, Money):\n"
        "            return NotImplemented  # the bug: should add\n"
        "        return NotImplemented\n\n"
        "    def __eq__(self, other):\n"
        "        return isinstance(other, Money) and other.cents == self.cents\n\n\n"
        "def total(amounts):\n"
        "    result = Money(0)\n"
        "    for amount in amounts:\n"
        "        result = result + amount\n"
        "    return result\n",
        "tests/test_money.py",
        "from inventory.money import Money, total\n\n\n"
        "def test_total_adds_up():\n"
        "    assert total([Money(150), Money(250)]) == Money(400)\n",
    )
    [failure] = run.failures
    assert failure.exc_type == "TypeError" and "unsupported operand" in failure.message

    found = localize(retriever_for(indexed_copy), run.failures, 3000, ran=["tests/test_money.py"])

    assert found.nodes["raised"] == ["inventory/money.py::total"]
    assert "inventory/money.py::Money.__add__" in found.suspects[:2]
    assert "inventory/money.py::Money.__add__" in packed_symbols(found)


def test_a_method_under_test_is_named_before_its_class(indexed_copy: Path, tmp_path: Path, retriever_for):
    # The assertion prints two Links, so the class scores highest; but a fix goes inside one of its methods, and
    # the suspects name those ranked just below it first, then the class.
    run = run_new_test(
        indexed_copy, tmp_path, "inventory/links.py",
        "class Link:\n"
        "    def __init__(self, scheme: str, host: str, path: str):\n"
        "        self.scheme, self.host, self.path = scheme, host, path\n\n"
        "    def __repr__(self) -> str:\n"
        "        return f\"Link({self.scheme!r}, {self.host!r}, {self.path!r})\"\n\n"
        "    def __eq__(self, other) -> bool:\n"
        "        # the bug: a host name's case counts\n"
        "        return (self.scheme, self.host, self.path) == (other.scheme, other.host, other.path)\n",
        "tests/test_links.py",
        "from inventory.links import Link\n\n\n"
        "def test_host_names_ignore_case():\n"
        "    assert Link(\"https\", \"Shop.example\", \"/cart\") == Link(\"https\", \"shop.example\", \"/cart\")\n",
    )
    assert not run.green and run.failures

    found = localize(retriever_for(indexed_copy), run.failures, 3000, ran=["tests/test_links.py"])

    link = "inventory/links.py::Link"
    assert found.suspects[0] == f"{link}.__eq__", found.suspects
    assert link in found.suspects[1:4], found.suspects
