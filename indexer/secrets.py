"""Keep secrets out of the index, the prompts and the logs: files whose names say they hold credentials, and
keys pasted into code or printed by a test.

Masking replaces a secret with ``*`` of the same length (line breaks inside a key block are kept), so
line numbers and byte offsets computed on the masked text still point at the right place in the file.
Every masked span is ASCII, so character and byte lengths agree. A value found to be a secret is masked
wherever else it appears in the same text too (a test that assigns a token and then prints it in an
assertion). ``StreamMasker`` masks text that arrives in pieces (a test run's output).
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
    r"\s*(?:(?P<{q}>[\"'`])(?P<{v}>[^\s\"'`\\]{{6,256}})(?P={q})"
    r"|(?P<{bare}>[A-Za-z0-9/+]{{40}})(?![A-Za-z0-9/+=]){env})"
)
# The value of an .env-style line (``DB_PASSWORD=S3cr3t``): unquoted, up to the end of the word. Characters
# of code (calls, indexing, variables) are left out, so ``token=tokens[0]`` is never a candidate.
_ENV_VALUE = r"|(?P<env_value>[^\s\"'`$(){}\[\]<>;,|&]{4,256})(?!\S)"
_MIN_QUOTED = 12  # a quoted literal shorter than this is a secret only under a constant's name (API_KEY = "...")

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
            r":(?==?" + _ASSIGNED_VALUE.format(q="q1", v="v1", bare="bare1", env="") + ")",
            r"=(?=>?" + _ASSIGNED_VALUE.format(q="q2", v="v2", bare="bare2", env=_ENV_VALUE) + ")",
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


_MIN_RECURRING = 8  # a found secret this long is masked wherever else it appears; shorter ones could be words


def mask_secrets(text: str) -> str:
    """The text with inline secrets (cloud keys, tokens, private keys, password literals) starred out."""
    return _mask(text)[0]


def _mask(text: str, known: frozenset[str] | set[str] = frozenset()) -> tuple[str, set[str]]:
    """The masked text and the secrets found in it; ``known`` secrets (found earlier) are masked too."""
    pieces: list[str] = []
    found: set[str] = set()
    done = 0  # text[:done] is already in pieces
    for match in _SECRET_PATTERN.finditer(text):
        span = _secret_span(match)
        if span is None or span[1] <= done:
            continue
        start = max(span[0], done)
        pieces.append(text[done:start])
        secret = text[start : span[1]]
        pieces.append(_stars(secret))
        if len(secret) >= _MIN_RECURRING and match.group(0) != "-":
            found.add(secret)
        done = span[1]
    masked = "".join(pieces) + text[done:] if pieces else text
    for secret in sorted(found | set(known), key=len, reverse=True):
        if secret in masked:
            masked = masked.replace(secret, "*" * len(secret))
    return masked, found


class StreamMasker:
    """Masks text that arrives in pieces: whole lines are masked as they complete, and a private key block
    cut by a piece boundary stays masked in the next piece. ``feed`` and ``flush`` return the masked text."""

    _MAX_PENDING = 1 << 20  # a "line" longer than this is masked in parts rather than held
    _MAX_KNOWN = 256  # secrets remembered from earlier pieces, to mask where they are printed again

    def __init__(self) -> None:
        self._pending = ""
        self._in_key = False
        self._known: set[str] = set()

    def feed(self, text: str) -> str:
        text = self._pending + text
        cut = text.rfind("\n") + 1
        if cut == 0 and len(text) < self._MAX_PENDING:
            self._pending = text
            return ""
        if cut == 0:
            cut = len(text)
        self._pending = text[cut:]
        return self._mask(text[:cut])

    def flush(self) -> str:
        text, self._pending = self._pending, ""
        return self._mask(text) if text else ""

    def _mask(self, text: str) -> str:
        prefix = _KEY_CONTINUES if self._in_key else ""  # the previous piece ended inside a key block
        masked, found = _mask(prefix + text, self._known)
        if len(self._known) < self._MAX_KNOWN:
            self._known.update(found)
        self._in_key = inside_key_block(text, self._in_key)
        return masked[len(prefix) :]


_KEY_CONTINUES = "-----BEGIN PRIVATE KEY-----\n"
_KEY_MARKER = re.compile(r"-----(?P<edge>BEGIN|END) (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")


def inside_key_block(text: str, was_inside: bool = False) -> bool:
    """Whether ``text`` ends inside a private key block (a BEGIN marker with no END after it)."""
    if "PRIVATE KEY" not in text:  # fast path for the usual piece
        return was_inside
    last = None
    for last in _KEY_MARKER.finditer(text):
        pass
    return was_inside if last is None else last["edge"] == "BEGIN"


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
    bare = "bare1" if match.group("bare1") is not None else "bare2" if match.group("bare2") is not None else None
    if bare is not None and any(re.search("(?i)secret", name) and re.search("(?i)key", name) for name in names):
        return match.span(bare)
    value_group = "env_value" if match.group("env_value") is not None else bare
    if value_group is not None and _is_env_line(match.string, match.start()):
        value = match.group(value_group)
        if _is_env_secret(names[0], value) and (value_group == "env_value" or _ends_word(match, value_group)):
            return match.span(value_group)
    return None


_ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
_ENV_PREFIX = re.compile(r"[ \t]*(?:export[ \t]+)?")
_NOT_VALUES = frozenset({"none", "null", "true", "false", "nil", "undefined", "changeme"})


def _is_env_line(text: str, op_start: int) -> bool:
    """``NAME=value`` as a whole line of a .env file or a shell script: an upper-case name at the start of
    the line (after ``export``), glued to the ``=``."""
    name, name_start = _name_before(text, op_start)
    if not name or name_start + len(name) != op_start or not _ENV_NAME.fullmatch(name):
        return False
    line_start = text.rfind("\n", 0, name_start) + 1
    return _ENV_PREFIX.fullmatch(text, line_start, name_start) is not None


def _is_env_secret(name: str, value: str) -> bool:
    if not _SECRET_NAME.search(name) or name.lower().endswith(_DESCRIPTIVE_NAME_ENDINGS):
        return False
    return "://" not in value and value[0] not in "%" and value.lower() not in _NOT_VALUES


def _ends_word(match: re.Match[str], group: str) -> bool:
    end = match.end(group)
    return end == len(match.string) or match.string[end].isspace()


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
    if name.isupper() and not (
        # A constant named for a secret (API_KEY = "...") holds one, unless its value names something else:
        # an environment variable ("OPENAI_API_KEY"), a dotted path, joined words, a label like "comment".
        _ENV_NAME.fullmatch(value) or value.lower() in _NOT_VALUES or _is_dotted_name(value)
        or not _SECRET_CHARS.fullmatch(value) or _names_something(value) or _one_short_word(value)
    ):
        return True
    if len(value) < _MIN_QUOTED:
        return False
    if not (any(c.isdigit() for c in value) and any(c.isalpha() for c in value)):
        return False  # words and plain numbers: "Authorization", "password_confirmation", 1234567890123
    return _entropy(value) >= _MIN_ASSIGNED_ENTROPY and not _reads_as_identifier(value)


_SECRET_CHARS = re.compile(r"[A-Za-z0-9_\-+/=.:@!#%^&*~]+")


def _names_something(value: str) -> bool:
    """Two or more words joined ("send_message", "X-Chroma-Token", "RobertaTokenizer"): the name of a thing,
    not a password. One run of letters ("supersecretvalue") may well be one."""
    return _reads_as_identifier(value) and sum(_is_wordlike(piece) for piece in _WORDISH.findall(value)) >= 2


def _one_short_word(value: str) -> bool:
    """"comment", "secret": a word used as a label. A password of plain letters is longer ("supersecretvalue")."""
    return len(value) < _MIN_QUOTED and value.isalpha() and (value.islower() or value.isupper())


def _is_dotted_name(value: str) -> bool:
    return "." in value.strip(".") and all(part.isidentifier() for part in value.strip(".").split("."))


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
