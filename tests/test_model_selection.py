"""Choosing the model and its server, and what `ask --json` prints when something fails (issue 12, items 3, 5).

Through the real `assist` command in a subprocess with pipes, against the real tiny model behind llama.cpp's
server (OpenAI-compatible) and the Ollama-protocol server in front of it. Answers are never asserted by wording.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from support import PROJECT_ROOT, run_assist
from test_ask_cli import FAST, QUESTION, clean_env, free_port

from indexer.lock import IndexLock

# The keys of `ask --json` when the question is answered (tests/test_ask_cli.py): a failure keeps the same shape.
JSON_KEYS = {"question", "model", "answer", "done_reason", "truncated", "error", "citations", "context", "tokens",
             "notices"}


def ask(*args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
    return run_assist("ask", *args, env=env or clean_env(), timeout=240, **kwargs)


def one_object(result: subprocess.CompletedProcess) -> dict:
    assert result.stdout.strip(), f"nothing on stdout (exit {result.returncode}); stderr: {result.stderr}"
    return json.loads(result.stdout)  # one JSON object and nothing else


# -- item 5: ask --json prints its object whatever happens ------------------------------------------------------


def test_ask_json_prints_the_object_with_its_error_and_the_usual_exit_status(ollama_server, indexed_sample,
                                                                             tmp_path):
    bad_config = tmp_path / "bad-config"
    (bad_config / ".assist").mkdir(parents=True)
    (bad_config / ".assist" / "config.toml").write_text('[model]\nmodle = "x"\n')
    dead = f"http://127.0.0.1:{free_port()}/v1"
    sample = str(indexed_sample)
    cases = [  # (arguments, stdin, exit status, the error, the model the object names)
        ((QUESTION, "-C", sample, "--model", "openai:x", "--base-url", dead), None, 1, "cannot reach a model server",
         "openai:x"),
        ((QUESTION, "-C", sample, "--model", "ollama:no-such-model", "--base-url", ollama_server.url), None, 1,
         "ollama pull no-such-model", "ollama:no-such-model"),
        (("-", "-C", sample), "  \n", 2, "the question is empty", None),
        (("-C", sample), None, 2, "no question given", None),
        ((QUESTION, "-C", str(tmp_path / "missing")), None, 2, "does not exist", None),
        ((QUESTION, "-C", str(bad_config)), None, 2, "unknown setting 'modle'", None),
        # Refused by the command line before `ask` runs: still one object (the question is not known yet).
        ((QUESTION, "-C", sample, "--bogus-option"), None, 2, "No such option: --bogus-option", None),
    ]
    for args, stdin, status, error, model in cases:
        result = ask(*args, *FAST, "--json", input=stdin)
        assert result.returncode == status, (args, result.stderr)
        data = one_object(result)
        assert set(data) == JSON_KEYS
        assert error in data["error"] and error in result.stderr  # the same message for people and scripts
        assert data["done_reason"] == "error" and data["answer"] == "" and data["context"] == []
        assert data["model"] == model
        if "-" not in args and "no question given" not in error and data["question"] is not None:
            assert data["question"] == QUESTION
        assert "Traceback" not in result.stderr


def test_ask_json_reports_a_busy_repository_with_exit_status_3(llama_server, tmp_path):
    repo = tmp_path / "repo"
    (repo / ".assist").mkdir(parents=True)
    (repo / "app.py").write_text("def main():\n    return 1\n")
    # Another assist process is writing this repository's index: asking must not wait for it, nor say "failed".
    with IndexLock(repo / ".assist", wait_s=0):
        result = ask(QUESTION, "-C", str(repo), "--model", "openai:smollm2-135m", "--base-url", f"{llama_server}/v1",
                     *FAST, "--json")
    assert result.returncode == 3, result.stderr
    data = one_object(result)
    assert "another assist process" in data["error"] and data["model"].startswith("openai:smollm2-135m")
    assert "Traceback" not in result.stderr


def test_ask_json_prints_the_object_when_interrupted(ollama_server, indexed_sample):
    ollama_server.stall_s, ollama_server.stall_after_chunks = 120.0, 2  # a server that stops mid-reply
    command = [sys.executable, "-m", "assistant.cli", "ask", QUESTION, "-C", str(indexed_sample), "--model",
               "ollama:smollm2:135m", "--base-url", ollama_server.url, *FAST, "--json"]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=clean_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while not any(r.path == "/api/chat" for r in ollama_server.requests):
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.2)
        time.sleep(1.0)  # into the stall
        process.send_signal(signal.SIGINT)  # what the terminal sends on Ctrl-C
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, stderr
    data = json.loads(stdout)
    assert set(data) == JSON_KEYS and "cancelled" in data["error"] and data["done_reason"] == "error"
    assert data["question"] == QUESTION and data["model"] == "ollama:smollm2:135m"
    assert data["context"]  # what was sent is still reported
    assert "Traceback" not in stderr


# -- item 3: which provider, which server ---------------------------------------------------------------------


def test_a_model_name_without_prefix_goes_where_the_base_url_points_and_says_so(llama_server, ollama_server,
                                                                                indexed_sample):
    # A /v1 base URL is an OpenAI-compatible server: `--model NAME` means openai:NAME there, not Ollama.
    result = ask(QUESTION, "-C", str(indexed_sample), "--model", "smollm2-135m", "--base-url", f"{llama_server}/v1",
                 *FAST, "--json")
    assert result.returncode == 0, result.stderr
    data = one_object(result)
    assert data["model"] == f"openai:smollm2-135m@{llama_server}/v1" and data["error"] is None
    stated = "has no provider prefix: taken as openai:smollm2-135m"
    assert result.stderr.count(stated) == 1 and any(stated in n["text"] for n in data["notices"])

    # No base URL anywhere: Ollama (here found through Ollama's own OLLAMA_HOST), and that is said too.
    env = {**clean_env(), "OLLAMA_HOST": ollama_server.url}
    result = ask(QUESTION, "-C", str(indexed_sample), "--model", "smollm2:135m", *FAST, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    assert result.stderr.count("has no provider prefix: taken as ollama:smollm2:135m, since Ollama is the default") == 1
    assert any(r.path == "/api/chat" for r in ollama_server.requests)


def test_models_lists_an_openai_compatible_server_given_by_its_url_alone(llama_server, tmp_path):
    for url in (f"{llama_server}/v1", llama_server):  # the API root, and the server's root (probed for /v1)
        result = run_assist("models", "--base-url", url, "--json", "-C", str(tmp_path), env=clean_env())
        assert result.returncode == 0, result.stderr
        data = one_object(result)
        assert (data["provider"], data["base_url"], data["error"]) == ("openai", f"{llama_server}/v1", None)
        assert [(m["name"], m["context_length"]) for m in data["models"]] == [("smollm2-135m", 4096)]
    table = run_assist("models", "--base-url", llama_server, "-C", str(tmp_path), env=clean_env())
    assert table.returncode == 0 and "openai:smollm2-135m" in table.stdout
    assert f"--model openai:NAME --base-url {llama_server}/v1" in table.stderr


def test_an_ollama_model_at_an_address_that_is_not_ollama_is_one_plain_line(llama_server, indexed_sample, tmp_path):
    result = ask(QUESTION, "-C", str(indexed_sample), "--model", "ollama:qwen2.5-coder:7b", "--base-url",
                 f"{llama_server}/v1", *FAST)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("assist: no Ollama API at"), result.stderr
    assert "--model openai:NAME" in lines[0]
    assert "{'" not in result.stderr and "ollama pull" not in result.stderr  # no raw dict, no wrong advice

    dead = f"http://127.0.0.1:{free_port()}"
    listing = run_assist("models", "--base-url", dead, "--json", "-C", str(tmp_path), env=clean_env())
    assert listing.returncode == 1
    data = one_object(listing)
    assert data["models"] == [] and "cannot reach Ollama" in data["error"]
    assert len(listing.stderr.strip().splitlines()) == 1 and "Traceback" not in listing.stderr
