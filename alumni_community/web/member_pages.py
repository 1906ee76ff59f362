"""Pages of a member's own: profile (bio, milestones, sessions, export, erase),
another member's profile, notifications, recovery, the host-bridge handle
picker, and crisis resources.

Thin like the other pages: identity rules (what a bio may say, which dates
count, who may end which session, how a code is checked) are the accounts
service's, notifications are the notifications service's. The pages turn
their answers into HTML, their refusals into words next to the fields.

A person the host says is signed in, but who has no handle here yet, is sent
from these pages to the handle picker (``page:pick_handle``) rather than to
a sign-in form they have no password for.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from typing import Any
from zoneinfo import ZoneInfo

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, NoMatchFound, Route

from ..errors import CommunityError, CsrfFailed, NotFound, ValidationFailed
from ..identity import handles
from ..identity.edge import current
from ..identity.models import Member, Session
from ..moderation.service import Notice
from ..moderation.trust import CrisisResource
from ..notifications.service import Notifications
from ..requests import small_int
from .forms import (
    accounts_of,
    client_info,
    community_of,
    error_page,
    field_messages,
    member_form,
    no_nul,
    problem_message,
    read_form,
    refused,
    same_origin,
    settings_of,
    text,
    to_sign_in,
    with_cookie,
)
from .templating import render

__all__ = ["contact_parts", "routes", "trust_words"]

#: Trust levels as a member reads them: a name and what it means for them.
TRUST_WORDS: dict[int, tuple[str, str]] = {
    0: (
        "New member",
        "Welcome. In some rooms a moderator reads your first posts before others see "
        "them, and a few things (flagging, direct conversations) open up once you have "
        "taken part for a little while.",
    ),
    1: (
        "Member",
        "Your posts appear at once. You can flag what worries you and start direct conversations.",
    ),
    2: (
        "Regular",
        "You have taken part for a while and kept the peace: your flags carry more "
        "weight, and your service listings need no review.",
    ),
    3: (
        "Trusted member",
        "Given by the community's organisers: your flags carry the most weight.",
    ),
}

#: What a finished action says when its page comes back (``?done=...``).
DONE: dict[str, str] = {
    "bio": "Your bio is saved.",
    "milestones": "Your milestone and sharing choices are saved.",
    "timezone": "Your time zone is saved.",
    "password": "Your password is changed. Every other device is signed out.",
    "session": "That device is signed out.",
    "others": "You are signed out everywhere else.",
}

#: A phone number in a crisis resource's contact text: digits, maybe a leading
#: "+", with spaces, dots, dashes or brackets between them ("988", "116 123",
#: "+44 808 808 4994", "1-800-662-4357").
_PHONE = re.compile(r"\+?\(?\d[\d ().-]*\d|\d")


def trust_words(level: int) -> tuple[str, str]:
    """A trust level's name and meaning, in words."""
    return TRUST_WORDS[min(max(level, 0), 3)]


def contact_parts(contact: str) -> list[tuple[str, str | None]]:
    """A resource's contact text in pieces, each phone number with its ``tel:`` link.

    >>> contact_parts("call or text 988")
    [('call or text ', None), ('988', 'tel:988')]
    """
    parts: list[tuple[str, str | None]] = []
    last = 0
    for found in _PHONE.finditer(contact):
        digits = re.sub(r"\D", "", found.group())
        # Shorter is a count ("24/7"); longer is no phone number anywhere.
        if not 3 <= len(digits) <= 15:
            continue
        plus = "+" if found.group().startswith("+") else ""
        parts.append((contact[last : found.start()], None))
        parts.append((found.group(), f"tel:{plus}{digits}"))
        last = found.end()
    parts.append((contact[last:], None))
    return [part for part in parts if part[0]]


# -- who is asking -------------------------------------------------------------------


def _path(request: Request, name: str, **params: Any) -> str:
    return str(request.url_for(name, **params).path)


def _path_or_none(request: Request, name: str, **params: Any) -> str | None:
    """A page's path, or None when this community does not serve that page."""
    try:
        return _path(request, name, **params)
    except NoMatchFound:
        return None


def _redirect(request: Request, name: str, query: str = "", **params: Any) -> Response:
    url = _path(request, name, **params)
    return RedirectResponse(f"{url}?{query}" if query else url, status_code=303)


def _nobody(request: Request) -> Response:
    """The page for a visitor without a member: the refusal, the handle picker, or sign-in."""
    state = current(request)
    if state.refusal is not None:
        return error_page(request, state.refusal)
    if state.host_user_id is not None:
        # Signed in on the host site, no handle here yet: a sign-in form
        # would ask for a password they never had.
        return _redirect(request, "page:pick_handle")
    return to_sign_in(request)


def _viewer(request: Request) -> tuple[Member, Session] | Response:
    state = current(request)
    if state.member is None or state.session is None:
        return _nobody(request)
    return state.member, state.session


async def _form(request: Request) -> tuple[Member, Session, FormData] | Response:
    """The member, their session and their form (CSRF checked), or the response refusing it."""
    if current(request).member is None:
        return _nobody(request)
    got = await member_form(request)
    if isinstance(got, Response):
        return got
    member, form = got
    session = current(request).session
    assert session is not None
    return member, session, form


def _zone(request: Request, member: Member) -> ZoneInfo:
    return ZoneInfo(member.timezone or settings_of(request).timezone)


def _when(stamp: str | dt.datetime, zone: ZoneInfo) -> str:
    """A moment as people read it, in the member's time zone: "3 March 2026, 09:05"."""
    moment = dt.datetime.fromisoformat(stamp) if isinstance(stamp, str) else stamp
    local = moment.astimezone(zone)
    return f"{local.day} {local:%B %Y, %H:%M}"


def _month(joined: str | None) -> str | None:
    """The month joined as people read it: "2026-03" is "March 2026"."""
    if not joined:
        return None
    return dt.date.fromisoformat(joined + "-01").strftime("%B %Y")


def _no_store(response: Response) -> Response:
    # Secrets (recovery codes) and whole-account data must not sit in a cache.
    response.headers["cache-control"] = "no-store"
    return response


async def _end_previous(request: Request) -> None:
    """A new sign-in replaces the session this browser had."""
    old = current(request).session
    if old is not None:
        await accounts_of(request).log_out(old)


# -- my profile ----------------------------------------------------------------------


async def _profile_page(
    request: Request,
    member: Member,
    session: Session,
    *,
    section: str | None = None,
    form: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    message: str | None = None,
    notices: list[Notice] | None = None,
    ask_confirm: bool = False,
    done: str | None = None,
    status_code: int = 200,
) -> Response:
    accounts = accounts_of(request)
    profile = await accounts.profile(member)
    zone = _zone(request, member)
    sessions = [
        {
            **row,
            "last_seen": _when(row["last_seen_at"], zone),
            "since": _when(row["created_at"], zone),
        }
        for row in await accounts.sessions(member, session)
    ]
    values = {
        "bio": profile["bio"],
        "sobriety_date": profile["sobriety_date"] or "",
        "share_milestones": "yes" if profile["share_milestones"] else "",
        "share_service_hours": "yes" if profile["share_service_hours"] else "",
        "timezone": member.timezone,
        **(form or {}),
    }
    done_key = done or request.query_params.get("done", "")
    if done_key == "recovered":
        left = profile["recovery_codes_left"]
        done_message: str | None = (
            "Your new password is set and you are signed in. Every other device is signed "
            f"out. You have {left} unused recovery code{'' if left == 1 else 's'} left."
        )
    else:
        done_message = DONE.get(done_key)
    name, meaning = trust_words(profile["trust_level"])
    return render(
        request,
        "community/profile.html",
        {
            "profile": profile,
            "me": profile["member"],
            "joined": _month(profile["member"]["joined"]),
            "trust_name": name,
            "trust_meaning": meaning,
            "own_timezone": member.timezone,
            "community_timezone": settings_of(request).timezone,
            "today": settings_of(request).now().date().isoformat(),
            "sessions": sessions,
            "others": sum(1 for row in sessions if not row["current"]),
            "section": section,
            "form": values,
            "errors": errors or {},
            "message": message,
            "notices": notices or [],
            "done": done_message,
            "low_on_codes": profile["has_password"] and profile["recovery_codes_left"] <= 3,
        },
        status_code=status_code,
    )


async def profile_page(request: Request) -> Response:
    got = _viewer(request)
    if isinstance(got, Response):
        return got
    member, session = got
    return await _profile_page(request, member, session)


#: Reads one profile form: the changes for the service, and the values to show again.
Changes = Callable[[FormData], tuple[dict[str, Any], dict[str, str]]]


async def _profile_change(request: Request, section: str, read: Changes) -> Response:
    """Apply one profile form's changes through the service; the page again with errors, or PRG."""
    got = await _form(request)
    if isinstance(got, Response):
        return got
    member, session, form = got
    changes, values = read(form)
    try:
        no_nul(**{k: v for k, v in changes.items() if isinstance(v, str)})
        notices = await accounts_of(request).update_profile(member, changes)
    except CommunityError as error:
        if isinstance(error, ValidationFailed):
            _page_words(error)
        return await refused(
            request,
            error,
            lambda **kw: _profile_page(request, member, session, section=section, **kw),
            values,
        )
    if notices:
        # Help for someone who may be in crisis is shown at once, not after a redirect.
        return await _profile_page(
            request,
            member,
            session,
            notices=[Notice(n["kind"], n["html"]) for n in notices],
            done=section,
        )
    return _redirect(request, "page:profile", f"done={section}")


def _page_words(error: ValidationFailed) -> None:
    """The API's wording where a page's form says it otherwise ("null" is an empty field)."""
    for name, messages in error.errors.items():
        error.errors[name] = [m.replace(", or null", ", or left empty") for m in messages]


def _bio(form: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    bio = text(form, "bio")
    return {"bio": bio}, {"bio": bio}


def _milestones(form: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    date = text(form, "sobriety_date").strip()
    share, hours = form.get("share_milestones") == "yes", form.get("share_service_hours") == "yes"
    changes = {
        "sobriety_date": date or None,
        "share_milestones": share,
        "share_service_hours": hours,
    }
    values = {
        "sobriety_date": date,
        "share_milestones": "yes" if share else "",
        "share_service_hours": "yes" if hours else "",
    }
    return changes, values


def _timezone(form: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    zone = text(form, "timezone").strip()
    return {"timezone": zone}, {"timezone": zone}


async def save_bio(request: Request) -> Response:
    return await _profile_change(request, "bio", _bio)


async def save_milestones(request: Request) -> Response:
    return await _profile_change(request, "milestones", _milestones)


async def save_timezone(request: Request) -> Response:
    return await _profile_change(request, "timezone", _timezone)


async def change_password(request: Request) -> Response:
    got = await _form(request)
    if isinstance(got, Response):
        return got
    member, session, form = got
    old, new = text(form, "current_password"), text(form, "new_password")
    try:
        no_nul(current_password=old, new_password=new)
        await accounts_of(request).change_password(member, old, new, keep=session)
    except CommunityError as error:
        # Passwords are never written back into the page.
        return await refused(
            request,
            error,
            lambda **kw: _profile_page(request, member, session, section="password", **kw),
            {},
        )
    return _redirect(request, "page:profile", "done=password")


async def new_codes(request: Request) -> Response:
    got = await _form(request)
    if isinstance(got, Response):
        return got
    member, session, form = got
    password = text(form, "codes_password")
    try:
        no_nul(password=password)
        codes = await accounts_of(request).regenerate_recovery_codes(member, password)
    except CommunityError as error:
        return await refused(
            request,
            error,
            lambda **kw: _profile_page(request, member, session, section="codes", **kw),
            {},
        )
    # Shown once, never stored: no redirect to a page that could show them again.
    return _no_store(render(request, "community/profile_codes.html", {"codes": codes}))


async def export(request: Request) -> Response:
    got = await _form(request)
    if isinstance(got, Response):
        return got
    member, _, _ = got
    data = await accounts_of(request).export(member)
    return _no_store(
        JSONResponse(
            data,
            headers={"content-disposition": 'attachment; filename="my-community-data.json"'},
        )
    )


async def end_session(request: Request) -> Response:
    got = await _form(request)
    if isinstance(got, Response):
        return got
    member, session, _ = got
    public_id = request.path_params["id"]
    accounts = accounts_of(request)
    if public_id == session.public_id:
        # This device: the same as signing out.
        await accounts.log_out(session)
        return with_cookie(request, _redirect(request, "page:index"), None)
    try:
        await accounts.end_session(member, public_id)
    except NotFound as error:
        return error_page(request, error)
    return _redirect(request, "page:profile", "done=session")


async def end_others(request: Request) -> Response:
    got = await _form(request)
    if isinstance(got, Response):
        return got
    member, session, _ = got
    await accounts_of(request).end_other_sessions(member, session)
    return _redirect(request, "page:profile", "done=others")


# -- erasing the account ---------------------------------------------------------------


async def _erase_page(
    request: Request,
    member: Member,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    message: str | None = None,
    notices: list[Notice] | None = None,
    ask_confirm: bool = False,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "community/profile_erase.html",
        {
            "handle": member.handle,
            "has_password": member.password_hash is not None,
            "form": {"confirm_handle": "", "delete_content": "", **(form or {})},
            "errors": errors or {},
            "message": message,
        },
        status_code=status_code,
    )


async def erase(request: Request) -> Response:
    if request.method in ("GET", "HEAD"):
        got = _viewer(request)
        if isinstance(got, Response):
            return got
        return await _erase_page(request, got[0])
    posted = await _form(request)
    if isinstance(posted, Response):
        return posted
    member, _, form = posted
    typed, password = text(form, "confirm_handle"), text(form, "password")
    delete_content = form.get("delete_content") == "yes"
    values = {"confirm_handle": typed, "delete_content": "yes" if delete_content else ""}
    try:
        no_nul(confirm_handle=typed, password=password)
    except ValidationFailed as error:
        return await _erase_page(
            request, member, form=values, errors=field_messages(error), status_code=error.status
        )
    if handles.key(typed) != member.handle_key:
        return await _erase_page(
            request,
            member,
            form=values,
            errors={
                "confirm_handle": ["That is not your handle. Type it exactly as it is shown above."]
            },
            status_code=422,
        )
    try:
        await accounts_of(request).erase(
            member,
            password=password,
            host_signed_in=current(request).host_user_id is not None,
            delete_content=delete_content,
        )
    except CommunityError as error:
        return await refused(
            request, error, lambda **kw: _erase_page(request, member, **kw), values
        )
    return with_cookie(request, _redirect(request, "page:index"), None)


# -- another member ----------------------------------------------------------------------


async def member_page(request: Request) -> Response:
    got = _viewer(request)
    if isinstance(got, Response):
        return got
    viewer, _ = got
    handle = request.path_params["handle"]
    try:
        if "\x00" in handle:
            raise NotFound("No member has that handle.")
        public = await accounts_of(request).public_profile(handle)
    except CommunityError as error:
        return error_page(request, error)
    shown = public["member"]
    own = viewer.handle == shown["handle"]
    return render(
        request,
        "community/member.html",
        {
            "member": shown,
            "bio_html": public["bio_html"],
            "service_hours": public.get("service_hours"),
            "joined": _month(shown["joined"]),
            "own": own,
            "flag_url": None
            if own
            else _path_or_none(request, "page:flag_member", handle=shown["handle"]),
        },
    )


# -- notifications ---------------------------------------------------------------------


def _notifications(request: Request) -> Notifications:
    service: Notifications = community_of(request).notifications
    return service


async def _targets(request: Request, items: Iterable[dict[str, Any]]) -> dict[int, str]:
    """Each notification's link to what it is about, where this community has that page."""
    from ..chat.models import Message
    from ..opportunities.models import Slot
    from ..rooms.models import Post, Room

    wanted: dict[str, set[int]] = {}
    for item in items:
        target = item["target"]
        if target and isinstance(target.get("id"), int):
            wanted.setdefault(target["type"], set()).add(target["id"])
    posts = dict(
        await Post.filter(id__in=list(wanted.get("post", ()))).values_list("id", "thread_id")
    )
    slots = dict(
        await Slot.filter(id__in=list(wanted.get("slot", ()))).values_list("id", "opportunity_id")
    )
    message_rooms = dict(
        await Message.filter(id__in=list(wanted.get("message", ()))).values_list("id", "room_id")
    )
    room_ids = set(wanted.get("room", ())) | set(message_rooms.values())
    rooms = {room.id: room for room in await Room.filter(id__in=list(room_ids))}

    def room_link(room_id: int) -> str | None:
        room = rooms.get(room_id)
        if room is None:
            return None
        if room.direct:
            return _path_or_none(request, "page:conversation", slug=room.slug)
        return _path(request, "page:room", slug=room.slug)

    links: dict[int, str] = {}
    for item in items:
        target = item["target"]
        if not target:
            continue
        kind, ident = target["type"], target["id"]
        link: str | None = None
        if kind == "post" and ident in posts:
            link = _path(request, "page:thread", id=posts[ident]) + f"#post-{ident}"
        elif kind == "slot" and ident in slots:
            link = _path_or_none(request, "page:listing", id=slots[ident])
        elif kind == "opportunity":
            link = _path_or_none(request, "page:listing", id=ident)
        elif kind == "message" and ident in message_rooms:
            link = room_link(message_rooms[ident])
        elif kind == "room":
            link = room_link(ident)
        elif kind == "sponsor_request":
            link = _path_or_none(request, "page:sponsorship")
        if link is not None:
            links[item["id"]] = link
    return links


async def notifications_page(request: Request) -> Response:
    got = _viewer(request)
    if isinstance(got, Response):
        return got
    member, _ = got
    service = _notifications(request)
    cursor = request.query_params.get("cursor") or None
    message, status_code = None, 200
    try:
        page = await service.page(member, cursor)
    except ValidationFailed:
        # A page link from long ago, or typed by hand: the newest are the useful answer.
        message, status_code = "That page of notifications is not there. Here are the newest.", 422
        cursor, page = None, await service.page(member, None)
    zone = _zone(request, member)
    links = await _targets(request, page["items"])
    items = [
        {**item, "when": _when(item["created_at"], zone), "link": links.get(item["id"])}
        for item in page["items"]
    ]
    return render(
        request,
        "community/notifications.html",
        {
            "items": items,
            "next": page["next"],
            "unread": page["unread"],
            "cursor": cursor or "",
            "message": message,
        },
        status_code=status_code,
    )


def _back_to_notifications(request: Request, form: FormData) -> Response:
    cursor = text(form, "cursor")
    # Only a cursor this list gives out goes back into the URL.
    query = f"cursor={cursor}" if small_int(cursor) is not None else ""
    return _redirect(request, "page:notifications", query)


async def read_all(request: Request) -> Response:
    got = await _form(request)
    if isinstance(got, Response):
        return got
    member, _, form = got
    await _notifications(request).mark_read(member, None, True)
    return _back_to_notifications(request, form)


async def read_one(request: Request) -> Response:
    got = await _form(request)
    if isinstance(got, Response):
        return got
    member, _, form = got
    ident = int(request.path_params["id"])  # the router takes only ids a row can have
    # Someone else's id is ignored by the service: nothing to tell apart.
    await _notifications(request).mark_read(member, [ident], False)
    return _back_to_notifications(request, form)


# -- recovering the account ------------------------------------------------------------


def _recover_page(
    request: Request,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    return _no_store(
        render(
            request,
            "community/recover.html",
            {
                "form": {"handle": "", "recovery_code": "", **(form or {})},
                "errors": errors or {},
                "message": message,
            },
            status_code=status_code,
        )
    )


async def recover(request: Request) -> Response:
    if request.method in ("GET", "HEAD"):
        return _recover_page(request)
    if not same_origin(request):
        return error_page(request, CsrfFailed("This form must be sent from this site's own page."))
    form = await read_form(request)
    handle, code = text(form, "handle"), text(form, "recovery_code")
    new_password = text(form, "new_password")
    values = {"handle": handle, "recovery_code": code}
    try:
        no_nul(handle=handle, recovery_code=code, new_password=new_password)
        signed = await accounts_of(request).recover(
            handle, code, new_password, **client_info(request)
        )
    except ValidationFailed as error:
        return _recover_page(
            request, form=values, errors=field_messages(error), status_code=error.status
        )
    except CommunityError as error:
        response = _recover_page(
            request, form=values, message=problem_message(error), status_code=error.status
        )
        for name, value in error.headers().items():
            response.headers[name] = value
        return response
    await _end_previous(request)
    response = _redirect(request, "page:profile", "done=recovered")
    return with_cookie(request, response, signed.token)


# -- the host bridge: choosing a handle ------------------------------------------------


def _pick_page(
    request: Request,
    *,
    handle: str = "",
    errors: dict[str, list[str]] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "community/pick_handle.html",
        {"form": {"handle": handle}, "errors": errors or {}, "message": message},
        status_code=status_code,
    )


async def pick_handle(request: Request) -> Response:
    state = current(request)
    if state.member is not None:
        return _redirect(request, "page:rooms")
    if state.refusal is not None:
        return error_page(request, state.refusal)
    if state.host_user_id is None:
        # Not signed in on the host site: this community's own sign-in.
        return to_sign_in(request)
    if request.method in ("GET", "HEAD"):
        return _pick_page(request)
    # No session yet, so no CSRF token: the form must come from our own page.
    if not same_origin(request):
        return error_page(request, CsrfFailed("This form must be sent from this site's own page."))
    form = await read_form(request)
    handle = text(form, "handle")
    try:
        no_nul(handle=handle)
        signed = await accounts_of(request).claim_handle(
            state.host_user_id, handle, state.host_role, **client_info(request)
        )
    except ValidationFailed as error:
        return _pick_page(
            request, handle=handle, errors=field_messages(error), status_code=error.status
        )
    except CommunityError as error:
        response = _pick_page(
            request, handle=handle, message=problem_message(error), status_code=error.status
        )
        for name, value in error.headers().items():
            response.headers[name] = value
        return response
    return with_cookie(request, _redirect(request, "page:rooms"), signed.token)


# -- crisis resources --------------------------------------------------------------------


def _resource(resource: CrisisResource) -> dict[str, Any]:
    return {"name": resource.name, "url": resource.url, "parts": contact_parts(resource.contact)}


async def crisis(request: Request) -> Response:
    # Open to everyone, signed in or not, suspended or not: help is never behind a login.
    resources = [_resource(r) for r in settings_of(request).crisis_resources]
    return render(request, "community/crisis.html", {"resources": resources})


routes: list[BaseRoute] = [
    Route("/me", profile_page, methods=["GET"], name="page:profile"),
    Route("/me/bio", save_bio, methods=["POST"], name="page:profile_bio"),
    Route("/me/milestones", save_milestones, methods=["POST"], name="page:profile_milestones"),
    Route("/me/timezone", save_timezone, methods=["POST"], name="page:profile_timezone"),
    Route("/me/password", change_password, methods=["POST"], name="page:profile_password"),
    Route("/me/recovery-codes", new_codes, methods=["POST"], name="page:profile_codes"),
    Route("/me/export", export, methods=["POST"], name="page:profile_export"),
    Route("/me/sessions/others/end", end_others, methods=["POST"], name="page:end_other_sessions"),
    Route("/me/sessions/{id}/end", end_session, methods=["POST"], name="page:end_session"),
    Route("/me/erase", erase, methods=["GET", "POST"], name="page:erase_account"),
    Route("/members/{handle}", member_page, methods=["GET"], name="page:member"),
    Route("/notifications", notifications_page, methods=["GET"], name="page:notifications"),
    Route("/notifications/read", read_all, methods=["POST"], name="page:notifications_read"),
    Route(
        "/notifications/{id:int}/read", read_one, methods=["POST"], name="page:notification_read"
    ),
    Route("/recover", recover, methods=["GET", "POST"], name="page:recover"),
    Route("/welcome", pick_handle, methods=["GET", "POST"], name="page:pick_handle"),
    Route("/crisis", crisis, methods=["GET"], name="page:crisis"),
]
