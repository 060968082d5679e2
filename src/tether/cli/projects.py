"""`tether proj`: create, inspect, list and delete Projects, and add sources and destinations."""

from __future__ import annotations

import json
from typing import Any

import typer
import yaml
from rich.table import Table

from tether.cli.common import connection_options, fail, run
from tether.cli.progress import console, out
from tether.model.resources import Body
from tether.service import projects as use
from tether.service.apps import UseCaseError

app = typer.Typer(
    help="Manage Projects (tenancy: sources, destinations, kinds, sync windows).",
    callback=connection_options,
    no_args_is_help=True,
)


def _dump(data: Any, output: str) -> None:
    if output == "json":
        typer.echo(json.dumps(data, indent=2, sort_keys=False))
    else:
        typer.echo(yaml.safe_dump(data, sort_keys=False).rstrip())


def _destinations(spec: dict[str, Any]) -> list[str]:
    return [
        f"{d.get('cluster', '')},{d.get('namespace', '')}" for d in spec.get("destinations") or []
    ]


def _group_kinds(entries: list[dict[str, Any]] | None) -> str:
    return ", ".join(f"{e.get('group') or '(core)'}/{e.get('kind')}" for e in entries or []) or "-"


@app.command()
def create(
    name: str = typer.Argument(...),
    description: str = typer.Option("", "--description"),
    src: list[str] = typer.Option([], "--src", "-s", help="Permitted repository glob (repeat)."),
    dest: list[str] = typer.Option(
        [], "--dest", "-d", help="Permitted CLUSTER,NAMESPACE globs (repeatable)."
    ),
    upsert: bool = typer.Option(False, "--upsert", help="Replace the spec if the project exists."),
) -> None:
    """Create a Project (idempotent when the spec is the same).

    Kinds, sync windows, roles and service accounts: `kubectl explain project.spec`."""
    try:
        destinations = tuple(use.parse_destination(d) for d in dest)
    except UseCaseError as exc:
        raise fail(str(exc)) from None
    opts = use.CreateOptions(
        name=name,
        description=description,
        source_repos=tuple(src),
        destinations=destinations,
        upsert=upsert,
    )
    run(lambda rt: use.create(rt, opts))
    console.print(f"project [bold]{name}[/bold] created")


@app.command("list")
def list_projects(
    output: str = typer.Option("table", "-o", "--output", help="table, json or yaml"),
) -> None:
    """List Projects with their sources and destinations."""
    found: list[Body] = run(use.list_projects)
    if output in ("json", "yaml"):
        _dump(found, output)
        return
    table = Table("NAME", "DESCRIPTION", "SOURCES", "DESTINATIONS", box=None)
    for body in found:
        spec = body.get("spec") or {}
        table.add_row(
            body["metadata"]["name"],
            spec.get("description", ""),
            ", ".join(spec.get("sourceRepos") or []) or "-",
            "; ".join(_destinations(spec)) or "-",
        )
    out.print(table)


@app.command()
def get(
    name: str,
    output: str = typer.Option("table", "-o", "--output", help="table, json or yaml"),
) -> None:
    """Show a Project's rules."""
    body: Body = run(lambda rt: use.get(rt, name))
    if output in ("json", "yaml"):
        _dump(body, output)
        return
    spec = body.get("spec") or {}
    rows = [
        ("description", spec.get("description", "") or "-"),
        ("sources", ", ".join(spec.get("sourceRepos") or []) or "-"),
        ("destinations", "; ".join(_destinations(spec)) or "-"),
        ("cluster kinds allowed", _group_kinds(spec.get("clusterResourceWhitelist"))),
        ("cluster kinds denied", _group_kinds(spec.get("clusterResourceBlacklist"))),
        ("namespaced kinds allowed", _group_kinds(spec.get("namespaceResourceWhitelist"))),
        ("namespaced kinds denied", _group_kinds(spec.get("namespaceResourceBlacklist"))),
        (
            "sync windows",
            "; ".join(
                f"{w.get('kind')} {w.get('schedule')!r} for {w.get('duration')}"
                + (" (manual syncs allowed)" if w.get("manualSync") else "")
                for w in spec.get("syncWindows") or []
            )
            or "-",
        ),
        (
            "service accounts",
            "; ".join(
                f"{a.get('cluster', '*')},{a.get('namespace', '*')} -> {a['defaultServiceAccount']}"
                for a in spec.get("destinationServiceAccounts") or []
            )
            or "-",
        ),
        ("roles", ", ".join(r["name"] for r in spec.get("roles") or []) or "-"),
    ]
    out.print(f"[bold]{body['metadata']['namespace']}/{name}[/bold]")
    for label, value in rows:
        out.print(f"{label + ':':<26}{value}", highlight=False)


@app.command()
def delete(name: str) -> None:
    """Delete a Project that no Application uses."""
    run(lambda rt: use.delete(rt, name))
    console.print(f"project {name} deleted")


@app.command("add-destination")
def add_destination(
    name: str,
    cluster: str = typer.Argument(..., help="Cluster name glob."),
    namespace: str = typer.Argument(..., help="Namespace glob; prefix either with ! to deny."),
) -> None:
    """Permit (or, with !, deny) a cluster and namespace."""
    run(lambda rt: use.add_destination(rt, name, cluster, namespace))
    console.print(f"project {name}: destination {cluster},{namespace} added")


@app.command("add-source")
def add_source(
    name: str, repo: str = typer.Argument(..., help="Repository URL glob; ! to deny.")
) -> None:
    """Permit (or, with !, deny) a source repository."""
    run(lambda rt: use.add_source(rt, name, repo))
    console.print(f"project {name}: source {repo} added")
