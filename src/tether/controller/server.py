"""The controller's HTTP endpoint: Prometheus metrics, health probes and the Git push webhook.

The webhook body is read with a hard size limit before anything else looks at it, and only a
verified push refreshes anything (see webhooks.py for the schemes per provider). The server runs
inside the controller's event loop (`serve`); signals stay the controller's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from tether.controller import webhooks
from tether.controller.metrics import Metrics

OnPush = Callable[[webhooks.PushEvent], Awaitable[int]]
SecretsLoader = Callable[[], Awaitable[webhooks.WebhookSecrets]]


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None if it is larger than `limit` (reading stops right there)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def build(
    metrics: Metrics, ready: Callable[[], bool], on_push: OnPush, secrets: SecretsLoader
) -> FastAPI:
    app = FastAPI(title="tether controller", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz")
    async def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.get("/readyz")
    async def readyz() -> PlainTextResponse:
        return (
            PlainTextResponse("ok") if ready() else PlainTextResponse("starting", status_code=503)
        )

    @app.get("/metrics")
    async def metrics_endpoint() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    @app.post("/api/webhook")
    async def webhook(request: Request) -> Response:
        body = await _read_limited(request, webhooks.MAX_BODY_BYTES)
        if body is None:
            return _problem(413, "Payload Too Large", f"limit is {webhooks.MAX_BODY_BYTES} bytes")
        try:
            push = webhooks.receive(dict(request.headers), body, await secrets())
        except webhooks.WebhookRejected as rejected:
            return _problem(rejected.status, "Webhook rejected", rejected.reason)
        if push is None:
            return JSONResponse({"refreshed": 0, "detail": "ping"})
        return JSONResponse({"refreshed": await on_push(push)})

    return app


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside our event loop: signals belong to the controller, not to the server."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(app: FastAPI, listen: str) -> asyncio.Task[None]:
    """Serve `app` on `listen` ("host:port") in the background; a port that cannot be bound
    stops the start-up."""
    host, _, port = listen.rpartition(":")
    config = uvicorn.Config(
        app, host=host or "127.0.0.1", port=int(port), log_level="warning", lifespan="off"
    )
    http = _EmbeddedServer(config)
    task = asyncio.create_task(http.serve())
    while not http.started:
        if task.done():
            raise RuntimeError(f"cannot listen on {listen} (address in use?)")
        await asyncio.sleep(0.02)
    return task
