"""Which language a text is in (file name, code fence, or a guess), and each language's reserved words.

Every keyword of every language has one symbol of its own, so the symbol
alphabet is shared; comment and string syntax per language is in ``lexer.py``.
"""

from __future__ import annotations

import re
from pathlib import PurePath

TEXT = "text"
PYTHON, JAVASCRIPT, GO, JAVA, RUST, C = "python", "javascript", "go", "java", "rust", "c"
CODE_LANGUAGES = (PYTHON, JAVASCRIPT, GO, JAVA, RUST, C)
LANGUAGE_IDS = {TEXT: 0, PYTHON: 1, JAVASCRIPT: 2, GO: 3, JAVA: 4, RUST: 5, C: 6}  # as _native.c numbers them

_EXTENSIONS = {
    PYTHON: (".py", ".pyi", ".pyw"),
    JAVASCRIPT: (".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts", ".vue", ".svelte"),
    GO: (".go",),
    JAVA: (".java", ".kt", ".kts", ".scala", ".groovy", ".cs", ".swift", ".dart"),
    RUST: (".rs",),
    C: (".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx", ".m", ".mm"),
}
LANGUAGE_OF_EXTENSION = {ext: language for language, exts in _EXTENSIONS.items() for ext in exts}
# Names used after a Markdown code fence (```ts) besides the extensions themselves.
_FENCE_NAMES = {
    "python": PYTHON, "py": PYTHON, "python3": PYTHON,
    "javascript": JAVASCRIPT, "js": JAVASCRIPT, "typescript": JAVASCRIPT, "ts": JAVASCRIPT,
    "jsx": JAVASCRIPT, "tsx": JAVASCRIPT, "node": JAVASCRIPT,
    "go": GO, "golang": GO,
    "java": JAVA, "kotlin": JAVA, "csharp": JAVA, "c#": JAVA, "scala": JAVA, "swift": JAVA,
    "rust": RUST, "rs": RUST,
    "c": C, "cpp": C, "c++": C, "cc": C, "h": C, "objc": C,
}  # fmt: skip


def language_for_path(path: str) -> str:
    """The language a file name implies; ``text`` for anything unknown."""
    return LANGUAGE_OF_EXTENSION.get(PurePath(path).suffix.lower(), TEXT)


def language_for_fence(tag: str, body: str) -> str:
    name = tag.strip().lower().split()[0] if tag.strip() else ""
    if name in _FENCE_NAMES:
        return _FENCE_NAMES[name]
    return LANGUAGE_OF_EXTENSION.get("." + name) or guess_language(body)


# Cheap, ordered evidence for a text with no name: first marker found wins.
_GUESSES = (
    (re.compile(r"^\s*(def |class \w+[:(]|from [\w.]+ import |import \w+$|elif |@\w+)", re.M), PYTHON),
    (re.compile(r"^\s*(package \w+$|func \w*\(|func \(\w+)", re.M), GO),
    (re.compile(r"^\s*(fn \w+|let mut |impl\b|use \w+::|pub fn )", re.M), RUST),
    (re.compile(r"^\s*(#include\b|int main\s*\()", re.M), C),
    (re.compile(r"^\s*(public |private |protected )?(static )?(class|interface) \w+.*\{", re.M), JAVA),
    (re.compile(r"(=>|^\s*(const|let|var|export|function) |require\()", re.M), JAVASCRIPT),
)
_CODE_SHAPE = re.compile(r"[;{}()=]\s*$", re.M)


def guess_language(text: str) -> str:
    """A language from the first markers of ``text``; ``text`` when it reads like prose."""
    head = text[:4000]
    for pattern, language in _GUESSES:
        if pattern.search(head):
            return language
    lines = [line for line in head.splitlines() if line.strip()]
    if lines and len(_CODE_SHAPE.findall(head)) * 2 >= len(lines):
        return C  # C-like punctuation: comments are // and /* */ in most such languages
    return TEXT


# Reserved words per language keep their identity; every other name (builtins and library
# names included: a renaming tool may rename them) becomes the identifier placeholder.
_KEYWORDS = {
    PYTHON: """False None True and as assert async await break class continue def del elif else except
        finally for from global if in is lambda nonlocal not or pass raise return try while with yield self""",
    JAVASCRIPT: """break case catch class const continue debugger default delete do else export extends
        finally for function if import in instanceof new return super switch this throw try typeof var
        void while with yield let static async await null true false""",
    GO: """break case chan const continue default defer else fallthrough for func go goto if import
        interface map package range return select struct switch type var nil true false""",
    JAVA: """abstract assert boolean break byte case catch char class const continue default do double
        else enum extends final finally float for goto if implements import instanceof int interface long
        native new package private protected public return short static super switch synchronized this
        throw throws transient try void volatile while null true false""",
    RUST: """as async await break const continue crate dyn else enum extern false fn for if impl in let
        loop match mod move mut pub ref return self Self static struct super trait true type unsafe use
        where while""",
    C: """auto break case char const continue default do double else enum extern float for goto if
        inline int long register return short signed sizeof static struct switch typedef union unsigned
        void volatile while class namespace new delete public private protected template this virtual
        nullptr true false bool using""",
}
KEYWORDS_OF = {language: frozenset(words.split()) for language, words in _KEYWORDS.items()}
# Every keyword of every language has one symbol, so a keyword means the same in each.
KEYWORDS = sorted(set().union(*KEYWORDS_OF.values()))
