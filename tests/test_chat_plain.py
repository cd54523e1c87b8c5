"""`assist chat` without a terminal: a piped conversation is answered line by line in plain text, never a TUI
that waits for keys that will not come."""

from __future__ import annotations

import os

from support import SAMPLE_ANSWERS, run_assist, scripted_model


def test_piped_questions_are_answered_one_by_one_in_plain_text(indexed_copy, tmp_path):
    (indexed_copy / ".assist" / "config.toml").write_text("[model]\ncontext_window = 1024\ntemperature = 0\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSIST_") and k != "OLLAMA_HOST"}
    conversation = "Where is stock reserved?\n\n/context\nAnd where is it released?\n"
    model = scripted_model(tmp_path / "replies.json", SAMPLE_ANSWERS)  # what the front end does with replies
    result = run_assist("chat", "-C", str(indexed_copy), "--model", model, input=conversation, env=env,
                        timeout=600)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout, "no terminal UI: plain text only"
    assert result.stdout.strip(), "the answers are printed on stdout"
    assert "/context needs the terminal chat; skipped" in result.stderr
    # Each answered question lists its sources on stderr: two questions, two answers.
    assert result.stderr.count("sources:") == 2, result.stderr
