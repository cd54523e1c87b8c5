"""The user's own settings file, ``$XDG_CONFIG_HOME/assist/config.toml`` (default ``~/.config/assist/config.toml``).

It is the one file that may say where code and vectors are sent (a store server, an embedding server) and hold
their tokens: a repository's own files may not (assistant/index_settings.py refuses those keys there). Readers of
an index (chat, MCP) find the store server's token here or in the environment, never in the index.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

STORE_TOKEN_ENV = "ASSIST_STORE_TOKEN"
EMBED_API_KEY_ENV = "ASSIST_EMBED_API_KEY"


class UserConfigError(ValueError):
    """The user config file exists but cannot be read as TOML."""


def user_config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "assist" / "config.toml"


def read_user_index_table(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The ``[index]`` table of the user config file ({} when there is none); raises UserConfigError."""
    path = user_config_path(env)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UserConfigError(f"{path}: {exc}") from exc
    table = data.get("index", {})
    if not isinstance(table, dict):
        raise UserConfigError(f"{path}: [index] must be a table")
    return table


def store_token_for_reading(env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(token, where it came from) for a reader of an index whose vectors are on a store server: the token is never
    written into the index, so a chat or MCP server takes it from the environment or the user config file."""
    env = os.environ if env is None else env
    if env.get(STORE_TOKEN_ENV):
        return env[STORE_TOKEN_ENV], STORE_TOKEN_ENV
    try:
        token = read_user_index_table(env).get("store_token", "")
    except UserConfigError:
        token = ""
    return (token, f"{user_config_path(env)} [index] store_token") if isinstance(token, str) and token else ("", "")
