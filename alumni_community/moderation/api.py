"""HTTP routes of moderation: the review queue. Thin: the rules are in the service."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..errors import ValidationFailed
from ..identity.edge import client_address, current, require_member
from ..identity.service import member_json
from ..openapi import HANDLE_REF, ID_CURSOR, operation, text
from ..requests import id_cursor, read_json, string_fields
from .actions import Actions
from .service import Moderation

__all__ = ["routes"]


#: An id in a body: what the database holds.
ID = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
#: Optional text that the reader takes as absent when it is null.
OPTIONAL_TEXT = {"type": ["string", "null"]}


def _required_when(name: str, value: str, field: str) -> dict[str, Any]:
    """``field`` must be text that is not blank when ``name`` is ``value``."""
    return {
        "if": {"required": [name], "properties": {name: {"const": value}}},
        "then": {"required": [field], "properties": {field: text()}},
    }


def _target(data: dict[str, Any], *, without_id: tuple[str, ...] = ()) -> dict[str, Any]:
    """The ``target`` of a flag or an appeal: ``{type, id}`` (``{type}`` for the
    types in ``without_id``) and no other key, as ``read_json`` holds the body's own."""
    target = data.get("target")
    if not isinstance(target, dict):
        raise ValidationFailed({"target": ["an object: {type, id}"]})
    if target.get("type") in without_id:
        if not set(target) <= {"type"}:
            raise ValidationFailed({"target": ["an object: {type}"]})
    elif not set(target) <= {"type", "id"}:
        raise ValidationFailed({"target": ["an object: {type, id}"]})
    return target


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
            "note": {**OPTIONAL_TEXT, "description": "required to reject: the author is shown it"},
        },
        **_required_when("decision", "reject", "note"),
    },
)
async def decide(request: Request) -> Response:
    member, _ = require_member(request)
    data = await read_json(request, max_bytes=request.app.state.settings.max_body_bytes)
    decision, note = string_fields(data, "decision", optional=("note",))
    moderation = _moderation(request)
    item = await moderation.decide(member, int(request.path_params["id"]), decision, note)
    return JSONResponse(await moderation.item_with_flags(item))


def _actions(request: Request) -> Actions:
    actions: Actions = request.app.state.community.actions
    return actions


@operation(
    summary="Flag a post or a member",
    status=201,
    errors=(403, 404, 429),
    tags=("moderation",),
    response={"type": "object"},
    request={
        "type": "object",
        "required": ["target", "reason"],
        "properties": {
            "target": {
                "type": "object",
                "description": "a post, message or listing by id, or a member by handle",
                "oneOf": [
                    {
                        "required": ["type", "id"],
                        "properties": {
                            "type": {"enum": ["post", "message", "opportunity"]},
                            "id": ID,
                        },
                        "additionalProperties": False,
                    },
                    {
                        "required": ["type", "id"],
                        "properties": {"type": {"const": "member"}, "id": HANDLE_REF},
                        "additionalProperties": False,
                    },
                ],
            },
            "reason": {
                "type": "string",
                "enum": ["spam", "harassment", "identifying", "crisis", "other"],
            },
            "note": {**OPTIONAL_TEXT, "description": "required with reason other; 1000 are kept"},
        },
        **_required_when("reason", "other", "note"),
    },
)
async def create_flag(request: Request) -> Response:
    member, _ = require_member(request)
    data = await read_json(request, max_bytes=request.app.state.settings.max_body_bytes)
    target = _target(data)
    reason, note = string_fields(data, "reason", optional=("note",))
    flag = await _actions(request).flag(
        member, str(target.get("type")), target.get("id"), reason, note
    )
    return JSONResponse(
        {"id": flag.id, "reason": str(flag.reason), "weight": flag.weight}, status_code=201
    )


@operation(
    summary="Warn, silence, suspend, ban or restore a member (moderators)",
    errors=(403, 404),
    tags=("moderation",),
    response={"type": "object"},
    request={
        "type": "object",
        "required": ["action"],
        "properties": {
            "action": {"type": "string", "enum": ["warn", "silence", "suspend", "ban", "restore"]},
            "until": {
                **OPTIONAL_TEXT,
                "description": "for silence and suspend: a future time with an offset "
                "(absent, null or empty: the ladder decides); ignored for the others",
            },
            "reason": {**OPTIONAL_TEXT, "description": "required, except to restore"},
        },
        "allOf": [
            {
                "if": {"required": ["action"], "properties": {"action": {"const": "restore"}}},
                "else": {"required": ["reason"], "properties": {"reason": text()}},
            },
            {
                "if": {
                    "required": ["action"],
                    "properties": {"action": {"enum": ["silence", "suspend"]}},
                },
                "then": {
                    "properties": {
                        "until": {
                            "anyOf": [
                                {"type": "string", "format": "date-time"},
                                {"enum": ["", None]},
                            ]
                        }
                    }
                },
            },
        ],
    },
)
async def member_action(request: Request) -> Response:
    member, _ = require_member(request)
    data = await read_json(request, max_bytes=request.app.state.settings.max_body_bytes)
    action, until, reason = string_fields(data, "action", optional=("until", "reason"))
    target = await _actions(request).act(
        member, request.path_params["handle"], action, until=until or None, reason=reason
    )
    return JSONResponse(
        {
            "member": member_json(target),
            "status": str(target.status),
            "until": target.status_until.isoformat() if target.status_until else None,
        }
    )


@operation(
    summary="The audit log, newest first (moderators)",
    errors=(403, 422),
    query={"cursor": ID_CURSOR},
    response={"type": "object"},
    tags=("moderation",),
)
async def audit_log(request: Request) -> Response:
    member, _ = require_member(request)
    before = id_cursor(request.query_params.get("cursor"))
    return JSONResponse(await _actions(request).log(member, before))


@operation(
    summary="Watched words (moderators)",
    errors=(403,),
    response={"type": "object"},
    tags=("moderation",),
)
async def list_watched(request: Request) -> Response:
    member, _ = require_member(request)
    return JSONResponse({"items": await _moderation(request).list_watched(member), "next": None})


@operation(
    summary="Watch a word or pattern: block, hold, flag or censor (moderators)",
    status=201,
    errors=(403,),
    tags=("moderation",),
    response={"type": "object"},
    request={
        "type": "object",
        "required": ["pattern", "action"],
        "properties": {
            "pattern": {
                "type": "string",
                "minLength": 1,
                "maxLength": 200,
                "description": "a word or phrase (with a letter or digit), or a regular "
                "expression that cannot match empty text, with no back-reference and no "
                "repeated group holding a quantifier or a |",
            },
            "is_regex": {"type": "boolean"},
            "action": {"type": "string", "enum": ["block", "hold", "flag", "censor"]},
        },
        "if": {"required": ["is_regex"], "properties": {"is_regex": {"const": True}}},
        "then": {"properties": {"pattern": {"format": "regex"}}},
        "else": {"properties": {"pattern": {"pattern": "[^\\W_]"}}},
    },
)
async def add_watched(request: Request) -> Response:
    member, _ = require_member(request)
    data = await read_json(request, max_bytes=request.app.state.settings.max_body_bytes)
    pattern, action = string_fields(data, "pattern", "action")
    is_regex = data.get("is_regex", False)
    if not isinstance(is_regex, bool):
        raise ValidationFailed({"is_regex": ["must be true or false"]})
    row = await _moderation(request).add_watched(member, pattern, is_regex, action)
    return JSONResponse(
        {"id": row.id, "pattern": row.pattern, "is_regex": row.is_regex, "action": row.action},
        status_code=201,
    )


@operation(
    summary="Stop watching a word (moderators)", status=204, errors=(403, 404), tags=("moderation",)
)
async def remove_watched(request: Request) -> Response:
    member, _ = require_member(request)
    await _moderation(request).remove_watched(member, int(request.path_params["id"]))
    return Response(status_code=204)


@operation(
    summary="Claim a review item so no one else works on it (moderators)",
    errors=(403, 404, 409),
    response={"type": "object"},
    tags=("moderation",),
)
async def claim(request: Request) -> Response:
    member, _ = require_member(request)
    moderation = _moderation(request)
    item = await moderation.claim(member, int(request.path_params["id"]))
    return JSONResponse(await moderation.item_with_flags(item))


@operation(
    summary="Give back a claimed review item (your own claim; admins: anyone's)",
    errors=(403, 404, 409),
    response={"type": "object"},
    tags=("moderation",),
)
async def release(request: Request) -> Response:
    member, _ = require_member(request)
    moderation = _moderation(request)
    item = await moderation.release(member, int(request.path_params["id"]))
    return JSONResponse(await moderation.item_with_flags(item))


@operation(
    summary="Appeal a hidden or rejected post of yours, or your silence, once",
    status=201,
    errors=(404, 409),
    tags=("moderation",),
    response={"type": "object"},
    request={
        "type": "object",
        "required": ["target", "note"],
        "properties": {
            "target": {
                "type": "object",
                "description": "a hidden or rejected post of yours by id, or your silence",
                "oneOf": [
                    {
                        "required": ["type", "id"],
                        "properties": {"type": {"const": "post"}, "id": ID},
                        "additionalProperties": False,
                    },
                    {
                        "required": ["type"],
                        "properties": {"type": {"enum": ["silence", "suspension"]}},
                        "additionalProperties": False,
                    },
                ],
            },
            "note": text(description="why it should be looked at again; 2000 are kept"),
        },
    },
)
async def appeal(request: Request) -> Response:
    member, _ = require_member(request)
    data = await read_json(request, max_bytes=request.app.state.settings.max_body_bytes)
    target = _target(data, without_id=("silence", "suspension"))
    (note,) = string_fields(data, optional=("note",))
    item = await _moderation(request).appeal(
        member, str(target.get("type")), target.get("id"), note
    )
    return JSONResponse({"id": item.id, "state": str(item.state)}, status_code=201)


@operation(
    summary="Appeal your suspension or ban, once (with your handle and password, "
    "or signed in on the host site)",
    auth=False,
    status=201,
    errors=(401, 404, 409, 429),
    tags=("moderation",),
    response={"type": "object"},
    request={
        "type": "object",
        "required": ["handle", "password", "note"],
        "properties": {
            "handle": HANDLE_REF,
            "password": {"type": "string", "minLength": 1},
            "note": text(description="why it should be looked at again; 2000 are kept"),
        },
    },
)
async def appeal_suspension(request: Request) -> Response:
    """A suspended member cannot sign in, so the appeal carries the credentials."""
    data = await read_json(request, max_bytes=request.app.state.settings.max_body_bytes)
    community = request.app.state.community
    host_member = current(request).inactive_member
    if host_member is not None and "password" not in data:
        # Signed in on the host site, which vouches for who they are.
        (note,) = string_fields(data, "note")
        member = host_member
    else:
        handle, password, note = string_fields(data, "handle", "password", "note")
        member = await community.accounts.identify(handle, password, ip=client_address(request))
    item = await _moderation(request).appeal(member, "suspension", None, note)
    return JSONResponse({"id": item.id, "state": str(item.state)}, status_code=201)


routes: list[BaseRoute] = [
    Route(
        "/appeals/suspension",
        appeal_suspension,
        methods=["POST"],
        name="api:appeal_suspension",
    ),
    Route("/moderation/queue/{id:int}/claim", claim, methods=["POST"], name="api:claim"),
    Route("/moderation/queue/{id:int}/claim", release, methods=["DELETE"], name="api:release"),
    Route("/appeals", appeal, methods=["POST"], name="api:appeal"),
    Route("/moderation/watched-words", list_watched, methods=["GET"], name="api:list_watched"),
    Route("/moderation/watched-words", add_watched, methods=["POST"], name="api:add_watched"),
    Route(
        "/moderation/watched-words/{id:int}",
        remove_watched,
        methods=["DELETE"],
        name="api:remove_watched",
    ),
    Route("/flags", create_flag, methods=["POST"], name="api:create_flag"),
    Route(
        "/moderation/members/{handle}/actions",
        member_action,
        methods=["POST"],
        name="api:member_action",
    ),
    Route("/moderation/log", audit_log, methods=["GET"], name="api:audit_log"),
    Route("/moderation/queue", queue, methods=["GET"], name="api:moderation_queue"),
    Route("/moderation/queue/{id:int}", decide, methods=["POST"], name="api:moderation_decide"),
]
