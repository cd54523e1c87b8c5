"""`assist acp`: an Agent Client Protocol agent over stdio for editors (Zed, JetBrains, Neovim, Emacs, Toad).

- `agent.py` — ``AssistAgent``: sessions over ``ChatSession``; streaming, tool calls, cancel, permission.
- `fix.py` — `/fix`: the fix loop with permission before running tests and before each write.
- `transport.py` — the SDK's connection over guarded stdio (every malformed frame answered; EOF drains).
"""
