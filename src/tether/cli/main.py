"""The `tether` command.

Subcommands live in their own modules and are imported only when used: the API server, the
controller and the auth layer pull in FastAPI, SQLAlchemy and more, and `tether version` or
`tether app list` should not pay for them (measured: 3.1 s of imports for every command before).
`tether --help` (or an unknown command) still loads everything so it can list everything.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

from tether import __version__
from tether.failures import internal_error

# name -> (module, attribute, kind): a Typer group or a single command function.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "dev": ("tether.cli.dev", "app", "group"),
    "app": ("tether.cli.apps", "app", "group"),
    "proj": ("tether.cli.projects", "app", "group"),
    "account": ("tether.cli.accounts", "app", "group"),
    "token": ("tether.cli.accounts", "tokens", "group"),
    "install": ("tether.cli.install", "install", "command"),
    "bootstrap": ("tether.cli.bootstrap", "bootstrap", "command"),
    "controller": ("tether.cli.controller", "controller", "command"),
    "server": ("tether.cli.server", "server", "command"),
    "audit": ("tether.cli.audit", "audit", "command"),
    "up": ("tether.cli.up", "up", "command"),
}


def version() -> None:
    """Print tether's version."""
    typer.echo(f"tether {__version__}")


def _root() -> None:
    """tether: GitOps continuous delivery for Kubernetes."""


def build(only: str | None = None) -> typer.Typer:
    """The CLI with every subcommand, or only `only` (and `version`) when a run needs no more."""
    cli = typer.Typer(
        help="tether: GitOps continuous delivery for Kubernetes.", no_args_is_help=True
    )
    cli.callback()(_root)  # keeps subcommand dispatch even when a run registers only one
    cli.command("version")(version)
    for name, (module, attribute, kind) in COMMANDS.items():
        if only is not None and name != only:
            continue
        target = getattr(importlib.import_module(module), attribute)
        if kind == "group":
            cli.add_typer(target, name=name)
        else:
            cli.command(name)(target)
    return cli


def _wanted(argv: list[str]) -> str | None:
    first = next((a for a in argv[1:] if not a.startswith("-")), None)
    return first if first in COMMANDS or first == "version" else None


def main() -> None:
    """The `tether` command. An error no command turned into a message is still one line (with
    TETHER_DEBUG=1, the traceback): a traceback shown to a user is a bug's second symptom."""
    try:
        build(_wanted(sys.argv))()  # usage errors and exits end here as SystemExit, as always
    except Exception as exc:
        if os.environ.get("TETHER_DEBUG"):
            raise
        print(
            f"error: {internal_error(exc)} (set TETHER_DEBUG=1 for the traceback)", file=sys.stderr
        )
        sys.exit(1)


def __getattr__(name: str) -> typer.Typer:
    """`tether.cli.main.app`: the full CLI, for tests and tools that want every command."""
    if name == "app":
        return build()
    raise AttributeError(name)
