"""The `tether` command."""

from __future__ import annotations

import typer

from tether import __version__
from tether.cli import accounts, apps, audit, bootstrap, controller, dev, install, projects

app = typer.Typer(help="tether: GitOps continuous delivery for Kubernetes.", no_args_is_help=True)
app.add_typer(dev.app, name="dev")
app.add_typer(apps.app, name="app")
app.add_typer(projects.app, name="proj")
app.add_typer(accounts.app, name="account")
app.add_typer(accounts.tokens, name="token")
app.command("install")(install.install)
app.command("bootstrap")(bootstrap.bootstrap)
app.command("controller")(controller.controller)
app.command("audit")(audit.audit)


@app.command()
def version() -> None:
    """Print tether's version."""
    typer.echo(f"tether {__version__}")
