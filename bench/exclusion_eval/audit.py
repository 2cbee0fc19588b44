"""An independent check of a flagged pair the dataset calls false: does the document really hold the code?

The matcher abstracts names and literals; this check keeps them. A pair is a *verified copy*
when at least half of the completion's tokens (names, literals and operators, comments and
layout dropped) appear in the document as runs of 8 or more tokens in order (difflib's
matching blocks). Open-source trees copy code between packages (Go's crypto/sha256 and
crypto/sha512 block functions, the JDK's two Base64 classes): such a pair is a true find, not a
false positive, and the report counts it apart so that nobody has to take it on trust.
"""

from __future__ import annotations

import difflib
import re
from functools import cache

from pygments.token import Text

from bench.exclusion_eval.snippets import is_comment, lexer_for

MIN_SHARE, MIN_RUN = 0.5, 8
_IMPORT = re.compile(r"\s*(import|from\s+\S+\s+import|use|package|#\s*include)\b")


@cache
def _tokens(text: str, language: str) -> tuple[str, ...]:
    lexer = lexer_for(language)
    return tuple(
        value.strip()
        for token, value in lexer.get_tokens(text)
        if value.strip() and not is_comment(token) and token not in Text
    )


@cache
def verified_copy(code: str, document: str, language: str) -> bool:
    """Remembered: a sweep meets the same pairs under every setting."""
    wanted, found = _tokens(code, language), _tokens(document, language)
    if not wanted:
        return False
    matcher = difflib.SequenceMatcher(None, found, wanted, autojunk=False)
    blocks = matcher.get_matching_blocks()
    return sum(block.size for block in blocks if block.size >= MIN_RUN) >= MIN_SHARE * len(wanted)


def code_line_flags(code: str, language: str) -> list[bool]:
    """Per line: does it hold code (not blank, not only comments or docstrings, not an import)?"""
    lines: set[int] = set()
    line = 0
    for token, value in lexer_for(language).get_tokens(code):
        if value.strip() and not is_comment(token) and token not in Text:
            lines.add(line)
        line += value.count("\n")
    texts = code.split("\n")
    return [i in lines and not _IMPORT.match(text) for i, text in enumerate(texts)]


@cache
def code_lines(code: str, language: str) -> int:
    """Lines holding code (a Java getter under ten lines of Javadoc is one line of code, however
    many lines its snippet has); the matcher drops imports, so they are not counted."""
    return sum(code_line_flags(code, language))
