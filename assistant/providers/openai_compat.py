"""Any server speaking OpenAI's ``/v1/chat/completions``: llama.cpp's server, LM Studio, vLLM, Ollama's /v1.

Plain httpx, no SDK. The context window comes from configuration, else what the server reports (llama.cpp's
``/props`` ``n_ctx``, the model listing's ``meta.n_ctx`` or vLLM's ``max_model_len``), else 4096. Tokens are
counted exactly with llama.cpp's ``/apply-template`` + ``/tokenize`` when the server has them, else estimated.
A llama.cpp server is also asked to report its progress through the prompt (``return_progress``), which streams
as ``PromptProgress``; other servers are never sent that field, since a strict one (vLLM) may refuse it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx

from .budget import check_fits, estimate_messages, estimate_tokens
from .errors import (
    ContextWindowTooSmall,
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
    ReplyLimitExceeded,
    RequestLimits,
)
from .streaming import ReceivedReply, ServerReport, StreamingProvider, StreamRequest, WireEvent
from .types import (
    Completed,
    Message,
    MessageLike,
    ModelInfo,
    PromptProgress,
    ServerModels,
    TextDelta,
    as_messages,
)

# Most local servers run at least this much; a larger real window only makes us refuse a little early.
DEFAULT_CONTEXT = 4096
# A GPU reads a prompt batch in milliseconds: however often the server reports, callers get at most this many
# progress events a second.
PROGRESS_PER_S = 4


def normalize_base_url(url: str) -> str:
    """``http://host:8080`` -> ``http://host:8080/v1``; a URL with a path is kept as given (``.../v1``, proxies)."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise ValueError(f"base URL must look like http://127.0.0.1:8080/v1, not {url!r}")
    return url if parts.path else f"{url}/v1"


class OpenAICompatProvider(StreamingProvider):
    """A chat model behind an OpenAI-compatible server; talks to the server as soon as it is created."""

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str,
        api_key: str | None = None,
        context_window: int | None = None,
        temperature: float | None = None,
        timeout_s: float = DEFAULT_SILENCE_S,
        connect_timeout_s: float = DEFAULT_CONNECT_S,
        reply_timeout_s: float = DEFAULT_REPLY_S,
        reply_reserve: int = 1024,
    ):
        self.base_url = normalize_base_url(base_url)
        # llama.cpp serves its extras (/props, /tokenize, /apply-template) beside /v1, not under it.
        self._root = self.base_url.removesuffix("/v1")
        self.temperature = temperature
        self.limits = RequestLimits(connect_timeout_s, timeout_s, reply_timeout_s)
        self.timeout_s = self.limits.read_s
        self.notices: list[str] = []
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(headers=headers, **self.limits.client_options())
        try:
            listing = self._get_json(f"{self.base_url}/models")
            served = _listed_models(listing)
            self.model = model or (served[0].name if served else "")
            if not self.model:
                raise ProviderRequestError(
                    f"the server at {self.base_url} lists no models: load one, or name it with --model openai:NAME",
                    url=f"{self.base_url}/models",
                )
            if served and self.model not in {m.name for m in served}:
                self.notices.append(
                    f"{self.base_url} does not list {self.model!r} (it lists {', '.join(m.name for m in served)}); "
                    f"single-model servers such as llama.cpp answer with their own model whatever the name."
                )
            self.name = f"openai:{self.model}@{self.base_url}"
            self.exact_tokens = self._probe_tokenizer()
            props = self._server_props()
            self.reports_progress = _is_llama_cpp(props)
            self.context_window = self._choose_window(context_window, served, _props_context(props))
        except BaseException:
            self._http.close()
            raise
        self.reply_reserve = min(reply_reserve, self.context_window // 4)

    # -- the ChatProvider protocol -------------------------------------------------------------------------

    # stream_chat comes from StreamingProvider; what follows is the OpenAI wire format for it.

    def _stream_request(self, messages: list[MessageLike], max_tokens: int | None) -> StreamRequest:
        body, counted = self._prepare(messages, max_tokens)
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
        if self.reports_progress:
            body["return_progress"] = True
        return StreamRequest(body, counted, f"{self.base_url}/chat/completions")

    def _wire_stream(self, request: StreamRequest, reply: ReceivedReply) -> Iterator[list[WireEvent]]:
        progress = _ProgressFilter()
        endpoint = request.endpoint
        # llama.cpp's server drops the connection after a stream; reusing it would fail the next request.
        with self._http.stream("POST", endpoint, json=request.payload, headers={"Connection": "close"}) as response:
            if response.status_code >= 400:
                response.read()
                raise self._http_error(response, endpoint)
            for data in _sse_data(response):
                if data == "[DONE]":
                    return
                chunk = _parse_chunk(data, endpoint, reply.text)
                events: list[WireEvent] = []
                usage = chunk.get("usage")
                if usage:
                    events.append(ServerReport(usage=(usage.get("prompt_tokens"), usage.get("completion_tokens"))))
                reading = progress.take(chunk.get("prompt_progress"))
                if reading is not None:
                    events.append(reading)
                for choice in chunk.get("choices") or []:
                    delta = (choice.get("delta") or {}).get("content")
                    if delta:
                        events.append(TextDelta(delta))
                    if choice.get("finish_reason"):
                        events.append(ServerReport(choice["finish_reason"]))
                yield events

    def _stream_failure(self, exc: Exception, request: StreamRequest, partial: str) -> ProviderError:
        return self._translate(exc, request.endpoint, partial)

    def chat(self, messages: list[MessageLike], *, max_tokens: int | None = None) -> Completed:
        body, counted = self._prepare(messages, max_tokens)
        endpoint = f"{self.base_url}/chat/completions"
        reply = self._post_json(endpoint, body)
        choice = (reply.get("choices") or [{}])[0]
        text = (choice.get("message") or {}).get("content") or ""
        usage = reply.get("usage") or {}
        return self.completed(text, choice.get("finish_reason") or "stop",
                              (usage.get("prompt_tokens"), usage.get("completion_tokens")), counted)

    def count_tokens(self, messages_or_text: list[MessageLike] | str) -> int:
        if isinstance(messages_or_text, str):
            if self.exact_tokens:
                return self._tokenize(messages_or_text)
            return estimate_tokens(messages_or_text)
        return self._count_messages(as_messages(messages_or_text))

    def list_models(self) -> list[ModelInfo]:
        return _listed_models(self._get_json(f"{self.base_url}/models"))

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Embeddings from ``/v1/embeddings`` (llama.cpp needs ``--embeddings`` and a pooling type)."""
        reply = self._post_json(f"{self.base_url}/embeddings", {"model": self.model, "input": texts})
        rows = sorted(reply.get("data") or [], key=lambda row: row.get("index", 0))
        return [list(row["embedding"]) for row in rows]

    def close(self) -> None:
        self._http.close()

    # -- setup ---------------------------------------------------------------------------------------------

    def _probe_tokenizer(self) -> bool:
        """True when the server counts tokens for us (llama.cpp's /tokenize and /apply-template)."""
        tokens = self._probe("POST", f"{self._root}/tokenize", {"content": "probe"})
        if tokens is None or tokens.status_code != 200:
            return False
        template = self._probe("POST", f"{self._root}/apply-template",
                               {"messages": [{"role": "user", "content": "probe"}]})
        try:
            return (
                template is not None
                and template.status_code == 200
                and isinstance(tokens.json().get("tokens"), list)
                and isinstance(template.json().get("prompt"), str)
            )
        except (ValueError, AttributeError):
            return False

    def _choose_window(self, configured: int | None, served: list[ModelInfo], reported: int | None) -> int:
        if reported is None:
            listed = next((m for m in served if m.name == self.model), served[0] if served else None)
            reported = listed.context_length if listed else None
        if configured is not None:
            if configured <= 0:
                raise ValueError(f"context_window must be a positive number of tokens, not {configured}")
            if reported is not None and configured > reported:
                self.notices.append(
                    f"context_window is set to {configured} but the server at {self.base_url} reports {reported}; "
                    f"it will refuse prompts longer than that."
                )
            return configured
        if reported is not None:
            return reported
        self.notices.append(
            f"the server at {self.base_url} does not report its context window; assuming {DEFAULT_CONTEXT} tokens. "
            f"Set context_window under [model] in .assist/config.toml to what the server was started with."
        )
        return DEFAULT_CONTEXT

    def _server_props(self) -> dict[str, Any]:
        """llama.cpp's ``/props`` (its settings); empty for a server that has none."""
        response = self._probe("GET", f"{self._root}/props")
        if response is None or response.status_code != 200:
            return {}
        try:
            props = response.json()
        except ValueError:
            return {}
        return props if isinstance(props, dict) else {}

    # -- requests ------------------------------------------------------------------------------------------

    def _prepare(self, messages: list[MessageLike], max_tokens: int | None) -> tuple[dict[str, Any], int]:
        parsed = as_messages(messages)
        counted = self._count_messages(parsed)
        check_fits(
            counted,
            max_tokens=max_tokens,
            reply_reserve=self.reply_reserve,
            window=self.context_window,
            url=self.base_url,
            remedy=("Shorten the request, or start the server with a larger context (llama.cpp: -c N) and set "
                    "context_window under [model] in .assist/config.toml to match."),
        )
        body: dict[str, Any] = {"model": self.model, "messages": [m.to_wire() for m in parsed]}
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if self.temperature is not None:
            body["temperature"] = self.temperature
        return body, counted

    def _count_messages(self, messages: list[Message]) -> int:
        if not self.exact_tokens:
            return estimate_messages(messages)
        prompt = self._post_json(f"{self._root}/apply-template", {"messages": [m.to_wire() for m in messages]})
        return self._tokenize(prompt["prompt"])

    def _tokenize(self, text: str) -> int:
        return len(self._post_json(f"{self._root}/tokenize", {"content": text})["tokens"])

    def _get_json(self, endpoint: str) -> dict[str, Any]:
        return self._request_json("GET", endpoint)

    def _post_json(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._request_json("POST", endpoint, body)

    def _request_json(self, method: str, endpoint: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = self._send(method, endpoint, body)
        except httpx.HTTPError as exc:
            raise self._translate(exc, endpoint) from exc
        if response.status_code >= 400:
            raise self._http_error(response, endpoint)
        try:
            return response.json()
        except ValueError as exc:
            raise ProviderRequestError(
                f"{endpoint} answered with something that is not JSON: is {self.base_url} an OpenAI-compatible "
                f"API (it usually ends in /v1)?",
                status_code=response.status_code,
                url=endpoint,
            ) from exc

    def _probe(self, method: str, endpoint: str, body: dict[str, Any] | None = None) -> httpx.Response | None:
        """A request to an endpoint the server may lack: None when it fails. A timeout is not a missing
        endpoint but a stalled server: it raises, since the next probe and the chat would each wait as long."""
        try:
            return self._send(method, endpoint, body)
        except (httpx.TimeoutException, ReplyLimitExceeded) as exc:
            raise self._translate(exc, endpoint) from exc
        except httpx.HTTPError:
            return None

    def _send(self, method: str, endpoint: str, body: dict[str, Any] | None = None) -> httpx.Response:
        try:
            return self._http.request(method, endpoint, json=body)
        except httpx.RemoteProtocolError:
            # A pooled connection the server had just closed: the request never reached it, so once more.
            return self._http.request(method, endpoint, json=body)

    def _http_error(self, response: httpx.Response, endpoint: str) -> ProviderError:
        status = response.status_code
        error = _error_body(response)
        message = str(error.get("message") or response.text[:300])
        if error.get("type") == "exceed_context_size_error" or ("context" in message and "exceed" in message):
            window = int(error.get("n_ctx") or getattr(self, "context_window", 0))
            needed = int(error.get("n_prompt_tokens") or 0)
            return ContextWindowTooSmall(
                f"the server at {endpoint} refused the prompt as too long for its context ({message}). Shorten "
                f"the request, or restart the server with a larger context (llama.cpp: -c N) and set "
                f"context_window under [model] in .assist/config.toml to match.",
                needed=needed,
                window=window,
                url=endpoint,
            )
        if status in (401, 403):
            return ProviderRequestError(
                f"the server at {endpoint} rejected the request as unauthorised (HTTP {status}: {message}): set "
                f"ASSIST_API_KEY (or OPENAI_API_KEY), or api_key under [model] in .assist/config.toml",
                status_code=status,
                url=endpoint,
            )
        if status == 404 and endpoint.endswith("/models"):
            return ProviderRequestError(
                f"{endpoint} does not exist (HTTP 404): the base URL should be the API root of an "
                f"OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1",
                status_code=status,
                url=endpoint,
            )
        if status == 404:
            model = getattr(self, "model", "")
            return ModelNotFound(
                f"the server at {self.base_url} has no model {model!r} ({message}): load it there, or pick one "
                f"that `assist models` lists with --model openai:NAME",
                model=model,
                url=endpoint,
            )
        return ProviderRequestError(
            f"the server at {endpoint} refused the request (HTTP {status}): {message}", status_code=status, url=endpoint
        )

    def _translate(self, exc: Exception, endpoint: str, partial: str = "") -> ProviderError:
        kept = f"; the {len(partial)} characters received are kept" if partial else ""
        if isinstance(exc, ReplyLimitExceeded):
            kind = ProviderTimeout if exc.deadline else StreamInterrupted
            return kind(f"the server at {endpoint}: {exc}{kept}", url=endpoint, partial_text=partial)
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
            return ServerUnavailable(
                f"cannot reach a model server at {self.base_url} (tried {endpoint}): start your server (e.g. "
                f"`llama-server -m MODEL.gguf --port 8080`, LM Studio's local server, `vllm serve`), or point "
                f"--base-url / ASSIST_BASE_URL at it",
                url=endpoint,
            )
        if isinstance(exc, httpx.TimeoutException):
            return ProviderTimeout(
                f"the server at {endpoint} sent nothing for {self.timeout_s:g} s: it is stalled or overloaded "
                f"(restart it, or raise timeout_s){kept}",
                url=endpoint,
                partial_text=partial,
            )
        if isinstance(exc, httpx.HTTPError):
            return StreamInterrupted(
                f"the connection to {endpoint} broke: {exc}{kept}", url=endpoint, partial_text=partial
            )
        return ProviderRequestError(f"request to {endpoint} failed: {exc!r}{kept}", url=endpoint, partial_text=partial)


def open_provider(settings: Any) -> OpenAICompatProvider:
    """The provider for ``assistant.config.ModelSettings`` (see registry.py); an empty model name means the
    server's first listed model."""
    return OpenAICompatProvider(
        settings.model or None,
        base_url=settings.base_url,
        api_key=settings.api_key,
        context_window=settings.context_window,
        temperature=settings.temperature,
        timeout_s=settings.timeout_s,
        reply_timeout_s=settings.reply_timeout_s,
    )


def list_server_models(settings: Any) -> ServerModels:
    """The server's models, and the one requests would use (with no name given: the first listed)."""
    provider = open_provider(settings)
    try:
        return ServerModels("openai", settings.base_url, provider.list_models(), provider.model)
    finally:
        provider.close()


def _sse_data(response: httpx.Response) -> Iterator[str]:
    """The ``data:`` payloads of a server-sent-events stream (comments, ids and keep-alives skipped)."""
    for line in response.iter_lines():
        if line.startswith("data:"):
            yield line[5:].strip()
        elif line.startswith("error:"):  # llama.cpp's way of failing a stream that already started
            yield json.dumps({"error": line[6:].strip()})


def _parse_chunk(data: str, endpoint: str, partial: str) -> dict[str, Any]:
    kept = f"; the {len(partial)} characters received are kept" if partial else ""
    try:
        chunk = json.loads(data)
    except ValueError as exc:
        raise StreamInterrupted(
            f"the server at {endpoint} sent a stream event that is not JSON: {data[:200]!r}{kept}",
            url=endpoint,
            partial_text=partial,
        ) from exc
    if not isinstance(chunk, dict):
        raise StreamInterrupted(f"unexpected stream event from {endpoint}: {data[:200]!r}{kept}", url=endpoint,
                                partial_text=partial)
    if chunk.get("error"):
        error = chunk["error"]
        detail = error.get("message", error) if isinstance(error, dict) else error
        raise StreamInterrupted(
            f"the server at {endpoint} reported an error mid-reply: {detail}{kept}", url=endpoint, partial_text=partial
        )
    return chunk


def _error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    if not isinstance(body, dict):
        return {}
    error = body.get("error", body.get("detail"))
    if isinstance(error, dict):
        return error
    return {"message": error} if error else {}


def _props_context(props: dict[str, Any]) -> int | None:
    settings = props.get("default_generation_settings")
    value = settings.get("n_ctx") if isinstance(settings, dict) else None
    return int(value) if isinstance(value, int) and value > 0 else None


def _is_llama_cpp(props: dict[str, Any]) -> bool:
    """llama.cpp's server, the one that reports prompt progress: its /props has per-request defaults and a slot
    count (``build_info`` may read "b0-unknown" in embedded builds, so it cannot be the test). A llama.cpp too
    old to know ``return_progress`` ignores the field, as it ignores every unknown field."""
    return isinstance(props.get("default_generation_settings"), dict) and isinstance(props.get("total_slots"), int)


class _ProgressFilter:
    """Turns llama.cpp's ``prompt_progress`` reports into ``PromptProgress`` events worth passing on: only while
    the prompt is partly read (the first report says nothing is read yet, the last one comes with the first
    token, and the caller knows both already), and at most ``PROGRESS_PER_S`` a second."""

    def __init__(self) -> None:
        self._next_at = 0.0

    def take(self, report: Any) -> PromptProgress | None:
        if not isinstance(report, dict):
            return None
        total, processed, cached = (report.get(key) for key in ("total", "processed", "cache"))
        if not (isinstance(total, int) and isinstance(processed, int)):
            return None
        cached = cached if isinstance(cached, int) else 0
        if not cached < processed < total:
            return None
        now = time.monotonic()
        if now < self._next_at:
            return None
        self._next_at = now + 1 / PROGRESS_PER_S
        return PromptProgress(processed, total, cached)


def _listed_models(listing: dict[str, Any]) -> list[ModelInfo]:
    models = []
    for entry in listing.get("data") or []:
        if not isinstance(entry, dict) or not entry.get("id"):
            continue
        meta = entry.get("meta") or {}
        window = meta.get("n_ctx") or entry.get("max_model_len") or entry.get("context_length")
        facts = (("owned_by", entry.get("owned_by")), ("n_ctx_train", meta.get("n_ctx_train")))
        details = {key: str(value) for key, value in facts if value}
        models.append(ModelInfo(str(entry["id"]), int(window) if isinstance(window, int) else None, details))
    return models
