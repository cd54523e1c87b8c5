"""How `assist fix` shows a run on a terminal (assistant/commands/fix_view.py), fed the loop's own events:
the live line while the model reads the prompt must move, and say how big the prompt is."""

from __future__ import annotations

import io
import re
import time

from rich.console import Console

from assistant.commands.fix_view import FixView
from assistant.fix.events import ContextBuilt, ReplyDelta, TestsStarted


def test_the_waiting_line_shows_the_prompt_size_and_a_clock_that_moves():
    view = FixView(live=True, quiet=False)
    screen = io.StringIO()
    view.err = Console(file=screen, force_terminal=True, width=160, color_system=None, highlight=False)
    with view:
        view.show(ContextBuilt(1, [], 4321, {}))
        time.sleep(2.6)  # a server on a CPU reading the prompt: rich redraws the live line meanwhile
        view.show(ReplyDelta(1, "x"))
        time.sleep(0.3)
    drawn = screen.getvalue()
    assert "round 1: waiting for the model to read the prompt (4,321 tokens)… 0 s" in drawn
    seconds = {int(s) for s in re.findall(r"\(4,321 tokens\)… (\d+) s", drawn)}
    assert {0, 1, 2} <= seconds, drawn[-1000:]
    assert "the model is replying… 1 characters" in drawn  # the clock stops when the reply starts


def test_the_live_line_says_indexing_while_it_indexes_not_the_finished_test_run():
    from assistant.fix.events import Working

    view = FixView(live=True, quiet=False)
    screen = io.StringIO()
    view.err = Console(file=screen, force_terminal=True, width=160, color_system=None, highlight=False)
    with view:
        view.show(TestsStarted(0, "pytest"))
        time.sleep(0.3)
        view.show(Working(0, "indexing the repository"))
        time.sleep(0.3)
    drawn = screen.getvalue()
    assert drawn.rindex("before: indexing the repository…") > drawn.rindex("before: running pytest…")
