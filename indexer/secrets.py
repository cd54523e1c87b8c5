"""Keep secrets out of the index: files whose names say they hold credentials, and keys pasted into code.

Masking replaces a secret with ``*`` of the same length (line breaks inside a key block are kept), so
line numbers and byte offsets computed on the masked text still point at the right place in the file.
Every masked span is ASCII, so character and byte lengths agree.
"""

from __future__ import annotations

import math
import re
from collections import Counter

_SECRET_SUFFIXES = (".pem", ".key", ".p12", ".pfx", ".keystore")
_SECRET_NAMES = frozenset({".env", ".npmrc", ".pypirc", ".netrc", "secrets.yml", "secrets.yaml"})
# Templates that document which variables to set; they hold no values and are useful context.
_ENV_TEMPLATES = frozenset({".env.example", ".env.sample", ".env.template"})
_SSH_KEY_PREFIXES = ("id_rsa", "id_dsa", "id_ecdsa", "id_ed25519")


def is_secret_path(path: str) -> bool:
    """True when a file's name alone says it holds credentials; such files are never read."""
    name = path.rpartition("/")[2].lower()  # plain string work: this runs once per file in the repository
    if name in _SECRET_NAMES:
        return True
    if name.startswith(".env."):
        return name not in _ENV_TEMPLATES
    if name.endswith(_SECRET_SUFFIXES):
        return True
    if name.startswith(_SSH_KEY_PREFIXES):
        return not name.endswith(".pub")  # the public half is meant to be shared
    return name.startswith("credentials") and name.endswith(".json")


# The value side of `name = "..."`, `name: '...'`, `name := `...``, `"name" => "..."`: a quoted literal
# without spaces, or a bare 40-character base64 run (how AWS secrets sit in ini and env-style files).
_ASSIGNED_VALUE = (
    r"\s*(?:(?P<{q}>[\"'`])(?P<{v}>[^\s\"'`\\]{{12,256}})(?P={q})"
    r"|(?P<{bare}>[A-Za-z0-9/+]{{40}})(?![A-Za-z0-9/+=]))"
)

# One alternation, so text is scanned once. Every branch starts with one plain character, which lets the
# regex engine skip fast over positions where no secret can start, and consumes only that character:
# the rest sits in a lookahead whose groups give the span to mask. So every position is still scanned
# and a rejected candidate (a URL assigned to `secret_url`) cannot hide a real key inside it. Word
# boundaries and the names on the left of assignments are checked in Python, on the few candidates.
_SECRET_PATTERN = re.compile(
    "|".join(
        (
            # The markers stay visible so a reader sees that a key was there; only the body is masked:
            # base64 lines (also with literal "\n" escapes, as in JSON) up to the next marker, so code
            # that merely mentions a BEGIN marker loses nothing.
            r"-(?=----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
            r"(?P<key_body>(?:(?!-----(?:BEGIN|END) )[A-Za-z0-9+/=\s:,.\\-])*))",
            r"A(?=(?P<aws_key_id>(?:KIA|SIA)[A-Z0-9]{16})(?![A-Za-z0-9]))",
            # Real classic tokens have 36 characters after the prefix; fakes in docs and tests may be shorter.
            r"g(?=(?P<github>h[pousr]_[A-Za-z0-9]{30,255}|ithub_pat_[A-Za-z0-9_]{22,255})(?![A-Za-z0-9_]))",
            r"s(?=k-(?P<openai>(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,})(?![A-Za-z0-9_-]))",
            r"x(?=(?P<slack>ox[baprs]-[A-Za-z0-9-]{10,})(?![A-Za-z0-9-]))",
            r":(?==?" + _ASSIGNED_VALUE.format(q="q1", v="v1", bare="bare1") + ")",
            r"=(?=>?" + _ASSIGNED_VALUE.format(q="q2", v="v2", bare="bare2") + ")",
        )
    )
)
_TOKEN_KINDS = ("aws_key_id", "github", "openai", "slack")
_OPENAI_PREFIX = re.compile(r"(?:proj-|svcacct-|admin-)?")

# A name that says it holds a secret; "tokenizer" and "secretary" do not ("tokenCount" does, see below).
_SECRET_NAME = re.compile(
    r"(?i:passw(?:or)?d|pwd|secret|api[_-]?key|access[_-]?key|auth[_-]?token|access[_-]?token|private[_-]?key"
    r"|token)(?![a-z])"
)
# Names that merely talk about a secret (where it lives, what it is called) rather than hold one.
_DESCRIPTIVE_NAME_ENDINGS = (
    "url", "uri", "path", "file", "filename", "name", "env", "var", "field", "type", "header",
    "prefix", "suffix", "length", "len", "count", "pattern", "regex", "label", "prompt", "message", "msg",
)  # fmt: skip
_MIN_ASSIGNED_ENTROPY = 3.0  # bits per character; random 12+ character strings score well above
_WORDISH = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
_WORD_SHARE_OF_IDENTIFIER = 0.7
_DIGIT_SHARE_OF_IDENTIFIER = 0.15
_VOWEL_SHARE_OF_WORDS = 0.3
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def mask_secrets(text: str) -> str:
    """The text with inline secrets (cloud keys, tokens, private keys, password literals) starred out."""
    pieces: list[str] = []
    done = 0  # text[:done] is already in pieces
    for match in _SECRET_PATTERN.finditer(text):
        span = _secret_span(match)
        if span is None or span[1] <= done:
            continue
        start = max(span[0], done)
        pieces.append(text[done:start])
        pieces.append(_stars(text[start : span[1]]))
        done = span[1]
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def _secret_span(match: re.Match[str]) -> tuple[int, int] | None:
    """Where the secret is, for a candidate the pattern found; None when a closer look clears it."""
    first = match.group(0)
    if first in ":=":
        return _assigned_secret_span(match)
    if first == "-":
        return match.span("key_body")
    text, start = match.string, match.start()
    if start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        return None  # glued to a word: "xAKIA...", "task-..." are not tokens
    kind = next(kind for kind in _TOKEN_KINDS if match.group(kind) is not None)
    if kind == "openai":
        body = match.group("openai")
        if not _looks_random(body[_OPENAI_PREFIX.match(body).end() :]):
            return None  # a kebab-case name such as "sk-learn-model-2024-xyz"
    return start, match.end(kind)


def _assigned_secret_span(match: re.Match[str]) -> tuple[int, int] | None:
    names = _assigned_names(match.string, match.start())
    for value_group in ("v1", "v2"):
        value = match.group(value_group)
        if value is not None:
            if any(_is_secret_literal(name, value) for name in names):
                return match.span(value_group)
            return None
    if any(re.search("(?i)secret", name) and re.search("(?i)key", name) for name in names):
        return match.span("bare1") if match.group("bare1") is not None else match.span("bare2")
    return None


def _stars(secret: str) -> str:
    return re.sub(r"[^\r\n]", "*", secret)


def _glued_to_word(text: str, start: int) -> bool:
    return start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_")


def _looks_random(token: str) -> bool:
    return (
        any(c.isdigit() for c in token) and any(c.islower() for c in token) and any(c.isupper() for c in token)
    )


def _is_secret_literal(name: str, value: str) -> bool:
    if not _SECRET_NAME.search(name) or name.lower().endswith(_DESCRIPTIVE_NAME_ENDINGS):
        return False
    if "://" in value or value[0] in "$<{%":
        return False  # a URL or a template placeholder, not a literal secret
    if not (any(c.isdigit() for c in value) and any(c.isalpha() for c in value)):
        return False  # words and plain numbers: "Authorization", "password_confirmation", 1234567890123
    return _entropy(value) >= _MIN_ASSIGNED_ENTROPY and not _reads_as_identifier(value)


def _reads_as_identifier(value: str) -> bool:
    """True for names made of words ("V1SecretEnvSource", ".models.v1_secret_ref"), which a generated
    secret almost never is: its letters break into short random runs and its digits come in longer runs."""
    pieces = _WORDISH.findall(value)
    alnum_chars = sum(c.isalnum() for c in value)
    digit_chars = sum(len(piece) for piece in pieces if piece.isdigit())
    if digit_chars > _DIGIT_SHARE_OF_IDENTIFIER * alnum_chars or any(
        piece.isdigit() and len(piece) > 2 for piece in pieces
    ):
        return False
    words = [piece for piece in pieces if _is_wordlike(piece)]
    word_chars = sum(len(word) for word in words)
    vowels = sum(c in "aeiouy" for word in words for c in word.lower())
    # English words are about 40 % vowels, random letters 23 %.
    return word_chars >= _WORD_SHARE_OF_IDENTIFIER * alnum_chars and vowels >= _VOWEL_SHARE_OF_WORDS * word_chars


def _is_wordlike(piece: str) -> bool:
    # Acronyms are left out: random upper-case runs are common, and identifiers keep acronyms short.
    return len(piece) >= 3 and piece[1:].islower() and any(c in "aeiouy" for c in piece.lower())


def _assigned_names(text: str, op_start: int) -> list[str]:
    """What may be the name on the left of an assignment operator. In ``api_key: str = "..."`` the word
    before ``=`` is a type annotation, so the word before the colon is a candidate too."""
    name, name_start = _name_before(text, op_start)
    names = [name]
    if text[op_start] == "=":
        i = name_start
        while i > 0 and text[i - 1] in " \t":
            i -= 1
        if i > 0 and text[i - 1] == ":":
            names.append(_name_before(text, i - 1)[0])
    return names


def _name_before(text: str, end: int) -> tuple[str, int]:
    i = end
    while i > 0 and text[i - 1] in " \t":
        i -= 1
    if i > 0 and text[i - 1] in "\"'":
        i -= 1
    stop = i
    while i > 0 and text[i - 1] in _NAME_CHARS:
        i -= 1
    return text[i:stop], i


def _entropy(value: str) -> float:
    counts = Counter(value)
    total = len(value)
    return -sum(n / total * math.log2(n / total) for n in counts.values())
