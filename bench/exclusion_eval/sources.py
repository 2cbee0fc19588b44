"""Pinned source packages: download (pip, npm), read (archives, Debian source trees), one :class:`Package` each."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

MANIFEST = Path(__file__).with_name("manifest.json")
MAX_FILE_BYTES = 150_000
MAX_FILES_PER_PACKAGE = 40
MAX_PACKAGES_PER_LANGUAGE = 48
_EXTENSIONS = {
    "python": (".py",),
    "javascript": (".js", ".mjs", ".cjs", ".ts"),
    "go": (".go",),
    "java": (".java",),
    "rust": (".rs",),
    "c": (".c", ".h", ".hpp", ".cc", ".cpp", ".hh", ".inl", ".ipp"),
}
_SKIP_PARTS = {"test", "tests", "testing", "testdata", "__tests__", "benches", "examples", "docs", "min", "umd"}


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str
    text: str


@dataclass(slots=True)
class Package:
    language: str
    name: str
    version: str
    files: list[SourceFile] = field(default_factory=list)


def manifest() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(MANIFEST.read_text())
    return data


def download(out: Path) -> list[str]:
    """Fetch every pinned PyPI and npm package not yet present; returns the failures."""
    failures: list[str] = []
    spec = manifest()
    (out / "pypi").mkdir(parents=True, exist_ok=True)
    (out / "npm").mkdir(parents=True, exist_ok=True)
    for name, version in spec["pypi"].items():
        if not _pypi_archive(out / "pypi", name, version):
            pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", f"{name}=={version}", "-d"]
            if subprocess.run([*pip, str(out / "pypi")], capture_output=True, check=False).returncode:
                failures.append(f"pypi {name}=={version}")
    for name, version in spec["npm"].items():
        if not (out / "npm" / _npm_file(name, version)).exists():
            npm = ["npm", "pack", "--silent", f"{name}@{version}", "--pack-destination", str(out / "npm")]
            if subprocess.run(npm, capture_output=True, check=False).returncode:
                failures.append(f"npm {name}@{version}")
    return failures


def _norm(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def _pypi_archive(folder: Path, name: str, version: str) -> Path | None:
    for path in sorted(folder.glob("*")):
        stem = path.name.lower().replace("-", "_")
        if stem.startswith(f"{_norm(name)}_{version}".lower()) and path.suffix in (".whl", ".gz", ".zip"):
            return path
    return None


def _npm_file(name: str, version: str) -> str:
    return f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"


def _wanted(path: str, language: str) -> bool:
    pure = PurePosixPath(path)
    if not pure.name.endswith(_EXTENSIONS[language]) or pure.name.endswith((".d.ts", ".min.js", "_test.go")):
        return False
    return not (_SKIP_PARTS & {part.lower() for part in pure.parts[:-1]}) and not pure.name.startswith("test_")


def _decoded(data: bytes) -> str | None:
    if len(data) > MAX_FILE_BYTES or b"\0" in data:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = text.splitlines()
    if not lines or max(len(line) for line in lines) > 400:  # minified or generated
        return None
    return text


def _archive_members(path: Path) -> Iterator[tuple[str, bytes]]:
    if path.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                yield name, archive.read(name)
    else:
        with tarfile.open(path) as archive:
            for member in archive.getmembers():
                extracted = archive.extractfile(member) if member.isfile() else None
                if extracted is not None:
                    yield member.name, extracted.read()


def _from_archive(path: Path, language: str, name: str, version: str) -> Package:
    package = Package(language, f"{language}:{name}", version)
    for member, data in _archive_members(path):
        if _wanted(member, language) and (text := _decoded(data)) is not None:
            package.files.append(SourceFile(member, text))
    return package


def _tree_files(tree: dict[str, Any]) -> Iterator[tuple[str, bytes]]:
    if "zip" in tree:
        with zipfile.ZipFile(tree["zip"]) as archive:
            for name in sorted(archive.namelist()):
                if _wanted(name, tree["language"]):
                    yield name, archive.read(name)
        return
    root = Path(tree["root"])
    only = tree.get("only")
    for top in sorted(root.iterdir()):
        if only is not None and top.name not in only:
            continue
        paths = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for path in paths:
            relative = path.relative_to(root).as_posix()
            if _wanted(relative, tree["language"]):
                yield relative, path.read_bytes()


def _from_tree(tree: dict[str, Any]) -> list[Package]:
    grouped: dict[str, Package] = {}
    skip = set(tree.get("skip", []))
    for relative, data in _tree_files(tree):
        parts = PurePosixPath(relative).parts
        folder = parts[:-1] or parts
        if skip & set(parts[:2]) or (text := _decoded(data)) is None:
            continue
        key = "/".join(folder[: tree["depth"]])
        package = grouped.setdefault(key, Package(tree["language"], f"{tree['language']}:{key}", "debian"))
        package.files.append(SourceFile(relative, text))
    return list(grouped.values())


def load_packages(out: Path, seed: int) -> list[Package]:
    """Every package of the manifest with (at most MAX_FILES_PER_PACKAGE) readable source files."""
    spec = manifest()
    packages: list[Package] = []
    for name, version in spec["pypi"].items():
        if (archive := _pypi_archive(out / "pypi", name, version)) is not None:
            packages.append(_from_archive(archive, "python", name, version))
    for name, version in spec["npm"].items():
        if (tarball := out / "npm" / _npm_file(name, version)).exists():
            packages.append(_from_archive(tarball, "javascript", name, version))
    rng = random.Random(seed)
    for tree in spec["trees"]:
        packages.extend(_from_tree(tree))
    packages = _capped(packages, rng)
    for package in packages:
        package.files.sort(key=lambda source: source.path)
        if len(package.files) > MAX_FILES_PER_PACKAGE:
            package.files = sorted(rng.sample(package.files, MAX_FILES_PER_PACKAGE), key=lambda s: s.path)
    return [package for package in packages if package.files]


def _capped(packages: list[Package], rng: random.Random) -> list[Package]:
    """At most MAX_PACKAGES_PER_LANGUAGE packages per language (a seeded sample of the largest language trees)."""
    kept: list[Package] = []
    for language in _EXTENSIONS:
        mine = sorted((p for p in packages if p.language == language and p.files), key=lambda p: p.name)
        kept.extend(mine if len(mine) <= MAX_PACKAGES_PER_LANGUAGE else rng.sample(mine, MAX_PACKAGES_PER_LANGUAGE))
    return kept
