"""HTTP routes of identity: accounts, sessions, the member's own profile. Thin."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..errors import HandleNeeded, NotAuthenticated, ValidationFailed
from ..openapi import HANDLE_REF, operation
from ..requests import read_json, string_fields
from . import handles, passwords, tokens
from .edge import (
    client_address,
    client_label,
    current,
    require_member,
    session_cookie_header,
)
from .service import MAX_BIO_CHARS, Accounts, SignedIn, member_json

__all__ = ["routes"]

MEMBER = {
    "type": "object",
    "required": ["handle", "role", "joined", "milestone"],
    "properties": {
        "handle": {"type": ["string", "null"]},
        "role": {"type": "string", "enum": ["member", "moderator", "admin"]},
        "joined": {"type": ["string", "null"], "description": "YYYY-MM"},
        "milestone": {"type": ["object", "null"]},
    },
}
SIGNED_IN = {
    "type": "object",
    "required": ["member", "csrf_token"],
    "properties": {
        "member": MEMBER,
        "csrf_token": {"type": "string"},
        "recovery_codes": {"type": "array", "items": {"type": "string"}},
    },
}
#: A handle being chosen (``handles.validate``). The pattern is the ASCII
#: part of the rule; letters of other alphabets are taken too, one alphabet a
#: handle, and the handle must be free and not look like a taken one.
NEW_HANDLE = {
    "type": "string",
    "minLength": handles.MIN_LENGTH,
    "maxLength": handles.MAX_LENGTH,
    "pattern": "^(?:[0-9][0-9_-]*)?[A-Za-z](?:[A-Za-z0-9_-]*[A-Za-z0-9])?$",
    "description": "3 to 32 letters, digits, _ and -, with a letter, starting and ending "
    "with a letter or digit",
}
#: A password being set (``passwords.check_policy``): also not a common
#: password, nor the handle.
NEW_PASSWORD = {
    "type": "string",
    "minLength": passwords.MIN_LENGTH,
    "maxLength": passwords.MAX_BYTES,
    "description": f"at least {passwords.MIN_LENGTH} characters, at most "
    f"{passwords.MAX_BYTES} bytes in UTF-8",
}
#: A password being checked: any text (a wrong one is 401).
PASSWORD = {"type": "string", "minLength": 1}
#: Optional text the reader takes as absent when it is null.
OPTIONAL_PASSWORD = {"type": ["string", "null"]}
CREDENTIALS = {
    "type": "object",
    "required": ["handle", "password"],
    "properties": {"handle": HANDLE_REF, "password": PASSWORD},
}


def _accounts(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.community.accounts
    return accounts


async def _body(request: Request) -> dict[str, Any]:
    return await read_json(request, max_bytes=request.app.state.settings.max_body_bytes)


def _signed_in(request: Request, signed: SignedIn, status: int = 200) -> Response:
    body: dict[str, Any] = {
        "member": member_json(signed.member),
        "csrf_token": tokens.csrf_token(
            request.app.state.settings.secret_key, signed.session.token_hash
        ),
    }
    if signed.recovery_codes is not None:
        body["recovery_codes"] = signed.recovery_codes
    response = JSONResponse(body, status_code=status)
    response.headers.append(
        "set-cookie", session_cookie_header(request.app.state.settings, request.scope, signed.token)
    )
    return response


async def _end_previous(request: Request) -> None:
    """A new sign-in replaces the session this browser had: the old one dies server-side."""
    old = current(request).session
    if old is not None:
        await _accounts(request).log_out(old)


def _signed_out(request: Request) -> Response:
    """204, and the browser forgets the session cookie."""
    response = Response(status_code=204)
    response.headers.append(
        "set-cookie", session_cookie_header(request.app.state.settings, request.scope, None)
    )
    return response


def _client(request: Request) -> dict[str, str]:
    return {
        "ip": client_address(request),
        "client": client_label(request.headers.get("user-agent", "")),
    }


@operation(
    summary="Create an account (handle and password) and sign in",
    auth=False,
    status=201,
    request={
        "type": "object",
        "required": ["handle", "password"],
        "properties": {"handle": NEW_HANDLE, "password": NEW_PASSWORD},
    },
    response=SIGNED_IN,
    errors=(403, 429),
    tags=("accounts",),
)
async def create_account(request: Request) -> Response:
    handle, password = string_fields(await _body(request), "handle", "password")
    signed = await _accounts(request).sign_up(handle, password, **_client(request))
    await _end_previous(request)
    return _signed_in(request, signed, 201)


@operation(
    summary="Choose a handle as a user signed in on the host site",
    auth=False,
    status=201,
    response=SIGNED_IN,
    errors=(401, 403, 429),
    tags=("accounts",),
    request={"type": "object", "required": ["handle"], "properties": {"handle": NEW_HANDLE}},
)
async def claim_host_handle(request: Request) -> Response:
    state = current(request)
    if state.host_user_id is None:
        raise NotAuthenticated("Sign in on the host site first.")
    (handle,) = string_fields(await _body(request), "handle")
    signed = await _accounts(request).claim_handle(
        state.host_user_id, handle, state.host_role, **_client(request)
    )
    return _signed_in(request, signed, 201)


@operation(
    summary="Sign in with handle and password",
    auth=False,
    request=CREDENTIALS,
    response=SIGNED_IN,
    errors=(401, 403, 429),
    tags=("sessions",),
)
async def create_session(request: Request) -> Response:
    handle, password = string_fields(await _body(request), "handle", "password")
    signed = await _accounts(request).log_in(handle, password, **_client(request))
    await _end_previous(request)
    return _signed_in(request, signed)


@operation(
    summary="The signed-in member and their CSRF token", response=SIGNED_IN, tags=("sessions",)
)
async def get_session(request: Request) -> Response:
    state = current(request)
    if state.member is None and state.host_user_id is not None and state.refusal is None:
        raise HandleNeeded("You are signed in on the site; choose a handle to join.")
    member, session = require_member(request)
    return JSONResponse(
        {
            "member": member_json(member),
            "csrf_token": tokens.csrf_token(
                request.app.state.settings.secret_key, session.token_hash
            ),
        }
    )


@operation(
    summary="Sign out: the session ends on the server",
    status=204,
    errors=(403,),
    tags=("sessions",),
)
async def delete_session(request: Request) -> Response:
    _, session = require_member(request)
    await _accounts(request).log_out(session)
    return _signed_out(request)


@operation(
    summary="Reset the password with a recovery code; other sessions end",
    auth=False,
    response=SIGNED_IN,
    errors=(401, 403, 429),
    tags=("sessions",),
    request={
        "type": "object",
        "required": ["handle", "recovery_code", "new_password"],
        "properties": {
            "handle": HANDLE_REF,
            "recovery_code": {"type": "string", "minLength": 1},
            "new_password": NEW_PASSWORD,
        },
    },
)
async def recover(request: Request) -> Response:
    handle, code, new_password = string_fields(
        await _body(request), "handle", "recovery_code", "new_password"
    )
    signed = await _accounts(request).recover(handle, code, new_password, **_client(request))
    await _end_previous(request)
    return _signed_in(request, signed)


@operation(
    summary="The member's sessions, newest activity first",
    tags=("sessions",),
    response={
        "type": "object",
        "properties": {"items": {"type": "array"}, "next": {"type": ["string", "null"]}},
    },
)
async def list_sessions(request: Request) -> Response:
    member, session = require_member(request)
    # A member has a handful of sessions: one page, always the last.
    items = await _accounts(request).sessions(member, session)
    return JSONResponse({"items": items, "next": None})


@operation(summary="End every session but this one", status=204, errors=(403,), tags=("sessions",))
async def end_other_sessions(request: Request) -> Response:
    member, session = require_member(request)
    await _accounts(request).end_other_sessions(member, session)
    return Response(status_code=204)


@operation(summary="End one session", status=204, errors=(403, 404), tags=("sessions",))
async def end_session(request: Request) -> Response:
    member, session = require_member(request)
    public_id = request.path_params["id"]
    if public_id == session.public_id:
        return await delete_session(request)
    await _accounts(request).end_session(member, public_id)
    return Response(status_code=204)


@operation(summary="The member's own profile", tags=("profile",), response={"type": "object"})
async def get_me(request: Request) -> Response:
    member, _ = require_member(request)
    return JSONResponse(await _accounts(request).profile(member))


@operation(
    summary="Change bio, sobriety date or whether milestones are shared",
    tags=("profile",),
    errors=(400, 403, 413, 422),
    response={"type": "object"},
    request={
        "type": "object",
        "properties": {
            "bio": {"type": "string", "maxLength": MAX_BIO_CHARS},
            "sobriety_date": {
                "type": ["string", "null"],
                "format": "date",
                "description": "not in the future, 1900 or later",
            },
            "share_milestones": {"type": "boolean"},
            "share_service_hours": {"type": "boolean"},
            "timezone": {
                "type": "string",
                "maxLength": 64,
                "description": "an IANA time zone such as Europe/London; empty: the community's",
            },
        },
    },
)
async def patch_me(request: Request) -> Response:
    member, _ = require_member(request)
    accounts = _accounts(request)
    notices = await accounts.update_profile(member, await _body(request))
    profile = await accounts.profile(member)
    if notices:
        profile["notices"] = notices
    return JSONResponse(profile)


@operation(
    summary="Change the password; other sessions end",
    status=204,
    errors=(400, 401, 429),
    tags=("profile",),
    request={
        "type": "object",
        "required": ["current_password", "new_password"],
        "properties": {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    },
)
async def change_password(request: Request) -> Response:
    member, session = require_member(request)
    current_password, new_password = string_fields(
        await _body(request), "current_password", "new_password"
    )
    await _accounts(request).change_password(member, current_password, new_password, keep=session)
    return Response(status_code=204)


@operation(
    summary="New recovery codes (the old ones stop working)",
    status=201,
    errors=(400, 401, 429),
    tags=("profile",),
    request={"type": "object", "properties": {"password": OPTIONAL_PASSWORD}},
    response={
        "type": "object",
        "properties": {"recovery_codes": {"type": "array", "items": {"type": "string"}}},
    },
)
async def regenerate_codes(request: Request) -> Response:
    member, _ = require_member(request)
    (password,) = string_fields(await _body(request), optional=("password",))
    codes = await _accounts(request).regenerate_recovery_codes(member, password)
    return JSONResponse({"recovery_codes": codes}, status_code=201)


@operation(
    summary="Everything the community holds about you, as JSON",
    tags=("profile",),
    response={"type": "object"},
)
async def export_me(request: Request) -> Response:
    member, _ = require_member(request)
    data = await _accounts(request).export(member)
    return JSONResponse(
        data, headers={"content-disposition": 'attachment; filename="my-community-data.json"'}
    )


@operation(
    summary="Erase your account (content stays as 'former member' unless asked)",
    status=204,
    errors=(400, 401, 429),
    tags=("profile",),
    request={
        "type": "object",
        "properties": {"password": OPTIONAL_PASSWORD, "delete_content": {"type": "boolean"}},
    },
)
async def erase_me(request: Request) -> Response:
    member, _ = require_member(request)
    data = await _body(request)
    delete_content = data.get("delete_content", False)
    if not isinstance(delete_content, bool):
        raise ValidationFailed({"delete_content": ["must be true or false"]})
    (password,) = string_fields(data, optional=("password",))
    await _accounts(request).erase(
        member,
        password=password,
        host_signed_in=current(request).host_user_id is not None,
        delete_content=delete_content,
    )
    return _signed_out(request)


@operation(
    summary="A member's public profile",
    errors=(404,),
    tags=("members",),
    response={"type": "object", "properties": {"member": MEMBER, "bio_html": {"type": "string"}}},
)
async def get_member(request: Request) -> Response:
    require_member(request)
    return JSONResponse(await _accounts(request).public_profile(request.path_params["handle"]))


@operation(
    summary="Members celebrating a milestone this month (those who share them)",
    response={
        "type": "object",
        "required": ["items", "next"],
        "properties": {"items": {"type": "array"}, "next": {"type": "null"}},
    },
    tags=("profile",),
)
async def celebrating(request: Request) -> Response:
    member, _ = require_member(request)
    items = await _accounts(request).celebrating(member)
    return JSONResponse({"items": items, "next": None})


routes: list[BaseRoute] = [
    Route("/accounts", create_account, methods=["POST"], name="api:create_account"),
    Route("/accounts/host", claim_host_handle, methods=["POST"], name="api:claim_host_handle"),
    Route("/session", create_session, methods=["POST"], name="api:create_session"),
    Route("/session", get_session, methods=["GET"], name="api:get_session"),
    Route("/session", delete_session, methods=["DELETE"], name="api:delete_session"),
    Route("/session/recover", recover, methods=["POST"], name="api:recover"),
    Route("/sessions", list_sessions, methods=["GET"], name="api:list_sessions"),
    Route("/sessions", end_other_sessions, methods=["DELETE"], name="api:end_other_sessions"),
    Route("/sessions/{id}", end_session, methods=["DELETE"], name="api:end_session"),
    Route("/me", get_me, methods=["GET"], name="api:get_me"),
    Route("/me", patch_me, methods=["PATCH"], name="api:patch_me"),
    Route("/me", erase_me, methods=["DELETE"], name="api:erase_me"),
    Route("/me/password", change_password, methods=["POST"], name="api:change_password"),
    Route("/me/recovery-codes", regenerate_codes, methods=["POST"], name="api:regenerate_codes"),
    Route("/me/export", export_me, methods=["GET"], name="api:export_me"),
    Route("/members/{handle}", get_member, methods=["GET"], name="api:get_member"),
    Route("/milestones/celebrating", celebrating, methods=["GET"], name="api:celebrating"),
]
