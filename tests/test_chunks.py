"""Chunking real files: symbol chunks from the real extractor, splits measured by the real tokenizer."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.chunks import chunk_file
from indexer.embeddings import load_embedder
from indexer.extract import extract_file

FIXTURES = Path(__file__).parent / "fixtures" / "chunks"
SHOP_PATH = "shop/core/shop.py"


@pytest.fixture(scope="session")
def count_tokens():
    # The default embedder's tokenizer loads without the model, so this stays fast.
    return load_embedder("default").count_tokens


@pytest.fixture(scope="module")
def shop_source() -> str:
    return (FIXTURES / "shop.py").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def shop_extract(shop_source):
    return extract_file(SHOP_PATH, shop_source.encode("utf-8"), "python")


@pytest.fixture
def shop_chunks(shop_source, shop_extract, count_tokens):
    return chunk_file(SHOP_PATH, shop_source, shop_extract, max_tokens=256, count_tokens=count_tokens)


def line_of(source: str, needle: str) -> int:
    """1-based number of the first line containing ``needle``."""
    for number, line in enumerate(source.split("\n"), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in source")


def by_symbol(chunks, dotted: str):
    return [c for c in chunks if c.symbol == f"{SHOP_PATH}::{dotted}"]


def test_each_method_is_one_chunk_with_its_full_source_and_span(shop_chunks, shop_source):
    [total] = by_symbol(shop_chunks, "Cart.total")
    assert total.kind == "method"
    assert total.text.split("\n")[0] == "# method Cart.total"
    start = line_of(shop_source, "@property")
    end = line_of(shop_source, "return round(subtotal")
    assert (total.start_line, total.end_line) == (start, end)
    source_lines = shop_source.split("\n")[start - 1 : end]
    assert total.text.split("\n")[1:] == source_lines

    [add_item] = by_symbol(shop_chunks, "Cart.add_item")
    assert "merging quantities of the same SKU" in add_item.text
    assert "self.items.append(item)" in add_item.text


def test_class_chunk_is_a_header_with_method_signatures_but_no_bodies(shop_chunks):
    [cart] = by_symbol(shop_chunks, "Cart")
    assert cart.kind == "class"
    assert cart.text.startswith("# class Cart\nclass Cart:")
    assert "A shopping cart that holds items until checkout." in cart.text
    assert "owner: str" in cart.text
    for signature in ("def __init__(self, owner: str) -> None:", "def add_item(self, item: Item) -> None:",
                      "@property", "def total(self) -> float:"):
        assert signature in cart.text
    for body_line in ("self.items.append(item)", "existing.quantity += item.quantity", "subtotal = sum("):
        assert body_line not in cart.text


def test_module_chunk_holds_top_level_code_only(shop_chunks, shop_source):
    [module] = [c for c in shop_chunks if c.kind == "module"]
    assert module.symbol is None
    assert module.text.startswith("# module top-level code\n")
    for top_level in ('"""A small shop: carts, prices and a sales report."""', "import json", "TAX_RATE = 0.2",
                      'if __name__ == "__main__":', 'cart.add_item(Item("apple", 0.5, 4))'):
        assert top_level in module.text
    for inside_definition in ("def parse_date", "class Cart", "revenue_by_sku", "self.owner = owner"):
        assert inside_definition not in module.text
    assert module.start_line == 1
    assert module.end_line == line_of(shop_source, "print(cart.total)")
    assert "\n\n\n" not in module.text  # the holes left by definitions are closed up


def test_nested_function_stays_inside_its_parent(shop_chunks):
    assert not by_symbol(shop_chunks, "retry_loader.load_once")
    [loader] = by_symbol(shop_chunks, "retry_loader")
    assert "def load_once() -> dict:" in loader.text and "json.load(handle)" in loader.text


def test_long_function_is_split_into_parts_that_fit_the_model(shop_chunks, shop_source, count_tokens):
    parts = by_symbol(shop_chunks, "build_sales_report")
    assert len(parts) >= 2
    assert [p.part for p in parts] == list(range(len(parts)))
    for part in parts:
        assert count_tokens(part.text) <= 256
        assert part.text.split("\n")[0] == "# function build_sales_report"
    # The parts cover the function's lines in order, without gaps or overlaps.
    assert parts[0].start_line == line_of(shop_source, "def build_sales_report")
    assert parts[-1].end_line == line_of(shop_source, '"skipped_orders": skipped_orders,') + 1
    for before, after in zip(parts, parts[1:]):
        assert after.start_line == before.end_line + 1
    rebuilt = [line for p in parts for line in p.text.split("\n")[1:]]
    source_lines = shop_source.split("\n")[parts[0].start_line - 1 : parts[-1].end_line]
    assert rebuilt == source_lines


def test_every_chunk_fits_and_no_text_mentions_the_path(shop_chunks, count_tokens):
    assert len(shop_chunks) >= 9
    for chunk in shop_chunks:
        assert count_tokens(chunk.text) <= 256
        assert "shop/core" not in chunk.text and "shop.py" not in chunk.text
        assert chunk.text.strip()
        assert chunk.language == "python" and chunk.path == SHOP_PATH


def test_ids_are_unique_and_stable_and_renaming_keeps_texts(shop_source, shop_extract, shop_chunks, count_tokens):
    ids = [c.id for c in shop_chunks]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 24 and int(i, 16) >= 0 for i in ids)
    again = chunk_file(SHOP_PATH, shop_source, shop_extract, max_tokens=256, count_tokens=count_tokens)
    assert [c.id for c in again] == ids

    renamed_extract = extract_file("elsewhere/store.py", shop_source.encode("utf-8"), "python")
    renamed = chunk_file("elsewhere/store.py", shop_source, renamed_extract, max_tokens=256, count_tokens=count_tokens)
    assert [c.text for c in renamed] == [c.text for c in shop_chunks]
    assert [c.content_hash for c in renamed] == [c.content_hash for c in shop_chunks]
    assert not set(c.id for c in renamed) & set(ids)


def test_default_estimate_also_bounds_chunk_size(shop_source, shop_extract):
    chunks = chunk_file(SHOP_PATH, shop_source, shop_extract, max_tokens=64)
    assert len(chunks) > 12
    assert all(len(c.text) / 3.2 <= 64 for c in chunks)


def test_an_enormous_single_line_is_cut_to_fit(count_tokens):
    source = "def blob():\n    return " + repr("abcdefghij " * 600) + "\n"
    extract = extract_file("blob.py", source.encode(), "python")
    chunks = chunk_file("blob.py", source, extract, max_tokens=128, count_tokens=count_tokens)
    assert len(chunks) > 5
    assert all(count_tokens(c.text) <= 128 for c in chunks)
    assert all(c.text.startswith("# function blob\n") for c in chunks)
    assert "".join(c.text.removeprefix("# function blob\n") for c in chunks[1:]).count("abcdefghij") > 500


def test_other_languages_get_comment_headers_and_their_doc_comments(count_tokens):
    path = Path(__file__).parent / "fixtures" / "languages" / "go" / "server.go"
    source = path.read_text(encoding="utf-8")
    extract = extract_file("server.go", source.encode(), "go")
    chunks = chunk_file("server.go", source, extract, count_tokens=count_tokens)
    handle = next(c for c in chunks if c.symbol == "server.go::Server.Handle")
    assert handle.kind == "method"
    assert handle.text.startswith("// method Server.Handle\n// Handle registers h for path.\nfunc (s *Server) Handle(")
    module = next(c for c in chunks if c.kind == "module")
    assert "package server" in module.text and "func " not in module.text


def test_markdown_is_cut_at_headings_and_keeps_code_fences_whole(count_tokens):
    source = (FIXTURES / "guide.md").read_text(encoding="utf-8")
    chunks = chunk_file("docs/guide.md", source, None, count_tokens=count_tokens)
    assert [c.kind for c in chunks] == ["text", "text", "text"]
    assert all(c.symbol is None and c.language == "markdown" for c in chunks)
    assert [c.text.split("\n")[0] for c in chunks] == ["# Shop guide", "## Installation", "## Reports"]
    installation = chunks[1]
    assert "pip install shop\n\npython -m shop\n```" in installation.text
    expected_span = (line_of(source, "## Installation"), line_of(source, "python -m shop") + 1)
    assert (installation.start_line, installation.end_line) == expected_span
    assert len({c.id for c in chunks}) == 3


def test_a_long_markdown_section_carries_its_heading_into_every_piece(count_tokens):
    paragraph = "Paragraph {} explains refunds, carts and stock levels in detail. " * 3
    paragraphs = "\n\n".join(paragraph.format(i, i, i) for i in range(30))
    source = f"# Title\n\nIntro.\n\n## Refunds\n\n{paragraphs}\n"
    chunks = chunk_file("README.md", source, None, max_tokens=100, count_tokens=count_tokens)
    refunds = [c for c in chunks if "Paragraph" in c.text]
    assert len(refunds) > 5
    assert all(c.text.startswith("## Refunds\n") for c in refunds)
    assert all(count_tokens(c.text) <= 100 for c in chunks)
    starts = [c.start_line for c in chunks]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)


def test_plain_text_and_blank_files():
    config = "[tool]\nname = 'shop'\n\n[deps]\nrequests = '*'\n"
    chunks = chunk_file("pyproject.toml", config, None)
    assert len(chunks) == 1 and chunks[0].kind == "text" and chunks[0].text == config.strip()
    assert (chunks[0].start_line, chunks[0].end_line) == (1, 5)
    assert chunk_file("empty.md", "\n  \n\t\n", None) == []
    assert chunk_file("empty.py", "\n\n", extract_file("empty.py", b"\n\n", "python")) == []
