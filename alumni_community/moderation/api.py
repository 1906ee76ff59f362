"""HTTP routes of moderation: the review queue. Thin: the rules are in the service."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..identity.edge import require_member
from ..openapi import operation
from ..requests import read_json, string_fields
from .service import Moderation

__all__ = ["routes"]


def _moderation(request: Request) -> Moderation:
    moderation: Moderation = request.app.state.community.moderation
    return moderation


@operation(
    summary="Review items, most urgent first (moderators)",
    errors=(403, 422),
    query={"status": {"type": "string", "enum": ["open", "claimed", "resolved"]}},
    response={"type": "object"},
    tags=("moderation",),
)
async def queue(request: Request) -> Response:
    member, _ = require_member(request)
    items = await _moderation(request).queue(member, request.query_params.get("status", "open"))
    return JSONResponse({"items": items, "next": None})


@operation(
    summary="Decide a review item: approve, reject (with a reason) or escalate",
    errors=(403, 404),
    response={"type": "object"},
    tags=("moderation",),
    request={
        "type": "object",
        "required": ["decision"],
        "properties": {
            "decision": {"type": "string", "enum": ["approve", "reject", "escalate"]},
            "note": {"type": "string"},
        },
    },
)
async def decide(request: Request) -> Response:
    member, _ = require_member(request)
    data = await read_json(request, max_bytes=request.app.state.settings.max_body_bytes)
    decision, note = string_fields(data, "decision", optional=("note",))
    moderation = _moderation(request)
    item = await moderation.decide(member, int(request.path_params["id"]), decision, note)
    await item.fetch_related("post__author", "post__thread__room", "claimed_by")
    return JSONResponse(moderation.item_json(item))


routes: list[BaseRoute] = [
    Route("/moderation/queue", queue, methods=["GET"], name="api:moderation_queue"),
    Route("/moderation/queue/{id:int}", decide, methods=["POST"], name="api:moderation_decide"),
]
