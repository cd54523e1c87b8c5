"""The messages of an edit request and of its commit message, from ``prompts/edit_*.md``.

The system message is ``edit_system.md`` with the format rules `assist fix` uses for the same edit format
(``fix_format_search_replace.md`` / ``fix_format_whole_file.md``); the user message is ``edit_request.md``:
the request, the named targets, the code, and — when a reply could not be applied — why, for another try.
Every template renders strictly (a variable missing or left over fails with the template's name).
"""

from __future__ import annotations

from ..chat.prompting import outgoing, render
from ..fix.edits import SEARCH_REPLACE, looks_like_edits
from ..fix.prompt import messages, shorten
from ..providers.types import Message

COMMIT_DIFF_CHARS = 6000
SUBJECT_LIMIT = 72


def system_message(repo_name: str, edit_format: str) -> str:
    rules = render("fix_format_search_replace" if edit_format == SEARCH_REPLACE else "fix_format_whole_file")
    return render("edit_system", repo_name=repo_name, format_rules=rules)


def request_messages(repo_name: str, edit_format: str, request: str, named: list[str], context: str,
                     retry_reason: str | None, conversation: list[Message] = ()) -> list[Message]:
    """The system message, the earlier turns of a chat (so "now do the same for `release`" has its referent),
    then the request with its code."""
    targets = f"Named in the request: {', '.join(named)}\n\n" if named else ""
    code = render("context", blocks=context) if context.strip() else render("no_context")
    retry = render("edit_retry", reason=retry_reason) if retry_reason else ""
    user = render("edit_request", request=request.strip(), targets=targets, context=code, retry=retry)
    system, request_message = messages(system_message(repo_name, edit_format), user)
    return [system, *outgoing(list(conversation)), request_message]


def commit_messages(request: str, diff: str) -> list[Message]:
    return messages("You write git commit messages.",
                    render("edit_commit", request=shorten(request.strip(), 500), diff=shorten(diff, COMMIT_DIFF_CHARS)))


def commit_message_from_reply(reply: str | None, request: str, files: list[str]) -> str:
    """The model's message when it is usable (a subject of 1 to 72 characters, no code, no edit blocks), else a
    plain one that still names the request: a commit is never left without a truthful message."""
    lines = [line.rstrip() for line in (reply or "").strip().strip("`").strip().splitlines()]
    subject = lines[0].strip().strip('"').rstrip(".") if lines else ""
    usable = (not looks_like_edits(reply or "") and 0 < len(subject) <= SUBJECT_LIMIT
              and not subject.startswith(("```", "diff ", "---", "+++")) and any(ch.isalpha() for ch in subject))
    body_lines = [line for line in lines[1:] if line.strip()]
    if usable:
        body = "\n".join(body_lines).strip()
        request_line = f"Requested: {request.strip()}"
        return f"{subject}\n\n{body}\n\n{request_line}\n" if body else f"{subject}\n\n{request_line}\n"
    first = " ".join(request.split())
    plain = first if len(first) <= SUBJECT_LIMIT else first[:SUBJECT_LIMIT - 1].rstrip() + "…"
    return f"{plain}\n\nChanged {', '.join(files)} as requested (assist edit): {request.strip()}\n"
