"""`/fix` in the chat app: the real loop in a background thread over the sample repository with a planted
bug and a scripted model; each round shows in the conversation and nothing is written before the user says
so in the confirmation dialog."""

from __future__ import annotations

import asyncio

from fix_support import FIX, PRICING, buggy, git_state, indexed_buggy, snapshot  # noqa: F401 (fixtures)
from tui_support import notices, type_line, until

from assistant.chat import ChatSession
from assistant.fix.checkpoint import undo_latest
from assistant.providers.scripted import ScriptedProvider
from assistant.tui.app import ChatApp
from assistant.tui.fix import ConfirmWrite
from assistant.tui.widgets import InfoBlock


def blocks(app: ChatApp) -> str:
    return "\n".join(block.source for block in app.query(InfoBlock))


def make_app(repo, replies: list[str]) -> ChatApp:
    app = ChatApp(repo, model="scripted")
    app.session = ChatSession(repo, ScriptedProvider(replies), use_vectors=False)
    return app


def drive(app: ChatApp, scenario) -> None:
    async def run() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.ready, "the session")
            await scenario(pilot)

    asyncio.run(run())


def test_fix_shows_each_round_and_writes_only_after_confirmation(buggy):
    indexed_copy = buggy
    before, before_git = snapshot(indexed_copy), git_state(indexed_copy)
    app = make_app(indexed_copy, [FIX])

    async def scenario(pilot):
        await type_line(pilot, "/fix tests/test_pricing.py")
        await until(pilot, lambda: isinstance(app.screen, ConfirmWrite), "the confirmation dialog")
        assert snapshot(indexed_copy) == before  # shown, not yet written
        shown = blocks(app)
        assert "tests ✗" in shown and "test_bulk_discount_tiers" in shown  # the failures
        assert "context:" in shown and PRICING in shown  # the context items
        assert "```diff" in shown and "+        if quantity >= minimum:" in shown  # the proposed diff
        await pilot.press("y")
        await until(pilot, lambda: any(n.startswith("fix fixed") for n in notices(app)), "the run to finish")
        assert "tests ✓" in blocks(app)
        # The run words its message with the chat's own command, given to it: never the command line's.
        [outcome] = [n for n in notices(app) if n.startswith("fix fixed")]
        assert f"changed {PRICING} (/undo restores them)" in outcome, outcome
        assert outcome.count("/undo") == 1 and "assist undo" not in outcome
        await until(pilot, lambda: app.change_run is None, "the run to let go of the app")  # /fix can run again

    drive(app, scenario)
    assert "if quantity >= minimum:" in (indexed_copy / PRICING).read_text()
    undo_latest(indexed_copy)
    assert snapshot(indexed_copy) == before and git_state(indexed_copy) == before_git


def test_skipping_in_the_dialog_writes_nothing(buggy):
    indexed_copy = buggy
    before = snapshot(indexed_copy)
    app = make_app(indexed_copy, [FIX])

    async def scenario(pilot):
        await type_line(pilot, "/fix tests/test_pricing.py")
        await until(pilot, lambda: isinstance(app.screen, ConfirmWrite), "the confirmation dialog")
        await pilot.press("n")
        await until(pilot, lambda: any(n.startswith("fix declined") for n in notices(app)), "the run to end")

    drive(app, scenario)
    assert snapshot(indexed_copy) == before


def test_questions_and_model_switches_wait_for_a_running_fix(buggy):
    indexed_copy = buggy
    before = snapshot(indexed_copy)
    app = make_app(indexed_copy, [FIX])

    async def scenario(pilot):
        await type_line(pilot, "/fix tests/test_pricing.py")
        await until(pilot, lambda: isinstance(app.screen, ConfirmWrite), "the confirmation dialog")
        provider = app.session.provider
        await app.ask("How are bulk discounts computed?")
        await app.slash_commands.model("openai:other")
        said = notices(app)
        assert any("/fix run is still going" in n for n in said) and app.active is None  # no turn started
        assert any("/fix run is using the model" in n for n in said) and app.session.provider is provider
        await pilot.press("n")
        await until(pilot, lambda: app.change_run is None, "the run to end")

    drive(app, scenario)
    assert snapshot(indexed_copy) == before


def test_the_status_line_shows_the_prompt_size_and_a_moving_clock_while_the_model_reads(buggy):
    app = ChatApp(buggy, model="scripted")
    # The scripted model silent for a while before its first token, as a CPU reading a prompt is.
    app.session = ChatSession(buggy, ScriptedProvider([FIX], silence_s=3.5), use_vectors=False)
    seen: list[str] = []

    async def scenario(pilot):
        await type_line(pilot, "/fix tests/test_pricing.py")

        def waiting() -> bool:
            if "waiting for the model" in app.busy and app.busy not in seen:
                seen.append(app.busy)
            return any(line.endswith(" 2 s") for line in seen)

        await until(pilot, waiting, "the clock to reach 2 s")
        assert "(" in seen[0] and "tokens)… 0 s" in seen[0], seen  # the prompt's size, then the seconds
        await until(pilot, lambda: isinstance(app.screen, ConfirmWrite), "the confirmation dialog")
        assert "waiting for the model" not in app.busy  # the clock stopped with the reply
        await pilot.press("n")
        await until(pilot, lambda: app.change_run is None, "the run to end")

    drive(app, scenario)
