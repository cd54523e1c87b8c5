"""How a repository is indexed: the ``[index]`` settings every front end builds and refreshes the index with.

Sources, highest precedence first: command-line flags (``assist index --vectors … --store URL``); the environment
(``ASSIST_VECTORS``, ``ASSIST_STORE``, ``ASSIST_STORE_TOKEN``, ``ASSIST_EMBED_URL``, ``ASSIST_EMBED_API_KEY``); the
repository's ``.assist/config.toml`` ``[index]`` table; its ``pyproject.toml`` ``[tool.assist.index]`` table; the
user's own ``$XDG_CONFIG_HOME/assist/config.toml`` (default ``~/.config/assist/config.toml``) ``[index]`` table; the
defaults of ``indexer.config.IndexConfig``. Example::

    [index]
    vectors = "later"          # "now" (default), "later" (front ends fill them in the background) or "off"
    max_file_size = 2097152    # bytes; larger files are skipped
    embed = ["source", "docs"] # which chunks earn a vector: source (default), tests, docs, data

Where code and vectors are sent — the embedding model, a store server, an embedding server, their tokens and
tuning — is never a repository's choice: a cloned repository's own files must not send its reader's code anywhere.
Those keys are refused there; they come from flags, the environment or the user config file only.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexer.config import VECTOR_KINDS, VECTOR_MODES, IndexConfig

from .config import REPO_CONFIG, ConfigError, read_toml

_Key = tuple[str, tuple[type, ...], Callable[[Any], bool], str]
# setting name in the files → (IndexConfig field, accepted types, check, what the check wants)
_KEYS: dict[str, _Key] = {
    "vectors": ("vectors", (str,), lambda v: v in VECTOR_MODES, f"one of {', '.join(VECTOR_MODES)}"),
    "max_file_size": ("max_file_bytes", (int,), lambda v: v > 0, "a positive number of bytes"),
    "include_submodules": ("include_submodules", (bool,), lambda v: True, "true or false"),
    "embed": ("embed", (list,), lambda v: bool(v) and all(kind in VECTOR_KINDS for kind in v),
              f"a list of {', '.join(VECTOR_KINDS)}"),
    "embed_max_tokens": ("embed_max_tokens", (int,), lambda v: v >= 0, "a number of tokens (0: the whole chunk)"),
}
_TEXT = ((str,), lambda v: True, "a string")
STORE_FALLBACKS = ("fail", "local")
# Only in the user config file (or flags and the environment): where code and vectors go, and with which secrets.
_USER_KEYS: dict[str, _Key] = {
    "store": ("store", *_TEXT),
    "store_token": ("store_token", *_TEXT),
    "store_tenant": ("store_tenant", (str,), bool, "a tenant name"),
    "store_database": ("store_database", (str,), bool, "a database name"),
    "store_fallback": ("store_fallback", (str,), lambda v: v in STORE_FALLBACKS, " or ".join(STORE_FALLBACKS)),
    "embed_url": ("embed_url", *_TEXT),
    "embed_api_key": ("embed_api_key", *_TEXT),
    "embed_concurrency": ("embed_concurrency", (int,), lambda v: 1 <= v <= 64, "a number of requests from 1 to 64"),
    "embed_timeout_s": ("embed_timeout_s", (int, float), lambda v: v > 0, "a positive number of seconds"),
}
_REFUSED = {"model": "--model", "embedding_model": "--model", "ollama_url": "--model or --embed-url",
            **{key: "the user config file, the environment or a flag" for key in _USER_KEYS}}
# environment variable → IndexConfig field
_ENV = {"ASSIST_VECTORS": "vectors", "ASSIST_STORE": "store", "ASSIST_STORE_TOKEN": "store_token",
        "ASSIST_EMBED_URL": "embed_url", "ASSIST_EMBED_API_KEY": "embed_api_key"}


@dataclass
class IndexSettings:
    """The resolved settings, and which setting chose each field that is not a default (for error messages)."""

    config: IndexConfig
    sources: dict[str, str] = field(default_factory=dict)

    def source(self, field_name: str) -> str:
        return self.sources.get(field_name, "")


def resolve_index_settings(repo_root: Path | str | None, *, vectors: str | None = None, model: str | None = None,
                           max_file_size: int | None = None, store: str | None = None,
                           store_fallback: str | None = None, embed_url: str | None = None,
                           env: Mapping[str, str] | None = None) -> IndexSettings:
    """The settings for indexing ``repo_root``; raises ConfigError naming the file and key at fault."""
    from indexer.user_config import UserConfigError, read_user_index_table, user_config_path

    env = os.environ if env is None else env
    config = IndexConfig()
    sources: dict[str, str] = {}
    try:
        user_table = read_user_index_table(env)
    except UserConfigError as exc:
        raise ConfigError(f"cannot read {exc}") from None
    layers: list[tuple[str, dict[str, Any], bool]] = [(f"{user_config_path(env)} [index]", user_table, True)]
    if repo_root is not None:
        root = Path(repo_root)
        pyproject = root / "pyproject.toml"
        layers.append((f"{pyproject} [tool.assist.index]",
                       read_toml(pyproject).get("tool", {}).get("assist", {}).get("index", {}), False))
        layers.append((f"{root / REPO_CONFIG} [index]", read_toml(root / REPO_CONFIG).get("index", {}), False))
    for where, table, user_level in layers:
        for field_name, (key, value) in _validated(table, where, user_level).items():
            setattr(config, field_name, value)
            sources[field_name] = f"{key} in {where}"
    for variable, field_name in _ENV.items():
        if env.get(variable):
            setattr(config, field_name, env[variable])
            sources[field_name] = variable
    flags = {"vectors": vectors, "embedding_model": model or None, "max_file_bytes": max_file_size,
             "store": store, "store_fallback": store_fallback, "embed_url": embed_url}
    for field_name, value in flags.items():
        if value is not None:
            setattr(config, field_name, value)
            sources[field_name] = "--" + {"embedding_model": "model", "max_file_bytes": "max-file-size"}.get(
                field_name, field_name.replace("_", "-"))
    if config.store_fallback not in STORE_FALLBACKS:
        raise ConfigError(f"store_fallback must be {' or '.join(STORE_FALLBACKS)}, not {config.store_fallback!r}")
    return IndexSettings(dataclasses.replace(config), sources)


def resolve_index_config(repo_root: Path | str | None, **options: Any) -> IndexConfig:
    """``resolve_index_settings(...).config``."""
    return resolve_index_settings(repo_root, **options).config


def repository_index_config(repo_root: Path, failure: type[Exception]) -> IndexConfig:
    """``resolve_index_config`` for a front end: a wrong config file becomes its own ``failure`` error."""
    try:
        return resolve_index_config(repo_root)
    except ConfigError as exc:
        raise failure(str(exc)) from exc


def check_store(settings: IndexSettings, notice: Callable[[str], None]) -> IndexConfig:
    """Before an index run that writes vectors to a store server: the server must answer and take our token. An
    unreachable one is an error naming the URL and the setting that chose it, or, with store_fallback "local",
    a notice and the embedded store. Returns the config to run with; raises indexer's StoreUnavailable."""
    from indexer.chroma_server import StoreAddress, StoreUnauthorized, StoreUnavailable, check_server

    config = settings.config
    if not config.store or config.vectors != "now":
        return config
    chosen_by = settings.source("store") or "the settings"
    try:
        address = StoreAddress.parse(config.store, config.store_tenant, config.store_database)
    except ValueError as exc:
        raise ConfigError(f"{exc} (set by {chosen_by})") from None
    try:
        check_server(address, config.store_token, settings.source("store_token"))
    except StoreUnauthorized:
        raise
    except StoreUnavailable as exc:
        if config.store_fallback == "local":
            notice(f"{exc}; indexing on the embedded store under .assist/ instead (store_fallback local)")
            return dataclasses.replace(config, store="")
        raise StoreUnavailable(f"{exc}; the store was set by {chosen_by}: start the server, change that setting, "
                               "or pass --store-fallback local to index on the embedded store") from None
    return config


def _validated(table: Any, where: str, user_level: bool) -> dict[str, tuple[str, Any]]:
    """IndexConfig field → (the key as written, its value), for one layer's table."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    known = {**_KEYS, **_USER_KEYS} if user_level else _KEYS
    result: dict[str, tuple[str, Any]] = {}
    for key, value in table.items():
        if key in _REFUSED and not user_level:
            raise ConfigError(f"{where}: {key} cannot be set in a repository's files (they must not choose what "
                              f"indexing loads or where it sends code); use {_REFUSED[key]}")
        if key not in known:
            raise ConfigError(f"{where}: unknown setting {key!r}; known: {', '.join(known)}")
        field_name, kinds, check, wanted = known[key]
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds) or not check(value):
            shown = "(hidden)" if "token" in key or "key" in key else repr(value)
            raise ConfigError(f"{where}: {key} must be {wanted}, not {shown}")
        result[field_name] = (key, value)
    return result
