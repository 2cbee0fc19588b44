"""``provproxy``: the command line of the proxy.

Each feature keeps its commands in ``proxy/commands/<feature>.py`` exposing
``register(cli)``; this module only assembles them.
"""

from __future__ import annotations

import importlib

import click

# Feature command modules; each has ``register(cli: click.Group) -> None``.
COMMAND_MODULES = (
    "proxy.commands.serve",
    "proxy.commands.store",
    "proxy.commands.keys",
    "proxy.commands.signing_key",
    "proxy.commands.classify",
    "proxy.commands.policy",
    "proxy.commands.provenance",
    "proxy.commands.admin",
    "proxy.commands.triage",
    "proxy.commands.replay",
    "proxy.commands.export",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="provenance-proxy")
def cli() -> None:
    """Provenance Proxy: attribute, police and record rival AI vendors' completions."""


for _name in COMMAND_MODULES:
    try:
        _module = importlib.import_module(_name)
    except ModuleNotFoundError as exc:
        if exc.name != _name:  # a real import error inside the module
            raise
        continue
    _module.register(cli)


def main() -> None:
    cli(prog_name="provproxy")
