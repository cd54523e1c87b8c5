"""Every provider assist knows, by the prefix of a model spec: ``ollama:NAME``, ``openai:NAME``, ``scripted:FILE``.

One row per provider module. A module is imported only when a provider of its kind is opened or a server of its
kind is listed, so reading settings loads no client. Each module has two functions with the same names:

- ``open_provider(settings)``: a connected ``ChatProvider`` for these settings;
- ``list_server_models(settings)``: a ``ServerModels``, what the server at ``settings.base_url`` offers.

``settings`` is anything with the attributes of ``ProviderSettings`` (``assistant.config.ModelSettings``).
Adding a provider: write its module, add its row here, and it is selectable wherever ``--model`` is taken.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, replace
from typing import Any, Protocol

from . import defaults
from .errors import OtherKindOfServer, ProviderError
from .types import ChatProvider, ServerModels


class ProviderSettings(Protocol):
    provider: str
    model: str
    base_url: str
    context_window: int | None
    api_key: str | None
    temperature: float | None
    timeout_s: float
    reply_timeout_s: float
    keep_alive: str


@dataclass(frozen=True)
class ProviderKind:
    prefix: str
    """What a model spec starts with, before the colon."""
    module: str
    """The module under ``assistant.providers`` that implements it."""
    spec: str
    """How a model of this kind is written, for help and errors."""
    default_url: str | None
    """Where its server listens by default; None for a provider without a server."""
    title: str
    """What its servers are called in messages ("Ollama", "OpenAI-compatible")."""
    example: str
    """A whole spec, for the message that asks for a name."""
    needs_name: bool = True
    """The spec is useless without a name (an empty ``openai:`` means the server's first model)."""


PROVIDERS: dict[str, ProviderKind] = {kind.prefix: kind for kind in (
    ProviderKind("ollama", "ollama", "ollama:NAME", defaults.OLLAMA_URL, "Ollama", "ollama:qwen2.5-coder:7b"),
    ProviderKind("openai", "openai_compat", "openai:NAME", defaults.OPENAI_URL, "OpenAI-compatible",
                 "openai:smollm2-135m", needs_name=False),
    ProviderKind("scripted", "scripted", "scripted:FILE", None, "scripted", "scripted:replies.json"),
)}


class UnknownProvider(ValueError):
    """A provider name no row of the table has."""


def provider_kind(prefix: str) -> ProviderKind:
    try:
        return PROVIDERS[prefix]
    except KeyError:
        raise UnknownProvider(f"unknown model provider {prefix!r}: use one of "
                              f"{', '.join(kind.spec for kind in PROVIDERS.values())}") from None


def open_provider(settings: ProviderSettings) -> ChatProvider:
    """Connect to the configured provider; raises ``UnknownProvider``, or a ``ProviderError`` that says what to
    do when the provider cannot be used."""
    return _module(provider_kind(settings.provider)).open_provider(settings)


def list_server_models(settings: ProviderSettings) -> ServerModels:
    """The models of the server the settings point at. An address that turns out to speak another provider's
    protocol (an OpenAI-compatible server where Ollama was assumed) is listed as that, with a notice."""
    try:
        return _module(provider_kind(settings.provider)).list_server_models(settings)
    except OtherKindOfServer as exc:
        if exc.instead is None:
            raise
        provider, url = exc.instead
        assumed, other = provider_kind(settings.provider), provider_kind(provider)
        try:
            listing = _module(other).list_server_models(replace(settings, provider=provider, model="", base_url=url))
        except ProviderError:
            raise ProviderError(f"{exc}; nor is there an {other.title} API at {url}", url=exc.url) from exc
        listing.notices.append(f"{settings.base_url} is not {assumed.title} but an {other.title} server: use it "
                               f"with --model {other.spec} --base-url {url}")
        return listing


def _module(kind: ProviderKind) -> Any:
    return importlib.import_module(f"{__package__}.{kind.module}")
