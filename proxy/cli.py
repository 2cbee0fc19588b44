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
from proxy.store.api_keys import SaltUnavailable
from proxy.store.errors import DatabaseUnavailable
from proxy.store.location import DatabaseLocationError

# A configuration mistake is the operator's to fix: one line and this status, no traceback.
EXIT_CONFIGURATION = 2

# Each top-level command -> the feature modules (``register(cli: click.Group) -> None``) that
# build it, in order (``events export`` and ``policy replay`` join groups another module owns).
# A command's modules are imported only when it runs: `provproxy keys create` need not load the
# web console, the classifier and the HTTP stack first (seconds per call for scripts and tests).
COMMANDS: dict[str, tuple[str, ...]] = {
    "serve": ("proxy.commands.serve",),
    "migrate": ("proxy.commands.store",),
    "events": ("proxy.commands.store", "proxy.commands.export"),
    "purge": ("proxy.commands.store",),
    "keys": ("proxy.commands.keys",),
    "signing-key": ("proxy.commands.signing_key",),
    "classify": ("proxy.commands.classify",),
    "policy": ("proxy.commands.policy", "proxy.commands.replay"),
    "verify": ("proxy.commands.provenance",),
    "provenance": ("proxy.commands.provenance",),
    "admin": ("proxy.commands.admin",),
    "exclude": ("proxy.commands.exclude",),
    "triage": ("proxy.commands.triage",),
}


class LazyCommands(click.Group):
    """Resolves a command by importing only the feature modules that build it."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        modules = COMMANDS.get(cmd_name)
        if modules is None:
            return None
        built = click.Group()
        for name in modules:
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name != name:  # a real import error inside the module
                    raise
                continue
            module.register(built)
        return built.commands.get(cmd_name)


@click.group(cls=LazyCommands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="provenance-proxy")
def cli() -> None:
    """Provenance Proxy: attribute, police and record rival AI vendors' completions."""


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
    policy_model = sys.modules.get("proxy.policy.model")  # not loaded: nothing raised a PolicyError
    if policy_model is not None and isinstance(exc, policy_model.PolicyError):
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
