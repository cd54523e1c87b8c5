"""Ollama's native API through the official ``ollama`` client.

One context size (``num_ctx``) is chosen per session from ``/api/show`` and configuration and sent on every
request: without it Ollama silently cuts prompts to its small default, and a size that changes between
requests makes Ollama reload the model each turn. Each reply's ``prompt_eval_count`` is compared with our
own count to catch a cut anyway (a server capped by ``OLLAMA_CONTEXT_LENGTH``, a proxy dropping options).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
import ollama
import pydantic

from . import defaults
from .budget import check_fits, estimate_messages, estimate_tokens
from .errors import (
    ModelNotFound,
    OtherKindOfServer,
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
    ReplyLimitExceeded,
    RequestLimits,
)
from .streaming import ReceivedReply, ServerReport, StreamingProvider, StreamRequest, WireEvent
from .types import Completed, MessageLike, ModelInfo, ServerModels, TextDelta, as_messages

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


class OllamaProvider(StreamingProvider):
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

    # stream_chat comes from StreamingProvider; what follows is Ollama's wire format for it.

    def _stream_request(self, messages: list[MessageLike], max_tokens: int | None) -> StreamRequest:
        wire, estimate = self._prepare(messages, max_tokens)
        return StreamRequest((wire, self._options(max_tokens)), estimate, f"{self.url}/api/chat")

    def _wire_stream(self, request: StreamRequest, reply: ReceivedReply) -> Iterator[list[WireEvent]]:
        wire, options = request.payload
        # The client connects lazily: a dead server raises at the first chunk.
        stream = self._client.chat(self.model, messages=wire, stream=True, options=options, keep_alive=self.keep_alive)
        try:
            for chunk in stream:
                delta = chunk.message.content if chunk.message else None
                events: list[WireEvent] = [TextDelta(delta)] if delta else []
                if chunk.done:
                    events.append(ServerReport(chunk.done_reason or "stop", (chunk.prompt_eval_count, chunk.eval_count),
                                               last=True))
                yield events
        finally:
            stream.close()  # closes the HTTP response; on a cancel this stops Ollama generating

    def _stream_failure(self, exc: Exception, request: StreamRequest, partial: str) -> ProviderError:
        return self._translate(exc, "/api/chat", partial)

    def _stream_source(self, request: StreamRequest) -> str:
        return f"Ollama at {request.endpoint} closed"

    def chat(self, messages: list[MessageLike], *, max_tokens: int | None = None) -> Completed:
        wire, estimate = self._prepare(messages, max_tokens)
        reply = self._call(
            "/api/chat",
            lambda: self._client.chat(
                self.model, messages=wire, stream=False, options=self._options(max_tokens), keep_alive=self.keep_alive
            ),
        )
        return self.completed(reply.message.content or "", reply.done_reason or "stop",
                              (reply.prompt_eval_count, reply.eval_count), estimate)

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


def open_provider(settings: Any) -> OllamaProvider:
    """The provider for ``assistant.config.ModelSettings`` (see registry.py)."""
    return OllamaProvider(
        settings.model,
        base_url=settings.base_url,
        context_window=settings.context_window,
        keep_alive=settings.keep_alive,
        temperature=settings.temperature,
        timeout_s=settings.timeout_s,
        reply_timeout_s=settings.reply_timeout_s,
    )


def list_server_models(settings: Any) -> ServerModels:
    """Every model the Ollama at ``settings.base_url`` has, with its context length from /api/show. Listing
    needs no particular model, so this works before the configured one is pulled."""
    url = settings.base_url
    limits = RequestLimits(silence_s=settings.timeout_s, reply_s=settings.reply_timeout_s)
    client = ollama.Client(host=url, **limits.client_options())
    route = "/api/tags"
    try:
        models = []
        for entry in client.list().models:
            name = entry.model or ""
            route = "/api/show"
            shown = client.show(name)
            details = {"capabilities": ", ".join(shown.capabilities or [])}
            if entry.details is not None:
                details.update(parameters=entry.details.parameter_size or "",
                               quantization=entry.details.quantization_level or "")
            models.append(ModelInfo(name, _context_length(shown.modelinfo or {}),
                                    {k: v for k, v in details.items() if v}))
        return ServerModels("ollama", url, models, settings.model)
    except (ConnectionError, httpx.ConnectError, httpx.ConnectTimeout):
        raise ServerUnavailable(f"cannot reach Ollama at {url}: start it with `ollama serve`, or point --base-url / "
                                f"ASSIST_BASE_URL at the server that runs it", url=url) from None
    except httpx.TimeoutException:
        raise ProviderTimeout(f"Ollama at {url} did not answer within {limits.read_s:g} s", url=url) from None
    except ollama.ResponseError as exc:
        reason = plain_reason(exc.error)
        if exc.status_code == 404 and route == "/api/tags":
            # Some other server answers there: llama.cpp, LM Studio and vLLM all serve /v1/models.
            candidate = url if _is_api_root(url) else f"{url}/v1"
            raise OtherKindOfServer(not_ollama_message(url, route, reason), url=url,
                                    instead=("openai", candidate)) from None
        raise ProviderRequestError(f"Ollama at {url} refused {route} (HTTP {exc.status_code}): {reason}",
                                   status_code=exc.status_code, url=url) from None
    except httpx.HTTPError as exc:  # a reply past its deadline or size cap, a broken connection
        raise StreamInterrupted(f"Ollama at {url} did not answer properly: {plain_reason(exc)}", url=url) from None
    except ValueError as exc:  # JSON of another protocol (pydantic.ValidationError is a ValueError)
        raise ProviderRequestError(f"{url}{route} did not answer in Ollama's protocol ({plain_reason(exc)}): is it "
                                   f"an Ollama server?", url=url) from None
    finally:
        client.close()


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


def _is_api_root(url: str) -> bool:
    """An OpenAI-compatible API root: its path ends in /v1."""
    return urlsplit(url).path.rstrip("/").endswith("/v1")


def not_ollama_message(url: str, route: str, reason: str) -> str:
    hint = ("it looks like an OpenAI-compatible API root: use --model openai:NAME with it, or Ollama's own "
            "address without /v1" if _is_api_root(url) else
            "check --base-url; an OpenAI-compatible server (llama.cpp, LM Studio, vLLM) takes --model openai:NAME "
            "--base-url http://HOST:PORT/v1")
    return f"no Ollama API at {url} ({route}: HTTP 404, {reason}): {hint}"
