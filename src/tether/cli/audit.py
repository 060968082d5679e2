"""`tether audit`: read the audit trail (newest first), or export it as JSON lines."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.table import Table

from tether.audit import queries
from tether.audit.entries import Entry
from tether.audit.store import AuditLog, AuditStoreError, default_path
from tether.cli.common import fail
from tether.cli.progress import console, out

_RESULT_COLOURS = {"succeeded": "green", "failed": "red", "denied": "yellow"}


def _filter(
    actor: str, action: str, app: str, project: str, since: str, until: str, result: str
) -> queries.Filter:
    try:
        return queries.filter_of(
            actor=actor,
            action=action,
            obj=app,
            project=project,
            result=result,
            since=since,
            until=until,
        )
    except (ValueError, OverflowError) as exc:
        raise fail(str(exc)) from None


def _details(entry: Entry) -> str:
    d = entry.deployment
    if d is None:
        return entry.message
    culprits = ", ".join(sorted({c.manager or "unknown" for c in d.drift}))
    parts = [entry.message, f"revision {d.revision}" if d.revision else ""]
    if d.commit_author:
        parts.append(f"commit by {d.commit_author}")
    if culprits:
        parts.append(f"drift by {culprits}")
    return "; ".join(p for p in parts if p)


def _table(entries: tuple[Entry, ...]) -> None:
    table = Table("ID", "TIME (UTC)", "ACTOR", "ACTION", "OBJECT", "RESULT", "DETAILS", box=None)
    for e in entries:
        colour = _RESULT_COLOURS.get(str(e.result), "white")
        when = e.time.strftime("%Y-%m-%d %H:%M:%S") if e.time else ""
        table.add_row(
            str(e.id),
            when,
            e.actor.name,
            e.action,
            e.object,
            f"[{colour}]{e.result}[/]",
            _details(e),
        )
    out.print(table)


def audit(
    actor: str = typer.Option("", "--actor", help="Who (exact name)."),
    action: str = typer.Option("", "--action", help="What, a glob: app.sync, 'controller.*'."),
    app: str = typer.Option("", "--app", help="Application PROJECT/NAME, a glob: 'team-a/*'."),
    project: str = typer.Option("", "--project"),
    since: str = typer.Option("", "--since", help="30m, 1h, 2d or an ISO time."),
    until: str = typer.Option("", "--until", help="30m, 1h, 2d or an ISO time."),
    result: str = typer.Option("", "--result", help="succeeded, failed or denied."),
    limit: int = typer.Option(50, "--limit", min=1, help="Entries per page (table and json)."),
    before: int | None = typer.Option(None, "--before", help="Only entries older than this id."),
    output: str = typer.Option("table", "-o", "--output", help="table, json or jsonl (all)."),
    audit_db: Path | None = typer.Option(None, "--audit-db", envvar="TETHER_AUDIT_DB"),
) -> None:
    """Show who did what, newest first; -o jsonl exports every matching entry, oldest first."""
    if output not in ("table", "json", "jsonl"):
        raise fail("-o must be table, json or jsonl")
    where = _filter(actor, action, app, project, since, until, result)
    path = audit_db or default_path()
    if not path.exists():
        raise fail(f"no audit trail at {path} (see --audit-db)")
    try:
        log = AuditLog.open(path)
    except AuditStoreError as exc:
        raise fail(str(exc)) from None
    try:
        if output == "jsonl":
            log.export(sys.stdout, where)
            return
        page = log.query(where, limit=limit, before=before)
    finally:
        log.close()
    if output == "json":
        typer.echo(json.dumps([e.to_dict() for e in page.entries], indent=2))
    else:
        _table(page.entries)
    if page.next_before is not None:
        console.print(f"[dim]older entries: --before {page.next_before}[/dim]")
