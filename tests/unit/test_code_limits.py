"""The structure rules of ``proxy/``, checked on the source with ``ast``.

No module over 400 lines, no function over 60; nothing outside ``proxy/store/`` imports
SQLAlchemy; nothing outside ``proxy/adapters/`` imports a vendor's adapter module (the
rest of the proxy reaches vendors through the registry, ``proxy.adapters.ADAPTERS``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

from proxy.adapters import ADAPTERS

PROXY = Path(__file__).resolve().parents[2] / "proxy"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
# Vendor adapter modules, from the registry, so that a new vendor is covered without editing this test.
VENDOR_MODULES = frozenset(type(adapter).__module__ for adapter in ADAPTERS)

# Offenders that are known and owned by work in progress elsewhere, as "rule: path [function]"
# (the modules others were editing were left to them when this rule was written; none offended).
# The test fails on any offender not listed here, and on any entry that no longer offends.
KNOWN_OFFENDERS: frozenset[str] = frozenset()


Source = tuple[str, ast.Module, int]


def source_files() -> Iterator[Source]:
    """``(path relative to the repository, parsed module, line count)`` of every module in proxy/."""
    for path in sorted(PROXY.rglob("*.py")):
        relative = path.relative_to(PROXY.parent)
        if relative.parts[1] == "migrations":  # Alembic revisions, generated (a link to migrations/)
            continue
        text = path.read_text()
        yield relative.as_posix(), ast.parse(text, filename=str(path)), len(text.splitlines())


def long_functions(module: ast.Module) -> Iterator[tuple[str, int]]:
    """``(qualified name, lines)`` of each function or method, nested ones included."""

    def walk(node: ast.AST, prefix: str) -> Iterator[tuple[str, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = prefix + child.name
                assert child.end_lineno is not None
                yield name, child.end_lineno - child.lineno + 1
                yield from walk(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, prefix + child.name + ".")
            else:
                yield from walk(child, prefix)

    return walk(module, "")


def imported_modules(module: ast.Module) -> Iterator[str]:
    """Every module an import statement names, ``from a import b`` as both ``a`` and ``a.b``."""
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def offenders(sources: Iterable[Source]) -> dict[str, str]:
    """Each offence as ``{"rule: path [function]": what was found}``."""
    found = {}
    for path, module, lines in sources:
        if lines > MAX_MODULE_LINES:
            found[f"module over {MAX_MODULE_LINES} lines: {path}"] = f"{lines} lines"
        for name, length in long_functions(module):
            if length > MAX_FUNCTION_LINES:
                found[f"function over {MAX_FUNCTION_LINES} lines: {path} {name}"] = f"{length} lines"
        imports = set(imported_modules(module))
        if not path.startswith("proxy/store/"):
            for name in sorted(n for n in imports if n == "sqlalchemy" or n.startswith("sqlalchemy.")):
                found[f"sqlalchemy imported outside proxy/store: {path}"] = name
        if not path.startswith("proxy/adapters/"):
            for name in sorted(imports & VENDOR_MODULES):
                found[f"vendor adapter imported outside proxy/adapters: {path}"] = name
    return found


def test_the_checker_finds_every_kind_of_offence() -> None:
    code = "import sqlalchemy.orm\nfrom proxy.adapters import openai\ndef f():\n" + "    x = 1\n" * 60
    module = ast.parse(code)
    long_module = ast.parse("")
    found = offenders([("proxy/x.py", module, 63), ("proxy/store/y.py", module, 63), ("proxy/z.py", long_module, 401)])
    assert found == {
        "function over 60 lines: proxy/x.py f": "61 lines",
        "function over 60 lines: proxy/store/y.py f": "61 lines",
        "sqlalchemy imported outside proxy/store: proxy/x.py": "sqlalchemy.orm",
        "vendor adapter imported outside proxy/adapters: proxy/x.py": "proxy.adapters.openai",
        "vendor adapter imported outside proxy/adapters: proxy/store/y.py": "proxy.adapters.openai",
        "module over 400 lines: proxy/z.py": "401 lines",
    }
    assert {"proxy.adapters.anthropic", "proxy.adapters.openai", "proxy.adapters.gemini"} <= VENDOR_MODULES


def test_proxy_keeps_the_structure_rules() -> None:
    found = offenders(source_files())
    new = sorted(f"{offence} ({detail})" for offence, detail in found.items() if offence not in KNOWN_OFFENDERS)
    fixed = sorted(KNOWN_OFFENDERS - found.keys())
    assert not new, "structure rules broken:\n" + "\n".join(new)
    assert not fixed, "no longer offending: remove from KNOWN_OFFENDERS:\n" + "\n".join(fixed)
