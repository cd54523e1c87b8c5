"""Which edit format to ask a model for, from how well it has done before.

Search/replace blocks are asked for first: they are short and exact. A model that keeps failing them (a
reply that does not parse or whose blocks do not match) is asked for whole files instead, which local
models get right far more often (aider's benchmarks: Qwen2.5-Coder-32B 72 % well-formed search/replace
edits vs 99.6 % whole files). The record is small JSON under ``.assist/fix/formats.json``, per model.
"""

from __future__ import annotations

import json
from pathlib import Path

from indexer.safe_fs import atomic_write

from .edits import SEARCH_REPLACE, WHOLE_FILE

RECORD = Path(".assist") / "fix" / "formats.json"
MIN_TRIES = 3  # judge a format only after this many replies in it
GOOD_ENOUGH = 0.5  # search/replace is kept while at least this share of its replies apply cleanly
MEMORY = 20  # only the most recent replies count: a model's settings (context size) may change


class FormatRecord:
    def __init__(self, root: Path):
        self.path = root / RECORD
        try:
            self.data: dict[str, dict[str, list[int]]] = json.loads(self.path.read_text())
            if not isinstance(self.data, dict):
                self.data = {}
        except (OSError, ValueError):
            self.data = {}

    def outcomes(self, model: str, edit_format: str) -> list[int]:
        value = self.data.get(model, {}).get(edit_format, [])
        return [int(bool(x)) for x in value] if isinstance(value, list) else []

    def rate(self, model: str, edit_format: str) -> float | None:
        outcomes = self.outcomes(model, edit_format)
        return sum(outcomes) / len(outcomes) if len(outcomes) >= MIN_TRIES else None

    def choose(self, model: str) -> str:
        search = self.rate(model, SEARCH_REPLACE)
        if search is None or search >= GOOD_ENOUGH:
            return SEARCH_REPLACE
        whole = self.rate(model, WHOLE_FILE)
        return SEARCH_REPLACE if whole is not None and whole < search else WHOLE_FILE

    def record(self, model: str, edit_format: str, ok: bool) -> None:
        """Remember one reply's outcome; a failure to save the record never stops a fix."""
        outcomes = (self.outcomes(model, edit_format) + [int(ok)])[-MEMORY:]
        self.data.setdefault(model, {})[edit_format] = outcomes
        try:
            atomic_write(self.path, json.dumps(self.data, indent=1, sort_keys=True).encode(), mode=0o644)
        except OSError:
            pass

    def describe(self, model: str) -> str:
        parts = []
        for edit_format in (SEARCH_REPLACE, WHOLE_FILE):
            outcomes = self.outcomes(model, edit_format)
            if outcomes:
                parts.append(f"{edit_format} {sum(outcomes)}/{len(outcomes)} applied")
        return ", ".join(parts) or "no history"


__all__ = ["FormatRecord", "SEARCH_REPLACE", "WHOLE_FILE"]
