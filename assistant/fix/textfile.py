"""A source file as bytes on disk and as lines to edit, converted both ways without changing what an edit
did not touch: the encoding (UTF-8, with or without BOM, UTF-16 by BOM, else Latin-1 as a lossless
fallback), the line ending (LF, CRLF or CR), the final newline and the file mode. Reading and writing the
bytes is ``safe_fs``'s job (no link is ever followed); this module only converts them."""

from __future__ import annotations

import codecs
from dataclasses import dataclass

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


class NotText(ValueError):
    """The file is not text an edit can safely change."""


@dataclass(frozen=True)
class TextFile:
    lines: list[str]
    encoding: str
    newline: str
    final_newline: bool
    mode: int | None  # permission bits of the file on disk; None for a file that does not exist yet

    def encode(self, lines: list[str], final_newline: bool | None = None) -> bytes:
        end = self.final_newline if final_newline is None else final_newline
        text = self.newline.join(lines) + (self.newline if end and lines else "")
        try:
            return text.encode(self.encoding)
        except UnicodeEncodeError as exc:
            raise NotText(f"the new text cannot be written in the file's encoding ({self.encoding}): {exc.reason} "
                          f"at {text[exc.start:exc.end]!r}") from exc


def decode(data: bytes, mode: int | None) -> TextFile:
    if b"\x00" in data and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise NotText("a binary file (it contains NUL bytes)")
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), None)
    if encoding is None:
        try:
            data.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            encoding = "latin-1"  # every byte maps to one character and back: nothing is lost
    text = data.decode(encoding)
    newline = "\r\n" if "\r\n" in text else ("\r" if "\r" in text else "\n")
    final = text.endswith(("\n", "\r"))
    body = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = body.split("\n")
    if final:
        lines.pop()
    return TextFile(lines if text else [], encoding, newline, final, mode)


def new_file() -> TextFile:
    return TextFile([], "utf-8", "\n", True, None)
