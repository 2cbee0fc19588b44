"""Source bytes → normalised symbol stream, one symbol per token, with the line each came from.

Code: comments and import lines dropped, every string → ``S``, every number →
``N``, every identifier → ``V`` (keywords keep a symbol of their own),
whitespace and the punctuation formatters add or remove (``, ; ( ) \\``)
dropped. What survives is the structure that reformatting, comment stripping
and consistent renaming leave alone. Prose (``text``): lower-case letters and
digits only, so re-wrapping or re-punctuating a paragraph changes nothing.

Two implementations with one result: :func:`normalise` (vectorised with numpy:
no Python loop per byte) and :func:`normalise_reference` (one byte at a time).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from proxy.exclusion.languages import KEYWORDS, KEYWORDS_OF, TEXT
from proxy.exclusion.lexer import literal_ranges

KEYWORD_BASE = 0x100
KEYWORD_SYMBOL = {word.encode("ascii"): KEYWORD_BASE + i for i, word in enumerate(KEYWORDS)}
KEYWORD_SYMBOLS_OF = {
    language: {word.encode("ascii"): KEYWORD_SYMBOL[word.encode("ascii")] for word in words}
    for language, words in KEYWORDS_OF.items()
}
V, N, S = ord("V"), ord("N"), ord("S")
# A line whose first token is one of these is an import/package line: dropped as boilerplate.
IMPORT_SYMBOLS = frozenset(KEYWORD_SYMBOL[word] for word in (b"import", b"from", b"package", b"use"))

_DROP, _WORD, _BREAK, _PUNCT, _QUOTE = 0, 1, 2, 3, 4
_CODE_CLASS = np.full(256, _PUNCT, dtype=np.uint8)
for _byte in b" \t\r\f\v,;()\\":
    _CODE_CLASS[_byte] = _DROP
for _byte in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_$":
    _CODE_CLASS[_byte] = _WORD
_CODE_CLASS[0x80:] = _WORD  # UTF-8 bytes of non-ASCII identifiers
_CODE_CLASS[ord("\n")] = _BREAK
for _byte in b"\"'`":
    _CODE_CLASS[_byte] = _QUOTE
_TEXT_KEEP = np.zeros(256, dtype=bool)
for _byte in b"abcdefghijklmnopqrstuvwxyz0123456789":
    _TEXT_KEEP[_byte] = True
_TEXT_KEEP[0x80:] = True
_LOWER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")

# Keyword recognition in the vectorised path: a polynomial hash of each word, compared with
# the keywords' (exact for words this short; longer words are never keywords).
_WORD_BASE = 131
_MAX_KEYWORD = max(len(word) for word in KEYWORD_SYMBOL)
_WORD_POWERS = np.array([_WORD_BASE**i % 2**64 for i in range(_MAX_KEYWORD + 1)], dtype=np.uint64)


def _word_hash(word: bytes) -> int:
    return sum(byte * _WORD_BASE**i for i, byte in enumerate(word)) % 2**64


# Per language: the keywords' word hashes, sorted, and the symbol of each.
_KEYWORD_TABLES = {
    language: (
        np.array(sorted(_word_hash(word) for word in table), dtype=np.uint64),
        np.array([table[word] for word in sorted(table, key=_word_hash)], dtype=np.uint32),
    )
    for language, table in KEYWORD_SYMBOLS_OF.items()
}

Symbols = npt.NDArray[np.uint32]
Lines = npt.NDArray[np.int32]


def normalise(data: bytes, language: str) -> tuple[Symbols, Lines]:
    """Symbols of ``data`` and the 1-based line of each (vectorised)."""
    raw = np.frombuffer(data, dtype=np.uint8)
    if language == TEXT:
        lowered = np.frombuffer(data.translate(_LOWER), dtype=np.uint8)
        lines = np.cumsum(raw == 10, dtype=np.int32) + 1
        kept = np.flatnonzero(_TEXT_KEEP[lowered])
        return lowered[kept].astype(np.uint32), lines[kept]
    classes = _CODE_CLASS[raw]
    ranges = literal_ranges(data, language)
    if ranges:
        classes = np.where(_inside(ranges, len(data)) & (classes != _BREAK), _DROP, classes).astype(np.uint8)
    lines = np.cumsum(classes == _BREAK, dtype=np.int32) + 1
    word = classes == _WORD
    starts = word.copy()
    starts[1:] &= ~word[:-1]
    positions = np.flatnonzero(starts | (classes >= _PUNCT))
    symbols = raw[positions].astype(np.uint32)
    symbols[classes[positions] == _QUOTE] = S
    _fold_words(raw, word, starts, symbols, starts[positions], language)
    return _drop_import_lines(symbols, lines[positions])


def _inside(ranges: list[tuple[int, int]], size: int) -> npt.NDArray[np.bool_]:
    delta = np.zeros(size + 1, dtype=np.int32)
    bounds = np.array(ranges, dtype=np.int64)
    np.add.at(delta, bounds[:, 0], 1)
    np.add.at(delta, bounds[:, 1], -1)
    return np.cumsum(delta[:size]) > 0


def _fold_words(
    raw: npt.NDArray[np.uint8],
    word: npt.NDArray[np.bool_],
    starts: npt.NDArray[np.bool_],
    symbols: Symbols,
    is_word_symbol: npt.NDArray[np.bool_],
    language: str,
) -> None:
    """Word symbols (in place): ``N`` for numbers, the keyword's symbol, else ``V``."""
    word_bytes = np.flatnonzero(word)
    if not len(word_bytes):
        return
    run_heads = np.flatnonzero(starts[word_bytes])
    run_lengths = np.diff(np.append(run_heads, len(word_bytes)))
    offsets = np.arange(len(word_bytes)) - np.repeat(run_heads, run_lengths)
    weights = _WORD_POWERS[np.minimum(offsets, _MAX_KEYWORD)]
    hashes = np.add.reduceat(raw[word_bytes].astype(np.uint64) * weights, run_heads)
    first = raw[word_bytes[run_heads]]
    keyword_hashes, keyword_symbols = _KEYWORD_TABLES[language]
    found = np.minimum(np.searchsorted(keyword_hashes, hashes), len(keyword_hashes) - 1)
    is_keyword = (keyword_hashes[found] == hashes) & (run_lengths <= _MAX_KEYWORD)
    folded = np.where(is_keyword, keyword_symbols[found], np.uint32(V))
    folded[(first >= ord("0")) & (first <= ord("9"))] = N
    symbols[is_word_symbol] = folded


def _drop_import_lines(symbols: Symbols, lines: Lines) -> tuple[Symbols, Lines]:
    if not len(symbols):
        return symbols, lines
    line_heads = np.flatnonzero(np.diff(lines, prepend=-1) != 0)
    heads = symbols[line_heads]
    import_heads = np.isin(heads, np.fromiter(IMPORT_SYMBOLS, dtype=np.uint32))
    if not import_heads.any():
        return symbols, lines
    keep = ~np.isin(lines, lines[line_heads[import_heads]])
    return symbols[keep], lines[keep]


def normalise_reference(data: bytes, language: str) -> tuple[list[int], list[int]]:
    """The same as :func:`normalise`, one byte and one token at a time."""
    pairs = _text_reference(data) if language == TEXT else _code_reference(data, language)
    heads: dict[int, int] = {}
    for symbol, line in pairs:
        heads.setdefault(line, symbol)
    if language != TEXT:
        pairs = [(symbol, line) for symbol, line in pairs if heads[line] not in IMPORT_SYMBOLS]
    return [symbol for symbol, _ in pairs], [line for _, line in pairs]


def _text_reference(data: bytes) -> list[tuple[int, int]]:
    pairs, line = [], 1
    for byte in data.translate(_LOWER):
        if byte == 10:
            line += 1
        elif _TEXT_KEEP[byte]:
            pairs.append((byte, line))
    return pairs


def _code_reference(data: bytes, language: str) -> list[tuple[int, int]]:
    blank = bytearray(len(data))
    for start, end in literal_ranges(data, language):
        blank[start:end] = b"\x01" * (end - start)
    pairs: list[tuple[int, int]] = []
    keywords = KEYWORD_SYMBOLS_OF[language]
    line, index = 1, 0
    while index < len(data):
        byte, kind = data[index], int(_CODE_CLASS[data[index]])
        if kind == _BREAK:
            line += 1
        elif blank[index] or kind == _DROP:
            pass
        elif kind == _WORD:
            end = index
            while end < len(data) and _CODE_CLASS[data[end]] == _WORD and not blank[end]:
                end += 1
            token = data[index:end]
            pairs.append((N if token[:1].isdigit() else keywords.get(token, V), line))
            index = end
            continue
        else:
            pairs.append((S if kind == _QUOTE else byte, line))
        index += 1
    return pairs
