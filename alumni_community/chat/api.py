"""HTTP routes of chat: history pages, direct conversations, blocks. Thin."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..errors import ValidationFailed
from ..identity.edge import require_member
from ..openapi import HANDLE_REF, decimal, operation
from ..requests import read_json, small_int, string_fields
from .protocol import MAX_SEQ
from .service import Chat

__all__ = ["routes"]

PAGE = {
    "type": "object",
    "required": ["items", "next"],
    "properties": {
        "items": {"type": "array", "items": {"type": "object"}},
        "next": {"type": ["string", "null"]},
    },
}


def _chat(request: Request) -> Chat:
    chat: Chat = request.app.state.community.chat
    return chat


def _seq_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    seq = small_int(raw)  # at most MAX_SEQ, the same bound as an id's
    if seq is None:
        raise ValidationFailed({name: ["a message seq: a whole number"]})
    return seq


@operation(
    summary="A room's chat history by seq: the latest, older (before) or newer (after)",
    errors=(404, 422),
    query={
        "before": {"type": "integer", "minimum": 0, "maximum": MAX_SEQ},
        "after": {"type": "integer", "minimum": 0, "maximum": MAX_SEQ},
        "cursor": {
            "type": "string",
            "pattern": f"^(?:[ab]{decimal(MAX_SEQ)})?$",
            "description": "the `next` of the page before (it wins over before and after)",
        },
    },
    response=PAGE,
    tags=("chat",),
)
async def history(request: Request) -> Response:
    member, _ = require_member(request)
    before, after = _seq_param(request, "before"), _seq_param(request, "after")
    cursor = request.query_params.get("cursor")
    if cursor:
        # The cursor a page gave out: "b<seq>" (older) or "a<seq>" (newer).
        way, seq = cursor[:1], small_int(cursor[1:])
        if way not in ("a", "b") or seq is None:
            raise ValidationFailed({"cursor": ["is not a cursor this list gave out"]})
        before, after = (seq, None) if way == "b" else (None, seq)
    if before is not None and after is not None:
        raise ValidationFailed({"after": ["give before or after, not both"]})
    chat = _chat(request)
    room, rows = await chat.history(member, request.path_params["slug"], before=before, after=after)
    reactions = await chat.reactions([m.id for m in rows])
    items = [
        chat.message_json(
            m, room.slug, reactions=reactions.get(m.id), client_id=m.author_id == member.id
        )
        for m in rows
    ]
    # The next page continues the way this one went.
    more: str | None = None
    if rows and len(rows) == 50:
        more = f"a{rows[-1].seq}" if after is not None else f"b{rows[0].seq}"
    return JSONResponse({"items": items, "next": more, "last_seq": room.last_seq})


@operation(
    summary="Your direct conversations",
    response=PAGE,
    tags=("chat",),
)
async def list_direct(request: Request) -> Response:
    member, _ = require_member(request)
    return JSONResponse({"items": await _chat(request).direct_rooms(member), "next": None})


@operation(
    summary="Start (or find) a direct conversation with a member (trust level 1+)",
    status=201,
    errors=(403, 404),
    request={
        "type": "object",
        "required": ["handle"],
        "properties": {"handle": HANDLE_REF},
    },
    response={"type": "object"},
    tags=("chat",),
)
async def start_direct(request: Request) -> Response:
    member, _ = require_member(request)
    data = await read_json(request, max_bytes=request.app.state.settings.max_body_bytes)
    (handle,) = string_fields(data, "handle")
    room = await _chat(request).start_direct(member, handle)
    body: dict[str, Any] = {"slug": room.slug, "last_seq": room.last_seq}
    return JSONResponse(body, status_code=201)


@operation(
    summary="Leave a direct conversation",
    status=204,
    errors=(404,),
    tags=("chat",),
)
async def leave_direct(request: Request) -> Response:
    member, _ = require_member(request)
    await _chat(request).leave_direct(member, request.path_params["slug"])
    return Response(status_code=204)


@operation(
    summary="Block a member: no direct conversations either way",
    status=204,
    errors=(404, 422),
    tags=("chat",),
)
async def block(request: Request) -> Response:
    member, _ = require_member(request)
    await _chat(request).block(member, request.path_params["handle"], blocked=True)
    return Response(status_code=204)


@operation(
    summary="Unblock a member",
    status=204,
    errors=(404, 422),
    tags=("chat",),
)
async def unblock(request: Request) -> Response:
    member, _ = require_member(request)
    await _chat(request).block(member, request.path_params["handle"], blocked=False)
    return Response(status_code=204)


routes: list[BaseRoute] = [
    Route("/rooms/{slug}/messages", history, methods=["GET"], name="api:messages"),
    Route("/direct", list_direct, methods=["GET"], name="api:direct"),
    Route("/direct", start_direct, methods=["POST"], name="api:start_direct"),
    Route("/direct/{slug}", leave_direct, methods=["DELETE"], name="api:leave_direct"),
    Route("/members/{handle}/block", block, methods=["PUT"], name="api:block"),
    Route("/members/{handle}/block", unblock, methods=["DELETE"], name="api:unblock"),
]
