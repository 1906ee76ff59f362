"""A host that mounts the community but forgets to compose its lifespan."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from alumni_community import Community, Settings


async def home(request: object) -> PlainTextResponse:
    return PlainTextResponse("host home")


community = Community(Settings.from_env())
app = Starlette(routes=[Route("/", home), Mount("/community", app=community)])
