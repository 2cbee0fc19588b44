"""Text as the classifier reads it: one spelling for what looks the same to a person.

A request a rule would catch must not slip past by its spelling: compatibility
forms (full-width letters, ligatures) are folded by Unicode NFKC, invisible
characters (zero-width spaces and joiners, bidi controls, soft hyphens) are
removed (zero-width spaces become spaces where they stand in for them), and
Cyrillic or Greek letters that look like Latin ones are folded to Latin inside
words that also contain Latin letters ("SWE-bеnch" with a Cyrillic "е").
Words written wholly in Cyrillic or Greek stay as they are, so Russian or
Greek requests keep their meaning.
"""

from __future__ import annotations

import re
import unicodedata

# Zero-width characters, bidi embeddings/overrides/isolates, soft hyphen, word joiner, BOM.
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")

# Cyrillic and Greek letters a reader takes for Latin ones (lower and upper case).
_CONFUSABLES = str.maketrans(
    {
        "а": "a",
        "в": "b",
        "с": "c",
        "е": "e",
        "һ": "h",
        "і": "i",
        "ј": "j",
        "к": "k",
        "м": "m",
        "н": "h",
        "о": "o",
        "р": "p",
        "т": "t",
        "ѕ": "s",
        "у": "y",
        "х": "x",
        "ԁ": "d",
        "ԛ": "q",
        "ԝ": "w",
        "А": "A",
        "В": "B",
        "С": "C",
        "Е": "E",
        "Н": "H",
        "І": "I",
        "Ј": "J",
        "К": "K",
        "М": "M",
        "О": "O",
        "Р": "P",
        "Ѕ": "S",
        "Т": "T",
        "Х": "X",
        "У": "Y",
        "α": "a",
        "ε": "e",
        "ι": "i",
        "κ": "k",
        "ν": "v",
        "ο": "o",
        "ρ": "p",
        "τ": "t",
        "υ": "u",
        "χ": "x",
        "Α": "A",
        "Β": "B",
        "Ε": "E",
        "Η": "H",
        "Ι": "I",
        "Κ": "K",
        "Μ": "M",
        "Ν": "N",
        "Ο": "O",
        "Ρ": "P",
        "Τ": "T",
        "Χ": "X",
        "Υ": "Y",
        "Ζ": "Z",
    }
)
# A word that mixes Latin letters with Cyrillic or Greek ones: each word start is looked at once
# and each look-ahead stays inside its word, so the scan is linear in the text.
# Every mixed word has a Latin letter next to a Cyrillic or Greek one: text without one is left alone.
_LATIN = re.compile("[a-zA-Z]")
_SCRIPTS_TOUCH = re.compile("[a-zA-Z][\u0370-\u03ff\u0400-\u052f]|[\u0370-\u03ff\u0400-\u052f][a-zA-Z]")
_MIXED_WORD = re.compile(r"\b(?=\w*[a-zA-Z])(?=\w*[\u0370-\u03ff\u0400-\u052f])\w+")


def normalise(text: str) -> str:
    """``text`` with compatibility forms folded, invisible characters removed, mixed-script words in Latin."""
    if text.isascii():
        return text  # the common case costs one scan
    text = unicodedata.normalize("NFKC", text)
    if text.count("\u200b") > 4 * text.count(" "):
        # Zero-width spaces used in place of spaces separate words; elsewhere they split one.
        text = text.replace("\u200b", " ")
    text = _INVISIBLE.sub("", text)
    if _LATIN.search(text) is None or _SCRIPTS_TOUCH.search(text) is None:
        return text
    return _MIXED_WORD.sub(lambda word: word.group(0).translate(_CONFUSABLES), text)
