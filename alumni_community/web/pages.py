"""HTML pages. Thin: each page asks a service and renders a template.

Every page works without JavaScript. Forms POST back to the page's own
handler; nothing changes state over GET.

CSRF: a signed-in member's forms carry a hidden ``csrf_token`` bound to the
session (the same token the API takes in its header) and a mismatch is
refused with a 403 page. Sign-in and sign-up have no session yet, so they
require the ``Origin`` header (or ``Referer`` when a browser sends no
Origin) to be this site's own origin or one of ``Settings.allowed_origins``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ..errors import CommunityError, CsrfFailed, NotFound, ValidationFailed
from ..identity import tokens
from ..identity.edge import current
from ..identity.models import Member
from ..identity.service import SignedIn
from ..moderation.service import Notice
from ..rooms import service as rooms
from . import board_pages, live_pages, member_pages, moderation_pages
from .forms import (
    accounts_of,
    client_info,
    csrf_ok,
    error_page,
    field_messages,
    member_form,
    no_nul,
    problem_message,
    read_form,
    refused,
    rooms_of,
    same_origin,
    settings_of,
    text,
    to_sign_in,
    with_cookie,
)
from .templating import render

__all__ = ["routes"]


async def index(request: Request) -> Response:
    member = current(request).member
    context = {
        "room_count": await rooms.count_public_rooms(),
        "handle": member.handle if member is not None else None,
    }
    return render(request, "community/index.html", context)


async def _end_previous(request: Request) -> None:
    """A new sign-in replaces the session this browser had."""
    old = current(request).session
    if old is not None:
        await accounts_of(request).log_out(old)


# -- accounts --------------------------------------------------------------------


def _credentials_page(
    request: Request,
    name: str,
    *,
    handle: str = "",
    errors: dict[str, list[str]] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        name,
        {"form_handle": handle, "errors": errors or {}, "message": message},
        status_code=status_code,
    )


async def _credentials_form(
    request: Request, template: str, attempt: Callable[[str, str], Awaitable[SignedIn]]
) -> SignedIn | Response:
    """Sign-up and sign-in: the same-origin check, the form, and refusals next to the fields."""
    if not same_origin(request):
        return error_page(request, CsrfFailed("This form must be sent from this site's own page."))
    form = await read_form(request)
    handle, password = text(form, "handle"), text(form, "password")
    try:
        no_nul(handle=handle, password=password)
        signed = await attempt(handle, password)
    except ValidationFailed as error:
        return _credentials_page(
            request, template, handle=handle, errors=field_messages(error), status_code=error.status
        )
    except CommunityError as error:
        return _credentials_page(
            request,
            template,
            handle=handle,
            message=problem_message(error),
            status_code=error.status,
        )
    await _end_previous(request)
    return signed


async def signup(request: Request) -> Response:
    template = "community/signup.html"
    if request.method in ("GET", "HEAD"):
        return _credentials_page(request, template)
    accounts, client = accounts_of(request), client_info(request)
    signed = await _credentials_form(
        request, template, lambda handle, password: accounts.sign_up(handle, password, **client)
    )
    if isinstance(signed, Response):
        return signed
    response = _signed_in_page(request, signed)
    # Recovery codes are shown once: never cached, never stored by a proxy.
    response.headers["cache-control"] = "no-store"
    return with_cookie(request, response, signed.token)


def _signed_in_page(request: Request, signed: SignedIn) -> Response:
    secret = settings_of(request).secret_key
    assert secret is not None
    return render(
        request,
        "community/signup_done.html",
        {
            "codes": signed.recovery_codes or [],
            # The session is new: the header shows the member it just made.
            "viewer_handle": signed.member.handle,
            "csrf_token": tokens.csrf_token(secret, signed.session.token_hash),
        },
        status_code=201,
    )


async def signin(request: Request) -> Response:
    template = "community/signin.html"
    if request.method in ("GET", "HEAD"):
        return _credentials_page(request, template)
    accounts, client = accounts_of(request), client_info(request)
    signed = await _credentials_form(
        request, template, lambda handle, password: accounts.log_in(handle, password, **client)
    )
    if isinstance(signed, Response):
        return signed
    response = RedirectResponse(str(request.url_for("page:rooms").path), status_code=303)
    return with_cookie(request, response, signed.token)


async def signout(request: Request) -> Response:
    home = RedirectResponse(str(request.url_for("page:index").path), status_code=303)
    state = current(request)
    if state.session is None:
        return home
    form = await read_form(request)
    if not csrf_ok(request, state.session, form):
        return error_page(
            request, CsrfFailed("This form has expired. Go back, reload the page and try again.")
        )
    await accounts_of(request).log_out(state.session)
    return with_cookie(request, home, None)


# -- rooms and threads -------------------------------------------------------------


async def room_list(request: Request) -> Response:
    state = current(request)
    if state.member is None:
        return error_page(request, state.refusal) if state.refusal else to_sign_in(request)
    items = await rooms_of(request).list_rooms(state.member)
    return render(request, "community/rooms.html", {"rooms": items})


async def room_page(
    request: Request,
    member: Member,
    slug: str,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    message: str | None = None,
    notices: list[Notice] | None = None,
    ask_confirm: bool = False,
    chat_form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    """The room: its threads, the new-thread form and the chat panel.

    ``form`` and the rest are the new-thread form's state; ``chat_form`` is
    the chat panel's, after a message sent without JavaScript was refused.
    """
    service = rooms_of(request)
    try:
        room = await service.forum_room(member, slug)
        page = await service.list_threads(member, slug, request.query_params.get("cursor"))
        chat = await live_pages.room_chat(request, member, slug, **(chat_form or {}))
    except CommunityError as error:
        return error_page(request, error)
    return render(
        request,
        "community/room.html",
        {
            "room": service.room_json(room),
            "threads": page.items,
            "next": page.next,
            "form": form or {"title": "", "body": ""},
            "errors": errors or {},
            "message": message,
            "notices": notices or [],
            "ask_confirm": ask_confirm,
            **chat,
        },
        status_code=status_code,
    )


async def room(request: Request) -> Response:
    state = current(request)
    if state.member is None:
        return error_page(request, state.refusal) if state.refusal else to_sign_in(request)
    return await room_page(request, state.member, request.path_params["slug"])


async def create_thread(request: Request) -> Response:
    got = await member_form(request)
    if isinstance(got, Response):
        return got
    member, form = got
    slug = request.path_params["slug"]
    title, body = text(form, "title"), text(form, "body")
    values = {"title": title, "body": body}
    try:
        thread, post, notices = await rooms_of(request).create_thread(
            member, slug, title, body, confirm=form.get("confirm") == "yes"
        )
    except NotFound as error:
        return error_page(request, error)
    except CommunityError as error:
        return await refused(
            request, error, lambda **kw: room_page(request, member, slug, **kw), values
        )
    if notices:
        return await _thread_page(request, member, thread.id, notices=notices, status_code=201)
    url = str(request.url_for("page:thread", id=thread.id).path)
    return RedirectResponse(f"{url}#post-{post.id}", status_code=303)


async def _thread_page(
    request: Request,
    member: Member,
    thread_id: int,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    message: str | None = None,
    notices: list[Notice] | None = None,
    ask_confirm: bool = False,
    status_code: int = 200,
) -> Response:
    service = rooms_of(request)
    try:
        thread, page = await service.thread_page(
            member, thread_id, request.query_params.get("cursor")
        )
    except CommunityError as error:
        return error_page(request, error)
    return render(
        request,
        "community/thread.html",
        {
            "thread": service.thread_json(thread),
            "room": service.room_json(thread.room),
            **await moderation_pages.thread_controls(request, member, thread),
            "posts": page.items,
            "next": page.next,
            "form": form or {"body": ""},
            "errors": errors or {},
            "message": message,
            "notices": notices or [],
            "ask_confirm": ask_confirm,
        },
        status_code=status_code,
    )


async def thread(request: Request) -> Response:
    state = current(request)
    if state.member is None:
        return error_page(request, state.refusal) if state.refusal else to_sign_in(request)
    return await _thread_page(request, state.member, int(request.path_params["id"]))


async def reply(request: Request) -> Response:
    got = await member_form(request)
    if isinstance(got, Response):
        return got
    member, form = got
    thread_id = int(request.path_params["id"])
    body = text(form, "body")
    try:
        post, notices = await rooms_of(request).reply(
            member, thread_id, body, confirm=form.get("confirm") == "yes"
        )
    except NotFound as error:
        return error_page(request, error)
    except CommunityError as error:
        return await refused(
            request,
            error,
            lambda **kw: _thread_page(request, member, thread_id, **kw),
            {"body": body},
        )
    if notices:
        return await _thread_page(request, member, thread_id, notices=notices, status_code=201)
    url = str(request.url_for("page:thread", id=thread_id).path)
    return RedirectResponse(f"{url}#post-{post.id}", status_code=303)


_core: list[BaseRoute] = [
    Route("/", index, methods=["GET"], name="page:index"),
    Route("/signup", signup, methods=["GET", "POST"], name="page:signup"),
    Route("/signin", signin, methods=["GET", "POST"], name="page:signin"),
    Route("/signout", signout, methods=["POST"], name="page:signout"),
    Route("/rooms", room_list, methods=["GET"], name="page:rooms"),
    Route("/rooms/{slug}", room, methods=["GET"], name="page:room"),
    Route("/rooms/{slug}/threads", create_thread, methods=["POST"], name="page:create_thread"),
    Route("/threads/{id:int}", thread, methods=["GET"], name="page:thread"),
    Route("/threads/{id:int}/posts", reply, methods=["POST"], name="page:reply"),
]

routes: list[BaseRoute] = [
    *_core,
    *member_pages.routes,
    *board_pages.routes,
    *moderation_pages.routes,
    *live_pages.routes,
]
