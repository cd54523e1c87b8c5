"""`/fix` in an ACP session: the test-driven fix loop (issue 5), asking before it runs or writes."""

from __future__ import annotations

from acp import RequestError
from acp.helpers import update_agent_message_text
from acp.schema import PromptResponse


async def run_fix(agent, session, argument: str) -> PromptResponse:
    try:
        from assistant.fix.loop import FixLoop  # noqa: F401
    except ImportError as exc:
        raise RequestError.internal_error({"details": f"the fix loop is not available: {exc}"}) from exc
    await agent._update(session, update_agent_message_text("/fix is not wired yet."))
    return PromptResponse(stop_reason="end_turn")
