"""Prompt templates and the token budget of one chat turn.

Templates live in the top-level ``prompts/`` folder (one ``.md`` file each) and are rendered with
``string.Template``: strict both ways, so a template that names a variable the code does not pass, or
misses one it does, fails loudly with the template's name instead of sending a half-filled prompt.

Where ``prompts/`` is found: beside the ``assistant`` package (a source checkout, or the editable install
this project uses), else ``<prefix>/share/assist/prompts`` where a wheel install puts it
(``[tool.setuptools.data-files]`` in pyproject.toml).

The budget: the window minus the room kept for the reply is what the prompt may use. The system prompt,
the question and pinned items come first; the retrieved code gets ``context_share`` of what remains;
conversation memory gets the rest (see ``memory``).
"""

from __future__ import annotations

import string
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from indexer.secrets import mask_secrets

from ..providers.types import Message

TEMPLATE_SUFFIX = ".md"


class PromptError(RuntimeError):
    """A prompt template is missing or does not fit the variables the code passes."""


def prompts_dir() -> Path:
    candidates = [
        Path(__file__).resolve().parents[2] / "prompts",
        Path(sys.prefix) / "share" / "assist" / "prompts",
    ]
    for candidate in candidates:
        if (candidate / f"system{TEMPLATE_SUFFIX}").is_file():
            return candidate
    raise PromptError(
        "cannot find the prompt templates (looked in " + ", ".join(str(c) for c in candidates)
        + "); reinstall assist"
    )


@cache
def _template(name: str) -> string.Template:
    path = prompts_dir() / f"{name}{TEMPLATE_SUFFIX}"
    try:
        return string.Template(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PromptError(f"cannot read prompt template {path}: {exc}") from exc


def render(name: str, **values: str) -> str:
    """Fill template ``name`` with exactly ``values``; surrounding blank lines are trimmed."""
    template = _template(name)
    if not template.is_valid():
        raise PromptError(f"prompt template {name}{TEMPLATE_SUFFIX} has a stray '$' (write $$ for a dollar sign)")
    wanted = set(template.get_identifiers())
    if wanted != set(values):
        missing, unused = sorted(wanted - set(values)), sorted(set(values) - wanted)
        raise PromptError(
            f"prompt template {name}{TEMPLATE_SUFFIX} does not match its variables"
            + (f"; it uses undefined {', '.join(missing)}" if missing else "")
            + (f"; it does not use {', '.join(unused)}" if unused else "")
        )
    return template.substitute(values).strip("\n")


# ------------------------------------------------------------------------------------------ messages


def outgoing(messages: list[Message]) -> list[Message]:
    """The one gate every message list passes before a model sees it (chat turns, `ask`, editor agents, fix
    rounds): secrets are masked in all of it — code, test output, tracebacks, questions, earlier answers —
    with the index's own detectors. Masking keeps lengths, so token counts hardly move."""
    masked = []
    for message in messages:
        content = mask_secrets(message.content)
        masked.append(message if content == message.content else Message(message.role, content))
    return masked


EDIT_WINDOW = 4096
"""The smallest context window offered edits in a chat answer: below it an edit (its code, then the blocks)
does not fit beside the question, and the instruction's tokens are better left to the code."""


def system_prompt(repo_name: str, earlier: list[str], window: int) -> str:
    text = render("system", repo_name=repo_name, edits=render("chat_edits") if window >= EDIT_WINDOW else "")
    if earlier:
        text += "\n" + render("earlier", lines="\n".join(earlier))
    return text


def turn_prompt(question: str, blocks: list[str]) -> str:
    context = render("context", blocks="\n\n".join(blocks)) if blocks else render("no_context")
    return render("turn", context=context, question=question.strip())


# ------------------------------------------------------------------------------------------ budget


@dataclass
class Budget:
    """How a turn's prompt tokens are shared out."""

    window: int
    reply: int  # kept free for the answer; sent as max_tokens
    prompt: int  # window - reply: the most the prompt may take
    fixed: int  # system prompt + question, with the chat template's own tokens
    pinned: int
    context: int  # what the retrieved code may take

    @property
    def free_after_fixed(self) -> int:
        return self.prompt - self.fixed - self.pinned


def share_budget(window: int, reply: int, fixed: int, pinned: int, context_share: float,
                 context_cap: int | None = None) -> Budget:
    prompt = max(0, window - reply)
    free = max(0, prompt - fixed - pinned)
    context = int(free * context_share)
    if context_cap is not None:
        context = min(context, max(0, context_cap))
    return Budget(window, reply, prompt, fixed, pinned, context)


# ------------------------------------------------------------------------------------------ code blocks

GAP = "⋮"


def code_block(path: str, first: int, last: int, label: str, language: str | None, lines: list[str]) -> str:
    """A block in the same shape as the retriever's packed items: ``path:first-last (label)`` then fenced code."""
    fence = "```"
    while any(line.lstrip().startswith(fence) for line in lines):
        fence += "`"
    return f"{path}:{first}-{last} ({label})\n{fence}{language or ''}\n" + "\n".join(lines) + f"\n{fence}"


def outline_block(path: str, entries: list[tuple[int, int, str]], left_out: int = 0) -> str:
    """A file's definitions, one signature a line: (line, depth, signature)."""
    body = [f"{line:>5}| {'    ' * depth}{signature}" for line, depth, signature in sorted(entries)]
    if left_out:
        body.append(f"{GAP} ({left_out} more definitions)")
    return f"{path} (outline: the file is too big to send whole; its definitions)\n" + "\n".join(body)
