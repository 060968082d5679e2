"""What every cluster-facing command shares: connection options, running async use cases, errors."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import typer
from rich.markup import escape

from tether.cli.progress import console
from tether.cluster import errors as api_errors
from tether.failures import internal_error
from tether.service.apps import UseCaseError
from tether.service.runtime import Runtime, Settings, open_runtime

T = TypeVar("T")
DEBUG_ENV = "TETHER_DEBUG"


@dataclass
class Connection:
    kubeconfig: Path | None = None
    context: str | None = None
    namespace: str | None = None


connection = Connection()


def connection_options(
    kubeconfig: Path | None = typer.Option(
        None,
        "--kubeconfig",
        envvar="TETHER_KUBECONFIG",
        help="Kubeconfig of the cluster tether runs against.",
    ),
    context: str | None = typer.Option(None, "--context", help="Kubeconfig context."),
    namespace: str | None = typer.Option(
        None,
        "--app-namespace",
        "-N",
        envvar="TETHER_NAMESPACE",
        help="Namespace of Applications (default tether).",
    ),
) -> None:
    connection.kubeconfig, connection.context, connection.namespace = kubeconfig, context, namespace


def settings() -> Settings:
    return Settings.from_env(
        kubeconfig=connection.kubeconfig, context=connection.context, namespace=connection.namespace
    )


def fail(message: str, code: int = 1) -> typer.Exit:
    # The message is data (a file name may hold "[...]"), never markup.
    console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, highlight=False)
    return typer.Exit(code)


def run(use_case: Callable[[Runtime], Awaitable[T]], error_code: int = 1) -> T:
    """Run an async use case against a fresh runtime; known failures become one error line."""

    async def main() -> T:
        async with open_runtime(settings()) as rt:
            return await use_case(rt)

    try:
        return asyncio.run(main())
    except UseCaseError as exc:
        raise fail(str(exc), error_code) from None
    except api_errors.ApiError as exc:
        raise fail(f"the API server said: {exc}", error_code) from None
    except api_errors.UnknownResource as exc:
        raise fail(f"{exc}; is tether installed (`tether install`)?", error_code) from None
    except (OSError, ValueError) as exc:
        raise fail(str(exc), error_code) from None
    except Exception as exc:  # a bug: one line for the user, the traceback only when asked for
        if os.environ.get(DEBUG_ENV):
            raise
        raise fail(
            f"{internal_error(exc)} (set {DEBUG_ENV}=1 for the traceback)", error_code
        ) from None
