"""The JSON API at ``/api/v1``: the routes of every domain, plus the document describing them."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .chat import api as chat_api
from .errors import ServiceUnavailable
from .identity import api as identity_api
from .identity.edge import cookie_name
from .meetings import api as meetings_api
from .moderation import api as moderation_api
from .notifications import api as notifications_api
from .openapi import document, operation
from .opportunities import api as opportunities_api
from .rooms import api as rooms_api

__all__ = ["routes"]


@operation(
    summary="Whether the community can serve requests",
    auth=False,
    tags=("meta",),
    errors=(503,),
    response={
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string", "enum": ["ok"]}},
    },
)
async def health(request: Request) -> Response:
    """For load balancers: 200 when the database answers, 503 otherwise."""
    try:
        await request.app.state.community.database.connection().execute_query("SELECT 1")
    except Exception as exc:
        raise ServiceUnavailable("The database does not answer.") from exc
    return JSONResponse({"status": "ok"})


@operation(
    summary="This API's OpenAPI 3.1 document",
    auth=False,
    tags=("meta",),
    response={"type": "object"},
)
async def openapi(request: Request) -> Response:
    server = request.scope.get("app_root_path", "") + "/api/v1"
    return JSONResponse(
        document(
            routes,
            server_url=server,
            title=request.app.state.settings.site_name,
            cookie=cookie_name(request.app.state.settings),
        )
    )


routes: list[BaseRoute] = [
    Route("/health", health, methods=["GET"], name="api:health"),
    Route("/openapi.json", openapi, methods=["GET"], name="api:openapi"),
    *identity_api.routes,
    *rooms_api.routes,
    *moderation_api.routes,
    *notifications_api.routes,
    *chat_api.routes,
    *opportunities_api.routes,
    *meetings_api.routes,
]
