"""A host site built with FastAPI, with the community mounted at ``/community``.

Like ``starlette_host``, it keeps its own Tortoise model and database, set up
with Tortoise's FastAPI integration, next to the community's private one.

Run it::

    ALUMNI_COMMUNITY_DEMO=true uvicorn examples.fastapi_host:app
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from tortoise import fields
from tortoise.contrib.fastapi import RegisterTortoise
from tortoise.models import Model

from alumni_community import Community, Settings


class Enquiry(Model):
    """The host's own model: enquiries from its contact form."""

    id = fields.IntField(primary_key=True)
    topic = fields.CharField(max_length=200)

    class Meta:
        table = "host_enquiry"
        app = "host"


def create_app(settings: Settings | None = None, host_database_url: str | None = None) -> FastAPI:
    community = Community(settings or Settings.from_env())
    host_db = host_database_url or os.environ.get("HOST_DATABASE_URL", "sqlite://host.sqlite3")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            RegisterTortoise(
                app, db_url=host_db, modules={"host": [__name__]}, generate_schemas=True
            ),
            community.lifespan(app),
        ):
            yield

    app = FastAPI(title="Our centre", lifespan=lifespan)

    @app.get("/", response_class=HTMLResponse)
    async def home() -> str:
        return (
            "<!doctype html><html lang=en><head><meta charset=utf-8><title>Our centre</title>"
            "</head><body><h1>Our centre</h1>"
            '<p><a href="/community/">Go to the alumni community</a></p></body></html>'
        )

    @app.post("/enquiries")
    async def create_enquiry(topic: str) -> dict[str, int]:
        enquiry = await Enquiry.create(topic=topic)
        return {"id": enquiry.id, "count": await Enquiry.all().count()}

    app.mount("/community", community)
    app.state.community = community
    return app


def __getattr__(name: str) -> FastAPI:
    # `uvicorn examples.fastapi_host:app` reads `app`; built on first use.
    if name == "app":
        app = create_app()
        globals()["app"] = app
        return app
    raise AttributeError(name)
