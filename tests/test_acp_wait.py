"""`assist acp` while the model reads the prompt: the editor sees a tool call whose clock moves, and that it ended."""

from __future__ import annotations

import re
import shutil

import pytest
from support import SAMPLE_ANSWERS, scripted_model

import test_acp as harness

pytestmark = pytest.mark.slow


def test_a_silent_server_shows_a_waiting_call_that_counts_seconds_then_completes(indexed_sample, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(indexed_sample, repo, symlinks=True)
    # The scripted model, silent before the first token as a model reading a long prompt is.
    model = scripted_model(tmp_path / "replies.json", SAMPLE_ANSWERS[:1], silence_s=5)
    response, client = harness.ask_once(repo, "--model", model, "--no-vectors", "--budget", "300",
                                        "--max-tokens", "16")
    assert response.stop_reason in ("end_turn", "max_tokens")
    started = [u for u in client.updates if u.session_update == "tool_call" and u.kind == "think"]
    assert len(started) == 1 and re.search(r"\(\d[\d,]* tokens\)", started[0].title), started
    call_id = started[0].tool_call_id
    updates = [u for u in client.updates if u.session_update == "tool_call_update" and u.tool_call_id == call_id]
    ticks = [int(m[1]) for u in updates for c in (u.content or [])
             if (m := re.search(r"waiting for the first token: (\d+) s", c.content.text))]
    assert len(ticks) >= 1 and ticks == sorted(ticks) and ticks[-1] >= 2, ticks
    assert updates[-1].status == "completed" and "answered after" in updates[-1].content[0].content.text
    kinds = [u.session_update for u in client.updates]
    first_answer = kinds.index("agent_message_chunk")
    assert client.updates.index(updates[-1]) < first_answer, "the wait ends when the answer starts"
