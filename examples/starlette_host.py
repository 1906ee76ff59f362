"""A host site built with Starlette, with the community mounted at ``/community``.

The host has a page of its own at ``/`` and its OWN Tortoise ORM model and
database, set up the usual way (``RegisterTortoise``), to show that the
community's private database context leaves the host's ORM alone.

Run it::

    ALUMNI_COMMUNITY_DEMO=true uvicorn examples.starlette_host:app

Configuration comes from the environment: ``ALUMNI_COMMUNITY_*`` for the
community (see docs/reference/settings.md) and ``HOST_DATABASE_URL`` for the
host's own database.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Mount, Route
from tortoise import fields
from tortoise.contrib.starlette import RegisterTortoise
from tortoise.models import Model

from alumni_community import Community, Settings


class Visit(Model):
    """The host's own model: a page-view counter."""

    id = fields.IntField(primary_key=True)
    path = fields.CharField(max_length=200)

    class Meta:
        table = "host_visit"
        app = "host"


async def home(request: Request) -> HTMLResponse:
    await Visit.create(path="/")
    visits = await Visit.filter(path="/").count()
    return HTMLResponse(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Our centre</title></head>"
        "<body><h1>Our centre</h1>"
        f"<p>This page has been visited {visits} times.</p>"
        '<p><a href="/community/">Go to the alumni community</a></p></body></html>'
    )


async def visits(request: Request) -> JSONResponse:
    return JSONResponse({"visits": await Visit.all().count()})


def create_app(settings: Settings | None = None, host_database_url: str | None = None) -> Starlette:
    """The host: its own page and database, and the community at /community."""
    community = Community(settings or Settings.from_env())
    host_db = host_database_url or os.environ.get("HOST_DATABASE_URL", "sqlite://host.sqlite3")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # The host's ORM and the community start and stop side by side.
        async with (
            RegisterTortoise(
                app, db_url=host_db, modules={"host": [__name__]}, generate_schemas=True
            ),
            community.lifespan(app),
        ):
            yield

    app = Starlette(
        routes=[
            Route("/", home),
            Route("/visits", visits),
            Mount("/community", app=community),
        ],
        lifespan=lifespan,
    )
    app.state.community = community
    return app


def __getattr__(name: str) -> Starlette:
    # `uvicorn examples.starlette_host:app` reads `app`; it is built on first
    # use so that importing this module needs no configuration.
    if name == "app":
        app = create_app()
        globals()["app"] = app
        return app
    raise AttributeError(name)
