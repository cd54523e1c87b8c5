"""Gold labels of the localization benchmark: the files and symbols a fixing patch touches.

Every module and patch here is invented for these tests (small, with known line numbers); the graph is
built by the real extractor and graph builder, as the harness builds it from a real index.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from indexer.extract import extract_file
from indexer.graph import build_graph
from indexer.languages import language_for_path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from swebench_tasks import gold_labels, parse_unified_diff  # noqa: E402


def graph_of(root: Path, *paths: str):
    return build_graph({p: extract_file(p, (root / p).read_bytes(), language_for_path(p)) for p in paths})


# An invented module; the line numbers in the comments are what the patches below refer to.
LEDGER = '''\
"""Ledger of stock movements."""

import json

DEFAULT_UNIT = "pcs"


class Ledger:
    """Movements in arrival order."""

    def __init__(self):
        self.entries = []

    def record(self, sku, quantity):
        if quantity == 0:
            return
        self.entries.append((sku, quantity))

    def balance(self, sku):
        total = 0
        for entry_sku, quantity in self.entries:
            if entry_sku == sku:
                total += quantity
        return total


def export(ledger, path):
    def encode(entry):
        return {"sku": entry[0], "qty": entry[1]}

    with open(path, "w") as handle:
        json.dump([encode(e) for e in ledger.entries], handle)
'''
# 3: import json   5: DEFAULT_UNIT   8-24: Ledger   14-17: record   19-24: balance   27-32: export (28-29: encode)

MODULE_LEVEL_HUNK = '''\
@@ -3,3 +3,4 @@
 import json
+import csv
 
-DEFAULT_UNIT = "pcs"
+DEFAULT_UNIT = "units"
'''

FIX = f'''\
diff --git a/inventory/ledger.py b/inventory/ledger.py
index 1111111..2222222 100644
--- a/inventory/ledger.py
+++ b/inventory/ledger.py
{MODULE_LEVEL_HUNK}\
@@ -15,3 +16,3 @@ class Ledger:
         if quantity == 0:
-            return
+            raise ValueError("quantity must not be zero")
         self.entries.append((sku, quantity))
@@ -20,2 +21,3 @@ class Ledger:
         total = 0
+        sku = sku.upper()
         for entry_sku, quantity in self.entries:
@@ -28,4 +30,4 @@ def export(ledger, path):
     def encode(entry):
-        return {{"sku": entry[0], "qty": entry[1]}}
+        return {{"sku": entry[0], "quantity": entry[1]}}
 
     with open(path, "w") as handle:
diff --git a/inventory/units.py b/inventory/units.py
new file mode 100644
--- /dev/null
+++ b/inventory/units.py
@@ -0,0 +1,2 @@
+def normalise(unit):
+    return unit.lower()
diff --git a/tests/test_ledger.py b/tests/test_ledger.py
--- a/tests/test_ledger.py
+++ b/tests/test_ledger.py
@@ -1,2 +1,6 @@
 from inventory.ledger import Ledger
 
+
+def test_zero_quantity_is_refused():
+    Ledger().record("a", 0)
+
'''


@pytest.fixture
def ledger_root(tmp_path):
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "ledger.py").write_text(LEDGER)
    return tmp_path


def test_diff_hunks_give_preimage_lines_of_removals_and_insertion_points():
    files = parse_unified_diff(FIX)
    assert [(f.old_path, f.new_path) for f in files] == [
        ("inventory/ledger.py", "inventory/ledger.py"),
        (None, "inventory/units.py"),  # a new file has no pre-image
        ("tests/test_ledger.py", "tests/test_ledger.py"),
    ]
    module_level, record, balance, export = files[0].hunks
    # "import csv" follows pre-image line 3; line 5 is replaced.
    assert (module_level.changed_lines, module_level.insertions) == ([5], [3])
    assert module_level.inserted_text == ["import csv"]
    assert (record.changed_lines, record.insertions) == ([16], [])
    # A line added between 20 and 21 removes nothing: an insertion after line 20.
    assert (balance.changed_lines, balance.insertions) == ([], [20])
    assert (export.changed_lines, export.insertions) == ([29], [])
    # Both hunks of the test file and the new file: an empty pre-image, insertions only.
    assert files[1].hunks[0].changed_lines == [] and files[1].hunks[0].insertions == [0]
    assert files[2].hunks[0].insertions == [2]
    assert [f.path for f in files] == ["inventory/ledger.py", "inventory/units.py", "tests/test_ledger.py"]


def test_a_deleted_file_is_known_by_its_old_path():
    deletion = ("diff --git a/inventory/legacy.py b/inventory/legacy.py\ndeleted file mode 100644\n"
                "--- a/inventory/legacy.py\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-def old():\n-    pass\n")
    (removed,) = parse_unified_diff(deletion)
    assert (removed.old_path, removed.new_path, removed.path) == ("inventory/legacy.py", None, "inventory/legacy.py")
    assert removed.hunks[0].changed_lines == [1, 2]


def test_replaced_lines_label_the_innermost_method_and_insertions_the_body_they_land_in(ledger_root):
    labels = gold_labels(FIX, graph_of(ledger_root, "inventory/ledger.py"), ledger_root)
    # The new units.py is not at the base commit: no retriever could rank it, so it is no label.
    assert labels.files == ["inventory/ledger.py"]
    assert labels.created_files == ["inventory/units.py"]
    # The method, not its class; the insertion inside balance's body; the nested encode lifted to export.
    assert labels.functions == ["inventory/ledger.py::Ledger.record", "inventory/ledger.py::Ledger.balance",
                                "inventory/ledger.py::export"]
    assert labels.spans == {"inventory/ledger.py::Ledger.record": [(14, 17)],
                            "inventory/ledger.py::Ledger.balance": [(19, 24)],
                            "inventory/ledger.py::export": [(27, 32)]}
    # The import and constant hunk touches no symbol: it labels its file only.
    assert labels.module_level_hunks == 1


def test_a_hunk_of_module_level_code_only_labels_its_file_and_no_symbol(ledger_root):
    patch = ("diff --git a/inventory/ledger.py b/inventory/ledger.py\n"
             "--- a/inventory/ledger.py\n+++ b/inventory/ledger.py\n" + MODULE_LEVEL_HUNK)
    labels = gold_labels(patch, graph_of(ledger_root, "inventory/ledger.py"), ledger_root)
    assert labels.files == ["inventory/ledger.py"]
    assert labels.functions == [] and labels.spans == {}
    assert labels.module_level_hunks == 1


def test_test_files_are_not_labels(ledger_root):
    test_only = FIX[FIX.index("diff --git a/tests/"):]
    labels = gold_labels(test_only, graph_of(ledger_root, "inventory/ledger.py"), ledger_root)
    assert labels.files == [] and labels.functions == []
    assert labels.test_files == ["tests/test_ledger.py"]
    # In the whole fix too, the test file is reported but is no label.
    whole = gold_labels(FIX, graph_of(ledger_root, "inventory/ledger.py"), ledger_root)
    assert whole.test_files == ["tests/test_ledger.py"]
    assert not any(f.startswith("tests/") for f in whole.files)


SOURCE = '''\
class Store:
    def add(self, item):
        self.items.append(item)

    def remove(self, item):
        self.items.remove(item)


def helper():
    def inner():
        return 1
    return inner()
'''


PROPERTY_SOURCE = '''\
class Element:
    @property
    def value(self):
        return self._value

    @value.setter
    def value(self, val):
        self._value = val
'''


RUST_UNITS = Path(__file__).parent / "fixtures" / "languages" / "rust" / "units.rs"
# 3-5: to_feet   13-26: #[cfg(test)] mod tests (16-18: its helper close, 20-25: the #[test] round_trip)
UNITS_CODE_HUNK = "@@ -4 +4 @@ pub fn to_feet(metres: f64) -> f64 {\n-    metres * 3.28084\n+    metres / 0.3048\n"
UNITS_TEST_HUNK = "@@ -24 +24 @@ mod tests {\n-        assert!(same);\n+        assert!(same, \"{back}\");\n"


def units_patch(*hunks: str) -> str:
    return "diff --git a/src/units.rs b/src/units.rs\n--- a/src/units.rs\n+++ b/src/units.rs\n" + "".join(hunks)


def test_test_code_inside_a_source_file_is_no_label_either(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "units.rs").write_bytes(RUST_UNITS.read_bytes())
    graph = graph_of(tmp_path, "src/units.rs")
    labels = gold_labels(units_patch(UNITS_CODE_HUNK, UNITS_TEST_HUNK), graph, tmp_path)
    assert labels.files == ["src/units.rs"] and labels.functions == ["src/units.rs::to_feet"]
    assert labels.test_symbols == ["src/units.rs::tests.round_trip"]
    # A source file whose only change is in its test module is no gold file, as a test file is not.
    only_test = gold_labels(units_patch(UNITS_TEST_HUNK), graph, tmp_path)
    assert only_test.files == [] and only_test.functions == [] and only_test.test_files == ["src/units.rs"]


def test_a_change_in_a_property_setter_labels_the_shared_name_with_the_setters_span(tmp_path):
    (tmp_path / "m.py").write_text(PROPERTY_SOURCE)
    patch = ("diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n"
             "@@ -8 +8 @@\n-        self._value = val\n+        self._value = str(val)\n")
    labels = gold_labels(patch, graph_of(tmp_path, "m.py"), tmp_path)
    assert labels.functions == ["m.py::Element.value"]
    # Not the getter's lines (2-4): a pack showing only the getter does not show the fix's location.
    assert labels.spans["m.py::Element.value"] == [(6, 8)]


@pytest.mark.parametrize(
    ("hunk", "expected"),
    [
        # A method appended at the end of the class body: indentation puts it inside the class.
        ("@@ -6,0 +7,3 @@\n+\n+    def clear(self):\n+        self.items = []\n", ["m.py::Store"]),
        # The same past the blank line that ends the class (astroid-1268 adds a visitor method so).
        ("@@ -7,0 +8,3 @@\n+    def clear(self):\n+        self.items = []\n+\n", ["m.py::Store"]),
        # Between two lines of one body the text is inside it, whatever its indentation (a string's line).
        ("@@ -2,0 +3 @@\n+# kept at column 0\n", ["m.py::Store.add"]),
        # A line appended to the end of a method body belongs to the method.
        ("@@ -6,0 +7 @@\n+        self.count -= 1\n", ["m.py::Store.remove"]),
        # A new top-level function between two others is module-level: the file only.
        ("@@ -7,0 +8,3 @@\n+def other():\n+    pass\n+\n", []),
        # A change inside a nested function is lifted to the function that defines it.
        ("@@ -11 +11 @@\n-        return 1\n+        return 2\n", ["m.py::helper"]),
    ],
)
def test_insertion_owner_and_nesting(tmp_path, hunk, expected):
    (tmp_path / "m.py").write_text(SOURCE)
    patch = f"diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n{hunk}"
    labels = gold_labels(patch, graph_of(tmp_path, "m.py"), tmp_path)
    assert labels.files == ["m.py"]
    assert labels.functions == expected
    if expected == ["m.py::Store"]:
        assert labels.spans["m.py::Store"] == [(1, 1)]  # the class header, not all of the class


def test_scores_count_acc_only_when_every_gold_item_is_in_the_top_k():
    from localize_bench import SignalResult, summarize

    def result(file_ranks, function_ranks, ctx):
        return SignalResult(file_ranks, function_ranks, [], [], {4000: ctx, 8000: ctx, 16000: ctx}, {}, 0.01)

    both_files_found = result({"a.py": 1, "b.py": 7}, {"a.py::f": 3}, True)
    one_file_missing = result({"a.py": 2, "b.py": None}, {"a.py::f": 12, "b.py::g": 4}, False)
    module_level_only = result({"c.py": 1}, {}, None)
    summary = summarize([both_files_found, one_file_missing, module_level_only])
    assert summary["file_hit@1"] == pytest.approx(2 / 3)
    assert summary["file_acc@1"] == pytest.approx(1 / 3)  # only the single-file task has all at rank 1
    assert summary["file_acc@10"] == pytest.approx(2 / 3)  # b.py is never found in the second task
    assert summary["file_mrr"] == pytest.approx((1 + 1 / 2 + 1) / 3)
    # Function figures are over the two tasks that have gold functions.
    assert summary["n_functions"] == 2
    assert summary["func_acc@5"] == pytest.approx(1 / 2)
    assert summary["func_hit@5"] == pytest.approx(1.0)
    assert summary["func_acc@10"] == pytest.approx(1 / 2)  # f at 12 keeps the second task out
    assert summary["ctx@8k"] == pytest.approx(1 / 2)


def test_context_coverage_needs_every_line_of_the_function_outside_outlines():
    from types import SimpleNamespace

    from localize_bench import covered

    items = [SimpleNamespace(path="a.py", part="whole", segments=[(10, 20)]),
             SimpleNamespace(path="a.py", part="truncated", segments=[(30, 34)]),
             SimpleNamespace(path="a.py", part="outline", segments=[(35, 40)])]
    assert covered(items, "a.py", 12, 20)
    assert not covered(items, "a.py", 30, 36)  # the rest of it only appears as an outline
    assert not covered(items, "b.py", 12, 20)
