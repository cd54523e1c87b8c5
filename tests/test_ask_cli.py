"""`assist ask` and `assist models` end to end: the real entry point in a subprocess, the real index of the sample
repository, the real SmolLM2-135M model behind llama.cpp's server (and the Ollama-protocol server in front of it);
what `ask` does on its own side of the wire (the window check, `--model scripted:FILE`) uses the scripted model.

Answers are asserted by structure, never by wording. Retrieval runs with --no-vectors where vectors are not
the point (each process would otherwise spend ~10 s importing the embedding model), with a small context
budget and short answers so that each run takes a few seconds.
"""

from __future__ import annotations

import json
import os
import re
import select
import socket
import subprocess
import sys

from support import PROJECT_ROOT, SAMPLE_ANSWERS, run_assist, scripted_model

from indexer.status import index_status

QUESTION = "How is stock reserved when an order is placed?"
FAST = ("--no-vectors", "--budget", "200", "--max-tokens", "24")


def clean_env() -> dict[str, str]:
    """The test's own settings only: none of the developer's ASSIST_* or OLLAMA_HOST variables."""
    return {k: v for k, v in os.environ.items() if not k.startswith("ASSIST_") and k != "OLLAMA_HOST"}


def openai_args(llama_server: str) -> tuple[str, ...]:
    return ("--model", "openai:smollm2-135m", "--base-url", f"{llama_server}/v1")


def ask(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return run_assist("ask", *args, env=clean_env(), timeout=240, **kwargs)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_ask_streams_the_answer_while_the_model_is_still_generating(llama_server, indexed_sample):
    command = [sys.executable, "-m", "assistant.cli", "ask", QUESTION, "-C", str(indexed_sample),
               *openai_args(llama_server), *FAST, "--show-context"]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=clean_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 180)
        assert ready, "no answer within 180 s"
        first = os.read(process.stdout.fileno(), 1)
        still_running = process.poll() is None
        rest, stderr = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    answer, stderr = (first + rest).decode(), stderr.decode()
    assert process.returncode == 0, stderr
    assert first and still_running  # the first words came before the model had finished
    assert answer.strip()
    # --show-context: the items with their reasons, then the code exactly as sent, before the answer's sources.
    header = stderr.index("context:")
    end = stderr.index("end of context")
    shown = stderr[header:end]
    assert "inventory/" in shown and "score" in shown and "```python" in shown
    # Each symbol is named, not only its lines: "inventory/orders.py:106-120  Order.place  method  182 tokens".
    assert re.search(r"^  inventory/\S+:\d+-\d+  [A-Za-z_][\w.]*  (method|function|class)  \d+ tokens", shown,
                     re.MULTILINE), shown
    block_headers = [line for line in shown.splitlines() if line.startswith("inventory/") and "(" in line]
    assert block_headers and not any(line in answer for line in block_headers)  # stdout carries the answer only
    assert stderr.index("sources:") > end
    assert "Traceback" not in stderr


def test_ask_json_reads_stdin_and_refreshes_a_stale_index_first(llama_server, indexed_copy):
    pricing = indexed_copy / "inventory" / "pricing.py"
    pricing.write_text(pricing.read_text() + "\n\ndef island_shipping_surcharge(weight: float) -> float:\n"
                       "    return 4.5 + 0.2 * weight\n")
    question = "What does island_shipping_surcharge charge?"
    result = ask("-", "-C", str(indexed_copy), *openai_args(llama_server), *FAST, "--json", input=question + "\n")
    assert result.returncode == 0, result.stderr
    assert "refreshing the index" in result.stderr
    assert not index_status(indexed_copy).is_stale
    data = json.loads(result.stdout)  # one JSON object and nothing else on stdout
    assert data["question"] == question
    assert isinstance(data["answer"], str) and data["answer"].strip()
    assert data["model"].startswith("openai:smollm2-135m")
    assert data["done_reason"] in ("stop", "length") and data["truncated"] is False and data["error"] is None
    assert "inventory/pricing.py::island_shipping_surcharge" in {item["key"] for item in data["context"]}
    for item in data["context"]:
        assert (indexed_copy / item["path"]).is_file()
        assert item["tokens"] > 0 and item["why"] and item["start_line"] <= item["end_line"]
        if item["kind"] != "outline":
            assert item["why_detail"]["signals"]
    tokens = data["tokens"]
    assert 0 < tokens["context"] <= 200
    assert tokens["prompt"] == tokens["prompt_server"] <= tokens["context_window"] - 24
    assert 0 < tokens["completion"] <= 24
    assert {c["origin"] for c in data["citations"]} <= {"answer", "context"}
    assert {(c["path"], c["line"]) for c in data["citations"] if c["origin"] == "context"} == {
        (i["path"], i["start_line"]) for i in data["context"]}
    assert isinstance(data["notices"], list)


def test_ask_against_a_dead_server_says_what_to_do(indexed_sample):
    dead = f"http://127.0.0.1:{free_port()}/v1"
    result = ask(QUESTION, "-C", str(indexed_sample), "--model", "openai:x", "--base-url", dead, *FAST)
    assert result.returncode == 1
    assert "cannot reach a model server" in result.stderr and dead in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_ask_names_a_missing_ollama_model_and_how_to_get_it(ollama_server, indexed_sample):
    result = ask(QUESTION, "-C", str(indexed_sample), "--model", "ollama:no-such-model",
                 "--base-url", ollama_server.url, *FAST)
    assert result.returncode == 1
    assert "ollama pull no-such-model" in result.stderr and "Traceback" not in result.stderr


def test_ask_keeps_the_partial_answer_when_the_stream_breaks(ollama_server, indexed_sample):
    ollama_server.error_after_chunks = 3
    result = ask(QUESTION, "-C", str(indexed_sample), "--model", "ollama:smollm2:135m",
                 "--base-url", ollama_server.url, *FAST)
    assert result.returncode == 1
    assert result.stdout.strip()  # the three chunks that arrived
    assert "mid-reply" in result.stderr and "Traceback" not in result.stderr


def test_ask_refuses_a_question_bigger_than_the_window(indexed_sample, tmp_path):
    model = scripted_model(tmp_path / "replies.json", SAMPLE_ANSWERS, context_window=4096)
    result = ask("-", "-C", str(indexed_sample), "--model", model, *FAST, input="Why? " * 5000)
    assert result.returncode == 1
    assert "4096-token context window" in result.stderr and "shorten the question" in result.stderr
    assert "Traceback" not in result.stderr


def test_ask_answers_with_the_scripted_model(indexed_sample, tmp_path):
    """`--model scripted:FILE` is an ordinary provider: `ask` streams its reply and cites what it was sent."""
    model = scripted_model(tmp_path / "replies.json", SAMPLE_ANSWERS[:1])
    result = ask(QUESTION, "-C", str(indexed_sample), "--model", model, *FAST)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == SAMPLE_ANSWERS[0]
    assert "sources:" in result.stderr and "inventory/orders.py:106" in result.stderr

    as_json = ask(QUESTION, "-C", str(indexed_sample), "--model", model, *FAST, "--json")
    data = json.loads(as_json.stdout)
    assert as_json.returncode == 0 and data["error"] is None
    assert data["model"] == "scripted:replies.json" and data["answer"] == SAMPLE_ANSWERS[0]
    assert data["done_reason"] == "stop" and data["context"]

    missing = ask(QUESTION, "-C", str(indexed_sample), "--model", f"scripted:{tmp_path / 'none.json'}", *FAST)
    assert missing.returncode == 1 and "cannot read the scripted replies" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_ask_rejects_an_empty_question(indexed_sample):
    result = ask("-", "-C", str(indexed_sample), input="  \n")
    assert result.returncode == 2 and "the question is empty" in result.stderr


def test_models_lists_what_an_openai_compatible_server_offers(llama_server, tmp_path):
    result = run_assist("models", "--model", "openai:", "--base-url", f"{llama_server}/v1", "--json",
                        "-C", str(tmp_path), env=clean_env())
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["provider"] == "openai"
    assert [(m["name"], m["context_length"], m["selected"]) for m in data["models"]] == [("smollm2-135m", 4096, True)]
    table = run_assist("models", "--model", "openai:", "--base-url", f"{llama_server}/v1", "-C", str(tmp_path),
                       env=clean_env())
    assert table.returncode == 0
    assert "openai:smollm2-135m" in table.stdout and "4096" in table.stdout


def test_models_lists_ollama_models_even_before_the_configured_one_is_pulled(ollama_server, tmp_path):
    # The default model (qwen2.5-coder:7b) is not on this server: listing must still work.
    result = run_assist("models", "--base-url", ollama_server.url, "--json", "-C", str(tmp_path), env=clean_env())
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["provider"] == "ollama"
    assert [(m["name"], m["context_length"], m["selected"]) for m in data["models"]] == [
        ("smollm2:135m", ollama_server.context_length, False)]


def test_models_against_a_dead_server_says_what_to_do(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"
    result = run_assist("models", "--base-url", dead, "-C", str(tmp_path), env=clean_env())
    assert result.returncode == 1
    assert "cannot reach Ollama" in result.stderr and "ollama serve" in result.stderr
    assert "Traceback" not in result.stderr
