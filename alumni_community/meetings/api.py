"""HTTP routes of meetings. Thin: the rules are in the service."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..errors import NotAuthenticated, NotFound, ValidationFailed
from ..identity import tokens
from ..identity.edge import current, require_member
from ..identity.models import Member, MemberStatus
from ..openapi import NOT_BLANK, PATH_PARAMS, operation, text
from ..requests import read_json
from .service import MAX_URL_CHARS, TYPE_CODES, Meetings

__all__ = ["routes"]

OBJECT: dict[str, Any] = {"type": "object"}
#: A time of day, "HH:MM", 24-hour.
HHMM = "(?:[01][0-9]|2[0-3]):[0-5][0-9]"
DAY: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": 6}
#: A time with an offset in a query; empty is as good as absent.
WHEN: dict[str, Any] = {"type": "string", "anyOf": [{"format": "date-time"}, {"maxLength": 0}]}
#: A meeting's fields (``Meetings._checked``).
MEETING_PROPERTIES: dict[str, Any] = {
    "name": text(120),
    "day": {
        **DAY,
        "type": ["integer", "array"],
        "minItems": 1,
        "items": DAY,
        "description": "0 (Sunday) to 6 (Saturday), or a list of them",
    },
    "time": {"type": "string", "pattern": f"^{HHMM}$"},
    "end_time": {"type": "string", "pattern": f"^{HHMM}$"},
    "timezone": {
        "type": "string",
        "minLength": 1,
        "description": "an IANA time zone such as America/New_York; absent: the community's",
    },
    "types": {"type": "array", "items": {"type": "string", "enum": sorted(TYPE_CODES)}},
    "location": {"type": "string", "maxLength": 200},
    "conference_url": {
        "type": "string",
        "maxLength": MAX_URL_CHARS,
        "pattern": "^(?:https://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:[/?#][^\\s\\u0000]*)?)?$",
        "description": "an https:// link; empty: none",
    },
    "conference_phone": {"type": "string", "maxLength": 64},
    "notes": {"type": "string", "maxLength": 2000},
    "public": {"type": "boolean"},
    "room": {
        **PATH_PARAMS["slug"],
        "type": ["string", "null"],
        "description": "the slug of a room every member can see; null: none",
    },
}
#: A new meeting needs a place, a conference link or a conference phone.
SOMEWHERE: list[dict[str, Any]] = [
    {"required": ["location"], "properties": {"location": {"pattern": NOT_BLANK}}},
    {"required": ["conference_url"], "properties": {"conference_url": {"minLength": 1}}},
    {
        "required": ["conference_phone"],
        "properties": {"conference_phone": {"pattern": NOT_BLANK}},
    },
]


def _meetings(request: Request) -> Meetings:
    meetings: Meetings = request.app.state.community.meetings
    return meetings


async def _body(request: Request) -> dict[str, Any]:
    return await read_json(request, max_bytes=request.app.state.settings.max_body_bytes)


def _when(request: Request, name: str, default: dt.datetime) -> dt.datetime:
    raw = request.query_params.get(name)
    if not raw:
        return default
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed({name: ["an ISO 8601 time with an offset"]}) from None
    if value.tzinfo is None:
        raise ValidationFailed({name: ["an ISO 8601 time with an offset"]})
    return value


@operation(
    summary="Meetings now and next: occurrences between from and to, in your time zone",
    errors=(422,),
    query={
        "from": {
            **WHEN,
            "description": "an ISO 8601 time with an offset; absent or empty: two hours ago",
        },
        "to": {
            **WHEN,
            "description": "after from, at most 62 days later; absent or empty: 7 days later",
        },
    },
    response={"type": "object", "properties": {"items": {"type": "array"}}},
    tags=("meetings",),
)
async def occurrences(request: Request) -> Response:
    member, _ = require_member(request)
    now = request.app.state.settings.now()
    start = _when(request, "from", now - dt.timedelta(hours=2))
    end = _when(request, "to", start + dt.timedelta(days=7))
    items = await _meetings(request).occurrences(member, start, end)
    return JSONResponse({"items": items, "next": None})


@operation(
    summary="Schedule a weekly meeting (moderators and meeting hosts)",
    status=201,
    errors=(403,),
    request={
        "type": "object",
        "required": ["name", "day", "time", "end_time"],
        "properties": MEETING_PROPERTIES,
        "anyOf": SOMEWHERE,
    },
    response=OBJECT,
    tags=("meetings",),
)
async def create_meeting(request: Request) -> Response:
    member, _ = require_member(request)
    meetings = _meetings(request)
    meeting = await meetings.create(member, await _body(request))
    return JSONResponse(meetings.meeting_json(meeting), status_code=201)


@operation(
    summary="Change a meeting (moderators and meeting hosts)",
    errors=(403, 404),
    request={"type": "object", "properties": MEETING_PROPERTIES},
    response=OBJECT,
    tags=("meetings",),
)
async def patch_meeting(request: Request) -> Response:
    member, _ = require_member(request)
    meetings = _meetings(request)
    meeting = await meetings.update(member, int(request.path_params["id"]), await _body(request))
    return JSONResponse(meetings.meeting_json(meeting))


@operation(
    summary="Remove a meeting from the schedule (moderators and meeting hosts)",
    status=204,
    errors=(403, 404),
    tags=("meetings",),
)
async def delete_meeting(request: Request) -> Response:
    member, _ = require_member(request)
    await _meetings(request).delete(member, int(request.path_params["id"]))
    return Response(status_code=204)


@operation(
    summary="Cancel one date of a meeting, or change its time, place or notes",
    status=201,
    errors=(403, 404),
    request={
        "type": "object",
        "required": ["date"],
        "properties": {
            "date": {
                "type": "string",
                "format": "date",
                "description": "a day the meeting meets on",
            },
            "cancelled": {"type": "boolean"},
            "time": {"type": ["string", "null"], "pattern": f"^(?:{HHMM})?$"},
            "end_time": {"type": ["string", "null"], "pattern": f"^(?:{HHMM})?$"},
            "location": {"type": "string", "maxLength": 200},
            "notes": {"type": "string", "maxLength": 2000},
        },
    },
    response=OBJECT,
    tags=("meetings",),
)
async def add_exception(request: Request) -> Response:
    member, _ = require_member(request)
    row = await _meetings(request).add_exception(
        member, int(request.path_params["id"]), await _body(request)
    )
    return JSONResponse(
        {"date": row.date.isoformat(), "cancelled": row.cancelled, "time": row.time or None},
        status_code=201,
    )


@operation(
    summary="The Meeting Guide JSON feed of public meetings (when the community enables it)",
    auth=False,
    errors=(404,),
    response={"type": "array"},
    tags=("meetings",),
)
async def feed(request: Request) -> Response:
    if not request.app.state.settings.meeting_guide_feed:
        raise NotFound("This community does not publish a meeting feed.")
    response = JSONResponse(await _meetings(request).feed())
    # Meant for the Meeting Guide app and other sites to fetch.
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@operation(
    summary="The meeting schedule as iCalendar (signed in, or with your calendar key)",
    auth=False,
    errors=(401,),
    query={"key": {"type": "string"}},
    response={"type": "string"},
    media_type="text/calendar",
    tags=("meetings",),
)
async def calendar(request: Request) -> Response:
    state = current(request)
    if state.member is None:
        key = request.query_params.get("key", "")
        secret = request.app.state.settings.secret_key
        member_id = tokens.calendar_member(secret, key) if key else None
        member = await Member.get_or_none(id=member_id) if member_id else None
        if member is None or member.status in (MemberStatus.BANNED, MemberStatus.ERASED):
            raise NotAuthenticated("Sign in, or use the calendar link from your profile.")
    body = await _meetings(request).calendar()
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": 'inline; filename="meetings.ics"'},
    )


@operation(
    summary="Your calendar subscription link (keep it to yourself)",
    response=OBJECT,
    tags=("meetings",),
)
async def my_calendar(request: Request) -> Response:
    member, _ = require_member(request)
    key = tokens.calendar_key(request.app.state.settings.secret_key, member.id)
    path = request.scope.get("app_root_path", "") + "/api/v1/meetings.ics?key=" + key
    return JSONResponse({"path": path})


routes: list[BaseRoute] = [
    Route("/meetings", occurrences, methods=["GET"], name="api:meetings"),
    Route("/meetings", create_meeting, methods=["POST"], name="api:create_meeting"),
    Route("/meetings/feed.json", feed, methods=["GET"], name="api:meeting_feed"),
    Route("/meetings.ics", calendar, methods=["GET"], name="api:meetings_ics"),
    Route("/meetings/{id:int}", patch_meeting, methods=["PATCH"], name="api:patch_meeting"),
    Route("/meetings/{id:int}", delete_meeting, methods=["DELETE"], name="api:delete_meeting"),
    Route(
        "/meetings/{id:int}/exceptions",
        add_exception,
        methods=["POST"],
        name="api:meeting_exception",
    ),
    Route("/me/calendar", my_calendar, methods=["GET"], name="api:my_calendar"),
]
