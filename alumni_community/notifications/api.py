"""HTTP routes of notifications. Thin: the rules are in the service."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..errors import ValidationFailed
from ..identity.edge import require_member
from ..openapi import ID_CURSOR, operation
from ..requests import read_json
from .service import MAX_READ_IDS, Notifications

__all__ = ["routes"]


def _notifications(request: Request) -> Notifications:
    service: Notifications = request.app.state.community.notifications
    return service


@operation(
    summary="Your notifications, newest first, with the unread count",
    errors=(422,),
    query={"cursor": ID_CURSOR},
    response={
        "type": "object",
        "required": ["items", "next", "unread"],
        "properties": {
            "items": {"type": "array", "items": {"type": "object"}},
            "next": {"type": ["string", "null"]},
            "unread": {"type": "integer"},
        },
    },
    tags=("notifications",),
)
async def list_notifications(request: Request) -> Response:
    member, _ = require_member(request)
    page = await _notifications(request).page(member, request.query_params.get("cursor"))
    return JSONResponse(page)


@operation(
    summary="Mark notifications read: some by id, or all",
    request={
        "type": "object",
        "properties": {
            "ids": {
                "type": ["array", "null"],
                "minItems": 1,
                "maxItems": MAX_READ_IDS,
                "items": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                "description": "the ids to mark read; may be left out with all: true",
            },
            "all": {"type": "boolean"},
        },
        "if": {"required": ["all"], "properties": {"all": {"const": True}}},
        "else": {"required": ["ids"], "properties": {"ids": {"type": "array"}}},
    },
    response={
        "type": "object",
        "required": ["unread"],
        "properties": {"unread": {"type": "integer"}},
    },
    tags=("notifications",),
)
async def mark_read(request: Request) -> Response:
    member, _ = require_member(request)
    data = await read_json(request, max_bytes=request.app.state.settings.max_body_bytes)
    everything = data.get("all", False)
    if not isinstance(everything, bool):
        raise ValidationFailed({"all": ["true or false"]})
    unread = await _notifications(request).mark_read(member, data.get("ids"), everything)
    return JSONResponse({"unread": unread})


routes: list[BaseRoute] = [
    Route("/notifications", list_notifications, methods=["GET"], name="api:notifications"),
    Route("/notifications/read", mark_read, methods=["POST"], name="api:notifications_read"),
]
