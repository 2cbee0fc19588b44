"""``provproxy``: the command line of the proxy.

Each feature keeps its commands in ``proxy/commands/<feature>.py`` exposing
``register(cli)``; this module only assembles them.
"""

from __future__ import annotations

import importlib
import sys

import click
from pydantic import ValidationError

from proxy.config import ENV_PREFIX
from proxy.policy.model import PolicyError
from proxy.store.api_keys import SaltUnavailable
from proxy.store.errors import DatabaseUnavailable
from proxy.store.location import DatabaseLocationError

# A configuration mistake is the operator's to fix: one line and this status, no traceback.
EXIT_CONFIGURATION = 2

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
    "proxy.commands.exclude",
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
    try:
        cli(prog_name="provproxy")
    except Exception as exc:
        problem = configuration_problem(exc)
        if problem is None:
            raise
        click.echo(f"provproxy: {problem}", err=True)
        sys.exit(EXIT_CONFIGURATION)


def configuration_problem(exc: BaseException) -> str | None:
    """One line saying what is wrong and what to set, for the mistakes an operator makes; else None."""
    if isinstance(exc, ValidationError):
        return "; ".join(_setting_problem(error["loc"], error["msg"]) for error in exc.errors())
    if isinstance(exc, DatabaseLocationError):
        return f"database: {exc} (set {ENV_PREFIX}DATABASE_URL or --database-url)"
    if isinstance(exc, PolicyError):
        issue = exc.issues[0] if exc.issues else exc
        more = f" (and {len(exc.issues) - 1} more: `provproxy policy check`)" if len(exc.issues) > 1 else ""
        return f"policy file {exc.source}: {issue}{more}; fix it or set {ENV_PREFIX}POLICY_FILE"
    if isinstance(exc, SaltUnavailable):
        return str(exc)
    if isinstance(exc, DatabaseUnavailable):
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return f"cannot reach the database: {reason}; start it or set {ENV_PREFIX}DATABASE_URL"
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror}; create it or set the {ENV_PREFIX}* setting that names it"
    return None


def _setting_problem(location: tuple[int | str, ...], message: str) -> str:
    name = ENV_PREFIX + "_".join(str(part) for part in location).upper()
    return f"{name}: {message.removeprefix('Value error, ')}"
