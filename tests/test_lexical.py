"""BM25 over code-aware tokens: identifier splitting, search over real chunks, save and load."""

from __future__ import annotations

import os
from pathlib import Path

import numpy
import pytest

from indexer.chunks import chunk_file
from indexer.extract import extract_file
from indexer.lexical import LexicalIndex, LexicalIndexUnreadable, tokenize_code

FIXTURES = Path(__file__).parent / "fixtures" / "chunks"


def test_identifiers_are_kept_whole_and_split_into_parts():
    assert tokenize_code("getHTTPResponse2", stem=False) == ["gethttpresponse2", "get", "http", "response"]
    assert tokenize_code("parse_config", stem=False) == ["parseconfig", "parse", "config"]
    assert tokenize_code("XMLHttpRequest", stem=False) == ["xmlhttprequest", "xml", "http", "request"]
    assert tokenize_code("MAX_RETRY_COUNT", stem=False) == ["maxretrycount", "max", "retry", "count"]
    assert tokenize_code("os.path.join", stem=False) == ["os", "path", "join"]
    assert tokenize_code("int64", stem=False) == ["int64", "int", "64"]


def test_words_are_reduced_to_their_stems_in_code_and_in_questions():
    assert tokenize_code("is_docstring") == ["isdocstr", "docstr"]
    assert tokenize_code("docstrings") == tokenize_code("docstring") == ["docstr"]
    assert tokenize_code("handling redirects") == tokenize_code("handle_redirect")[1:]
    assert tokenize_code("getHTTPResponse2") == ["gethttpresponse2", "get", "http", "respons", "response2"]


def test_a_word_and_its_number_are_one_token_as_a_report_writes_them():
    assert "f32" in tokenize_code("deserialize_f32")
    assert "float64" in tokenize_code("Float64Slice") and "float" in tokenize_code("Float64Slice")
    assert "ipv6" in tokenize_code("isValidIPv6") and "tlsv1" in tokenize_code("useTLSv1")
    documents = {
        "f32": "fn deserialize_f32<V>(self, visitor: V) -> Result<V::Value> { self.deserialize_number(visitor) }",
        "f64": "fn deserialize_f64<V>(self, visitor: V) -> Result<V::Value> { self.deserialize_number(visitor) }",
        "i32": "fn deserialize_i32<V>(self, visitor: V) -> Result<V::Value> { self.deserialize_number(visitor) }",
    }
    assert index_of(documents).search("Fix f32 deserialization in arbitrary precision mode", 1)[0][0] == "f32"
    addresses = {
        "v6": "export function isValidIPv6(address: string): boolean { return address.includes(':') }",
        "v4": "export function isValidIPv4(address: string): boolean { return address.split('.').length === 4 }",
        "cidr": "export function isValidCidr(range: string, version: 'v4' | 'v6'): boolean { return Boolean(range) }",
    }
    assert index_of(addresses).search("Reject IPv6 addresses with two '::'", 1)[0][0] == "v6"


def index_of(documents: dict[str, str], stem: bool = True) -> LexicalIndex:
    return LexicalIndex.build(list(documents), [tokenize_code(text, stem) for text in documents.values()])


def test_an_inflected_word_in_a_report_finds_the_function_named_by_its_stem():
    documents = {
        "docstring": "def is_docstring(node):\n    return node.type == STRING",
        "bytes": "def is_bytes(leaf):\n    return leaf.value.startswith('b')",
        "format": "def format_file(src):\n    return render(src)",
    }
    assert index_of(documents).search("Fix strings being treated as docstrings", 1)[0][0] == "docstring"
    plain = index_of(documents, stem=False)
    assert plain.search("Fix strings being treated as docstrings", 3, stem=False) == [], "unstemmed: no shared word"


def test_syntax_words_and_single_characters_are_dropped():
    tokens = tokenize_code("def total(self, x):\n    return self.price * x  # the total")
    assert tokens == ["total", "price", "total"]
    assert tokenize_code("") == []


def snake_and_camel_corpus():
    documents = {
        "py": "# function parse_config\ndef parse_config(path):\n    return load_yaml(path)",
        "js": "// function parseConfig\nfunction parseConfig(text) { return JSON.parse(text); }",
        "cart": "# method Cart.add_item\ndef add_item(self, item):\n    self.items.append(item)",
        "date": "# function parse_date\ndef parse_date(text):\n    return date.fromisoformat(text)",
        "report": "# function build_report\ndef build_report(orders):\n    return summarise(orders)",
    }
    ids = list(documents)
    return ids, LexicalIndex.build(ids, [tokenize_code(documents[i]) for i in ids])


def test_a_snake_case_query_finds_the_camel_case_definition_and_back():
    _, index = snake_and_camel_corpus()
    top_two = {chunk for chunk, _ in index.search("parse_config", 2)}
    assert top_two == {"py", "js"}
    assert {chunk for chunk, _ in index.search("parseConfig", 2)} == {"py", "js"}
    assert index.search("where do we add an item to the cart", 1)[0][0] == "cart"


def test_results_are_best_first_positive_and_limited():
    ids, index = snake_and_camel_corpus()
    hits = index.search("parse date text", 10)
    scores = [score for _, score in hits]
    assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)
    assert hits[0][0] == "date"
    assert "report" not in {chunk for chunk, _ in hits}  # shares no token with the query
    assert len(index.search("parse", 1)) == 1
    assert index.search("zebra unicorn", 5) == []
    assert index.search("the self return", 5) == []  # only stop words
    assert len(index) == len(ids)


def test_search_over_real_chunks_finds_the_method(tmp_path):
    source = (FIXTURES / "shop.py").read_text(encoding="utf-8")
    chunks = chunk_file("shop.py", source, extract_file("shop.py", source.encode(), "python"))
    index = LexicalIndex.build([c.id for c in chunks], [tokenize_code(c.text) for c in chunks])
    by_id = {c.id: c for c in chunks}
    assert by_id[index.search("addItem", 1)[0][0]].symbol == "shop.py::Cart.add_item"
    assert by_id[index.search("revenue by weekday", 1)[0][0]].symbol == "shop.py::build_sales_report"


def test_save_and_load_round_trip(tmp_path):
    _, index = snake_and_camel_corpus()
    index.save(tmp_path / "bm25")
    loaded = LexicalIndex.load(tmp_path / "bm25")
    assert len(loaded) == len(index)
    for query in ("parse_config", "add item", "orders report", "nothing matches"):
        assert loaded.search(query, 5) == index.search(query, 5)


def test_saving_again_replaces_the_index_and_leaves_one_generation(tmp_path):
    _, first = snake_and_camel_corpus()
    first.save(tmp_path / "bm25")
    LexicalIndex.build(["only"], [tokenize_code("def ship_order(order): pass")]).save(tmp_path / "bm25")
    loaded = LexicalIndex.load(tmp_path / "bm25")
    assert loaded.search("ship order", 5)[0][0] == "only"
    assert loaded.search("parse_config", 5) == []
    assert len([p for p in (tmp_path / "bm25").iterdir() if p.is_dir()]) == 1
    assert not [p for p in (tmp_path / "bm25").iterdir() if p.name.endswith(".tmp")]


def test_an_empty_corpus_works_end_to_end(tmp_path):
    empty = LexicalIndex.build([], [])
    assert len(empty) == 0 and empty.search("anything", 5) == []
    empty.save(tmp_path / "bm25")
    assert LexicalIndex.load(tmp_path / "bm25").search("anything", 5) == []
    blank_docs = LexicalIndex.build(["a", "b"], [[], []])
    assert blank_docs.search("anything", 5) == []


def test_loading_where_nothing_was_saved_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        LexicalIndex.load(tmp_path / "missing")


def _saved(tmp_path) -> Path:
    LexicalIndex.build(["a", "b"], [tokenize_code("def parse_config(): pass"), tokenize_code("ship_order")]).save(
        tmp_path / "bm25"
    )
    return tmp_path / "bm25"


@pytest.mark.parametrize("absolute", [True, False])
def test_the_pointer_file_never_leads_outside_the_index_folder(tmp_path, absolute):
    """`CURRENT` names a generation folder by its plain name: a path there (relative or absolute) is
    damage, never followed, even when a real index waits at the other end."""
    directory = _saved(tmp_path)
    generation = (directory / "CURRENT").read_text()
    outside = tmp_path / "etc"
    outside.mkdir()
    for item in (directory / generation).iterdir():
        (outside / item.name).write_bytes(item.read_bytes())
    (directory / "CURRENT").write_text(str(outside) if absolute else "../etc")
    with pytest.raises(LexicalIndexUnreadable):
        LexicalIndex.load(directory)


def test_symbolic_links_in_the_index_folder_are_not_followed(tmp_path):
    directory = _saved(tmp_path)
    current = directory / "CURRENT"
    (tmp_path / "elsewhere").write_text(current.read_text())
    current.unlink()
    current.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(LexicalIndexUnreadable):
        LexicalIndex.load(directory)


def test_every_damaged_index_file_is_one_clear_error(tmp_path):
    """The reader turns LexicalIndexUnreadable into "run `assist index`"; any other outcome (another
    exception type, or a lost params file read as an empty index that finds nothing) misleads the user."""
    for name in ("ids.json", "params.index.json", "vocab.index.json", "data.csc.index.npy",
                 "indices.csc.index.npy", "indptr.csc.index.npy"):
        for how in ("garbage", "truncated", "deleted"):
            directory = _saved(tmp_path / f"{name}-{how}")
            target = directory / (directory / "CURRENT").read_text() / name
            if how == "garbage":
                target.write_bytes(b"\x93NUMPY garbage \xff\x00" * 7)
            elif how == "truncated":
                target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
            else:
                target.unlink()
            with pytest.raises(LexicalIndexUnreadable):
                LexicalIndex.load(directory)
    # An object array: the one way a .npy file could run code (numpy only unpickles it when allowed).
    directory = _saved(tmp_path / "object-array")
    array = numpy.empty(1, dtype=object)
    array[0] = _RunsCode(tmp_path / "code-ran")
    numpy.save(directory / (directory / "CURRENT").read_text() / "data.csc.index.npy", array, allow_pickle=True)
    with pytest.raises(LexicalIndexUnreadable):
        LexicalIndex.load(directory)
    assert not (tmp_path / "code-ran").exists()


class _RunsCode:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_an_index_whose_arrays_disagree_with_its_ids_is_refused(tmp_path):
    directory = _saved(tmp_path)
    ids = directory / (directory / "CURRENT").read_text() / "ids.json"
    ids.write_text('["a"]')  # one id for two scored documents: a query would name the wrong chunk
    with pytest.raises(LexicalIndexUnreadable):
        LexicalIndex.load(directory)
