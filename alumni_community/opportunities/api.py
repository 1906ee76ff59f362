"""HTTP routes of the service board. Thin: the rules are in the service."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..errors import ValidationFailed
from ..identity.edge import require_member
from ..openapi import HANDLE_REF, ID_CURSOR, operation, text
from ..requests import read_json, string_fields
from .service import MAX_CAPACITY, MAX_SLOTS, Board
from .sponsorship import Sponsorships

__all__ = ["routes"]

OBJECT: dict[str, Any] = {"type": "object"}
PAGE = {
    "type": "object",
    "required": ["items", "next"],
    "properties": {
        "items": {"type": "array", "items": {"type": "object"}},
        "next": {"type": ["string", "null"]},
    },
}
SIGNED_UP = {
    "type": "object",
    "required": ["status", "position"],
    "properties": {
        "status": {"type": "string", "enum": ["confirmed", "waitlisted"]},
        "position": {"type": ["integer", "null"]},
    },
}


KINDS = ["volunteer", "meeting_service", "mentoring", "sponsorship", "other"]
#: A yes-or-no query parameter (``requests.flag_param``).
FLAG = {"type": "boolean", "description": "true or 1; false or 0"}
#: An id in a body: what the database holds.
ID = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}


def _board(request: Request) -> Board:
    board: Board = request.app.state.community.board
    return board


async def _body(request: Request) -> dict[str, Any]:
    return await read_json(request, max_bytes=request.app.state.settings.max_body_bytes)


def _id(request: Request) -> int:
    return int(request.path_params["id"])


@operation(
    summary="Ways to serve: open listings (and your own waiting for review)",
    errors=(422,),
    query={
        "kind": {"type": "string", "enum": ["", *KINDS], "description": "empty: any kind"},
        "tag": {"type": "string"},
        "upcoming": FLAG,
        "open_seats": FLAG,
        "cursor": ID_CURSOR,
    },
    response=PAGE,
    tags=("service board",),
)
async def list_opportunities(request: Request) -> Response:
    member, _ = require_member(request)
    params = request.query_params
    page = await _board(request).page(member, dict(params), params.get("cursor"))
    return JSONResponse(page)


@operation(
    summary="List a way to serve, with its slots (held for review below trust level 2)",
    status=201,
    errors=(403,),
    request={
        "type": "object",
        "required": ["title", "slots"],
        "properties": {
            "title": text(200),
            "body": {"type": "string", "maxLength": 20_000, "description": "Markdown"},
            "kind": {"type": "string", "enum": KINDS},
            "location": {"type": "string", "maxLength": 200},
            "tags": {
                "type": "array",
                "maxItems": 10,
                "items": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9-]{0,31}$"},
            },
            "min_sober_days": {"type": ["integer", "null"], "minimum": 0, "maximum": 36_500},
            "slots": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_SLOTS,
                "items": {
                    "type": "object",
                    "description": "a start within the next two years, an end after it "
                    "within 7 days",
                    "required": ["starts_at", "ends_at", "capacity"],
                    "properties": {
                        "starts_at": {"type": "string", "format": "date-time"},
                        "ends_at": {"type": "string", "format": "date-time"},
                        "capacity": {"type": "integer", "minimum": 1, "maximum": MAX_CAPACITY},
                    },
                },
            },
        },
    },
    response=OBJECT,
    tags=("service board",),
)
async def create_opportunity(request: Request) -> Response:
    member, _ = require_member(request)
    board = _board(request)
    opportunity, notices = await board.create(member, await _body(request))
    body = await board.detail(member, opportunity.id)
    if notices:
        body["notices"] = [n.as_json() for n in notices]
    return JSONResponse(body, status_code=201)


@operation(
    summary="One listing with its slots and handles-only rosters",
    errors=(404,),
    response=OBJECT,
    tags=("service board",),
)
async def get_opportunity(request: Request) -> Response:
    member, _ = require_member(request)
    return JSONResponse(await _board(request).detail(member, _id(request)))


@operation(
    summary="Open, close or cancel a listing (its organizer)",
    errors=(403, 404, 409),
    request={
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string", "enum": ["open", "closed", "cancelled"]}},
    },
    response=OBJECT,
    tags=("service board",),
)
async def patch_opportunity(request: Request) -> Response:
    member, _ = require_member(request)
    (status,) = string_fields(await _body(request), "status")
    board = _board(request)
    await board.set_status(member, _id(request), status)
    return JSONResponse(await board.detail(member, _id(request)))


@operation(
    summary="Message everyone signed up (its organizer)",
    errors=(403, 404),
    request={"type": "object", "required": ["text"], "properties": {"text": text(2000)}},
    response={"type": "object", "properties": {"told": {"type": "integer"}}},
    tags=("service board",),
)
async def message_participants(request: Request) -> Response:
    member, _ = require_member(request)
    (text,) = string_fields(await _body(request), "text")
    told = await _board(request).message(member, _id(request), text)
    return JSONResponse({"told": told})


@operation(
    summary="Sign up for a slot: confirmed, or wait-listed with a position",
    status=201,
    errors=(403, 404, 409),
    response=SIGNED_UP,
    tags=("service board",),
)
async def sign_up(request: Request) -> Response:
    member, _ = require_member(request)
    done = await _board(request).sign_up(member, _id(request))
    return JSONResponse({"status": str(done.status), "position": done.position}, status_code=201)


@operation(
    summary="Cancel your sign-up; the first wait-listed member is promoted",
    status=204,
    errors=(404, 409),
    tags=("service board",),
)
async def cancel(request: Request) -> Response:
    member, _ = require_member(request)
    await _board(request).cancel(member, _id(request))
    return Response(status_code=204)


@operation(
    summary="Hide yourself from the roster other participants see (or show yourself)",
    errors=(404,),
    request={
        "type": "object",
        "required": ["hidden"],
        "properties": {"hidden": {"type": "boolean"}},
    },
    response=OBJECT,
    tags=("service board",),
)
async def patch_my_signup(request: Request) -> Response:
    member, _ = require_member(request)
    hidden = (await _body(request)).get("hidden")
    if not isinstance(hidden, bool):
        raise ValidationFailed({"hidden": ["true or false"]})
    await _board(request).set_hidden(member, _id(request), hidden)
    return JSONResponse({"hidden": hidden})


@operation(
    summary="Take a participant off a slot (its organizer)",
    status=204,
    errors=(403, 404),
    tags=("service board",),
)
async def remove_participant(request: Request) -> Response:
    member, _ = require_member(request)
    await _board(request).remove(member, _id(request), request.path_params["handle"])
    return Response(status_code=204)


@operation(
    summary="Move a participant to another slot of the same listing (its organizer)",
    errors=(403, 404, 409),
    request={
        "type": "object",
        "required": ["to_slot"],
        "properties": {"to_slot": ID},
    },
    response=SIGNED_UP,
    tags=("service board",),
)
async def move_participant(request: Request) -> Response:
    member, _ = require_member(request)
    to_slot = (await _body(request)).get("to_slot")
    if not isinstance(to_slot, int) or isinstance(to_slot, bool):
        raise ValidationFailed({"to_slot": ["a slot id"]})
    done = await _board(request).move(member, _id(request), request.path_params["handle"], to_slot)
    return JSONResponse({"status": str(done.status), "position": done.position})


@operation(
    summary="Mark a participant attended or not, with hours (the organizer, after the slot)",
    errors=(403, 404, 409),
    request={
        "type": "object",
        "required": ["handle", "attended"],
        "properties": {
            "handle": HANDLE_REF,
            "attended": {"type": "boolean"},
            "hours": {
                "type": ["number", "null"],
                "minimum": 0,
                "maximum": 168,
                "description": "null: the slot's length if attended",
            },
        },
    },
    response=OBJECT,
    tags=("service board",),
)
async def attendance(request: Request) -> Response:
    member, _ = require_member(request)
    data = await _body(request)
    (handle,) = string_fields(data, "handle")
    attended = data.get("attended")
    if not isinstance(attended, bool):
        raise ValidationFailed({"attended": ["true or false"]})
    result = await _board(request).attendance(
        member, _id(request), handle, attended, data.get("hours")
    )
    return JSONResponse(result)


@operation(
    summary="Your confirmed service hours",
    response=OBJECT,
    tags=("service board",),
)
async def my_service(request: Request) -> Response:
    member, _ = require_member(request)
    return JSONResponse(await _board(request).hours(member))


def _sponsorships(request: Request) -> Sponsorships:
    service: Sponsorships = request.app.state.community.sponsorships
    return service


@operation(
    summary="Sponsorship: listed sponsors, your offer and requests, requests you may accept, "
    "your matches",
    response=OBJECT,
    tags=("sponsorship",),
)
async def sponsorship(request: Request) -> Response:
    member, _ = require_member(request)
    return JSONResponse(await _sponsorships(request).board(member))


@operation(
    summary="Offer to sponsor (needs the configured sobriety time)",
    status=201,
    errors=(403,),
    request={
        "type": "object",
        "required": ["capacity"],
        "properties": {
            "capacity": {"type": "integer", "minimum": 1, "maximum": 10},
            "note": {"type": "string", "maxLength": 500},
        },
    },
    response=OBJECT,
    tags=("sponsorship",),
)
async def offer(request: Request) -> Response:
    member, _ = require_member(request)
    data = await _body(request)
    made = await _sponsorships(request).offer(member, data.get("capacity"), data.get("note", ""))
    return JSONResponse({"capacity": made.capacity, "note": made.note}, status_code=201)


@operation(
    summary="Withdraw your offer to sponsor",
    status=204,
    errors=(404,),
    tags=("sponsorship",),
)
async def withdraw_offer(request: Request) -> Response:
    member, _ = require_member(request)
    await _sponsorships(request).withdraw_offer(member)
    return Response(status_code=204)


@operation(
    summary="Ask for a sponsor: anyone offering, or one listed sponsor",
    status=201,
    errors=(404, 409),
    request={
        "type": "object",
        "properties": {
            "note": {"type": "string", "maxLength": 1000},
            "sponsor": {**HANDLE_REF, "type": ["string", "null"]},
        },
    },
    response=OBJECT,
    tags=("sponsorship",),
)
async def request_sponsor(request: Request) -> Response:
    member, _ = require_member(request)
    data = await _body(request)
    made, notices = await _sponsorships(request).request(
        member, data.get("note", ""), data.get("sponsor")
    )
    body: dict[str, Any] = {"id": made.id}
    if notices:
        body["notices"] = [n.as_json() for n in notices]
    return JSONResponse(body, status_code=201)


@operation(
    summary="Withdraw your request for a sponsor",
    status=204,
    errors=(404,),
    tags=("sponsorship",),
)
async def withdraw_request(request: Request) -> Response:
    member, _ = require_member(request)
    await _sponsorships(request).withdraw_request(member, _id(request))
    return Response(status_code=204)


@operation(
    summary="Accept a request: a direct conversation opens for the two of you",
    status=201,
    errors=(403, 404, 409),
    response=OBJECT,
    tags=("sponsorship",),
)
async def accept_request(request: Request) -> Response:
    member, _ = require_member(request)
    match = await _sponsorships(request).accept(member, _id(request))
    return JSONResponse({"id": match.id, "room": match.room_slug}, status_code=201)


@operation(
    summary="Decline a request asked of you by name: it closes and the asker is told",
    status=204,
    errors=(404,),
    tags=("sponsorship",),
)
async def decline_request(request: Request) -> Response:
    member, _ = require_member(request)
    await _sponsorships(request).decline(member, _id(request))
    return Response(status_code=204)


@operation(
    summary="End a sponsorship (either side)",
    status=204,
    errors=(404,),
    tags=("sponsorship",),
)
async def end_match(request: Request) -> Response:
    member, _ = require_member(request)
    await _sponsorships(request).end(member, _id(request))
    return Response(status_code=204)


routes: list[BaseRoute] = [
    Route("/sponsorship", sponsorship, methods=["GET"], name="api:sponsorship"),
    Route("/sponsorship/offers", offer, methods=["POST"], name="api:sponsor_offer"),
    Route("/sponsorship/offers/me", withdraw_offer, methods=["DELETE"], name="api:withdraw_offer"),
    Route("/sponsorship/requests", request_sponsor, methods=["POST"], name="api:sponsor_request"),
    Route(
        "/sponsorship/requests/{id:int}",
        withdraw_request,
        methods=["DELETE"],
        name="api:withdraw_request",
    ),
    Route(
        "/sponsorship/requests/{id:int}/accept",
        accept_request,
        methods=["POST"],
        name="api:accept_request",
    ),
    Route(
        "/sponsorship/requests/{id:int}/decline",
        decline_request,
        methods=["POST"],
        name="api:decline_request",
    ),
    Route("/sponsorship/matches/{id:int}/end", end_match, methods=["POST"], name="api:end_match"),
    Route("/opportunities", list_opportunities, methods=["GET"], name="api:opportunities"),
    Route("/opportunities", create_opportunity, methods=["POST"], name="api:create_opportunity"),
    Route("/opportunities/{id:int}", get_opportunity, methods=["GET"], name="api:opportunity"),
    Route(
        "/opportunities/{id:int}",
        patch_opportunity,
        methods=["PATCH"],
        name="api:patch_opportunity",
    ),
    Route(
        "/opportunities/{id:int}/messages",
        message_participants,
        methods=["POST"],
        name="api:message_participants",
    ),
    Route("/slots/{id:int}/signups", sign_up, methods=["POST"], name="api:sign_up"),
    Route("/slots/{id:int}/signups/me", cancel, methods=["DELETE"], name="api:cancel_signup"),
    Route(
        "/slots/{id:int}/signups/me", patch_my_signup, methods=["PATCH"], name="api:patch_signup"
    ),
    Route(
        "/slots/{id:int}/signups/{handle}",
        remove_participant,
        methods=["DELETE"],
        name="api:remove_participant",
    ),
    Route(
        "/slots/{id:int}/signups/{handle}/move",
        move_participant,
        methods=["POST"],
        name="api:move_participant",
    ),
    Route("/slots/{id:int}/attendance", attendance, methods=["POST"], name="api:attendance"),
    Route("/me/service", my_service, methods=["GET"], name="api:my_service"),
]
