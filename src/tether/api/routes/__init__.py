"""The API's routes, one module per resource; `routers()` lists them in mounting order."""

from __future__ import annotations

from fastapi import APIRouter

from tether.api.routes import (
    applications,
    appviews,
    audit,
    clusters,
    health,
    operations,
    projects,
    repositories,
    stream,
)


def routers() -> list[APIRouter]:
    return [
        health.router,
        applications.router,
        operations.router,
        appviews.router,
        stream.router,
        projects.router,
        clusters.router,
        repositories.router,
        audit.router,
    ]
