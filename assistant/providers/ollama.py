"""Ollama's native API through the official ``ollama`` client.

One context size (``num_ctx``) is chosen per session from ``/api/show`` and configuration and sent on every
request: without it Ollama silently cuts prompts to its small default, and a size that changes between
requests makes Ollama reload the model each turn. Each reply's ``prompt_eval_count`` is compared with our
own count to catch a cut anyway (a server capped by ``OLLAMA_CONTEXT_LENGTH``, a proxy dropping options).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
import ollama
import pydantic

from . import defaults
from .budget import check_fits, estimate_messages, estimate_tokens, looks_truncated
from .errors import (
    ModelNotFound,
    ProviderError,
    ProviderRequestError,
    ProviderTimeout,
    ServerUnavailable,
    StreamInterrupted,
)
from .limits import (
    DEFAULT_CONNECT_S,
    DEFAULT_REPLY_S,
    DEFAULT_SILENCE_S,
    ReplyCap,
    ReplyLimitExceeded,
    RequestLimits,
)
from .types import Completed, MessageLike, ModelInfo, StreamEvent, TextDelta, Usage, as_messages

DEFAULT_URL = defaults.OLLAMA_URL
DEFAULT_MODEL = defaults.OLLAMA_MODEL
# Agent work (repository context + edits) degrades sharply below ~16k tokens; above it the KV cache of a
# 7B model starts to crowd a consumer GPU, so 16k is also the default when the model allows it.
RECOMMENDED_CONTEXT = 16384
# When /api/show does not report the model's limit, assume Ollama's own conservative default.
ASSUMED_CONTEXT = 4096


def choose_context_window(requested: int | None, model_max: int | None) -> tuple[int, list[str]]:
    """The session's ``num_ctx``: the configured size (capped at the model's maximum), else
    min(model maximum, 16384). Returns it with notices for the user."""
    notices: list[str] = []
    if requested is not None and requested <= 0:
        raise ValueError(f"context_window must be a positive number of tokens, not {requested}")
    if model_max is None:
        window = requested or ASSUMED_CONTEXT
        if requested is None:
            notices.append(
                f"Ollama did not report the model's context length; using {window} tokens. "
                f"Set context_window under [model] in .assist/config.toml to the model's real limit."
            )
    elif requested is not None and requested > model_max:
        window = model_max
        notices.append(f"context_window {requested} is above the model's maximum of {model_max}; using {model_max}.")
    else:
        window = requested or min(model_max, RECOMMENDED_CONTEXT)
    if window < RECOMMENDED_CONTEXT:
        if model_max is not None and model_max <= window:
            fix = f"this model supports at most {model_max}; choose a model with a longer context for agent work"
        else:
            fix = (f"set context_window = {RECOMMENDED_CONTEXT} under [model] in .assist/config.toml "
                   f"(needs more memory)")
        notices.append(
            f"the context window is {window} tokens, below the {RECOMMENDED_CONTEXT} that agent work needs: {fix}."
        )
    return window, notices


class OllamaProvider:
    """A chat model served by Ollama's native ``/api/chat``; talks to the server as soon as it is created."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        base_url: str = DEFAULT_URL,
        context_window: int | None = None,
        keep_alive: str | float | None = "30m",
        temperature: float | None = None,
        timeout_s: float = DEFAULT_SILENCE_S,
        connect_timeout_s: float = DEFAULT_CONNECT_S,
        reply_timeout_s: float = DEFAULT_REPLY_S,
        reply_reserve: int = 1024,
    ):
        self.model = model
        self.url = base_url.rstrip("/")
        self.name = f"ollama:{model}"
        self.keep_alive = keep_alive
        self.temperature = temperature
        self.limits = RequestLimits(connect_timeout_s, timeout_s, reply_timeout_s)
        self.timeout_s = self.limits.read_s
        # The client's default timeout is none: a stalled server would hang us forever. The limits also bound
        # each whole request and its size (see limits.py), inside the client's own line reader.
        self._client = ollama.Client(host=self.url, **self.limits.client_options())
        try:
            shown = self._call("/api/show", lambda: self._client.show(model))
            self.model_max_context = _context_length(shown.modelinfo or {})
            self.capabilities = list(shown.capabilities or [])
            if self.capabilities and "completion" not in self.capabilities:
                raise ProviderRequestError(
                    f"Ollama model {model!r} cannot chat (capabilities: {', '.join(self.capabilities)}); "
                    f"choose a chat model with --model ollama:NAME",
                    url=self.url,
                )
            self.context_window, self.notices = choose_context_window(context_window, self.model_max_context)
        except BaseException:
            self._client.close()
            raise
        self.reply_reserve = min(reply_reserve, self.context_window // 4)

    # -- the ChatProvider protocol -------------------------------------------------------------------------

    def stream_chat(
        self,
        messages: list[MessageLike],
        *,
        max_tokens: int | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[StreamEvent]:
        wire, estimate = self._prepare(messages, max_tokens)
        parts: list[str] = []
        final: ollama.ChatResponse | None = None
        cancelled = False
        cap = ReplyCap(max_tokens or self.context_window)
        # Nothing is sent yet: the client connects lazily, so a dead server raises at the first next().
        stream = self._client.chat(
            self.model, messages=wire, stream=True, options=self._options(max_tokens), keep_alive=self.keep_alive
        )
        try:
            for chunk in stream:
                if cancel is not None and cancel.is_set():
                    cancelled = True
                    break
                delta = chunk.message.content if chunk.message else None
                if delta:
                    parts.append(delta)
                    cap.add(delta)
                    yield TextDelta(delta)
                if chunk.done:
                    final = chunk
                    break
                if cap.reached:  # the server ignores num_predict: stop it ourselves
                    break
                if cancel is not None and cancel.is_set():
                    cancelled = True
                    break
        except Exception as exc:  # every client/transport failure becomes a typed error
            raise self._translate(exc, "/api/chat", "".join(parts)) from exc
        finally:
            stream.close()  # closes the HTTP response; on a cancel this stops Ollama generating
        text = "".join(parts)
        if cancelled:
            yield Completed(text, "cancelled", Usage(None, None, estimate))
            return
        if final is None and cap.reached:
            yield Completed(text, "length", Usage(None, None, estimate))
            return
        if final is None:
            raise StreamInterrupted(
                f"Ollama at {self.url}/api/chat closed the stream before the reply was done; "
                f"the {len(text)} characters received are kept",
                url=f"{self.url}/api/chat",
                partial_text=text,
            )
        yield self._completed(text, final, estimate)

    def chat(self, messages: list[MessageLike], *, max_tokens: int | None = None) -> Completed:
        wire, estimate = self._prepare(messages, max_tokens)
        reply = self._call(
            "/api/chat",
            lambda: self._client.chat(
                self.model, messages=wire, stream=False, options=self._options(max_tokens), keep_alive=self.keep_alive
            ),
        )
        return self._completed(reply.message.content or "", reply, estimate)

    def count_tokens(self, messages_or_text: list[MessageLike] | str) -> int:
        # Ollama exposes no tokenizer: a conservative estimate, checked against prompt_eval_count on replies.
        if isinstance(messages_or_text, str):
            return estimate_tokens(messages_or_text)
        return estimate_messages(as_messages(messages_or_text))

    def list_models(self) -> list[ModelInfo]:
        listing = self._call("/api/tags", self._client.list)
        models = []
        for entry in listing.models:
            details = entry.details
            facts = {
                "size_bytes": str(int(entry.size)) if entry.size is not None else "",
                "family": (details.family if details else None) or "",
                "parameter_size": (details.parameter_size if details else None) or "",
                "quantization": (details.quantization_level if details else None) or "",
            }
            models.append(ModelInfo(entry.model or "", None, {k: v for k, v in facts.items() if v}))
        return models

    def embed(self, texts: list[str], model: str | None = None) -> list[list[float]]:
        """Embeddings from ``/api/embed``; with the chat model itself the session's ``num_ctx`` goes along, so
        the loaded model is not reloaded."""
        chosen = model or self.model
        options = {"num_ctx": self.context_window} if chosen == self.model else None
        reply = self._call(
            "/api/embed",
            lambda: self._client.embed(chosen, input=texts, options=options, keep_alive=self.keep_alive),
            model=chosen,
        )
        return [list(vector) for vector in reply.embeddings]

    def close(self) -> None:
        self._client.close()

    # -- internals -----------------------------------------------------------------------------------------

    def _prepare(self, messages: list[MessageLike], max_tokens: int | None) -> tuple[list[dict[str, str]], int]:
        parsed = as_messages(messages)
        estimate = estimate_messages(parsed)
        check_fits(
            estimate,
            max_tokens=max_tokens,
            reply_reserve=self.reply_reserve,
            window=self.context_window,
            url=self.url,
            remedy=self._remedy(),
        )
        return [m.to_wire() for m in parsed], estimate

    def _remedy(self) -> str:
        limit = self.model_max_context
        if limit is not None and self.context_window >= limit:
            return f"{self.model} supports at most {limit} tokens: shorten the request or use a longer-context model."
        supports = f" (the model supports up to {limit})" if limit else ""
        return ("Shorten the request, or set context_window (Ollama's num_ctx) higher under [model] in "
                f".assist/config.toml{supports}.")

    def _options(self, max_tokens: int | None) -> dict[str, Any]:
        # The same num_ctx on every request: a different value makes Ollama reload the model.
        options: dict[str, Any] = {"num_ctx": self.context_window}
        if max_tokens is not None:
            options["num_predict"] = max_tokens
        if self.temperature is not None:
            options["temperature"] = self.temperature
        return options

    def _completed(self, text: str, reply: ollama.ChatResponse, estimate: int) -> Completed:
        usage = Usage(reply.prompt_eval_count, reply.eval_count, estimate)
        truncated = looks_truncated(reply.prompt_eval_count, estimate, exact=False)
        return Completed(text, reply.done_reason or "stop", usage, truncated)

    def _call(self, route: str, request, model: str | None = None):
        try:
            return request()
        except Exception as exc:  # translated into a typed error
            raise self._translate(exc, route, model=model) from exc

    def _translate(self, exc: Exception, route: str, partial: str = "", model: str | None = None) -> ProviderError:
        model = model or self.model
        endpoint = f"{self.url}{route}"
        kept = f"; the {len(partial)} characters received are kept" if partial else ""
        if isinstance(exc, ReplyLimitExceeded):
            kind = ProviderTimeout if exc.deadline else StreamInterrupted
            return kind(f"Ollama at {endpoint}: {exc}{kept}", url=endpoint, partial_text=partial)
        if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
            return ProviderTimeout(
                f"Ollama at {endpoint} sent nothing for {self.timeout_s:g} s: the server is stalled or overloaded "
                f"(check `ollama ps`, restart `ollama serve`, or raise timeout_s){kept}",
                url=endpoint,
                partial_text=partial,
            )
        if isinstance(exc, (ConnectionError, httpx.ConnectError, httpx.ConnectTimeout)):
            return ServerUnavailable(
                f"cannot reach Ollama at {self.url} (tried {endpoint}): start it with `ollama serve`, or point "
                f"--base-url / ASSIST_BASE_URL at the server that runs it",
                url=endpoint,
            )
        if isinstance(exc, ollama.ResponseError):
            reason = plain_reason(exc.error)
            if exc.status_code == 404 and not is_missing_model(exc.error):
                return ProviderRequestError(not_ollama_message(self.url, route, reason), status_code=404, url=endpoint)
            if exc.status_code == 404:
                return ModelNotFound(
                    f"Ollama at {self.url} has no model {model!r} ({reason}): run `ollama pull {model}`",
                    model=model,
                    url=endpoint,
                )
            if exc.status_code == -1:  # an {"error": ...} line inside a 200 stream
                return StreamInterrupted(
                    f"Ollama at {endpoint} reported an error mid-reply: {reason}{kept}",
                    url=endpoint,
                    partial_text=partial,
                )
            return ProviderRequestError(
                f"Ollama at {endpoint} refused the request (HTTP {exc.status_code}): {reason}",
                status_code=exc.status_code,
                url=endpoint,
                partial_text=partial,
            )
        if isinstance(exc, httpx.HTTPError):
            return StreamInterrupted(
                f"the connection to Ollama at {endpoint} broke: {exc}{kept}", url=endpoint, partial_text=partial
            )
        if isinstance(exc, (json.JSONDecodeError, pydantic.ValidationError)):
            # A validation error spans several lines; its first names the model and the count of problems.
            summary = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return ProviderRequestError(
                f"Ollama at {endpoint} sent a reply that is not Ollama's protocol ({summary}); is that address "
                f"really an Ollama server?{kept}",
                url=endpoint,
                partial_text=partial,
            )
        return ProviderRequestError(f"request to Ollama at {endpoint} failed: {exc!r}{kept}", url=endpoint,
                                    partial_text=partial)


def _context_length(model_info: Mapping[str, Any]) -> int | None:
    """``<arch>.context_length`` from /api/show's model_info, for whatever the architecture is called."""
    arch = model_info.get("general.architecture")
    value = model_info.get(f"{arch}.context_length") if arch else None
    if value is None:
        value = next((v for k, v in model_info.items() if k.endswith(".context_length")), None)
    return int(value) if isinstance(value, (int, float)) and value > 0 else None


def plain_reason(error: object, limit: int = 200) -> str:
    """One short line from whatever an error reply held: Ollama's text, llama.cpp's ``{"message": ...}`` (which
    the client passes on as a dict), an HTML page from a proxy."""
    if isinstance(error, dict):
        error = error.get("message") or error.get("error") or json.dumps(error)
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_missing_model(error: object) -> bool:
    """Ollama's 404 for a model it lacks (``model "x" not found, try pulling it first``), as opposed to a 404
    for the route itself: another kind of server at that address."""
    return isinstance(error, str) and "model" in error.lower() and "not found" in error.lower()


def not_ollama_message(url: str, route: str, reason: str) -> str:
    hint = ("it looks like an OpenAI-compatible API root: use --model openai:NAME with it, or Ollama's own "
            "address without /v1" if urlsplit(url).path.rstrip("/").endswith("/v1") else
            "check --base-url; an OpenAI-compatible server (llama.cpp, LM Studio, vLLM) takes --model openai:NAME "
            "--base-url http://HOST:PORT/v1")
    return f"no Ollama API at {url} ({route}: HTTP 404, {reason}): {hint}"
