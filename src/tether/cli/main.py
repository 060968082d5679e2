"""The `tether` command."""

from __future__ import annotations

import typer

from tether import __version__
from tether.cli import apps, controller, dev, install

app = typer.Typer(help="tether: GitOps continuous delivery for Kubernetes.", no_args_is_help=True)
app.add_typer(dev.app, name="dev")
app.add_typer(apps.app, name="app")
app.command("install")(install.install)
app.command("controller")(controller.controller)


@app.command()
def version() -> None:
    """Print tether's version."""
    typer.echo(f"tether {__version__}")
