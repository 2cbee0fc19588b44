"""Where the comments and string literals of a source file are, found by a scan of its special bytes.

The scan visits only the bytes that can open a comment or a string (found in C
by ``re.finditer`` over a one-character class), so its cost grows with the
number of literals, not with the size of the file. Both engines use its ranges.
"""

from __future__ import annotations

import re

from proxy.exclusion.languages import GO, JAVA, JAVASCRIPT, PYTHON, RUST, C

# (start, end) byte ranges to blank out; line breaks inside them are kept by the caller.
Ranges = list[tuple[int, int]]

_OPENERS = {
    PYTHON: re.compile(rb"[#\"']"),
    JAVASCRIPT: re.compile(rb"[/\"'`]"),
    GO: re.compile(rb"[/\"'`]"),
    JAVA: re.compile(rb"[/\"']"),
    RUST: re.compile(rb"[/\"']"),
    C: re.compile(rb"^[ \t]*#|[/\"']", re.M),
}
_TRIPLE_QUOTES = {PYTHON, JAVA}
_MULTILINE_QUOTES = {JAVASCRIPT: b"`", GO: b"`"}


def literal_ranges(data: bytes, language: str) -> Ranges:
    """Ranges of comments (whole) and string contents (all but the opening quote, which stays
    as the string's placeholder) in ``data``; an unterminated literal runs to the end of its line."""
    opener = _OPENERS.get(language)
    if opener is None:
        return []
    ranges: Ranges = []
    size = len(data)
    position = 0
    while True:
        match = opener.search(data, position)
        if match is None:
            return ranges
        start = match.end() - 1
        char = data[start : start + 1]
        if char == b"#" or (char == b"/" and data[start + 1 : start + 2] == b"/"):
            end = _line_end(data, start)
            ranges.append((match.start() if char == b"#" else start, end))
        elif char == b"/" and data[start + 1 : start + 2] == b"*":
            close = data.find(b"*/", start + 2)
            end = size if close < 0 else close + 2
            ranges.append((start, end))
        elif char == b"/":
            position = start + 1
            continue
        else:
            string_end = _string_end(data, start, language)
            if string_end is None:  # a Rust lifetime, not a character literal
                position = start + 1
                continue
            end = string_end
            ranges.append((start + 1, end))
        position = max(end, start + 1)


def _line_end(data: bytes, start: int) -> int:
    end = data.find(b"\n", start)
    return len(data) if end < 0 else end


def _string_end(data: bytes, start: int, language: str) -> int | None:
    quote = data[start : start + 1]
    if language in _TRIPLE_QUOTES and data[start : start + 3] == quote * 3:
        return _closing(data, start + 3, quote * 3, multiline=True)
    if _MULTILINE_QUOTES.get(language) == quote:
        return _closing(data, start + 1, quote, multiline=True, escapes=language != GO)
    if language == RUST and quote == b"'":
        end = _closing(data, start + 1, quote, multiline=False)
        return end if end - start <= 12 and data[end - 1 : end] == b"'" else None
    return _closing(data, start + 1, quote, multiline=False)


def _closing(data: bytes, position: int, quote: bytes, multiline: bool, escapes: bool = True) -> int:
    """The index just past the closing ``quote`` (skipping backslash escapes)."""
    limit = len(data) if multiline else _line_end(data, position)
    while True:
        found = data.find(quote, position, limit)
        if found < 0:
            return limit
        if escapes:
            backslashes = 0
            while found - backslashes - 1 >= position and data[found - backslashes - 1] == 0x5C:
                backslashes += 1
            if backslashes % 2:
                position = found + 1
                continue
        return found + len(quote)
