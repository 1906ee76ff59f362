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

from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ..errors import (
    CommunityError,
    CsrfFailed,
    IdentifyingDetails,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ValidationFailed,
)
from ..identity import tokens
from ..identity.edge import (
    client_address,
    client_label,
    current,
    session_cookie_header,
)
from ..identity.models import Member, Session
from ..identity.service import Accounts, SignedIn
from ..moderation.service import Notice
from ..rooms import service as rooms
from ..rooms.service import Rooms
from ..settings import Settings
from .templating import render

__all__ = ["routes"]

#: Field names as people read them, for messages like "Handle is taken".
_LABELS = {
    "handle": "Handle",
    "password": "Password",
    "title": "Title",
    "body": "Your message",
    "confirm": "Publish anyway",
    "cursor": "Page",
}
_VERB_STARTS = ("is ", "are ", "must ", "may ", "looks ", "contains ", "has ")


async def index(request: Request) -> Response:
    member = current(request).member
    context = {
        "room_count": await rooms.count_public_rooms(),
        "handle": member.handle if member is not None else None,
    }
    return render(request, "community/index.html", context)


# -- helpers ---------------------------------------------------------------------


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _accounts(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.community.accounts
    return accounts


def _rooms(request: Request) -> Rooms:
    service: Rooms = request.app.state.community.rooms
    return service


def field_messages(error: ValidationFailed) -> dict[str, list[str]]:
    """Each field's messages as sentences: "Handle is taken", "Title: 1 to 200 characters"."""
    out: dict[str, list[str]] = {}
    for name, messages in error.errors.items():
        label = _LABELS.get(name, name.replace("_", " ").capitalize())
        out[name] = [
            f"{label} {m}" if m.startswith(_VERB_STARTS) else f"{label}: {m}" for m in messages
        ]
    return out


def _problem_message(error: CommunityError) -> str:
    """A refusal in human words (never its code)."""
    if isinstance(error, RateLimited):
        seconds = error.retry_after
        wait = (
            f"{seconds} second{'s' if seconds != 1 else ''}"
            if seconds < 120
            else f"{(seconds + 59) // 60} minutes"
        )
        return f"That was a lot in a short time. Please wait {wait} and try again."
    if isinstance(error, IdentifyingDetails):
        return error.detail.replace(
            "send again with confirm: true to publish anyway",
            'tick "publish anyway" and send again',
        )
    return error.detail


def _error_notices(error: CommunityError) -> list[Notice]:
    """Notices a refusal still carries (crisis resources above all); their html is the server's."""
    return [Notice(n["kind"], n["html"]) for n in error.notices]


def error_page(request: Request, error: CommunityError) -> Response:
    response = render(
        request,
        "community/error.html",
        {"error": error, "ref": None},
        status_code=error.status,
    )
    for name, value in error.headers().items():
        response.headers[name] = value
    return response


def _to_sign_in(request: Request) -> Response:
    return RedirectResponse(str(request.url_for("page:signin").path), status_code=303)


async def _form(request: Request) -> FormData:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > _settings(request).max_body_bytes:
        raise PayloadTooLarge()
    return await request.form()


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _no_nul(**values: str) -> None:
    """PostgreSQL cannot store NUL in text, and no person types one (as the API refuses it)."""
    with_nul = [name for name, value in values.items() if "\x00" in value]
    if with_nul:
        raise ValidationFailed({name: ["must not contain NUL characters"] for name in with_nul})


def _same_origin(request: Request) -> bool:
    """The form came from one of our own pages (or an origin the host allows)."""
    offered = request.headers.get("origin")
    if offered is None or offered == "null":
        referer = request.headers.get("referer")
        if not referer:
            return False
        parts = urlsplit(referer)
        offered = f"{parts.scheme}://{parts.netloc}"
    own = f"{request.url.scheme}://{request.url.netloc}"
    return offered == own or offered in _settings(request).allowed_origins


def _csrf_ok(request: Request, session: Session, form: FormData) -> bool:
    secret = _settings(request).secret_key
    assert secret is not None
    return tokens.csrf_matches(secret, session.token_hash, _text(form, "csrf_token") or None)


async def _member_form(request: Request) -> tuple[Member, FormData] | Response:
    """The signed-in member and their form, or the response refusing it."""
    state = current(request)
    if state.member is None or state.session is None:
        if state.refusal is not None:
            return error_page(request, state.refusal)
        return _to_sign_in(request)
    form = await _form(request)
    if not _csrf_ok(request, state.session, form):
        return error_page(
            request,
            CsrfFailed("This form has expired. Go back, reload the page and send it again."),
        )
    return state.member, form


def _client(request: Request) -> dict[str, str]:
    return {
        "ip": client_address(request),
        "client": client_label(request.headers.get("user-agent", "")),
    }


def _with_cookie(request: Request, response: Response, token: str | None) -> Response:
    response.headers.append(
        "set-cookie", session_cookie_header(_settings(request), request.scope, token)
    )
    return response


async def _end_previous(request: Request) -> None:
    """A new sign-in replaces the session this browser had."""
    old = current(request).session
    if old is not None:
        await _accounts(request).log_out(old)


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


async def signup(request: Request) -> Response:
    if request.method == "GET":
        return _credentials_page(request, "community/signup.html")
    if not _same_origin(request):
        return error_page(request, CsrfFailed("This form must be sent from this site's own page."))
    form = await _form(request)
    handle, password = _text(form, "handle"), _text(form, "password")
    try:
        _no_nul(handle=handle, password=password)
        signed = await _accounts(request).sign_up(handle, password, **_client(request))
    except ValidationFailed as error:
        return _credentials_page(
            request,
            "community/signup.html",
            handle=handle,
            errors=field_messages(error),
            status_code=error.status,
        )
    except CommunityError as error:
        return _credentials_page(
            request,
            "community/signup.html",
            handle=handle,
            message=_problem_message(error),
            status_code=error.status,
        )
    await _end_previous(request)
    response = _signed_in_page(request, signed)
    # Recovery codes are shown once: never cached, never stored by a proxy.
    response.headers["cache-control"] = "no-store"
    return _with_cookie(request, response, signed.token)


def _signed_in_page(request: Request, signed: SignedIn) -> Response:
    secret = _settings(request).secret_key
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
    if request.method == "GET":
        return _credentials_page(request, "community/signin.html")
    if not _same_origin(request):
        return error_page(request, CsrfFailed("This form must be sent from this site's own page."))
    form = await _form(request)
    handle, password = _text(form, "handle"), _text(form, "password")
    try:
        _no_nul(handle=handle, password=password)
        signed = await _accounts(request).log_in(handle, password, **_client(request))
    except ValidationFailed as error:
        return _credentials_page(
            request,
            "community/signin.html",
            handle=handle,
            errors=field_messages(error),
            status_code=error.status,
        )
    except CommunityError as error:
        return _credentials_page(
            request,
            "community/signin.html",
            handle=handle,
            message=_problem_message(error),
            status_code=error.status,
        )
    await _end_previous(request)
    response = RedirectResponse(str(request.url_for("page:rooms").path), status_code=303)
    return _with_cookie(request, response, signed.token)


async def signout(request: Request) -> Response:
    home = RedirectResponse(str(request.url_for("page:index").path), status_code=303)
    state = current(request)
    if state.session is None:
        return home
    form = await _form(request)
    if not _csrf_ok(request, state.session, form):
        return error_page(
            request, CsrfFailed("This form has expired. Go back, reload the page and try again.")
        )
    await _accounts(request).log_out(state.session)
    return _with_cookie(request, home, None)


# -- rooms and threads -------------------------------------------------------------


async def room_list(request: Request) -> Response:
    state = current(request)
    if state.member is None:
        return error_page(request, state.refusal) if state.refusal else _to_sign_in(request)
    items = await _rooms(request).list_rooms(state.member)
    return render(request, "community/rooms.html", {"rooms": items})


async def _room_page(
    request: Request,
    member: Member,
    slug: str,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    message: str | None = None,
    notices: list[Notice] | None = None,
    ask_confirm: bool = False,
    status_code: int = 200,
) -> Response:
    service = _rooms(request)
    try:
        room = await service.forum_room(member, slug)
        page = await service.list_threads(member, slug, request.query_params.get("cursor"))
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
        },
        status_code=status_code,
    )


async def room(request: Request) -> Response:
    state = current(request)
    if state.member is None:
        return error_page(request, state.refusal) if state.refusal else _to_sign_in(request)
    return await _room_page(request, state.member, request.path_params["slug"])


async def create_thread(request: Request) -> Response:
    got = await _member_form(request)
    if isinstance(got, Response):
        return got
    member, form = got
    slug = request.path_params["slug"]
    title, body = _text(form, "title"), _text(form, "body")
    values = {"title": title, "body": body}
    try:
        thread, post, notices = await _rooms(request).create_thread(
            member, slug, title, body, confirm=form.get("confirm") == "yes"
        )
    except NotFound as error:
        return error_page(request, error)
    except CommunityError as error:
        return await _refused(
            request, error, lambda **kw: _room_page(request, member, slug, **kw), values
        )
    if notices:
        return await _thread_page(request, member, thread.id, notices=notices, status_code=201)
    url = str(request.url_for("page:thread", id=thread.id).path)
    return RedirectResponse(f"{url}#post-{post.id}", status_code=303)


async def _refused(
    request: Request, error: CommunityError, again: Any, values: dict[str, str]
) -> Response:
    """Show the form again with what was wrong, keeping what the member wrote."""
    errors = field_messages(error) if isinstance(error, ValidationFailed) else {}
    message = None if errors else _problem_message(error)
    response: Response = await again(
        form=values,
        errors=errors,
        message=message,
        notices=_error_notices(error),
        ask_confirm=isinstance(error, IdentifyingDetails),
        status_code=error.status,
    )
    for name, value in error.headers().items():
        response.headers[name] = value
    return response


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
    service = _rooms(request)
    try:
        thread, page = await service.thread_page(
            member, thread_id, request.query_params.get("cursor")
        )
    except CommunityError as error:
        return error_page(request, error)
    await thread.fetch_related("author")
    return render(
        request,
        "community/thread.html",
        {
            "thread": service.thread_json(thread),
            "room": service.room_json(thread.room),
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
        return error_page(request, state.refusal) if state.refusal else _to_sign_in(request)
    return await _thread_page(request, state.member, int(request.path_params["id"]))


async def reply(request: Request) -> Response:
    got = await _member_form(request)
    if isinstance(got, Response):
        return got
    member, form = got
    thread_id = int(request.path_params["id"])
    body = _text(form, "body")
    try:
        post, notices = await _rooms(request).reply(
            member, thread_id, body, confirm=form.get("confirm") == "yes"
        )
    except NotFound as error:
        return error_page(request, error)
    except CommunityError as error:
        return await _refused(
            request,
            error,
            lambda **kw: _thread_page(request, member, thread_id, **kw),
            {"body": body},
        )
    if notices:
        return await _thread_page(request, member, thread_id, notices=notices, status_code=201)
    url = str(request.url_for("page:thread", id=thread_id).path)
    return RedirectResponse(f"{url}#post-{post.id}", status_code=303)


routes: list[BaseRoute] = [
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
