"""The command line loads a command's modules only when that command runs: every command the
feature modules register must be reachable by name, and a light command must not pull in the web
console or the classifier."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import click

import proxy.commands
from proxy.cli import COMMANDS, cli


def test_every_registered_command_is_listed_with_every_module_that_builds_it() -> None:
    everything = click.Group()  # every feature module's commands, found without asking COMMANDS
    for info in pkgutil.iter_modules(proxy.commands.__path__, "proxy.commands."):
        module = importlib.import_module(info.name)
        if hasattr(module, "register"):
            module.register(everything)
    assert set(everything.commands) == set(COMMANDS)
    context = click.Context(cli)
    for name, command in everything.commands.items():
        resolved = cli.get_command(context, name)
        assert resolved is not None and resolved.name == command.name
        # A subcommand another module adds (events export, policy replay) exists only if that module
        # is loaded with the command: listed, or imported by a listed one (keys uses signing-key's).
        loaded = set(COMMANDS[name]) | {
            getattr(value, "__module__", None)
            for listed in COMMANDS[name]
            for value in vars(importlib.import_module(listed)).values()
        }
        assert _defining_modules(command) <= loaded, name
    assert cli.get_command(context, "no-such-command") is None


def _defining_modules(command: click.Command) -> set[str]:
    found = {command.callback.__module__} if command.callback is not None else set()
    for sub in getattr(command, "commands", {}).values():
        found |= _defining_modules(sub)
    return found


def test_a_token_command_does_not_load_the_console_or_the_classifier() -> None:
    probe = (
        "import sys\n"
        "from proxy.cli import cli\n"
        "try:\n"
        "    cli(['admin', 'tokens', 'create', '--help'], prog_name='provproxy')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('proxy.console.app', 'proxy.classify', 'fastapi') if m in sys.modules))\n"
    )
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert shown.stdout.strip().splitlines()[-1] == "[]", shown.stdout
