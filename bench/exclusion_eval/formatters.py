"""Reformatting with the real formatters, in batches (one process per language), non-default styles."""

from __future__ import annotations

import ast
import subprocess
import sys
import tempfile
from pathlib import Path

GO_PRINTER = """package main

import (
	"bytes"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"strings"
)

// go/printer (gofmt's engine) with spaces and a tab width of 3 instead of gofmt's tabs.
func main() {
	config := printer.Config{Mode: printer.UseSpaces | printer.TabIndent, Tabwidth: 3}
	config.Mode = printer.UseSpaces
	for _, path := range os.Args[1:] {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		src := "package p\\n\\n" + string(data)
		fset := token.NewFileSet()
		file, err := parser.ParseFile(fset, path, src, parser.ParseComments)
		if err != nil {
			os.Stderr.WriteString(path + ": " + err.Error() + "\\n")
			continue
		}
		var out bytes.Buffer
		if config.Fprint(&out, fset, file) != nil {
			continue
		}
		text := strings.TrimPrefix(out.String(), "package p\\n\\n")
		os.WriteFile(path, []byte(text), 0o644)
	}
}
"""
CLANG_STYLE = "{BasedOnStyle: Google, IndentWidth: 3, ColumnLimit: 50}"
_SUFFIX = {"python": ".py", "javascript": ".js", "go": ".go", "java": ".java", "rust": ".rs", "c": ".cpp"}


def _go_printer(tools: Path) -> str:
    tools = tools.resolve()
    binary = tools / "goprinter"
    if not binary.exists():
        source = tools / "goprinter.go"
        source.write_text(GO_PRINTER)
        env = {"GOCACHE": str(tools / "gocache"), "GO111MODULE": "off", "PATH": "/usr/bin:/bin", "HOME": str(tools)}
        subprocess.run(["go", "build", "-o", str(binary), str(source)], check=True, env=env, capture_output=True)
    return str(binary)


def command(language: str, tools: Path) -> list[str]:
    if language == "python":
        return [sys.executable, "-m", "black", "-q", "--line-length", "60", "--skip-magic-trailing-comma"]
    if language == "javascript":
        prettier = str(tools / "node_modules" / "prettier" / "bin" / "prettier.cjs")
        style = ["--print-width", "50", "--tab-width", "4", "--single-quote"]
        return ["node", prettier, "--write", "--log-level", "silent", "--no-config", *style]
    if language == "go":
        return [_go_printer(tools)]
    if language == "rust":
        return ["rustfmt", "--edition", "2021", "--config", "max_width=50,tab_spaces=3"]
    return ["clang-format", "-i", f"--style={CLANG_STYLE}"]


def tool_versions(tools: Path) -> dict[str, str]:
    versions = {}
    for name, argv in {
        "black": [sys.executable, "-m", "black", "--version"],
        "prettier": ["node", str(tools / "node_modules" / "prettier" / "bin" / "prettier.cjs"), "--version"],
        "go": ["go", "version"],
        "rustfmt": ["rustfmt", "--version"],
        "clang-format": ["clang-format", "--version"],
    }.items():
        try:
            versions[name] = subprocess.run(argv, capture_output=True, text=True, check=False).stdout.split("\n")[0]
        except OSError as exc:
            versions[name] = f"unavailable ({exc})"
    return versions


def _valid(language: str, text: str) -> bool:
    if language != "python":
        return True
    try:
        ast.parse(text)
    except SyntaxError:
        return False
    return True


def reformat(language: str, items: dict[str, str], tools: Path) -> dict[str, str | None]:
    """New text per item id; None where the tool failed or changed nothing (the caller drops those)."""
    if not items:
        return {}
    with tempfile.TemporaryDirectory() as folder:
        paths = {}
        for key, text in items.items():
            suffix = ".ts" if language == "javascript" and key.endswith("@ts") else _SUFFIX[language]
            paths[key] = Path(folder) / f"{key.replace('@', '_')}{suffix}"
            paths[key].write_text(text)
        argv = command(language, tools)
        for start in range(0, len(paths), 200):
            batch = [str(p) for p in list(paths.values())[start : start + 200]]
            subprocess.run([*argv, *batch], capture_output=True, check=False, timeout=900)
        out: dict[str, str | None] = {}
        for key, path in paths.items():
            new = path.read_text()
            out[key] = new if new != items[key] and new.strip() and _valid(language, new) else None
        return out
