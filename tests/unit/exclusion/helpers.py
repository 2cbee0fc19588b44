"""Small in-memory indexes over the shipped samples, for the matcher tests."""

from __future__ import annotations

import ast
import builtins
from pathlib import Path

from proxy.exclusion.fingerprint import Engine, Params, default_engine, document_kgrams, unit_fingerprints
from proxy.exclusion.matcher import FastMatcher, IndexArrays, UnitHit, arrays_from_units

SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> str:
    return (SAMPLES / name).read_text()


def index_of(units: list[tuple[str, str]], params: Params, engine: Engine | None = None) -> IndexArrays:
    engine = engine or default_engine()
    return arrays_from_units(
        [unit_fingerprints(text, language, params, engine) for language, text in units], params.max_postings
    )


def hits(index: IndexArrays, document: str, language: str, params: Params) -> list[UnitHit]:
    kgrams = document_kgrams(document.encode(), language, params, default_engine())
    return FastMatcher(index, params).match(kgrams)


class _Renamer(ast.NodeTransformer):
    """Consistent renaming of every non-builtin name, argument, attribute and definition."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def new(self, name: str) -> str:
        if name in dir(builtins) or name in ("self", "cls"):
            return name
        return self.names.setdefault(name, f"v{len(self.names)}_{name[::-1]}")

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self.new(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg = self.new(node.arg)
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        self.generic_visit(node)
        node.attr = self.new(node.attr)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        self.generic_visit(node)
        if not node.name.startswith("__"):
            node.name = self.new(node.name)
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.generic_visit(node)
        node.name = self.new(node.name)
        return node


def strip_docstrings(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        is_docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
        if is_docstring and isinstance(body, list) and isinstance(first.value.value, str):  # type: ignore[union-attr]
            body[:] = body[1:] or [ast.Pass()]
    return tree


def rewrite_python(source: str, rename: bool = False, strip: bool = False) -> str:
    """Re-emit ``source`` through the AST (comments gone, layout and quotes redone), optionally renamed."""
    tree = ast.parse(source)
    if strip:
        tree = strip_docstrings(tree)
    if rename:
        tree = _Renamer().visit(tree)
    return ast.unparse(tree)
