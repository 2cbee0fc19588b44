"""Every third-party package the product's code imports is one `pip install .` brings (or one of
its optional extras, for the modules that say so): a package that only arrives with the test
tools would make a fresh install fail at its first import."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# Imports of extras the test run does not install (retraining the classifier), by distribution.
NOT_INSTALLED_HERE = {"sklearn": "scikit-learn"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


def _imported_top_levels() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "proxy").rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"proxy", "migrations", "alembic_env"}


def test_every_import_of_the_product_is_a_declared_dependency() -> None:
    declared = {_name(r) for r in PROJECT["dependencies"]}
    extras = {_name(r) for name, rs in PROJECT["optional-dependencies"].items() if name != "test" for r in rs}
    distributions = packages_distributions()
    missing = {}
    for module in sorted(_imported_top_levels()):
        names = {_name(d) for d in distributions.get(module, [])} or {NOT_INSTALLED_HERE.get(module, "")} - {""}
        assert names, f"{module}: imported by proxy/ but not installed, and not named in NOT_INSTALLED_HERE"
        if not names & (declared | extras):
            missing[module] = sorted(names)
    assert missing == {}, f"imported by proxy/ but not in [project.dependencies] or an extra: {missing}"
