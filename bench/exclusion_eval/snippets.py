"""Function/class-level snippets: Python through ``ast``, the other languages by brace matching over pygments tokens."""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from pygments.lexer import Lexer
from pygments.lexers import CppLexer, GoLexer, JavaLexer, JavascriptLexer, PythonLexer, RustLexer, TypeScriptLexer
from pygments.token import Comment, Name, Number, String, Text, _TokenType

from bench.exclusion_eval.sources import Package, SourceFile

MIN_LINES, MAX_LINES = 10, 150
BUCKETS = ((10, 24, "10-24"), (25, 59, "25-59"), (60, 150, "60-150"))
_CONTROL = r"(?!(?:if|for|while|switch|return|else|catch|do|new|throw|case|sizeof|defined)\b)"
_STARTS = {
    "go": re.compile(r"^(func|type)\s"),
    "rust": re.compile(
        r"^\s{0,8}(pub(\([^)]*\))?\s+)?((const|async|unsafe|extern\s+\"C\")\s+)*(fn|impl|struct|enum|trait)\b"
    ),
    "java": re.compile(
        r"^\s{0,8}((public|private|protected|static|final|abstract|synchronized|native|default)\s+)*"
        rf"({_CONTROL}[\w<>\[\]?,. ]+\s+{_CONTROL}\w+\s*\(|(class|interface|enum|record)\s+\w+)"
    ),
    "c": re.compile(
        rf"^\s{{0,8}}({_CONTROL}[A-Za-z_][\w:<>,*& \t]*[\s*&]+~?\w+\s*\([^;]*$"
        r"|(template\s*<.*>\s*)?(class|struct)\s+\w+[^;]*$)"
    ),
    "javascript": re.compile(
        r"^\s{0,4}((export\s+)?(default\s+)?(async\s+)?function\b|(export\s+)?(default\s+)?(abstract\s+)?class\b"
        r"|(export\s+)?(const|let|var)\s+\w+\s*=\s*(async\s+)?(function\b|\([^)]*\)\s*=>|\w+\s*=>)"
        r"|[\w$]+(\.[\w$]+)+\s*=\s*function\b)"
    ),
}
_NAME = re.compile(r"(?:fn|func|class|struct|interface|enum|trait|impl|type|record|function)\s+(?:\([^)]*\)\s*)?(\w+)")
_CALL_NAME = re.compile(r"(\w+)\s*(?:<[^>]*>)?\s*\(")


@dataclass(frozen=True, slots=True)
class Snippet:
    id: str
    language: str
    package: str
    path: str
    name: str
    arity: int
    text: str
    imports: str  # the import lines of its file (chat answers repeat them)

    @property
    def lines(self) -> int:
        return len(self.text.splitlines())

    @property
    def bucket(self) -> str:
        return bucket_of(self.lines)


def bucket_of(lines: int) -> str:
    return next((label for low, high, label in BUCKETS if low <= lines <= high), "other")


@cache
def lexer_for(language: str, path: str = "") -> Lexer:
    if language == "javascript" and path.endswith(".ts"):
        return TypeScriptLexer()
    lexers: dict[str, type[Lexer]] = {
        "python": PythonLexer,
        "javascript": JavascriptLexer,
        "go": GoLexer,
        "java": JavaLexer,
        "rust": RustLexer,
        "c": CppLexer,
    }
    return lexers[language]()


def is_comment(token: _TokenType) -> bool:
    return (token in Comment and token not in Comment.Preproc and token not in Comment.PreprocFile) or (
        token in String.Doc
    )


def token_stream(text: str, language: str) -> list[str]:
    """Comments and layout dropped, names and literals abstracted: equal streams mean copies."""
    out: list[str] = []
    for token, value in lexer_for(language).get_tokens(text):
        if is_comment(token) or token in Text or not value.strip():
            continue
        out.append("ID" if token in Name else "LIT" if token in String or token in Number else value.strip())
    return out


def _python_snippets(source: SourceFile) -> Iterator[tuple[int, int, str, int]]:
    try:
        tree = ast.parse(source.text)
    except (SyntaxError, ValueError):
        return
    nodes: list[ast.stmt] = list(tree.body)
    while nodes:
        node = nodes.pop(0)
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        start = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
        end = node.end_lineno or node.lineno
        arity = len(node.args.args) if not isinstance(node, ast.ClassDef) else 0
        if end - start <= MAX_LINES:
            yield start, end, node.name, arity
        elif isinstance(node, ast.ClassDef):
            nodes = list(node.body) + nodes


def _brace_pairs(text: str, lexer: Lexer) -> dict[int, int]:
    stack: list[int] = []
    pairs: dict[int, int] = {}
    for offset, token, value in lexer.get_tokens_unprocessed(text):
        if token in Comment or token in String:
            continue
        for i, char in enumerate(value):
            if char == "{":
                stack.append(offset + i)
            elif char == "}" and stack:
                pairs[stack.pop()] = offset + i
    return pairs


def _brace_snippets(source: SourceFile, language: str) -> Iterator[tuple[int, int, str, int]]:
    text = source.text
    pairs = _brace_pairs(text, lexer_for(language, source.path))
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    for number, line in enumerate(lines):
        if not _STARTS[language].match(line) or line.lstrip().startswith(("//", "*", "/*", "#")):
            continue
        head = text[starts[number] : starts[min(number + 4, len(lines))]]
        brace = head.find("{")
        if brace < 0 or ";" in head[:brace] or starts[number] + brace not in pairs:
            continue
        close = pairs[starts[number] + brace]
        end = next(i for i in range(number, len(lines)) if starts[i + 1] > close)
        match = _NAME.search(line) or _CALL_NAME.search(line)
        arity = head[:brace].count(",") + (0 if "()" in head[:brace] else 1)
        yield number, end + 1, match.group(1) if match else "?", arity


def _with_comments_above(lines: list[str], start: int, language: str) -> int:
    """Doc comments and annotations right above a declaration belong to it."""
    marks = ("//", "/*", "*", "#[", "@") if language != "python" else ("#",)
    while start > 0 and lines[start - 1].strip().startswith(marks) and start > 0:
        start -= 1
    return start


_IMPORT = {
    "python": re.compile(r"^(import|from)\s+\S+"),
    "javascript": re.compile(r"^(import\s|const\s+\w+\s*=\s*require\()"),
    "go": re.compile(r"^import\s"),
    "java": re.compile(r"^import\s"),
    "rust": re.compile(r"^use\s"),
    "c": re.compile(r"^#\s*include\s"),
}


def import_lines(text: str, language: str) -> str:
    found = [line for line in text.splitlines() if _IMPORT[language].match(line) and line.rstrip()[-1:] != "("]
    return "\n".join(found[:8])


def file_snippets(package: Package, source: SourceFile, counter: list[int]) -> Iterator[Snippet]:
    """Non-overlapping snippets of 10..150 lines of one file, outer declarations first."""
    language = package.language
    spans = _python_snippets(source) if language == "python" else _brace_snippets(source, language)
    lines = source.text.splitlines()
    taken = -1
    imports = import_lines(source.text, language)
    for start, end, name, arity in spans:
        if start < taken:
            continue
        first = _with_comments_above(lines, start, language)
        text = textwrap.dedent("\n".join(lines[first:end])).strip("\n") + "\n"
        if MIN_LINES <= len(text.splitlines()) <= MAX_LINES:
            taken = end
            counter[0] += 1
            yield Snippet(f"s{counter[0]}", language, package.name, source.path, name, arity, text, imports)


def package_snippets(packages: list[Package]) -> list[Snippet]:
    """Every snippet; copies (equal token streams with names and literals abstracted, as the matcher sees them:
    vendored copies, overloads differing only in names) are dropped after their first occurrence."""
    seen: set[tuple[str, str]] = set()
    counter = [0]
    kept: list[Snippet] = []
    for package in packages:
        for source in package.files:
            for snippet in file_snippets(package, source, counter):
                key = (snippet.language, " ".join(token_stream(snippet.text, snippet.language)))
                if key not in seen:
                    seen.add(key)
                    kept.append(snippet)
    return kept
