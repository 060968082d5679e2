"""`tether controller`: run the GitOps controller (reconcile every Application, forever)."""

from __future__ import annotations

import asyncio
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import typer

from tether import logs
from tether.audit import store as audit_store
from tether.audit.store import AuditLog, AuditStoreError
from tether.cli.common import connection_options, fail, settings
from tether.controller.manager import Controller, ControllerOptions, default_identity
from tether.service.runtime import Settings, connect, load_health_rules


def _dump_tasks() -> None:
    """SIGUSR1: print every task's stack to stderr (what is the controller waiting on?)."""
    for task in asyncio.all_tasks():
        print(f"--- task {task.get_name()}", file=sys.stderr)
        awaited: Any = task.get_coro()
        while awaited is not None:  # follow the chain of awaited coroutines to where it waits
            frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "ag_frame", None)
            if frame is not None:
                print(
                    f"    {frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}",
                    file=sys.stderr,
                )
            awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "ag_await", None)


async def _main(config: Settings, options: ControllerOptions, audit: AuditLog | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, _dump_tasks)
    async with connect(config) as connections:
        await Controller(connections, options, audit).run(stop)


def controller(
    kubeconfig: Path | None = typer.Option(None, "--kubeconfig", envvar="TETHER_KUBECONFIG"),
    context: str | None = typer.Option(None, "--context"),
    namespace: str | None = typer.Option(
        None,
        "--app-namespace",
        "-N",
        envvar="TETHER_NAMESPACE",
        help="tether's namespace (Leases, Secrets; default tether).",
    ),
    watch_namespace: list[str] = typer.Option(
        [], "--watch-namespace", help="Namespaces whose Applications to reconcile (repeatable)."
    ),
    workers: int = typer.Option(8, "--workers", min=1),
    resync: float = typer.Option(180.0, "--resync-seconds"),
    poll: float = typer.Option(60.0, "--poll-seconds", help="Git polling interval per repository."),
    observe_only: bool = typer.Option(
        False, "--observe-only", help="Report diff and drift; never write."
    ),
    listen: str = typer.Option(
        "127.0.0.1:8081", "--listen", help="Metrics/webhook address; '' to disable."
    ),
    replicas: int = typer.Option(
        1,
        "--replicas",
        min=1,
        envvar="TETHER_CONTROLLER_REPLICAS",
        help="Replicas sharing the apps (Leases).",
    ),
    identity: str = typer.Option(
        "",
        "--identity",
        envvar="TETHER_CONTROLLER_IDENTITY",
        help="This replica's id (default host-pid).",
    ),
    lease_seconds: int = typer.Option(15, "--lease-seconds", min=2),
    self_heal_backoff: float = typer.Option(2.0, "--self-heal-backoff"),
    log_json: bool | None = typer.Option(
        None, "--log-json/--log-text", help="Default: JSON unless a TTY."
    ),
    log_level: str = typer.Option("info", "--log-level"),
    health_rules: Path | None = typer.Option(
        None,
        "--health-rules",
        envvar="TETHER_HEALTH_RULES",
        help="YAML list of custom health rules (CEL) per group/kind.",
    ),
    config_map: str = typer.Option(
        "tether-config",
        "--config-map",
        envvar="TETHER_CONFIG_MAP",
        help="ConfigMap in tether's namespace with runtime settings, watched; '' for none.",
    ),
    audit_db: str | None = typer.Option(
        None,
        "--audit-db",
        envvar="TETHER_AUDIT_DB",
        help="Audit trail (SQLite; default $XDG_STATE_HOME/tether/audit.db); '' for none.",
    ),
) -> None:
    """Reconcile every Application continuously: watch, diff, sync, self-heal, report."""
    connection_options(kubeconfig, context, namespace)
    logs.configure(log_json, log_level)
    config = settings()
    if health_rules is not None:
        try:
            config = replace(config, health_rules=load_health_rules(health_rules))
        except (OSError, ValueError) as exc:
            raise fail(f"--health-rules {health_rules}: {exc}") from None
    options = ControllerOptions(
        app_namespaces=tuple(watch_namespace),
        workers=workers,
        resync_seconds=resync,
        poll_seconds=poll,
        observe_only=observe_only,
        listen=listen,
        replicas=replicas,
        identity=identity or default_identity(),
        lease_seconds=lease_seconds,
        self_heal_backoff=self_heal_backoff,
        config_map=config_map,
    )
    audit = _open_audit(audit_db)
    try:
        asyncio.run(_main(config, options, audit))
    finally:
        if audit is not None:
            audit.close()


def _open_audit(option: str | None) -> AuditLog | None:
    path = audit_store.chosen_path(option)
    if path is None:
        return None
    try:
        return AuditLog.open(path)
    except AuditStoreError as exc:
        raise fail(f"{exc}; pass --audit-db PATH, or --audit-db '' to run without one") from None
