"""Probes: `/healthz` (the process serves) and `/readyz` (the Applications watch has listed)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from tether.api import services

router = APIRouter(tags=["probes"])


@router.get("/healthz", response_class=PlainTextResponse)
async def healthz() -> str:
    return "ok"


@router.get(
    "/readyz", response_class=PlainTextResponse, responses={503: {"description": "Starting"}}
)
async def readyz(request: Request) -> PlainTextResponse:
    ready = services.of(request).apps.ready
    return PlainTextResponse("ok" if ready else "starting", status_code=200 if ready else 503)
