"""The same bytes always give the same extract, so re-indexing an unchanged repository writes the same code
graph (the same first-seen call lines and resolutions, the same order of unresolved calls)."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.extract import extract_file
from indexer.languages import language_for_path

ROOT = Path(__file__).resolve().parents[1]
# Files with calls nested at the same start (`a.parse().map_err(...)`, `new Foo().bar()`) and module-level
# names read from many query captures: the cases where tree-sitter's capture order varies between parses.
FILES = [
    "examples/inventory/tools/ledger/src/lib.rs",
    "examples/inventory/web/app.js",
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests/fixtures/languages").rglob("*.*")),
]


GO_SETTINGS = b"""package shop

const MaxItems = 10
const MinItems = 1

var (
\tdefaultRegion = "eu"
\tretries       = 3
\ttimeout       = 5
)

var registry = map[string]int{}
"""


def assert_stable(path: str, source: bytes) -> None:
    language = language_for_path(path)
    first = extract_file(path, source, language)
    for _ in range(12):
        again = extract_file(path, source, language)
        assert again.calls == first.calls
        assert again.imports == first.imports
        assert again.module_names == first.module_names
        assert again == first


@pytest.mark.parametrize("path", FILES)
def test_parsing_a_file_again_gives_the_same_extract(path):
    assert_stable(path, (ROOT / path).read_bytes())


def test_module_level_names_come_in_source_order():
    assert_stable("shop/settings.go", GO_SETTINGS)
    names = extract_file("shop/settings.go", GO_SETTINGS, "go").module_names
    assert names == ["MaxItems", "MinItems", "defaultRegion", "retries", "timeout", "registry"]
