"""`assist mcp`: a Model Context Protocol server over stdio for MCP hosts (Claude Code, VS Code, Zed, ...).

- `tools.py` — ``RepoTools``: what each tool does, over the one retriever, with no protocol in it.
- `server.py` — the tools registered on the official SDK's ``MCPServer``, with schemas; ``serve``.
- `transport.py` — the SDK's loop over guarded stdio (every malformed frame answered; EOF drains).
"""
