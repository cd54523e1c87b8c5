"""`assist acp` end to end: the agent-client-protocol SDK's own client spawns the real agent as a subprocess
over real pipes.

One prompt turn runs against the real SmolLM2-135M model (the `llama_server` fixture) on an indexed copy of the
sample repository, for the wire; answers are asserted by structure (updates, roles, termination), never
wording. Everything else runs with the deterministic scripted model (``--model scripted:FILE``, a ChatProvider
replaying prepared replies): the protocol's edges, cancelling, attachments, and `/fix`, whose permission and
file-safety paths it makes testable. One agent process per client kind serves the whole module.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import sys
import threading
from pathlib import Path

import acp
import pytest
from acp.schema import (
    AllowedOutcome,
    ClientCapabilities,
    FileSystemCapabilities,
    RequestPermissionResponse,
    ResourceContentBlock,
    TextContentBlock,
    WriteTextFileResponse,
    ReadTextFileResponse,
)
from fix_support import BUG, FIX, PRICING
from jsonrpc_fuzz import assert_is_response, build_corpus, run_stdio_server
from support import PROJECT_ROOT, SAMPLE_ANSWERS, scripted_model

pytestmark = pytest.mark.slow

TIMEOUT_S = 300


def agent_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ASSIST_") and k != "OLLAMA_HOST"}


def agent_args(*extra: str) -> list[str]:
    return ["-m", "assistant.cli", "acp", *extra]


class RecordingClient:
    """An editor: records every update and every client-side call; answers permission as told."""

    def __init__(self, permission: str = "reject", repo: Path | None = None):
        self.permission = permission
        self.answers: list[str] = []  # answers for the next permission requests, before ``permission``
        self.updates: list = []
        self.calls: list[tuple[str, dict]] = []
        self.repo = repo
        self.on_update = None  # called with each update, for tests that react mid-turn
        self.unsaved: dict[str, str] = {}  # path -> the text of the editor's buffer when it differs from the disk

    def on_connect(self, conn) -> None:
        pass

    async def session_update(self, session_id, update, **kwargs) -> None:
        self.updates.append(update)
        if self.on_update is not None:
            self.on_update(update)

    async def request_permission(self, session_id, tool_call, options, **kwargs):
        self.calls.append(("session/request_permission", {"title": tool_call.title, "kind": tool_call.kind,
                                                          "options": [o.kind for o in options]}))
        answer = self.answers.pop(0) if self.answers else self.permission
        wanted = "allow_once" if answer == "allow" else "reject_once"
        option = next(o for o in options if o.kind == wanted)
        return RequestPermissionResponse(outcome=AllowedOutcome(outcome="selected", option_id=option.option_id))

    async def read_text_file(self, session_id, path, line=None, limit=None, **kwargs):
        """The editor's buffer: the text a test put in ``unsaved`` for that path, else the file as saved."""
        self.calls.append(("fs/read_text_file", {"path": path}))
        return ReadTextFileResponse(content=self.unsaved.get(path, Path(path).read_text()))

    async def write_text_file(self, session_id, path, content, **kwargs):
        self.calls.append(("fs/write_text_file", {"path": path}))
        Path(path).write_text(content)
        return WriteTextFileResponse()

    def methods(self) -> set[str]:
        return {name for name, _ in self.calls}

    def kinds(self) -> list[str]:
        return [u.session_update for u in self.updates]


class StrayLines(logging.Handler):
    """The SDK client logs every stdout line of the agent that is not JSON-RPC, and skips it: collect those."""

    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "JSON-RPC" in record.getMessage():
            self.lines.append(record.getMessage())


class Agent:
    """One agent subprocess with an SDK client connection, driven from synchronous tests on its own loop."""

    def __init__(self, client: RecordingClient, args: list[str], capabilities: ClientCapabilities):
        self.client = client
        self.stray = StrayLines()
        logging.getLogger().addHandler(self.stray)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        # A generous shutdown wait: the exit code then tells whether the agent stopped by itself at EOF.
        self._context = acp.spawn_agent_process(client, sys.executable, *args, env=agent_env(),
                                                cwd=str(PROJECT_ROOT), transport_kwargs={"shutdown_timeout": 120})
        self.conn, self.process = self.run(self._context.__aenter__())
        self.init = self.run(self.conn.initialize(protocol_version=1, client_capabilities=capabilities))

    def run(self, coroutine, timeout: float = TIMEOUT_S):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def submit(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def new_session(self, cwd: Path) -> str:
        return self.run(self.conn.new_session(cwd=str(cwd), mcp_servers=[])).session_id

    def prompt(self, session_id: str, *blocks):
        return self.run(self.conn.prompt(session_id=session_id, prompt=list(blocks)))

    def close(self) -> int:
        self.run(self._context.__aexit__(None, None, None))
        code = self.run(self.process.wait())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        logging.getLogger().removeHandler(self.stray)
        return code


def text(value: str) -> TextContentBlock:
    return TextContentBlock(type="text", text=value)


def ask_once(repo: Path, *args: str, question: str = "How is stock reserved when an order is placed?"):
    """A fresh agent with ``args`` answers one question in a new session on ``repo``; returns the prompt's response
    and the client that recorded every update. The agent must then exit cleanly at end of stdin."""
    client = RecordingClient()
    agent = Agent(client, agent_args(*args), ClientCapabilities())
    try:
        response = agent.prompt(agent.new_session(repo), text(question))
    finally:
        assert agent.close() == 0
    return response, client


@pytest.fixture(scope="module")
def repo(indexed_sample, tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("acp") / "repo"
    shutil.copytree(indexed_sample, dest, symlinks=True)
    return dest


def chat_agent_for(*model: str):
    """A client that advertises no file system access, against ``model`` (the --model and --base-url options)."""
    client = RecordingClient()
    agent = Agent(client, agent_args(*model, "--no-vectors", "--budget", "300", "--max-tokens", "48"),
                  ClientCapabilities())
    yield agent
    assert agent.close() == 0  # end of stdin ends the agent cleanly
    assert not agent.stray.lines, agent.stray.lines  # stdout carried protocol frames only


@pytest.fixture(scope="module")
def real_agent(llama_server):
    """Against the real model."""
    yield from chat_agent_for("--model", "openai:smollm2-135m", "--base-url", f"{llama_server}/v1")


@pytest.fixture(scope="module")
def chat_agent(tmp_path_factory):
    """Against the scripted model: answers of a few hundred characters, streamed in pieces over seconds (long
    enough to cancel one midway)."""
    answer = " ".join(SAMPLE_ANSWERS * 4)
    model = scripted_model(tmp_path_factory.mktemp("chat-replies") / "replies.json", [answer] * 8, chunk=12,
                           pause_s=0.02)
    yield from chat_agent_for("--model", model)


@pytest.fixture(scope="module")
def chat_session(chat_agent, repo) -> str:
    return chat_agent.new_session(repo)


# ------------------------------------------------------------------------------------------------ chat


def test_initialize_declares_protocol_1_and_honest_capabilities(chat_agent):
    init = chat_agent.init
    assert init.protocol_version == 1
    capabilities = init.agent_capabilities
    assert capabilities.load_session is False  # no session/load handler
    assert capabilities.prompt_capabilities.image is False and capabilities.prompt_capabilities.audio is False
    assert capabilities.prompt_capabilities.embedded_context is True
    assert capabilities.mcp_capabilities.http is False and capabilities.mcp_capabilities.sse is False
    assert init.agent_info.name == "assist"
    assert init.auth_methods == []


def test_prompt_streams_retrieval_and_answer_then_ends_the_turn(real_agent, repo):
    client = real_agent.client
    start = len(client.updates)
    response = real_agent.prompt(real_agent.new_session(repo), text("How is stock reserved when an order is placed?"))
    assert response.stop_reason in ("end_turn", "max_tokens")  # the 48-token cap may end it first
    updates = client.updates[start:]
    kinds = [u.session_update for u in updates]
    assert kinds.count("agent_message_chunk") >= 2  # streamed, not one block at the end
    # One retrieval for the question. (A reply that the small model happens to write as an edit block is then
    # offered as an edit, whose own rounds search again: seen once in CI under load; those calls are the edit's.)
    search = [u for u in updates if u.session_update == "tool_call" and u.kind == "search"
              and u.tool_call_id.startswith("retrieve-")]
    assert len(search) == 1
    done = [u for u in updates if u.session_update == "tool_call_update" and u.tool_call_id == search[0].tool_call_id]
    assert done and done[-1].status == "completed"
    locations = done[-1].locations
    assert locations and all(Path(loc.path).is_absolute() and Path(loc.path).is_relative_to(repo) and loc.line >= 1
                             for loc in locations)
    assert kinds.index("tool_call") < kinds.index("agent_message_chunk")  # retrieval first, then the answer
    answer = "".join(u.content.text for u in updates if u.session_update == "agent_message_chunk")
    assert answer.strip()
    if response.stop_reason == "max_tokens":
        assert any("reply limit" in u.content.text for u in updates if u.session_update == "agent_thought_chunk")
    # available commands were announced once the session existed
    commands = [u for u in client.updates if u.session_update == "available_commands_update"]
    assert {c.name for c in commands[0].available_commands} >= {"fix", "undo", "reindex", "clear"}


def test_cancel_mid_turn_stops_with_cancelled_and_the_session_goes_on(chat_agent, chat_session):
    client = chat_agent.client
    start = len(client.updates)
    first_chunk = threading.Event()

    def watch(update) -> None:
        if update.session_update == "agent_message_chunk":
            first_chunk.set()

    client.on_update = watch
    try:
        pending = chat_agent.submit(chat_agent.conn.prompt(
            session_id=chat_session, prompt=[text("Explain in detail how the shipping fee is computed.")]))
        assert first_chunk.wait(TIMEOUT_S), "no answer streamed"
        chat_agent.run(chat_agent.conn.cancel(session_id=chat_session))
        response = pending.result(TIMEOUT_S)
    finally:
        client.on_update = None
    assert response.stop_reason == "cancelled"
    assert "agent_message_chunk" in [u.session_update for u in client.updates[start:]]
    again = chat_agent.prompt(chat_session, text("What does Order.total return?"))
    assert again.stop_reason in ("end_turn", "max_tokens")


def test_attached_file_is_read_from_disk_when_the_client_offers_no_fs(chat_agent, chat_session, repo):
    client = chat_agent.client
    start = len(client.updates)
    link = ResourceContentBlock(type="resource_link", uri=(repo / PRICING).as_uri(), name="pricing.py")
    outside = ResourceContentBlock(type="resource_link", uri="file:///etc/passwd", name="passwd")
    response = chat_agent.prompt(chat_session, text("What does this file do?"), link, outside)
    assert response.stop_reason in ("end_turn", "max_tokens")
    reads = [u for u in client.updates[start:] if u.session_update == "tool_call" and u.kind == "read"]
    assert [Path(r.locations[0].path) for r in reads] == [repo / PRICING]  # /etc/passwd is never read
    assert not {m for m in client.methods() if m.startswith("fs/")}  # not advertised: never called


def test_unknown_method_is_method_not_found(chat_agent):
    with pytest.raises(acp.RequestError) as error:
        chat_agent.run(chat_agent.conn._conn.send_request("assist/no_such_method", {}))
    assert error.value.code == -32601


def test_bad_session_requests_are_invalid_params(chat_agent):
    with pytest.raises(acp.RequestError) as error:
        chat_agent.run(chat_agent.conn.prompt(session_id="no-such-session", prompt=[text("hi")]))
    assert error.value.code == -32602
    assert "unknown session 'no-such-session'" in str(error.value)  # editors show the message, not the data
    with pytest.raises(acp.RequestError) as error:
        chat_agent.run(chat_agent.conn.new_session(cwd="relative/path", mcp_servers=[]))
    assert error.value.code == -32602


# ------------------------------------------------------------------------------------------------- fix


@pytest.fixture(scope="module")
def buggy_repo(repo, tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("acp-fix") / "repo"
    shutil.copytree(repo, dest, symlinks=True)
    pricing = dest / PRICING
    pricing.write_text(pricing.read_text().replace(BUG[0], BUG[1]))
    return dest


@pytest.fixture(scope="module")
def fix_agent(tmp_path_factory):
    """A client that advertises fs/read_text_file and fs/write_text_file, with the scripted model."""
    replies = tmp_path_factory.mktemp("replies") / "replies.json"
    replies.write_text(json.dumps([FIX, FIX, FIX, FIX]))
    client = RecordingClient()
    capabilities = ClientCapabilities(fs=FileSystemCapabilities(read_text_file=True, write_text_file=True))
    agent = Agent(client, agent_args("--model", f"scripted:{replies}", "--no-vectors"), capabilities)
    yield agent
    assert agent.close() == 0
    assert not agent.stray.lines, agent.stray.lines  # not even while the index was refreshed (embedding model)


def test_fix_asks_before_running_and_a_rejected_write_leaves_the_file_untouched(fix_agent, buggy_repo):
    client = fix_agent.client
    session = fix_agent.new_session(buggy_repo)
    before = (buggy_repo / PRICING).read_bytes()

    client.permission = "reject"
    response = fix_agent.prompt(session, text("/fix tests/test_pricing.py"))
    assert response.stop_reason == "end_turn"
    asked = [args for name, args in client.calls if name == "session/request_permission"]
    assert [a["kind"] for a in asked] == ["execute"]  # refused: nothing ran, so nothing was proposed
    assert not any(u.session_update == "tool_call" and u.kind == "execute" for u in client.updates)

    calls_before = len(client.calls)
    client.answers = ["allow", "reject"]  # run the tests: yes; write the edit: no
    response = fix_agent.prompt(session, text("/fix tests/test_pricing.py"))
    assert response.stop_reason == "end_turn"
    asked = [args["kind"] for name, args in client.calls[calls_before:] if name == "session/request_permission"]
    assert asked == ["execute", "edit"]
    assert (buggy_repo / PRICING).read_bytes() == before  # the rejected edit was not written
    assert "fs/write_text_file" not in client.methods()
    executed = [u for u in client.updates if u.session_update == "tool_call" and u.kind == "execute"]
    assert executed  # the test run was shown as a tool call
    report = "".join(u.content.text for u in client.updates if u.session_update == "agent_message_chunk")
    assert "declined" in report
    # The pricing change made the index stale: session/new refreshed it, with progress as a tool call.
    indexing = [u for u in client.updates if u.session_update in ("tool_call", "tool_call_update")
                and (u.title or "").startswith("Index")]
    assert indexing and indexing[0].session_update == "tool_call" and indexing[-1].status == "completed"


def test_fix_writes_through_the_editor_when_allowed_and_undo_restores(fix_agent, buggy_repo):
    client = fix_agent.client
    session = fix_agent.new_session(buggy_repo)
    before = (buggy_repo / PRICING).read_bytes()
    client.permission = "allow"
    start = len(client.updates)
    response = fix_agent.prompt(session, text("/fix tests/test_pricing.py"))
    assert response.stop_reason == "end_turn"
    writes = [args["path"] for name, args in client.calls if name == "fs/write_text_file"]
    assert writes == [str(buggy_repo / PRICING)]  # advertised: the edit went through the editor
    assert (buggy_repo / PRICING).read_text() == before.decode().replace(BUG[1], BUG[0])
    edits = [u for u in client.updates if u.session_update == "tool_call" and u.kind == "edit"]
    assert edits and Path(edits[-1].locations[0].path) == buggy_repo / PRICING
    # The run words its report with the editor's command, given to it: never the command line's.
    report = "".join(u.content.text for u in client.updates[start:] if u.session_update == "agent_message_chunk")
    assert f"changed {PRICING} (/undo restores them)" in report and "assist undo" not in report

    response = fix_agent.prompt(session, text("/undo"))
    assert response.stop_reason == "end_turn"
    assert (buggy_repo / PRICING).read_bytes() == before


def test_undo_names_a_path_refused_because_its_directory_became_a_link(fix_agent, buggy_repo, tmp_path):
    """After /fix wrote inventory/pricing.py, `inventory` is swapped for a link: /undo must not write through it,
    and must say which path it left alone and what to do, rather than report the files as restored."""
    repo = tmp_path / "repo"
    shutil.copytree(buggy_repo, repo, symlinks=True)
    client = fix_agent.client
    session = fix_agent.new_session(repo)
    client.permission = "allow"
    assert fix_agent.prompt(session, text("/fix tests/test_pricing.py")).stop_reason == "end_turn"
    fixed = (repo / PRICING).read_bytes()
    assert BUG[0].encode() in fixed
    package, elsewhere = repo / "inventory", tmp_path / "elsewhere"
    package.rename(elsewhere)
    package.symlink_to(elsewhere, target_is_directory=True)

    seen = len(client.updates)
    assert fix_agent.prompt(session, text("/undo")).stop_reason == "end_turn"
    said = "".join(u.content.text for u in client.updates[seen:] if u.session_update == "agent_message_chunk")
    assert f"Refused, and left as they are: {PRICING} (" in said and "remove the link" in said, said
    assert (elsewhere / "pricing.py").read_bytes() == fixed  # nothing was written through the link

    package.unlink()
    elsewhere.rename(package)
    assert fix_agent.prompt(session, text("/undo")).stop_reason == "end_turn"  # the checkpoint stayed active
    assert BUG[1].encode() in (repo / PRICING).read_bytes()


def test_attached_file_is_read_through_the_client_when_it_offers_fs(fix_agent, buggy_repo):
    client = fix_agent.client
    session = fix_agent.new_session(buggy_repo)
    link = ResourceContentBlock(type="resource_link", uri=(buggy_repo / PRICING).as_uri(), name="pricing.py")
    fix_agent.prompt(session, text("/clear"))
    client.permission = "reject"  # an answer holding edit blocks is offered as an edit: not written, no buffer check
    reads_before = [a for n, a in client.calls if n == "fs/read_text_file"]
    try:
        fix_agent.prompt(session, text("Summarise"), link)
    except acp.RequestError:
        pass  # the scripted model may have no reply left for a chat turn; the read happened before
    reads = [a for n, a in client.calls if n == "fs/read_text_file"][len(reads_before):]
    assert reads == [{"path": str(buggy_repo / PRICING)}]


# ------------------------------------------------------------------------------------------ raw pipes


def test_fuzzed_frames_never_crash_the_agent_and_every_request_is_answered(tmp_path):
    corpus = build_corpus(["initialize", "session/new", "session/prompt", "session/cancel", "authenticate",
                           "session/load", "session/set_mode", "fs/read_text_file"], count=3000)
    initialize = {"jsonrpc": "2.0", "id": "init", "method": "initialize",
                  "params": {"protocolVersion": 1, "clientCapabilities": {}}}
    huge = {"jsonrpc": "2.0", "id": "huge", "method": "session/prompt",
            "params": {"sessionId": "x", "prompt": [{"type": "text", "text": "☃" * 40_000}]}}
    payload = (json.dumps(initialize).encode() + b"\n" + b"".join(corpus.lines)
               + json.dumps(huge, ensure_ascii=False).encode() + b"\n"
               + json.dumps({"jsonrpc": "2.0", "id": "last", "method": "initialize",
                             "params": {"protocolVersion": 1}}).encode() + b"\n")
    dead_model = ("--model", "openai:none", "--base-url", "http://127.0.0.1:9/v1")
    transcript = run_stdio_server([sys.executable, *agent_args(*dead_model, "--no-vectors",
                                                               "--max-frame-bytes", "65536")],
                                  payload, cwd=tmp_path, env=agent_env())
    assert transcript.returncode == 0, transcript.stderr[-3000:]
    responses = [frame for frame in transcript.frames if "method" not in frame]
    for frame in responses:
        assert_is_response(frame)
    answered = {frame["id"] for frame in responses}
    missing = set(corpus.request_ids) - answered
    assert not missing, sorted(missing)[:10]
    assert transcript.null_id_errors() >= corpus.unparseable + 1  # + the oversized frame
    by_id = {frame["id"]: frame for frame in responses if frame.get("id") is not None}
    assert by_id["init"]["result"]["protocolVersion"] == 1 and by_id["last"]["result"]["protocolVersion"] == 1
    assert "huge" not in by_id  # skipped as oversized, answered with a null id
    assert "Traceback" not in transcript.stderr
