"""Which chat model to use, and where it is served.

Sources, highest precedence first: command-line flags (``--model``, ``--base-url``); the environment
(``ASSIST_MODEL``, ``ASSIST_BASE_URL``; the API key from ``ASSIST_API_KEY`` or ``OPENAI_API_KEY``); the
repository's ``.assist/config.toml`` ``[model]`` table; its ``pyproject.toml`` ``[tool.assist.model]`` table;
the defaults below. Example ``.assist/config.toml``::

    [model]
    model = "ollama:qwen2.5-coder:7b"   # or "openai:NAME" with base_url
    context_window = 16384              # Ollama's num_ctx; for an OpenAI-compatible server, its -c
    keep_alive = "30m"
    timeout_s = 300                     # longest silence: first token (a cold model loading), between tokens
    reply_timeout_s = 600               # longest one whole reply may take

A model is ``ollama:NAME``, ``openai:NAME`` or ``scripted:FILE`` (prepared replies, no server: tests and demonstrations;
FILE relative to the current directory); the prefixes are ``assistant.providers.registry``'s. A name without that prefix (``--model gpt-4o``), or no model at
all, takes the provider its base URL implies: an OpenAI-compatible API root (a path ending in ``/v1``) means
``openai``, anything else (or no base URL) ``ollama``; ``ModelSettings.notices`` says which was taken, for the
front end to state once.

A base URL belongs to the provider it was given for: the one its own layer's model names, else the one its
``/v1`` implies. So ``--model ollama:x`` inherits neither the ``base_url`` a config file gave for its ``openai:``
model nor an ``ASSIST_BASE_URL=http://host:8080/v1``. With no base URL for the provider, Ollama's is
``$OLLAMA_HOST`` or http://127.0.0.1:11434, an OpenAI-compatible server's http://127.0.0.1:8080/v1.
Keep API keys in the environment rather than in a committed ``pyproject.toml``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .providers import registry
from .providers.defaults import OLLAMA_MODEL as DEFAULT_OLLAMA_MODEL
from .providers.defaults import OLLAMA_URL as DEFAULT_OLLAMA_URL
from .providers.types import ChatProvider

PROVIDERS = tuple(registry.PROVIDERS)
REPO_CONFIG = Path(".assist") / "config.toml"


class ConfigError(ValueError):
    """A model setting that cannot be used; the message names where it came from."""


@dataclass
class ModelSettings:
    provider: str = "ollama"
    """"ollama" (native API, the default), "openai" (any OpenAI-compatible server), "scripted" (prepared
    replies): a prefix of ``assistant.providers.registry.PROVIDERS``."""
    model: str = DEFAULT_OLLAMA_MODEL
    """The model's name on the server; for "openai" an empty name means the server's first listed model; for
    "scripted" the replies file."""
    base_url: str = DEFAULT_OLLAMA_URL
    """Where the server listens. Ollama: its root; OpenAI-compatible: the API root, usually ending in /v1."""
    context_window: int | None = None
    """Tokens per request (Ollama's num_ctx). None: Ollama min(model maximum, 16384); OpenAI what the server reports."""
    api_key: str | None = None
    """Bearer token for OpenAI-compatible servers that need one."""
    temperature: float | None = None
    """Sampling temperature; None leaves the server's default."""
    timeout_s: float = 300.0
    """Longest silence allowed from the server (first token, between tokens) before giving up."""
    reply_timeout_s: float = 600.0
    """Longest one request may take from sending to the last token, however steadily the server answers."""
    keep_alive: str = "30m"
    """How long Ollama keeps the model loaded after a request."""
    sources: dict[str, str] = field(default_factory=dict)
    """Where each non-default setting came from: "--model", "ASSIST_MODEL", ".assist/config.toml", ..."""
    notices: list[str] = field(default_factory=list)
    """Choices made for the user (a provider implied by the base URL), to be stated once."""

    @property
    def spec(self) -> str:
        return f"{self.provider}:{self.model}"


def parse_model_spec(spec: str) -> tuple[str, str]:
    """``ollama:qwen2.5-coder:7b`` -> ("ollama", "qwen2.5-coder:7b"); ``openai:NAME`` -> ("openai", "NAME");
    a bare name (``qwen2.5-coder:7b``) is an Ollama model when nothing else says otherwise (see
    ``resolve_model_settings``, which lets the base URL decide)."""
    provider, name = split_model_spec(spec)
    return provider or "ollama", name


def split_model_spec(spec: str) -> tuple[str | None, str]:
    """Like ``parse_model_spec``, but a name without a provider prefix gives ``(None, name)``."""
    spec = spec.strip()
    if not spec:
        raise ConfigError(f"the model cannot be empty: use {_spec_choices()}")
    prefix, sep, rest = spec.partition(":")
    if sep and prefix in PROVIDERS:
        kind = registry.provider_kind(prefix)
        if kind.needs_name and not rest:
            raise ConfigError(f'"{prefix}:" needs a model name, e.g. {kind.example}')
        return prefix, rest
    return None, spec


def _spec_choices() -> str:
    specs = [kind.spec for kind in registry.PROVIDERS.values()]
    return f"{', '.join(specs[:-1])} or {specs[-1]}"


def url_provider(url: str) -> str | None:
    """"openai" for an OpenAI-compatible API root (its path ends in /v1, as llama.cpp's, LM Studio's, vLLM's and
    Ollama's own compatible endpoint do); None when the URL alone does not say."""
    return "openai" if urlsplit(url.strip()).path.rstrip("/").endswith("/v1") else None


def resolve_model_settings(
    repo_root: Path | str | None,
    flag_model: str | None = None,
    flag_base_url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> ModelSettings:
    env = os.environ if env is None else env
    layers: list[tuple[str, dict[str, Any]]] = []  # lowest precedence first
    if repo_root is not None:
        root = Path(repo_root)
        layers.append(("pyproject.toml", _pyproject_table(root / "pyproject.toml")))
        layers.append((str(REPO_CONFIG), _config_table(root / REPO_CONFIG)))
    layers.append(("environment", {k: v for k, v in (("model", env.get("ASSIST_MODEL")),
                                                       ("base_url", env.get("ASSIST_BASE_URL"))) if v}))
    layers.append(("flags", {k: v for k, v in (("model", flag_model), ("base_url", flag_base_url)) if v}))

    settings = ModelSettings()
    for source, table in layers:
        for key, value in table.items():
            if key != "base_url":
                setattr(settings, key, value)
                settings.sources[key] = _source_name(source, key)
    _choose_provider(settings, layers)
    settings.base_url = _choose_base_url(settings, layers, env)

    env_key = next((env[name] for name in ("ASSIST_API_KEY", "OPENAI_API_KEY") if env.get(name)), None)
    if env_key:
        settings.api_key = env_key
        settings.sources["api_key"] = "ASSIST_API_KEY" if env.get("ASSIST_API_KEY") else "OPENAI_API_KEY"
    return settings


def switch_model_settings(
    repo_root: Path | str | None,
    spec: str,
    start_model: str | None = None,
    start_base_url: str | None = None,
    current_provider: str | None = None,
    env: Mapping[str, str] | None = None,
) -> ModelSettings:
    """The settings for switching to ``spec`` mid-session (the TUI's ``/model``) in a session started with
    ``--model start_model --base-url start_base_url`` and now using ``current_provider``. That URL was given for
    the start model's provider: a model of another provider gets its own provider's URL (configuration,
    environment, default), never the old server's. A ``spec`` without a prefix stays with the current provider."""
    prefix, name = split_model_spec(spec)
    start = resolve_model_settings(repo_root, start_model, start_base_url, env).provider if start_base_url else None
    provider = prefix or (current_provider if current_provider in PROVIDERS else None) or start
    if provider is None:  # no prefix, nothing to stay with: as --model would take it
        return resolve_model_settings(repo_root, spec, None, env)
    settings = resolve_model_settings(repo_root, f"{provider}:{name}", start_base_url if provider == start else None,
                                      env)
    if prefix is None:
        settings.notices.append(f"the model {name!r} has no provider prefix: taken as {provider}:{name}, the "
                                f"provider in use, at {settings.base_url}")
    return settings


def open_provider(settings: ModelSettings) -> ChatProvider:
    """Connect to the configured provider (see ``assistant.providers.registry``); raises ``ConfigError`` for a
    provider assist does not know, a ``ProviderError`` that says what to do when it cannot be used."""
    try:
        return registry.open_provider(settings)
    except registry.UnknownProvider as exc:
        raise ConfigError(str(exc)) from None


# -- sources ---------------------------------------------------------------------------------------------------

_KEYS: dict[str, tuple[type, ...]] = {
    "model": (str,),
    "base_url": (str,),
    "context_window": (int,),
    "api_key": (str,),
    "temperature": (int, float),
    "timeout_s": (int, float),
    "reply_timeout_s": (int, float),
    "keep_alive": (str,),
}
_ALIASES = {"num_ctx": "context_window"}


def _config_table(path: Path) -> dict[str, Any]:
    return _validated(read_toml(path).get("model", {}), f"{path} [model]")


def _pyproject_table(path: Path) -> dict[str, Any]:
    table = read_toml(path).get("tool", {}).get("assist", {}).get("model", {})
    return _validated(table, f"{path} [tool.assist.model]")


def read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc


def _validated(table: Any, where: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    result: dict[str, Any] = {}
    for raw_key, value in table.items():
        key = _ALIASES.get(raw_key, raw_key)
        if key not in _KEYS:
            raise ConfigError(f"{where}: unknown setting {raw_key!r}; known: {', '.join([*_KEYS, *_ALIASES])}")
        kinds = _KEYS[key]
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise ConfigError(f"{where}: {raw_key} must be {' or '.join(k.__name__ for k in kinds)}, not {value!r}")
        if key == "context_window" and value <= 0:
            raise ConfigError(f"{where}: {raw_key} must be a positive number of tokens, not {value}")
        if key in ("timeout_s", "reply_timeout_s") and not value > 0:
            raise ConfigError(f"{where}: {raw_key} must be a positive number of seconds, not {value}")
        result[key] = float(value) if key in ("temperature", "timeout_s", "reply_timeout_s") else value
    return result


def _source_name(source: str, key: str) -> str:
    if source == "environment":
        return {"model": "ASSIST_MODEL", "base_url": "ASSIST_BASE_URL"}[key]
    if source == "flags":
        return {"model": "--model", "base_url": "--base-url"}[key]
    return source


def _url_owner(table: dict[str, Any]) -> str | None:
    """The provider a layer's base URL was given for: its model's prefix, else what the URL implies (/v1: an
    OpenAI-compatible server), else Ollama when the layer names a bare model; None: a lone URL for any provider."""
    prefix = split_model_spec(str(table["model"]))[0] if "model" in table else None
    return prefix or url_provider(str(table["base_url"])) or ("ollama" if "model" in table else None)


def _choose_provider(settings: ModelSettings, layers: list[tuple[str, dict[str, Any]]]) -> None:
    """The provider: the model's prefix; without one, the one the nearest base URL was given for (ollama when
    none says). An implied choice is noted, so a user who typed ``--model gpt-4o`` sees where it goes."""
    prefix, name = split_model_spec(str(settings.model)) if "model" in settings.sources else (None, "")
    if prefix is not None:
        settings.provider, settings.model = prefix, name
        return
    nearest = next(((source, table) for source, table in reversed(layers) if table.get("base_url")), None)
    owner = _url_owner(nearest[1]) if nearest else None
    url = f"the base URL {nearest[1]['base_url']} (from {_source_name(nearest[0], 'base_url')})" if nearest else ""
    if "model" not in settings.sources:
        if owner == "openai":  # e.g. `assist models --base-url http://127.0.0.1:8080/v1`
            settings.provider, settings.model = "openai", ""
            settings.notices.append(f"no model is set and {url} is an OpenAI-compatible API: using the first "
                                    f"model it lists (choose one with --model openai:NAME)")
        return
    settings.provider, settings.model = owner or "ollama", name
    if settings.provider == "openai":
        why, other = f"{url} is an OpenAI-compatible API", f"ollama:{name} for an Ollama model"
    else:
        if not nearest:
            why = "Ollama is the default"
        elif url_provider(str(nearest[1]["base_url"])):
            why = f"{url} was given with an ollama: model"
        else:
            why = f"{url} does not end in /v1"
        other = f"openai:{name} with --base-url http://HOST:PORT/v1 for an OpenAI-compatible server"
    settings.notices.append(f"the model {name!r} (from {settings.sources['model']}) has no provider prefix: taken as "
                            f"{settings.provider}:{name}, since {why}; write {other}")


def _choose_base_url(settings: ModelSettings, layers: list[tuple[str, dict[str, Any]]], env: Mapping[str, str]) -> str:
    for source, table in reversed(layers):
        url = table.get("base_url")
        if not url:
            continue
        # A URL given for another provider's model (or an OpenAI-compatible /v1 root) is not ours.
        owner = _url_owner(table)
        if owner is not None and owner != settings.provider:
            continue
        settings.sources["base_url"] = _source_name(source, "base_url")
        return _checked_url(url, settings.sources["base_url"])
    if settings.provider == "ollama":
        host = env.get("OLLAMA_HOST")
        if host:
            settings.sources["base_url"] = "OLLAMA_HOST"
            return _ollama_host_url(host)
        return DEFAULT_OLLAMA_URL
    return registry.provider_kind(settings.provider).default_url or ""


def _checked_url(url: str, source: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"base URL from {source} must look like http://127.0.0.1:11434, not {url!r}")
    return url.strip().rstrip("/")


def _ollama_host_url(host: str) -> str:
    """OLLAMA_HOST as Ollama itself reads it: scheme and port optional; a listen-all address means this machine."""
    host = host.strip()
    if "://" not in host:
        host = f"http://{host}"
    parts = urlsplit(host)
    hostname = parts.hostname or "127.0.0.1"
    if hostname in ("0.0.0.0", "::"):
        hostname = "127.0.0.1"
    if ":" in hostname:
        hostname = f"[{hostname}]"
    port = parts.port or (443 if parts.scheme == "https" else 11434)
    return f"{parts.scheme}://{hostname}:{port}{parts.path.rstrip('/')}"
