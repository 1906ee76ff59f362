"""HTML pages. Thin: each page asks a service and renders a template."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..identity.edge import current
from ..rooms import service as rooms
from .templating import render

__all__ = ["routes"]


async def index(request: Request) -> Response:
    member = current(request).member
    context = {
        "room_count": await rooms.count_public_rooms(),
        "handle": member.handle if member is not None else None,
    }
    return render(request, "community/index.html", context)


routes = [Route("/", index, methods=["GET"], name="page:index")]
