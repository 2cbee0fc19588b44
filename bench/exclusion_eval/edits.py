"""Source edits that need no external formatter: comment stripping, consistent renaming, half, splicing."""

from __future__ import annotations

import ast
import io
import keyword
import random
import tokenize

from pygments.token import Comment, Name, Punctuation, String, Text

from bench.exclusion_eval.audit import code_line_flags
from bench.exclusion_eval.snippets import is_comment, lexer_for

_WORDS = [
    "alpha",
    "bravo",
    "carbon",
    "delta",
    "ember",
    "falcon",
    "garnet",
    "harbor",
    "indigo",
    "jasper",
    "kestrel",
    "lumen",
    "marble",
    "nectar",
    "onyx",
]


def _python_docstring_lines(tree: ast.Module) -> set[int]:
    """0-based lines of docstrings (modules, classes, functions)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            constant = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            if constant and isinstance(first.value.value, str) and len(node.body) > 1:  # type: ignore[attr-defined]
                lines.update(range(first.lineno - 1, first.end_lineno or first.lineno))
    return lines


def strip_python(text: str) -> str | None:
    """Comments (``tokenize``) and docstrings (``ast``) removed; None if the result does not parse."""
    try:
        tree = ast.parse(text)
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (SyntaxError, tokenize.TokenError, IndentationError):
        return None
    lines = text.splitlines()
    for token in reversed(tokens):
        if token.type == tokenize.COMMENT:
            row, col = token.start
            lines[row - 1] = lines[row - 1][:col].rstrip()
    dropped = _python_docstring_lines(tree)
    kept = [line for i, line in enumerate(lines) if i not in dropped and (line.strip() or not text.splitlines()[i])]
    result = "\n".join(kept) + "\n"
    try:
        ast.parse(result)
    except SyntaxError:
        return None
    return result


def strip_tokens(text: str, language: str) -> str:
    """Comment tokens (pygments ``Comment.*`` and doc strings, not preprocessor lines) removed."""
    pieces = []
    for token, value in lexer_for(language).get_tokens(text):
        pieces.append("\n" * value.count("\n") if is_comment(token) else value)
    out, before = "".join(pieces).splitlines(), text.splitlines()
    kept = [line.rstrip() for line, old in zip(out, before, strict=False) if line.strip() or not old.strip()]
    return "\n".join(kept) + "\n"


def strip_comments(text: str, language: str) -> str | None:
    return strip_python(text) if language == "python" else strip_tokens(text, language)


def _new_names(names: list[str], rng: random.Random) -> dict[str, str]:
    return {name: f"{rng.choice(_WORDS)}_{i}" for i, name in enumerate(names)}


def _python_bound(tree: ast.AST) -> set[str]:
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound - {"self", "cls", "_"}


def rename_python(text: str, rng: random.Random) -> str | None:
    """Every name bound in the snippet (defs, arguments, assignments) renamed at every use, not attributes."""
    try:
        tree = ast.parse(text)
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (SyntaxError, tokenize.TokenError, IndentationError):
        return None
    mapping = _new_names(sorted(_python_bound(tree)), rng)
    lines = text.splitlines(keepends=True)
    previous = None
    edits = []
    for token in tokens:
        is_attribute = previous is not None and previous.string == "."
        if token.type == tokenize.NAME and token.string in mapping and not is_attribute:
            edits.append(token)
        if token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
            previous = token
    for token in reversed(edits):
        row, col = token.start
        line = lines[row - 1]
        lines[row - 1] = line[:col] + mapping[token.string] + line[col + len(token.string) :]
    result = "".join(lines)
    try:
        ast.parse(result)
    except SyntaxError:
        return None
    return result if mapping else None


def rename_tokens(text: str, language: str, rng: random.Random) -> str | None:
    """Identifiers not after a member access (``.``, ``->``, ``::``) and not macros renamed consistently."""
    tokens = list(lexer_for(language).get_tokens(text))
    candidates: list[int] = []
    previous = ""
    for i, (token, value) in enumerate(tokens):
        following = next((v for t, v in tokens[i + 1 :] if v.strip()), "")
        is_name = token in Name and token not in Name.Builtin and token not in Name.Decorator and value.isidentifier()
        if is_name and previous not in (".", "->", "::") and following != "!" and not keyword.iskeyword(value):
            candidates.append(i)
        if token not in Text and value.strip():
            previous = value.strip() if token in Punctuation or len(value.strip()) <= 2 else value
    names = sorted({tokens[i][1] for i in candidates})
    if not names:
        return None
    mapping = _new_names(names, rng)
    values = [value for _, value in tokens]
    for i in candidates:
        values[i] = mapping[values[i]]
    result = "".join(values)
    return result if text.endswith("\n") or not result.endswith("\n") else result[:-1]


def rename(text: str, language: str, rng: random.Random) -> str | None:
    return rename_python(text, rng) if language == "python" else rename_tokens(text, language, rng)


def half(text: str, language: str, rng: random.Random) -> str:
    """A contiguous run of lines holding half of the code lines, from a random code line: half of
    the *code* (half of the lines could be mostly a doc comment)."""
    lines = text.split("\n")
    flags = code_line_flags(text, language)[: len(lines)]
    code_at = [i for i, is_code in enumerate(flags) if is_code]
    if len(code_at) < 2:
        return text
    need = (len(code_at) + 1) // 2
    first = rng.randint(0, len(code_at) - need)
    return "\n".join(lines[code_at[first] : code_at[first + need - 1] + 1]) + "\n"


def top_level_positions(text: str, language: str) -> list[int]:
    """Line numbers where a top-level declaration may be inserted (start, end, before column-0 blocks)."""
    lines = text.splitlines()
    if language == "python":
        try:
            tree = ast.parse(text)
            found = [min([n.lineno, *(d.lineno for d in getattr(n, "decorator_list", []))]) - 1 for n in tree.body]
        except (SyntaxError, ValueError):
            found = []
    else:
        inside = _lines_inside_literals(text, language)
        found = [
            i
            for i in range(1, len(lines))
            if not lines[i - 1].strip() and lines[i][:1] not in ("", " ", "\t", "}") and i not in inside
        ]
    return sorted({0, len(lines), *found})


def _lines_inside_literals(text: str, language: str) -> set[int]:
    """Lines (0-based) that begin inside a multi-line comment or string: code spliced there would be
    a comment's text, not code (a Rust ``/*! ... */`` module doc has blank lines and column-0 text)."""
    inside: set[int] = set()
    line = 0
    for _, token, value in lexer_for(language).get_tokens_unprocessed(text):
        breaks = value.count("\n")
        if breaks and (token in String or token in Comment):
            last = breaks - 1 if value.endswith("\n") else breaks  # a line comment's own newline ends it
            inside.update(range(line + 1, line + last + 1))
        line += breaks
    return inside


def splice(host: str, code: str, language: str, rng: random.Random) -> str:
    lines = host.splitlines()
    at = rng.choice(top_level_positions(host, language))
    return "\n".join([*lines[:at], "", code.rstrip("\n"), "", *lines[at:]]) + "\n"
