"""HTTP routes of rooms, threads and posts. Thin: the rules are in the service."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..errors import ValidationFailed
from ..identity.edge import require_member
from ..moderation.service import Notice
from ..openapi import HANDLE_REF, PATH_PARAMS, operation, text
from ..requests import read_json, string_fields
from .service import MAX_BODY_CHARS, MAX_TITLE_CHARS, Rooms

__all__ = ["routes"]

PAGE = {
    "type": "object",
    "properties": {"items": {"type": "array"}, "next": {"type": ["string", "null"]}},
}
#: The cursor a page gave out (URL-safe base64, opaque); absent or empty: the first page.
CURSOR = {"cursor": {"type": "string", "pattern": "^[A-Za-z0-9_-]*$"}}
#: A room's settings (``Rooms._room_fields``); names are counted with runs of
#: white space as one space.
ROOM_FIELDS: dict[str, Any] = {
    "name": text(120),
    "description": {"type": ["string", "null"], "description": "plain text, cut to 500"},
    "visibility": {"type": "string", "enum": ["members", "private"]},
    "moderation": {"type": "string", "enum": ["open", "new_members_reviewed", "all_reviewed"]},
    "slow_mode_seconds": {"type": "integer", "minimum": 0, "maximum": 86400},
    "archived": {"type": "boolean"},
    "position": {"type": "integer", "minimum": 0, "maximum": 1_000_000},
}
TITLE = text(MAX_TITLE_CHARS)
BODY = text(MAX_BODY_CHARS)


def _rooms(request: Request) -> Rooms:
    rooms: Rooms = request.app.state.community.rooms
    return rooms


async def _body(request: Request) -> dict[str, Any]:
    return await read_json(request, max_bytes=request.app.state.settings.max_body_bytes)


def _confirm(data: dict[str, Any]) -> bool:
    confirm = data.get("confirm", False)
    if not isinstance(confirm, bool):
        raise ValidationFailed({"confirm": ["must be true or false"]})
    return confirm


def _with_notices(body: dict[str, Any], notices: list[Notice], status: int) -> Response:
    if notices:
        body["notices"] = [n.as_json() for n in notices]
    return JSONResponse(body, status_code=status)


def _id(request: Request) -> int:
    return int(request.path_params["id"])


@operation(summary="Rooms you may see", response={"type": "object"}, tags=("rooms",))
async def list_rooms(request: Request) -> Response:
    member, _ = require_member(request)
    return JSONResponse({"items": await _rooms(request).list_rooms(member), "next": None})


@operation(
    summary="Create a room (moderators)",
    status=201,
    errors=(403,),
    tags=("rooms",),
    request={
        "type": "object",
        "required": ["slug", "name"],
        "properties": {"slug": PATH_PARAMS["slug"], **ROOM_FIELDS},
    },
    response={"type": "object"},
)
async def create_room(request: Request) -> Response:
    member, _ = require_member(request)
    rooms = _rooms(request)
    room = await rooms.create_room(member, await _body(request))
    return JSONResponse(rooms.room_json(room), status_code=201)


@operation(summary="One room", errors=(404,), response={"type": "object"}, tags=("rooms",))
async def get_room(request: Request) -> Response:
    member, _ = require_member(request)
    rooms = _rooms(request)
    return JSONResponse(
        rooms.room_json(await rooms.visible_room(member, request.path_params["slug"]))
    )


@operation(
    summary="Change a room's settings (room moderators; visibility and position: moderators)",
    errors=(403, 404),
    tags=("rooms",),
    request={"type": "object", "properties": ROOM_FIELDS},
    response={"type": "object"},
)
async def patch_room(request: Request) -> Response:
    member, _ = require_member(request)
    rooms = _rooms(request)
    room = await rooms.update_room(member, request.path_params["slug"], await _body(request))
    return JSONResponse(rooms.room_json(room))


@operation(summary="A room's own moderators", errors=(404,), response=PAGE, tags=("rooms",))
async def list_room_moderators(request: Request) -> Response:
    member, _ = require_member(request)
    items = await _rooms(request).room_moderators(member, request.path_params["slug"])
    return JSONResponse({"items": items, "next": None})


@operation(
    summary="Appoint a member as one of the room's moderators (moderators)",
    status=204,
    errors=(403, 404),
    tags=("rooms",),
)
async def appoint_room_moderator(request: Request) -> Response:
    member, _ = require_member(request)
    params = request.path_params
    await _rooms(request).set_room_moderator(member, params["slug"], params["handle"], appoint=True)
    return Response(status_code=204)


@operation(
    summary="Stand down one of the room's moderators (moderators)",
    status=204,
    errors=(403, 404),
    tags=("rooms",),
)
async def remove_room_moderator(request: Request) -> Response:
    member, _ = require_member(request)
    params = request.path_params
    await _rooms(request).set_room_moderator(
        member, params["slug"], params["handle"], appoint=False
    )
    return Response(status_code=204)


@operation(
    summary="Invite a member to a private room (room moderators)",
    status=204,
    errors=(403, 404),
    tags=("rooms",),
    request={"type": "object", "required": ["handle"], "properties": {"handle": HANDLE_REF}},
)
async def invite(request: Request) -> Response:
    member, _ = require_member(request)
    (handle,) = string_fields(await _body(request), "handle")
    await _rooms(request).invite(member, request.path_params["slug"], handle)
    return Response(status_code=204)


@operation(
    summary="A room's threads, pinned then most recently active",
    errors=(404, 422),
    response=PAGE,
    query=CURSOR,
    tags=("threads",),
)
async def list_threads(request: Request) -> Response:
    member, _ = require_member(request)
    page = await _rooms(request).list_threads(
        member, request.path_params["slug"], request.query_params.get("cursor")
    )
    return JSONResponse({"items": page.items, "next": page.next})


@operation(
    summary="Start a thread; held for review or published",
    status=201,
    errors=(403, 404, 409, 429),
    tags=("threads",),
    response={"type": "object"},
    request={
        "type": "object",
        "required": ["title", "body"],
        "properties": {"title": TITLE, "body": BODY, "confirm": {"type": "boolean"}},
    },
)
async def create_thread(request: Request) -> Response:
    member, _ = require_member(request)
    data = await _body(request)
    title, body = string_fields(data, "title", "body")
    rooms = _rooms(request)
    thread, post, notices = await rooms.create_thread(
        member, request.path_params["slug"], title, body, confirm=_confirm(data)
    )
    await thread.fetch_related("author")
    post.author = member
    return _with_notices(
        {"thread": rooms.thread_json(thread), "post": rooms.post_json(post)}, notices, 201
    )


@operation(
    summary="A thread with a page of its posts",
    errors=(404, 422),
    query=CURSOR,
    response={"type": "object"},
    tags=("threads",),
)
async def get_thread(request: Request) -> Response:
    member, _ = require_member(request)
    rooms = _rooms(request)
    thread, page = await rooms.thread_page(member, _id(request), request.query_params.get("cursor"))
    return JSONResponse(
        {"thread": rooms.thread_json(thread), "posts": {"items": page.items, "next": page.next}}
    )


@operation(
    summary="Pin, lock or move a thread (moderators)",
    errors=(403, 404),
    response={"type": "object"},
    tags=("threads",),
    request={
        "type": "object",
        "properties": {
            "pinned": {"type": "boolean"},
            "locked": {"type": "boolean"},
            "room": PATH_PARAMS["slug"],
        },
    },
)
async def patch_thread(request: Request) -> Response:
    member, _ = require_member(request)
    rooms = _rooms(request)
    thread = await rooms.moderate_thread(member, _id(request), await _body(request))
    await thread.fetch_related("author")
    return JSONResponse(rooms.thread_json(thread))


@operation(
    summary="Reply in a thread",
    status=201,
    errors=(403, 404, 409, 429),
    response={"type": "object"},
    tags=("posts",),
    request={
        "type": "object",
        "required": ["body"],
        "properties": {"body": BODY, "confirm": {"type": "boolean"}},
    },
)
async def create_post(request: Request) -> Response:
    member, _ = require_member(request)
    data = await _body(request)
    (body,) = string_fields(data, "body")
    rooms = _rooms(request)
    post, notices = await rooms.reply(member, _id(request), body, confirm=_confirm(data))
    post.author = member
    return _with_notices({"post": rooms.post_json(post)}, notices, 201)


@operation(
    summary="Edit a post (author or moderator); the old text is kept as a revision",
    errors=(403, 404, 409),
    response={"type": "object"},
    tags=("posts",),
    request={
        "type": "object",
        "required": ["body"],
        "properties": {"body": BODY, "confirm": {"type": "boolean"}},
    },
)
async def patch_post(request: Request) -> Response:
    member, _ = require_member(request)
    data = await _body(request)
    (body,) = string_fields(data, "body")
    rooms = _rooms(request)
    post, notices = await rooms.edit_post(member, _id(request), body, confirm=_confirm(data))
    return _with_notices({"post": rooms.post_json(post)}, notices, 200)


@operation(
    summary="Delete a post (author or moderator)", status=204, errors=(403, 404), tags=("posts",)
)
async def delete_post(request: Request) -> Response:
    member, _ = require_member(request)
    await _rooms(request).delete_post(member, _id(request))
    return Response(status_code=204)


@operation(
    summary="A post's earlier versions (author or moderator)",
    errors=(403, 404),
    response={"type": "object"},
    tags=("posts",),
)
async def post_revisions(request: Request) -> Response:
    member, _ = require_member(request)
    return JSONResponse(
        {"items": await _rooms(request).revisions(member, _id(request)), "next": None}
    )


routes: list[BaseRoute] = [
    Route("/rooms", list_rooms, methods=["GET"], name="api:list_rooms"),
    Route("/rooms", create_room, methods=["POST"], name="api:create_room"),
    Route("/rooms/{slug}", get_room, methods=["GET"], name="api:get_room"),
    Route("/rooms/{slug}", patch_room, methods=["PATCH"], name="api:patch_room"),
    Route("/rooms/{slug}/members", invite, methods=["POST"], name="api:invite"),
    Route(
        "/rooms/{slug}/moderators",
        list_room_moderators,
        methods=["GET"],
        name="api:room_moderators",
    ),
    Route(
        "/rooms/{slug}/moderators/{handle}",
        appoint_room_moderator,
        methods=["PUT"],
        name="api:appoint_room_moderator",
    ),
    Route(
        "/rooms/{slug}/moderators/{handle}",
        remove_room_moderator,
        methods=["DELETE"],
        name="api:remove_room_moderator",
    ),
    Route("/rooms/{slug}/threads", list_threads, methods=["GET"], name="api:list_threads"),
    Route("/rooms/{slug}/threads", create_thread, methods=["POST"], name="api:create_thread"),
    Route("/threads/{id:int}", get_thread, methods=["GET"], name="api:get_thread"),
    Route("/threads/{id:int}", patch_thread, methods=["PATCH"], name="api:patch_thread"),
    Route("/threads/{id:int}/posts", create_post, methods=["POST"], name="api:create_post"),
    Route("/posts/{id:int}", patch_post, methods=["PATCH"], name="api:patch_post"),
    Route("/posts/{id:int}", delete_post, methods=["DELETE"], name="api:delete_post"),
    Route("/posts/{id:int}/revisions", post_revisions, methods=["GET"], name="api:post_revisions"),
]
