"""`tether account` (local users in tether-users) and `tether token` (project-role API tokens)."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.table import Table

from tether import logs
from tether.auth.errors import AuthError
from tether.auth.settings import AuthSettings, default_state_db
from tether.auth.users import UserStore
from tether.cli.common import connection_options, fail, run
from tether.cli.progress import console, out
from tether.service.runtime import Runtime

if TYPE_CHECKING:
    from tether.auth.projecttokens import TokenUseCases

T = TypeVar("T")
app = typer.Typer(help="Manage local accounts.", callback=connection_options, no_args_is_help=True)
tokens = typer.Typer(
    help="Issue and revoke project-role API tokens.",
    callback=connection_options,
    no_args_is_help=True,
)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _users(rt: Runtime) -> UserStore:
    return UserStore(rt.kube, rt.settings.namespace)


def _auth(use_case: Callable[[Runtime], Awaitable[T]]) -> T:
    logs.configure(json=False, level="WARNING")  # keep stdout for the data (a token) alone
    try:
        return run(use_case)
    except AuthError as exc:
        raise fail(exc.detail) from None


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@app.command()
def create(
    name: str = typer.Argument(...),
    group: list[str] = typer.Option([], "--group", "-g", help="Group of the user (repeatable)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read it from stdin."),
) -> None:
    """Create a local user (prompts for the password)."""
    password = _password(password_stdin)
    _auth(lambda rt: _users(rt).create(name, password, tuple(group)))
    console.print(f"user [bold]{name}[/bold] created")


@app.command("set-password")
def set_password(
    name: str = typer.Argument(...),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read it from stdin."),
) -> None:
    """Change a user's password; the user's open sessions end."""
    password = _password(password_stdin)
    _auth(lambda rt: _users(rt).set_password(name, password))
    console.print(f"password of [bold]{name}[/bold] changed")


@app.command("list")
def list_users(output: str = typer.Option("table", "-o", "--output", help="table or json")) -> None:
    """List local users (never their password hashes)."""
    users = _auth(lambda rt: _users(rt).list())
    if output == "json":
        rows = [{"name": u.name, "groups": list(u.groups), "disabled": u.disabled} for u in users]
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("NAME", "GROUPS", "ENABLED", box=None)
    for user in users:
        table.add_row(user.name, ",".join(user.groups), "no" if user.disabled else "yes")
    out.print(table)


@app.command()
def delete(name: str = typer.Argument(...)) -> None:
    """Delete a local user."""
    _auth(lambda rt: _users(rt).delete(name))
    console.print(f"user [bold]{name}[/bold] deleted")


def _state_db(path: Path | None) -> Path:
    return path or Path(os.environ.get("TETHER_STATE_DB") or default_state_db())


async def _with_tokens(
    rt: Runtime, state_db: Path | None, call: Callable[[TokenUseCases], Awaitable[T]]
) -> T:
    # Imported here: sqlalchemy, authlib and friends would slow every other `tether` command.
    from tether.auth.authenticator import Authenticator

    settings = AuthSettings(namespace=rt.settings.namespace, state_db=_state_db(state_db))
    authn = Authenticator(settings, rt.kube)
    try:
        return await call(authn.tokens)
    finally:
        authn.close()


def parse_duration(text: str) -> float:
    match = re.fullmatch(r"(\d+)([smhd]?)", text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration like 90s, 30m, 24h or 7d")
    return int(match.group(1)) * _UNITS[match.group(2) or "s"]


_STATE_DB_OPTION = typer.Option(
    None, "--state-db", help="tether's auth state database (TETHER_STATE_DB)."
)


@tokens.command("create")
def create_token(
    project: str = typer.Option(..., "--project"),
    role: str = typer.Option(..., "--role"),
    expires_in: str = typer.Option("", "--expires-in", help="e.g. 24h; default: never"),
    state_db: Path | None = _STATE_DB_OPTION,
) -> None:
    """Issue an API token for a project role; prints the token (shown only this once)."""
    try:
        lifetime = parse_duration(expires_in) if expires_in else None
    except ValueError as exc:
        raise fail(str(exc)) from None
    issued = _auth(
        lambda rt: _with_tokens(rt, state_db, lambda uc: uc.issue(project, role, lifetime))
    )
    console.print(f"token [bold]{issued.jti}[/bold] issued for {issued.subject}")
    typer.echo(issued.token)


@tokens.command("revoke")
def revoke_token(jti: str = typer.Argument(...), state_db: Path | None = _STATE_DB_OPTION) -> None:
    """Revoke an API token by its id (jti)."""
    record = _auth(lambda rt: _with_tokens(rt, state_db, lambda uc: uc.revoke(jti)))
    console.print(f"token [bold]{record.jti}[/bold] revoked")
