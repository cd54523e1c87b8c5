"""`/edit` in the chat app: the real edit core in a background thread over a copy of the indexed sample
repository, a scripted model, and Pilot pressing the buttons under the proposed diff. Nothing is written before
Apply; what is written is asserted byte for byte, and /undo puts it back."""

from __future__ import annotations

import asyncio
import shutil

from fix_support import sr, snapshot
from tui_support import notices, type_line, until

from assistant.chat import ChatSession
from assistant.fix.checkpoint import fix_lock
from assistant.providers.scripted import ScriptedProvider
from assistant.tui.app import ChatApp
from assistant.tui.widgets import InfoBlock, ProposedEdit, Turn
from indexer.status import index_status

MODELS = "inventory/models.py"
RESERVE_DOC = '        """Promise ``quantity`` units to an order."""'
RESERVE_DOC_NEW = '        """Promise ``quantity`` units to an order; raises InsufficientStock when too few are free."""'
RELEASE_DOC = '        """Give back units reserved by an order that will not ship."""'
RELEASE_DOC_NEW = '        """Give back units reserved by an order that will not ship; raises InvalidQuantity when too many."""'
RESERVE_EDIT = "The docstring now names the error.\n\n" + sr(MODELS, RESERVE_DOC, RESERVE_DOC_NEW)
RELEASE_EDIT = "The same for release.\n\n" + sr(MODELS, RELEASE_DOC, RELEASE_DOC_NEW)
REQUEST = "say in the docstring of `StockItem.reserve` which error it raises"
# A change the graph's tests reach (tests/test_models.py calls Warehouse.low_stock): "Apply and test" runs them.
LOW_STOCK_DOC = '        """Items at or below their reorder level, emptiest first."""'
LOW_STOCK_DOC_NEW = '        """Items at or below their reorder level, emptiest first (ties by SKU)."""'
LOW_STOCK_EDIT = sr(MODELS, LOW_STOCK_DOC, LOW_STOCK_DOC_NEW)


def make_app(repo, replies: list[str], **script) -> ChatApp:
    app = ChatApp(repo, model="scripted")
    app.session = ChatSession(repo, ScriptedProvider(replies, **script), use_vectors=False)
    return app


def drive(app: ChatApp, scenario, size=(120, 40)) -> None:
    async def run() -> None:
        async with app.run_test(size=size) as pilot:
            await until(pilot, lambda: app.ready, "the session")
            await scenario(pilot)

    asyncio.run(run())


def models_with(*changes: tuple[str, str]) -> bytes:
    """The sample's inventory/models.py with these (old, new) lines replaced."""
    from support import EXAMPLE_PROJECT

    text = (EXAMPLE_PROJECT / MODELS).read_text()
    for old, new in changes:
        assert old in text
        text = text.replace(old, new)
    return text.encode()


def waiting_proposal(app: ChatApp) -> ProposedEdit | None:
    return next((widget for widget in app.query(ProposedEdit) if widget.waiting), None)


async def propose(pilot, line: str) -> ProposedEdit:
    """Type ``line`` and wait for the proposed diff with its buttons."""
    await type_line(pilot, line)
    await until(pilot, lambda: waiting_proposal(pilot.app) is not None, "the proposed diff and its buttons")
    return waiting_proposal(pilot.app)


def said(app: ChatApp, start: str) -> bool:
    return any(text.startswith(start) for text in notices(app))


async def finished(pilot, start: str) -> None:
    await until(pilot, lambda: said(pilot.app, start), f"a line starting {start!r}")
    await until(pilot, lambda: pilot.app.change_run is None, "the run to let go of the app")


def test_apply_writes_the_diff_a_follow_up_gets_the_conversation_and_undo_restores_the_bytes(indexed_copy):
    repo = indexed_copy
    original = (repo / MODELS).read_bytes()
    before = snapshot(repo)
    app = make_app(repo, [RESERVE_EDIT, RELEASE_EDIT])
    provider = app.session.provider

    async def scenario(pilot):
        proposal = await propose(pilot, f"/edit {REQUEST}")
        assert proposal.diff.count(f"+{RESERVE_DOC_NEW}") == 1 and f"-{RESERVE_DOC}" in proposal.diff
        assert "proposed changes to inventory/models.py" in proposal.title
        assert [button.label.plain for button in proposal.query("Button")] == [
            "Apply (a)", "Reject (r)", "Apply and test (t)"]
        assert app.focused is proposal.query_one("#apply")  # Enter applies, arrows move between the choices
        assert snapshot(repo) == before  # shown, not yet written
        await pilot.click("#apply")
        await finished(pilot, "edit applied")
        assert (repo / MODELS).read_bytes() == models_with((RESERVE_DOC, RESERVE_DOC_NEW))
        assert not index_status(repo).is_stale, "the next question reads the code as the edit left it"
        assert not any("the edit** · tests" in block.source for block in app.query(InfoBlock))  # Apply runs none
        assert app.focused is app.prompt_input

        # "The same for release": the model is sent the earlier exchange before the new request.
        proposal = await propose(pilot, "/edit now do the same for `StockItem.release`")
        sent = [(message.role, message.content) for message in provider.prompts[1]]
        assert sent[1] == ("user", REQUEST)
        assert sent[2][0] == "assistant" and RESERVE_EDIT.strip() in sent[2][1] and "applied" in sent[2][1]
        # What the conversation remembers of the edit is the run's own message, worded for the chat.
        assert "(/undo restores them)" in sent[2][1] and "assist undo" not in sent[2][1]
        assert "now do the same for `StockItem.release`" in sent[-1][1]
        await pilot.press("a")
        await finished(pilot, "edit applied: changed inventory/models.py")
        outcome = [text for text in notices(app) if text.startswith("edit applied: changed")][-1]
        assert "(/undo restores them)" in outcome and "assist undo" not in outcome, outcome
        assert (repo / MODELS).read_bytes() == models_with((RESERVE_DOC, RESERVE_DOC_NEW),
                                                           (RELEASE_DOC, RELEASE_DOC_NEW))

        await type_line(pilot, "/undo")
        await until(pilot, lambda: said(app, "undone"), "the first undo")
        assert (repo / MODELS).read_bytes() == models_with((RESERVE_DOC, RESERVE_DOC_NEW))
        assert not index_status(repo).is_stale, "nor does the restored code wait for /reindex"
        await type_line(pilot, "/undo")
        await until(pilot, lambda: sum(text.startswith("undone") for text in notices(app)) == 2, "the second")
        assert any(text == f"undone: restored {MODELS}" for text in notices(app))
        await type_line(pilot, "/undo")
        await until(pilot, lambda: said(app, "nothing to undo"), "nothing left to undo")

    drive(app, scenario)
    assert (repo / MODELS).read_bytes() == original and snapshot(repo) == before


def test_pinned_items_are_targets_and_reject_or_esc_at_the_proposal_write_nothing(indexed_copy):
    repo = indexed_copy
    before = snapshot(repo)
    app = make_app(repo, [RESERVE_EDIT, RESERVE_EDIT])

    async def scenario(pilot):
        await type_line(pilot, "/add StockItem.release")
        await until(pilot, lambda: said(app, "pinned inventory/models.py::StockItem.release"), "the pin")
        proposal = await propose(pilot, f"/edit {REQUEST}")
        # The pinned item is a target of the edit, beside what the request names.
        assert any(text.startswith("edit: pinned ") and "StockItem.release" in text and "StockItem.reserve" in text
                   for text in notices(app))
        await pilot.press("right")  # from Apply to Reject
        assert app.focused is proposal.query_one("#reject")
        await pilot.press("enter")
        await finished(pilot, "edit declined")
        assert "Reject" in str(proposal.query_one(".proposed-state").render())
        assert snapshot(repo) == before

        proposal = await propose(pilot, f"/edit {REQUEST}")
        await pilot.press("escape")
        await finished(pilot, "edit")
        assert "stopped" in str(proposal.query_one(".proposed-state").render())
        assert not proposal.query("Button")  # no choice is left to press

    drive(app, scenario)
    assert snapshot(repo) == before


def test_esc_while_the_model_replies_stops_the_run_and_writes_nothing(indexed_copy):
    repo = indexed_copy
    before = snapshot(repo)
    app = make_app(repo, [RESERVE_EDIT], chunk=8, pause_s=0.2)  # the reply takes seconds to arrive

    async def scenario(pilot):
        await type_line(pilot, f"/edit {REQUEST}")
        await until(pilot, lambda: "model replying" in app.busy, "the reply to start")
        await pilot.press("escape")
        await finished(pilot, "edit cancelled")
        assert not app.query(ProposedEdit)

    drive(app, scenario)
    assert snapshot(repo) == before


def test_apply_and_test_runs_the_tests_that_reach_the_change_and_shows_the_result(indexed_copy):
    repo = indexed_copy
    app = make_app(repo, [LOW_STOCK_EDIT])

    async def scenario(pilot):
        await propose(pilot, "/edit say in the docstring of `Warehouse.low_stock` how ties are ordered")
        await pilot.press("t")
        await finished(pilot, "edit applied")
        shown = "\n".join(block.source for block in app.query(InfoBlock))
        assert "**before the edit** · tests ✓" in shown and "**after the edit** · tests ✓" in shown
        assert any(text.startswith("checking the edit: pytest") and "test_models.py" in text
                   for text in notices(app))

    drive(app, scenario)
    assert (repo / MODELS).read_bytes() == models_with((LOW_STOCK_DOC, LOW_STOCK_DOC_NEW))


def test_an_answer_with_edit_blocks_is_offered_as_a_diff_and_a_plain_one_stays_an_answer(indexed_copy):
    repo = indexed_copy
    question = "How could the docstring of StockItem.reserve say which error it raises?"
    app = make_app(repo, [RESERVE_EDIT, "Which error do you mean: InsufficientStock or InvalidQuantity?"])
    provider = app.session.provider

    async def scenario(pilot):
        await type_line(pilot, question)
        await until(pilot, lambda: waiting_proposal(app) is not None, "the answer's edit as a proposed diff")
        turn = app.query_one(Turn)
        assert turn.state == "done" and "<<<<<<< SEARCH" in turn.answer_text  # the answer itself stays shown
        assert len(provider.prompts) == 1  # the diff comes from that answer: the model was not asked again
        await pilot.press("a")
        await finished(pilot, "edit applied")
        assert (repo / MODELS).read_bytes() == models_with((RESERVE_DOC, RESERVE_DOC_NEW))

        # An /edit whose reply is no edit: shown as the model's answer, nothing written.
        written = (repo / MODELS).read_bytes()
        await type_line(pilot, "/edit make the error clearer")
        await finished(pilot, "edit answered")
        assert any("Which error do you mean" in block.source for block in app.query(InfoBlock))
        assert (repo / MODELS).read_bytes() == written

    drive(app, scenario)


def test_a_busy_repository_a_reply_that_does_not_apply_and_a_dead_model_each_say_so_and_write_nothing(
        indexed_copy):
    repo = indexed_copy
    before = snapshot(repo)
    stale = sr(MODELS, '        """Reserve stock."""', RESERVE_DOC_NEW)  # not in the file
    app = make_app(repo, [stale, stale])  # then no reply left: asking the model fails as a dead server does

    async def scenario(pilot):
        with fix_lock(repo):  # another fix or edit holds the repository
            await type_line(pilot, f"/edit {REQUEST}")
            await finished(pilot, "edit busy")
        await type_line(pilot, f"/edit {REQUEST}")
        await finished(pilot, "edit not applied")
        await type_line(pilot, f"/edit {REQUEST}")
        await finished(pilot, "edit error: the model failed")
        assert sum(text.startswith("edit: reply not applied") for text in notices(app)) == 2  # then sent back
        outcomes = [text for text in notices(app) if text.startswith("edit ")]
        assert len(outcomes) == 3 and all("\n" not in text for text in notices(app))
        assert not any("Traceback" in text for text in notices(app))
        assert not app.query(ProposedEdit)

    drive(app, scenario)
    assert snapshot(repo) == before


# ---------------------------------------------------------------------------------------------- snapshot


def test_snapshot_of_a_proposed_diff_with_its_choices(snap_compare, tmp_path, indexed_sample):
    repo = tmp_path / "inventory"  # a fixed name: the header shows it
    shutil.copytree(indexed_sample, repo, symlinks=True)
    app = make_app(repo, [RESERVE_EDIT])

    async def proposed(pilot) -> None:
        await until(pilot, lambda: app.ready, "the session")
        app.prompt_input.cursor_blink = False
        await propose(pilot, f"/edit {REQUEST}")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(100, 30), run_before=proposed)


def test_the_proposed_diff_highlights_each_lines_code_for_its_files_language():
    from assistant.tui.widgets import diff_view

    diff = ("--- a/shop/cart.py\n+++ b/shop/cart.py\n@@ -1,2 +1,2 @@\n def total(items):\n"
            "-    return sum(items)\n+    return round(sum(items), 2)\n--- a/NOTES.unknown\n+++ b/NOTES.unknown\n"
            "@@ -1 +1 @@\n-old words\n+new words\n")
    view = diff_view(diff)
    lines = view.split("\n")
    added_python, added_notes = lines[5], lines[-1]
    assert added_python.plain == "+    return round(sum(items), 2)"
    keyword = added_python.plain.index("return")
    colours = {span.style.color.name for span in added_python.spans
               if span.start <= keyword < span.end and not isinstance(span.style, str) and span.style.color}
    assert colours and "green" not in colours  # the keyword in its own colour, not the added line's green
    assert any("on #0f2f14" in str(span.style) for span in added_python.spans)  # on the added-line tint
    assert [str(span.style) for span in added_notes.spans] == ["green"]  # an unknown kind of file: the line only
