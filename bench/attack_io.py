"""Attacks on assist's bounds and output, counted (issue 10, items 6 and 7).

    python /path/to/bench/attack_io.py      # from a checkout's root: attacks the assist in that checkout

The hostile servers and frames come from this script's own tree, so older checkouts can be attacked with
the same script (a setting they lack is left out of their config). Prints one JSON object:

- model: `assist ask` against loopback servers that never send headers (at all; to the chat; to the optional
  probes), stream forever (ignoring max_tokens), trickle one token per 0.2 s forever, or never end a line;
  both providers; limits in .assist/config.toml: timeout_s 3, reply_timeout_s 6, --max-tokens 24. A failure:
  still running after 40 s (killed), a traceback, an error exit whose last line is not one `assist:` line, or
  more than ~2x the tokens asked for on stdout;
- jsonrpc: requests nested 1,000 / 10,000 / 100,000 deep (arrays, objects; id before and after) to `assist
  mcp` and `assist acp`; a failure: a request id never answered;
- terminal: file names with ESC sequences and rich markup through `status --skipped`, `search`, `context`,
  `graph show` and an error; a failure: a raw ESC or BEL byte in the output, or markup eaten.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path.cwd()
HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE / "tests"))

from hostile_model_server import HostileModelServer  # noqa: E402

KILL_AFTER_S = 40
ENV = {k: v for k, v in os.environ.items() if not k.startswith("ASSIST_") and k != "OLLAMA_HOST"}
ENV.update(PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", ORT_DISABLE_TELEMETRY="1",
           ANONYMIZED_TELEMETRY="False")


def assist(*args: str, input: bytes | None = None, timeout: float = KILL_AFTER_S) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([sys.executable, "-m", "assistant.cli", *args], cwd=ROOT, env=ENV, input=input,
                              capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(exc.cmd, -9, exc.stdout or b"", exc.stderr or b"")


def git_repo(path: Path, files: dict[str, bytes]) -> Path:
    path.mkdir(parents=True)
    for name, content in files.items():
        (path / name).write_bytes(content)
    for command in (["init", "-q"], ["add", "-A"], ["-c", "user.name=a", "-c", "user.email=a@b", "commit", "-qm", "x"]):
        subprocess.run(["git", *command], cwd=path, check=True, capture_output=True)
    return path


# ------------------------------------------------------------------------------------------ model


def model_attacks(work: Path) -> dict:
    repo = git_repo(work / "ask", {"stock.py": b'def reserve(order):\n    """Reserve stock."""\n    return order\n'})
    assist("index", str(repo), timeout=600)
    config = repo / ".assist" / "config.toml"
    config.write_text("[model]\ntimeout_s = 3\nreply_timeout_s = 6\n")
    cases = [(kind, mode) for kind in ("ollama", "openai")
             for mode in ("silent", "silent_chat", "endless", "trickle", "unterminated")] + [("openai", "silent_probes")]
    failures: dict[str, str] = {}
    for kind, mode in cases:
        with HostileModelServer(mode, trickle_s=0.2 if mode == "trickle" else 0.02) as server:
            model = (["--model", "ollama:hostile", "--base-url", server.url] if kind == "ollama"
                     else ["--model", "openai:hostile", "--base-url", f"{server.url}/v1"])
            started = time.monotonic()
            result = assist("ask", "How is stock reserved?", "-C", str(repo), *model, "--no-vectors",
                            "--max-tokens", "24")
            if b"unknown setting 'reply_timeout_s'" in result.stderr:  # an older checkout: its own limits only
                config.write_text("[model]\ntimeout_s = 3\n")
                result = assist("ask", "How is stock reserved?", "-C", str(repo), *model, "--no-vectors",
                                "--max-tokens", "24")
            elapsed = time.monotonic() - started
        stderr = result.stderr.decode("utf-8", "replace")
        lines = [line for line in stderr.splitlines() if line.strip()]
        problem = None
        if result.returncode == -9:
            problem = f"still running after {KILL_AFTER_S} s"
        elif "Traceback" in stderr:
            problem = "traceback"
        elif result.returncode != 0 and not (lines and lines[-1].startswith("assist: ")):
            problem = f"exit {result.returncode} without a one-line message"
        elif len(result.stdout.split()) > 2 * 24 + 16:
            problem = f"{len(result.stdout.split())} tokens for --max-tokens 24"
        if problem:
            failures[f"{kind}/{mode}"] = problem
        print(f"model {kind}/{mode}: exit {result.returncode} in {elapsed:.1f} s; {problem or 'held'}",
              file=sys.stderr)
    return {"attempts": len(cases), "failures": len(failures), "detail": failures}


# ---------------------------------------------------------------------------------------- jsonrpc


def deep_frames(method: str, key: str) -> tuple[bytes, list[str]]:
    lines, ids = [], []
    for depth in (1_000, 10_000, 100_000):
        for kind in ("array", "object"):
            nest = "[" * depth + "1" + "]" * depth if kind == "array" else '{"a":' * depth + "1" + "}" * depth
            for where in ("before", "after"):
                request_id = f"deep-{depth}-{kind}-{where}"
                head = f'"jsonrpc":"2.0","method":"{method}","params":{{"{key}":{nest}}}'
                line = f'{{"id":"{request_id}",{head}}}' if where == "before" else f'{{{head},"id":"{request_id}"}}'
                lines.append(line.encode() + b"\n")
                ids.append(request_id)
    return b"".join(lines), ids


def jsonrpc_attacks(work: Path) -> dict:
    repo = git_repo(work / "rpc", {"app.py": b"def main():\n    return 1\n"})
    mcp_init = {"jsonrpc": "2.0", "id": "init", "method": "initialize",
                "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "a", "version": "1"}}}
    acp_init = {"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": {"protocolVersion": 1}}
    servers = {
        "mcp": (["mcp", "--repo", str(repo), "--no-vectors"], mcp_init, "tools/call", "arguments"),
        "acp": (["acp", "--model", "openai:none", "--base-url", "http://127.0.0.1:9/v1", "--no-vectors"], acp_init,
                "session/new", "mcpServers"),
    }
    attempts, failures, detail = 0, 0, {}
    for name, (args, init, method, key) in servers.items():
        frames, ids = deep_frames(method, key)
        payload = json.dumps(init).encode() + b"\n" + frames
        result = assist(*args, input=payload, timeout=300)
        answered = set()
        for line in result.stdout.splitlines():
            try:
                answered.add(json.loads(line).get("id"))
            except ValueError:
                pass
        missing = [i for i in ids if i not in answered]
        attempts += len(ids)
        failures += len(missing)
        detail[name] = {"unanswered": len(missing), "exit": result.returncode}
        print(f"jsonrpc {name}: {len(ids) - len(missing)} of {len(ids)} deep requests answered with their id",
              file=sys.stderr)
    return {"attempts": attempts, "failures": failures, "detail": detail}


# --------------------------------------------------------------------------------------- terminal


def terminal_attacks(work: Path) -> dict:
    repo = git_repo(work / "names", {
        "evil\x1b]0;pwned\x07.dat": b"\x00binary",
        "\x1b[2J[red]clear.py": b'def reserve_the_stock():\n    """Reserve \x1b]0;doc\x07 stock."""\n    return 1\n',
        "[link=https:evil.example]:skull:.py": b"def follow_the_link():\n    return reserve_the_stock()\n",
    })
    assist("index", str(repo), timeout=600)
    (repo / "added\x1b[2Jlater.py").write_text("X = 1\n")
    commands = {
        "status --skipped": ["status", "--skipped", str(repo)],
        "search symbol": ["search", "reserve_the_stock", "--no-vectors", "-C", str(repo)],
        "search link": ["search", "follow_the_link", "--no-vectors", "-C", str(repo)],
        "search file": ["search", "reserve stock", "--kind", "file", "--no-vectors", "-C", str(repo)],
        "context": ["context", "reserve the stock", "--no-vectors", "-C", str(repo)],
        "graph show": ["graph", "show", "reserve_the_stock", "-C", str(repo)],
        "error": ["graph", "callers", "no_such\x1b[2Jname", "-C", str(repo)],
    }
    failures = {}
    for name, args in commands.items():
        result = assist(*args)
        out = result.stdout + result.stderr
        raw = sum(out.count(byte) for byte in (b"\x1b", b"\x07"))
        eaten = name.startswith("search") and name != "search file" and not (
            b"[red]clear.py" in out.replace(b"\n", b"") or b"[link=https:evil.example]" in out.replace(b"\n", b""))
        if raw or eaten or b"Traceback" in out:
            failures[name] = f"{raw} raw ESC/BEL bytes" + (", markup interpreted" if eaten else "")
        print(f"terminal {name}: {failures.get(name, 'inert')}", file=sys.stderr)
    return {"attempts": len(commands), "failures": len(failures), "detail": failures}


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="attack-io-") as scratch:
        work = Path(scratch)
        figures = {"checkout": str(ROOT), "model": model_attacks(work), "jsonrpc": jsonrpc_attacks(work),
                   "terminal": terminal_attacks(work)}
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
