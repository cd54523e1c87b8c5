"""Tool arguments that fail a tool's schema are answered one sentence per field, in words a model can act on."""

from __future__ import annotations

import anyio
import pytest
from mcp import Client

from assistant.mcp.server import build_server


@pytest.mark.parametrize("tool, arguments, sentences", [
    ("search_code", {"query": "", "top_k": 0, "kind": "module"},
     ["`query` should have at least 1 character (got '').",
      "`top_k` should be greater than or equal to 1 (got 0).",
      "`kind` should be 'symbol' or 'file' (got 'module')."]),
    ("search_code", {"top_k": "many"},
     ["`query` is required.", "`top_k` should be a valid integer"]),
    ("related", {"name": "Order.total", "relation": "friends"},
     ["`relation` should be 'callers', 'callees', 'tests'"]),
    ("get_context", {"query": "x", "budget_tokens": 10 ** 9},
     ["`budget_tokens` should be less than or equal to 200000 (got 1000000000)."]),
])
def test_invalid_arguments_get_one_plain_sentence_per_field(tmp_path, tool, arguments, sentences):
    server, tools = build_server(tmp_path, use_vectors=False)

    async def call():
        async with Client(server) as client:
            return await client.call_tool(tool, arguments)

    try:
        result = anyio.run(call)
    finally:
        tools.close()
    text = result.content[0].text
    assert result.is_error
    assert text.startswith(f"`{tool}`'s arguments were not accepted: ")
    for sentence in sentences:
        assert sentence in text
    assert "pydantic" not in text and "http" not in text and "[type=" not in text
    assert "\n" not in text
