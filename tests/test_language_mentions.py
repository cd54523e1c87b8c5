"""A name written in its language's own shape finds that symbol first (issue 15, item 2): Go's
package-qualified `rest.WithCors`, Rust's `tokio::sync::broadcast::Sender`, Java's
`com.google.gson.Gson#toJson`, and JavaScript's `res.location` (a function assigned to an object). Each sample
in tests/fixtures/languages/mentions/ has a decoy of the same bare name elsewhere (another package, module,
crate or class), so only the qualified shape tells them apart; indexed for real and asked through the
public Retriever."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixture_graphs import indexed_copy

SAMPLES = Path(__file__).parent / "fixtures" / "languages" / "mentions"


@pytest.fixture(scope="module")
def retriever(tmp_path_factory):
    with indexed_copy(SAMPLES, tmp_path_factory.mktemp("mentions") / "repo") as opened:
        yield opened


@pytest.mark.parametrize("query, expected", [
    ("rest.WithCors", "rest/cors.go::WithCors"),  # not grpc's WithCors
    ("tokio::sync::broadcast::Sender", "tokio/src/sync/broadcast.rs::Sender"),  # not mpsc's, nor tokio-util's
    ("com.google.gson.Gson#toJson", "gson/src/main/java/com/google/gson/Gson.java::Gson.toJson"),  # not extras'
    ("res.location", "axios/lib/response.js::res.location"),  # res.location = function location(url)
    ("AxiosHeaders.set", "axios/lib/core/AxiosHeaders.js::AxiosHeaders.set"),
])
def test_a_qualified_name_in_its_language_shape_finds_its_symbol_first(retriever, query, expected):
    hits = retriever.search(query, top=3)
    assert hits[0].symbol == expected
    assert "mention" in hits[0].why.signals


@pytest.mark.parametrize("name, expected", [
    ("rest.WithCors", "rest/cors.go::WithCors"),
    ("tokio::sync::broadcast::Sender", "tokio/src/sync/broadcast.rs::Sender"),
    ("com.google.gson.Gson#toJson", "gson/src/main/java/com/google/gson/Gson.java::Gson.toJson"),
    ("com.google.gson.extras.Gson.toJson", "extras/src/main/java/com/google/gson/extras/Gson.java::Gson.toJson"),
])
def test_a_qualified_shape_names_one_symbol(retriever, name, expected):
    """`assist show`/`callers` take a name as written: the qualified shape is not ambiguous."""
    assert retriever.resolve(name) == expected
