"""The command line as a new user meets it (issue 12, items 4, 6 and 10's graph half): piped output that is
never hard-wrapped, -C everywhere, --version, shell completion, --help that shows types and an example,
and a graph neighbourhood small enough to draw. Every test runs the real `assist` in a subprocess."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from support import run_assist, run_on_terminal

ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


@pytest.fixture
def deep_repo(indexed_sample, tmp_path) -> Path:
    """The indexed sample under a path of about 170 characters: longer than any terminal line of 80."""
    dest = tmp_path.joinpath(*["a-rather-long-directory-name-for-wrapping"] * 4, "repo")
    shutil.copytree(indexed_sample, dest, symlinks=True)
    assert len(str(dest)) > 160
    return dest


# ----------------------------------------------------------------------------- item 4: no wrap when piped


def test_piped_status_and_index_keep_every_line_whole(deep_repo):
    status = ok(run_assist("status", str(deep_repo)))
    assert str(deep_repo) in status.stdout.splitlines()  # the root, alone on its line, not cut at 80 columns
    assert "up to date with the working tree" in status.stdout
    indexed = ok(run_assist("index", str(deep_repo)))
    first = indexed.stdout.splitlines()[0]
    assert first.startswith("Indexed ") and first.endswith(f" in {deep_repo}")


def test_a_terminal_still_gets_lines_wrapped_to_its_width(deep_repo):
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"} | {"TERM": "xterm-256color"}
    output, returncode = run_on_terminal([sys.executable, "-m", "assistant.cli", "status", str(deep_repo)], env=env,
                                         timeout=120)
    output = ANSI.sub(b"", output).replace(b"\r\n", b"\n")
    assert returncode == 0, output
    lines = output.decode().splitlines()
    assert lines and all(len(line) <= 80 for line in lines), lines
    assert str(deep_repo) not in lines  # wrapped, as a terminal of 80 columns needs
    assert "".join(lines[:4]).startswith(str(deep_repo))


# ------------------------------------------------------------------------------- item 6: CLI basics


def test_index_and_status_take_dash_C_as_well_as_the_positional_path(indexed_copy, tmp_path):
    repo = str(indexed_copy)
    for args in (["-C", repo], ["--path", repo], [repo]):
        assert json.loads(ok(run_assist("status", *args, "--json")).stdout)["root"] == repo
    assert json.loads(ok(run_assist("index", "-C", repo, "--json")).stdout)["root"] == repo
    assert ok(run_assist("index", "--path", repo)).stdout.startswith("Indexed ")
    both = run_assist("status", repo, "-C", str(tmp_path))
    assert both.returncode == 2 and both.stderr.startswith("assist: two repositories given")


def mcp_index_status(*args: str) -> dict:
    requests = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "index_status", "arguments": {}}},
    ]
    result = ok(run_assist("mcp", *args, "--no-vectors", input="".join(json.dumps(r) + "\n" for r in requests),
                           timeout=120))
    replies = {reply.get("id"): reply for reply in map(json.loads, result.stdout.splitlines())}
    return replies[2]["result"]["structuredContent"]


def test_mcp_serves_the_repository_named_by_dash_C_or_the_older_repo(indexed_sample):
    repo = str(indexed_sample)
    assert mcp_index_status("-C", repo)["root"] == repo
    assert mcp_index_status("--repo", repo)["root"] == repo  # editor configurations written before -C


def test_acp_takes_dash_C_as_its_working_directory(indexed_sample, tmp_path):
    initialize = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": 1}})
    started = ok(run_assist("acp", "-C", str(indexed_sample), input=initialize + "\n", timeout=120))
    assert json.loads(started.stdout.splitlines()[0])["result"]["agentInfo"]["name"] == "assist"
    missing = run_assist("acp", "-C", str(tmp_path / "nowhere"), input="")
    assert missing.returncode == 2 and missing.stderr.startswith("assist: ") and "does not exist" in missing.stderr


def test_version():
    result = ok(run_assist("--version"))
    assert result.stdout == f"assist {version('assist')}\n"


def test_completion_scripts_and_the_shell_protocol_they_call():
    bash = ok(run_assist("completion", "bash")).stdout
    assert "_ASSIST_COMPLETE=complete_bash" in bash and "complete -o default -F _assist_completion assist" in bash
    assert "_ASSIST_COMPLETE=complete_zsh" in ok(run_assist("completion", "zsh")).stdout
    assert "complete --command assist" in ok(run_assist("completion", "fish")).stdout
    assert run_assist("completion", "tcsh").returncode == 2
    # What bash does on Tab after `assist gr` and after `assist graph export --format `:
    env = {**os.environ, "_ASSIST_COMPLETE": "complete_bash"}
    words = ok(run_assist(env={**env, "COMP_WORDS": "assist gr", "COMP_CWORD": "1"})).stdout.split()
    assert words == ["graph"]
    formats = ok(run_assist(env={**env, "COMP_WORDS": "assist graph export --format ", "COMP_CWORD": "4"}))
    assert formats.stdout.split() == ["json", "graphml", "dot"]


@pytest.mark.parametrize("command", [
    ["index"], ["status"], ["search"], ["context"], ["chat"], ["fix"], ["undo"], ["mcp"], ["acp"],
    ["completion"], ["graph", "callers"], ["graph", "callees"], ["graph", "tests"], ["graph", "show"],
    ["graph", "export"],
])
def test_help_shows_each_value_type_no_bool_noise_and_an_example(command):
    text = ok(run_assist(*command, "--help")).stdout
    assert "<bool>" not in text and "BOOLEAN" not in text
    assert re.search(r"\bExamples?\b[^:\n]*: ", text)
    assert re.search(r"<(path|int|str|float|int range)>|<[a-z]+\|", text)  # value options still say their type


def test_top_level_help_documents_exit_statuses_and_api_key_variables():
    text = " ".join(ok(run_assist("--help")).stdout.split())
    for fact in ("0 done", "1 failed", "2 usage error", "3 busy", "130 interrupted", "ASSIST_API_KEY",
                 "OPENAI_API_KEY", "assist completion bash", "--version"):
        assert fact in text, fact
    assert "<bool>" not in text


def test_graph_export_has_one_format_option_and_json_as_its_stated_alias(indexed_sample):
    repo = str(indexed_sample)
    clash = run_assist("graph", "export", "--json", "--format", "dot", "-C", repo)
    assert clash.returncode == 2 and clash.stderr.startswith("assist: --json and --format dot")
    assert "The same as --format json" in " ".join(ok(run_assist("graph", "export", "--help")).stdout.split())


# ------------------------------------------------------------------- item 10: a neighbourhood to draw


def exported_nodes(*args: str) -> dict:
    return json.loads(ok(run_assist("graph", "export", *args)).stdout)


def test_graph_export_around_a_symbol_keeps_its_neighbours_and_not_far_nodes(indexed_sample):
    repo = str(indexed_sample)
    near = exported_nodes("--around", "price_line", "--depth", "1", "--format", "json", "-C", repo)
    ids = {n["id"] for n in near["nodes"]}
    assert {"inventory/pricing.py::price_line", "inventory/pricing.py::apply_discount",  # calls
            "inventory/cli.py::cmd_quote", "inventory/orders.py::OrderLine.price",  # called by
            "inventory/pricing.py"} <= ids  # contained in
    assert "inventory/pricing.py::convert" not in ids  # two edges away (through the file)
    assert "inventory/models.py::Warehouse.reserve" not in ids
    assert near["graph"]["around"] == "inventory/pricing.py::price_line"
    wider = {n["id"] for n in exported_nodes("--around", "price_line", "--depth", "2", "-C", repo)["nodes"]}
    assert ids < wider and "inventory/pricing.py::convert" in wider
    calls = exported_nodes("--around", "price_line", "--kind", "calls", "-C", repo)
    assert {e["key"] for e in calls["edges"]} == {"calls"}
    assert "inventory/pricing.py" not in {n["id"] for n in calls["nodes"]}
    dot = ok(run_assist("graph", "export", "--around", "price_line", "-f", "dot", "-C", repo)).stdout
    assert '"inventory/pricing.py::price_line" [label="inventory/pricing.py::price_line"' in dot
    assert "fillcolor" in dot and "convert" not in dot
    alone = run_assist("graph", "export", "--depth", "2", "-C", repo)
    assert alone.returncode == 2 and "--around" in alone.stderr


def test_graph_show_svg_draws_the_neighbourhood_with_graphviz(indexed_sample, tmp_path):
    assert shutil.which("dot"), "this test needs Graphviz's dot: apt-get install graphviz"
    target = tmp_path / "price_line.svg"
    drawn = ok(run_assist("graph", "show", "price_line", "--svg", str(target), "-C", str(indexed_sample)))
    svg = target.read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "price_line" in svg and "apply_discount" in svg and "cmd_quote" in svg
    assert drawn.stderr.startswith("assist: drew inventory/pricing.py::price_line")


def test_graph_show_svg_without_graphviz_names_the_package(indexed_sample, tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    target = tmp_path / "x.svg"
    result = run_assist("graph", "show", "price_line", "--svg", str(target), "-C", str(indexed_sample),
                        env={**os.environ, "PATH": str(empty)})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("assist: ")
    assert "graphviz" in result.stderr and "dot" in result.stderr
    assert not target.exists()
