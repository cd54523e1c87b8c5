"""How a repository is indexed: the ``[index]`` settings every front end builds and refreshes the index with.

Sources, highest precedence first: command-line flags (``assist index --vectors …``); the environment
(``ASSIST_VECTORS``); the repository's ``.assist/config.toml`` ``[index]`` table; its ``pyproject.toml``
``[tool.assist.index]`` table; the defaults of ``indexer.config.IndexConfig``. Example::

    [index]
    vectors = "later"          # "now" (default), "later" (front ends fill them in the background) or "off"
    max_file_size = 2097152    # bytes; larger files are skipped
    embed = ["source", "docs"] # which chunks earn a vector: source (default), tests, docs, data

The embedding model is not among them: a repository's own files must not choose what code or server indexing
loads or sends the code to (``assist index --model`` does).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from indexer.config import VECTOR_KINDS, VECTOR_MODES, IndexConfig

from .config import REPO_CONFIG, ConfigError, read_toml

# setting name in the files → (IndexConfig field, accepted types, check, what the check wants)
_KEYS: dict[str, tuple[str, tuple[type, ...], Any, str]] = {
    "vectors": ("vectors", (str,), lambda v: v in VECTOR_MODES, f"one of {', '.join(VECTOR_MODES)}"),
    "max_file_size": ("max_file_bytes", (int,), lambda v: v > 0, "a positive number of bytes"),
    "include_submodules": ("include_submodules", (bool,), lambda v: True, "true or false"),
    "embed": ("embed", (list,), lambda v: bool(v) and all(kind in VECTOR_KINDS for kind in v),
              f"a list of {', '.join(VECTOR_KINDS)}"),
    "embed_max_tokens": ("embed_max_tokens", (int,), lambda v: v >= 0, "a number of tokens (0: the whole chunk)"),
}
_REFUSED = {"model": "--model", "embedding_model": "--model", "ollama_url": "--model"}


def resolve_index_config(repo_root: Path | str | None, *, vectors: str | None = None, model: str | None = None,
                         max_file_size: int | None = None, env: Mapping[str, str] | None = None) -> IndexConfig:
    """The settings for indexing ``repo_root``; raises ConfigError naming the file and key at fault."""
    env = os.environ if env is None else env
    config = IndexConfig()
    layers: list[tuple[str, dict[str, Any]]] = []
    if repo_root is not None:
        root = Path(repo_root)
        pyproject = root / "pyproject.toml"
        layers.append((f"{pyproject} [tool.assist.index]",
                       read_toml(pyproject).get("tool", {}).get("assist", {}).get("index", {})))
        layers.append((f"{root / REPO_CONFIG} [index]", read_toml(root / REPO_CONFIG).get("index", {})))
    if env.get("ASSIST_VECTORS"):
        layers.append(("ASSIST_VECTORS", {"vectors": env["ASSIST_VECTORS"]}))
    for where, table in layers:
        for field_name, value in _validated(table, where).items():
            setattr(config, field_name, value)
    if vectors is not None:
        config.vectors = vectors
    if model:
        config.embedding_model = model
    if max_file_size is not None:
        config.max_file_bytes = max_file_size
    return dataclasses.replace(config)


def repository_index_config(repo_root: Path, failure: type[Exception]) -> IndexConfig:
    """``resolve_index_config`` for a front end: a wrong config file becomes its own ``failure`` error."""
    try:
        return resolve_index_config(repo_root)
    except ConfigError as exc:
        raise failure(str(exc)) from exc


def _validated(table: Any, where: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    result: dict[str, Any] = {}
    for key, value in table.items():
        if key in _REFUSED:
            raise ConfigError(f"{where}: {key} cannot be set in a repository's files (they must not choose what "
                              f"indexing loads or where it sends code); use {_REFUSED[key]}")
        if key not in _KEYS:
            raise ConfigError(f"{where}: unknown setting {key!r}; known: {', '.join(_KEYS)}")
        field_name, kinds, check, wanted = _KEYS[key]
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds) or not check(value):
            raise ConfigError(f"{where}: {key} must be {wanted}, not {value!r}")
        result[field_name] = value
    return result
