"""The moderators' pages: the review queue, appeals, member actions, watched
words and the audit log; and, for every member, the flag forms and the edit
form of a post.

Thin like the other pages: every rule (who may see the queue, who may act on
whom, what a flag weighs, who may edit a post) is the services'. A refusal
shows the page again with the reason in words, or, for something that is not
there, the 404 page. Non-moderators get the services' own refusal (403).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ..errors import CommunityError, NotFound, ValidationFailed
from ..identity.models import Member
from ..moderation.actions import ACTIONS
from ..moderation.service import Notice
from ..requests import small_int
from ..rooms.models import Thread
from .forms import (
    community_of,
    error_page,
    field_messages,
    member_form,
    no_nul,
    problem_message,
    refused,
    rooms_of,
    settings_of,
    signed_in,
    text,
)
from .templating import render

if TYPE_CHECKING:
    pass

__all__ = ["routes", "thread_controls"]

#: The queue's views: the service's three states, and the appeals among the open items.
VIEWS = ("open", "claimed", "resolved", "appeals")
DECISIONS = ("approve", "reject", "escalate")

#: A silence's or suspension's length, as the member-action form offers it.
#: "" leaves it to the service's ladder (longer for each one before).
LENGTHS: dict[str, tuple[str, dt.timedelta | None]] = {
    "": ("By their record", None),
    "1h": ("1 hour", dt.timedelta(hours=1)),
    "1d": ("1 day", dt.timedelta(days=1)),
    "3d": ("3 days", dt.timedelta(days=3)),
    "7d": ("7 days", dt.timedelta(days=7)),
    "30d": ("30 days", dt.timedelta(days=30)),
}

#: Flag reasons, in the order the form offers them, with what each is for.
FLAG_REASONS: tuple[tuple[str, str, str], ...] = (
    ("spam", "Spam", "Advertising, scams, or links that have nothing to do with recovery."),
    ("harassment", "Harassment", "Attacks, threats, or cruelty aimed at someone."),
    (
        "identifying",
        "Reveals who someone is",
        "A real name, phone number, address or workplace: anything that could out someone.",
    ),
    (
        "crisis",
        "Someone may be in danger",
        "The writer may be about to hurt themselves or someone else. A moderator is told at "
        "once, at the top of their queue. The words stay up, so the person can still be "
        "reached and answered.",
    ),
    ("other", "Something else", "Say what is wrong in the note below."),
)

#: Labels for field messages on these pages ("Word or pattern is not valid").
_LABELS = {
    "pattern": "Word or pattern",
    "action": "Action",
    "reason": "Reason",
    "note": "Note",
    "until": "Length",
    "length": "Length",
    "decision": "Decision",
    "target": "This",
    "body": "Your message",
}


def _messages(error: ValidationFailed) -> dict[str, list[str]]:
    """Each field's messages as sentences, next to a field whose label says the rest."""
    return field_messages(error, _LABELS, beside_label=True)


def _split(
    error: CommunityError, shown: tuple[str, ...]
) -> tuple[dict[str, list[str]], str | None]:
    """Field messages for the fields the form shows, and the rest as one sentence."""
    if not isinstance(error, ValidationFailed):
        return {}, problem_message(error)
    messages = _messages(error)
    placed = {name: m for name, m in messages.items() if name in shown}
    rest = [m for name, ms in messages.items() if name not in shown for m in ms]
    return placed, (" ".join(rest) or None)


def _redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


def _path(request: Request, name: str, **params: Any) -> str:
    return str(request.url_for(name, **params).path)


def _post_id(request: Request) -> int:
    return int(request.path_params["id"])


# -- the queue -----------------------------------------------------------------


def _view_url(request: Request, view: str) -> str:
    if view == "appeals":
        return _path(request, "page:mod_appeals")
    base = _path(request, "page:moderation")
    return base if view == "open" else f"{base}?status={view}"


async def _queue_page(
    request: Request,
    member: Member,
    view: str,
    *,
    failed: dict[str, Any] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    moderation = community_of(request).moderation
    try:
        if view == "appeals":
            # Appeals wait among the open and claimed items; this view gathers them.
            items = [
                item
                for state in ("open", "claimed")
                for item in await moderation.queue(member, state)
                if item["kind"] == "appeal"
            ]
        else:
            items = await moderation.queue(member, view)
    except CommunityError as error:
        return error_page(request, error)
    done = request.query_params.get("done", "")
    done_item = request.query_params.get("item", "")
    return render(
        request,
        "community/mod_queue.html",
        {
            "view": view,
            "items": items,
            "urgent": sum(1 for i in items if i["urgency"] >= 100),
            "failed": failed or {"id": None, "errors": {}, "note": ""},
            "message": message,
            "done": done if done in (*DECISIONS, "claim", "release") else "",
            "done_item": small_int(done_item),
        },
        status_code=status_code,
    )


async def queue(request: Request) -> Response:
    member = signed_in(request)
    if isinstance(member, Response):
        return member
    view = request.query_params.get("status", "open")
    return await _queue_page(request, member, view if view in VIEWS[:3] else "open")


async def appeals(request: Request) -> Response:
    member = signed_in(request)
    if isinstance(member, Response):
        return member
    return await _queue_page(request, member, "appeals")


async def _item_action(request: Request, what: str) -> Response:
    """Claim, release or decide one item, then back to the view the form was on."""
    got = await member_form(request)
    if isinstance(got, Response):
        return got
    member, form = got
    item_id = _post_id(request)
    back = text(form, "back")
    view = back if back in VIEWS else "open"
    decision, note = text(form, "decision"), text(form, "note")
    moderation = community_of(request).moderation
    try:
        if what == "claim":
            await moderation.claim(member, item_id)
        elif what == "release":
            await moderation.release(member, item_id)
        else:
            no_nul(note=note)
            await moderation.decide(member, item_id, decision, note)
    except NotFound as error:
        return error_page(request, error)
    except CommunityError as error:
        errors, message = _split(error, ("note",))
        response = await _queue_page(
            request,
            member,
            view,
            failed={"id": item_id, "errors": errors, "note": note},
            # The sentence is shown at the top as well: the item may have left this view.
            message=message or " ".join(m for ms in errors.values() for m in ms),
            status_code=error.status,
        )
        for name, value in error.headers().items():
            response.headers[name] = value
        return response
    done = what if what != "decide" else decision
    url = _view_url(request, view)
    joiner = "&" if "?" in url else "?"
    return _redirect(f"{url}{joiner}done={done}&item={item_id}#item-{item_id}")


async def claim(request: Request) -> Response:
    return await _item_action(request, "claim")


async def release(request: Request) -> Response:
    return await _item_action(request, "release")


async def decide(request: Request) -> Response:
    return await _item_action(request, "decide")


# -- members ---------------------------------------------------------------------


async def _member_page(
    request: Request,
    moderator: Member,
    handle: str,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    community = community_of(request)
    try:
        standing = await community.actions.standing(moderator, handle)
    except CommunityError as error:
        return error_page(request, error)
    done = request.query_params.get("done", "")
    ladder = community.settings.trust.penalty_ladder_days
    return render(
        request,
        "community/mod_member.html",
        {
            "standing": standing,
            "actions": ACTIONS,
            "lengths": [(value, label) for value, (label, _) in LENGTHS.items()],
            "ladder": ", ".join(str(days) for days in ladder),
            "form": form or {"action": "", "length": "", "reason": ""},
            "errors": errors or {},
            "message": message,
            "done": done if done in ACTIONS else "",
        },
        status_code=status_code,
    )


async def find_member(request: Request) -> Response:
    """A handle typed in the lookup form: off to that member's page (nothing changes)."""
    member = signed_in(request)
    if isinstance(member, Response):
        return member
    handle = request.query_params.get("handle", "").strip()
    if not handle:
        return _redirect(_path(request, "page:moderation"))
    try:
        standing = await community_of(request).actions.standing(member, handle)
    except CommunityError as error:
        return error_page(request, error)
    found = standing["member"]["handle"]
    return _redirect(_path(request, "page:mod_member", handle=found))


async def member_page(request: Request) -> Response:
    member = signed_in(request)
    if isinstance(member, Response):
        return member
    return await _member_page(request, member, request.path_params["handle"])


def _until(now: dt.datetime, length: str) -> str | None:
    if length not in LENGTHS:
        raise ValidationFailed({"length": ["choose one of the lengths offered"]})
    delta = LENGTHS[length][1]
    return (now + delta).isoformat() if delta is not None else None


async def member_action(request: Request) -> Response:
    got = await member_form(request)
    if isinstance(got, Response):
        return got
    moderator, form = got
    handle = request.path_params["handle"]
    action, length, reason = text(form, "action"), text(form, "length"), text(form, "reason")
    values = {"action": action, "length": length, "reason": reason}
    try:
        no_nul(reason=reason)
        until = _until(settings_of(request).now(), length)
        target = await community_of(request).actions.act(
            moderator, handle, action, until=until, reason=reason
        )
    except NotFound as error:
        return error_page(request, error)
    except CommunityError as error:
        errors, message = _split(error, ("action", "length", "until", "reason"))
        if "until" in errors:
            errors.setdefault("length", []).extend(errors.pop("until"))
        return await _member_page(
            request,
            moderator,
            handle,
            form=values,
            errors=errors,
            message=message,
            status_code=error.status,
        )
    url = _path(request, "page:mod_member", handle=target.handle or handle)
    return _redirect(f"{url}?done={action}")


# -- watched words -----------------------------------------------------------------


async def _watched_page(
    request: Request,
    member: Member,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    try:
        words = await community_of(request).moderation.list_watched(member)
    except CommunityError as error:
        return error_page(request, error)
    done = request.query_params.get("done", "")
    return render(
        request,
        "community/mod_watched.html",
        {
            "words": words,
            "form": form or {"pattern": "", "is_regex": "", "action": "flag"},
            "errors": errors or {},
            "message": message,
            "done": done if done in ("added", "removed") else "",
        },
        status_code=status_code,
    )


async def watched(request: Request) -> Response:
    if request.method in ("GET", "HEAD"):
        member = signed_in(request)
        if isinstance(member, Response):
            return member
        return await _watched_page(request, member)
    got = await member_form(request)
    if isinstance(got, Response):
        return got
    member, form = got
    pattern, action = text(form, "pattern"), text(form, "action")
    is_regex = text(form, "is_regex") == "yes"
    values = {"pattern": pattern, "is_regex": "yes" if is_regex else "", "action": action}
    try:
        no_nul(pattern=pattern)
        await community_of(request).moderation.add_watched(member, pattern, is_regex, action)
    except CommunityError as error:
        errors, message = _split(error, ("pattern", "action"))
        return await _watched_page(
            request, member, form=values, errors=errors, message=message, status_code=error.status
        )
    return _redirect(_path(request, "page:mod_watched") + "?done=added")


async def unwatch(request: Request) -> Response:
    got = await member_form(request)
    if isinstance(got, Response):
        return got
    member, _ = got
    try:
        await community_of(request).moderation.remove_watched(member, _post_id(request))
    except CommunityError as error:
        return error_page(request, error)
    return _redirect(_path(request, "page:mod_watched") + "?done=removed")


# -- the audit log -------------------------------------------------------------------


async def audit_log(request: Request) -> Response:
    member = signed_in(request)
    if isinstance(member, Response):
        return member
    raw = request.query_params.get("cursor")
    try:
        before = small_int(raw) if raw else None
        if raw and before is None:
            raise ValidationFailed(
                {"cursor": ["is not a cursor this list gave out"]},
                "That page link is not one this log gave out. Start again from the newest entries.",
            )
        page = await community_of(request).actions.log(member, before)
    except CommunityError as error:
        return error_page(request, error)
    return render(
        request,
        "community/mod_log.html",
        {"entries": page["items"], "next": page["next"], "first_page": raw is None},
    )


# -- flags -------------------------------------------------------------------------


async def _flaggable_post(request: Request, member: Member, post_id: int) -> dict[str, Any]:
    """The post as its flag form shows it (404 when the member may not see it)."""
    rooms = rooms_of(request)
    post = await rooms.visible_post(member, post_id)
    thread = post.thread
    return {"post": rooms.post_json(post), "thread": {"id": thread.id, "title": thread.title}}


async def _flag_page(
    request: Request,
    member: Member,
    kind: str,
    ident: str,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    community = community_of(request)
    sent = request.query_params.get("sent") == "1"
    target: dict[str, Any] | None
    try:
        if kind == "post":
            try:
                target = await _flaggable_post(request, member, int(ident))
            except NotFound:
                if not sent:
                    raise
                # The flag that was just sent hid the post: thank them all the same.
                target = None
            action = _path(request, "page:flag_post", id=int(ident))
        else:
            if "\x00" in ident:
                raise NotFound("No member has that handle.")
            target = await community.accounts.public_profile(ident)
            action = _path(request, "page:flag_member", handle=ident)
    except CommunityError as error:
        return error_page(request, error)
    return render(
        request,
        "community/flag.html",
        {
            "kind": kind,
            "target": target,
            "action": action,
            "reasons": FLAG_REASONS,
            "resources": community.settings.crisis_resources,
            "form": form or {"reason": "", "note": ""},
            "errors": errors or {},
            "message": message,
            "sent": sent,
        },
        status_code=status_code,
    )


async def _flag(request: Request, kind: str, ident: str) -> Response:
    if request.method in ("GET", "HEAD"):
        member = signed_in(request)
        if isinstance(member, Response):
            return member
        return await _flag_page(request, member, kind, ident)
    got = await member_form(request)
    if isinstance(got, Response):
        return got
    member, form = got
    reason, note = text(form, "reason"), text(form, "note")
    values = {"reason": reason, "note": note}
    target: int | str = int(ident) if kind == "post" else ident
    try:
        no_nul(note=note)
        await community_of(request).actions.flag(member, kind, target, reason, note)
    except NotFound as error:
        return error_page(request, error)
    except CommunityError as error:
        errors, message = _split(error, ("reason", "note"))
        response = await _flag_page(
            request,
            member,
            kind,
            ident,
            form=values,
            errors=errors,
            message=message,
            status_code=error.status,
        )
        for name, value in error.headers().items():
            response.headers[name] = value
        return response
    return _redirect(str(request.url.path) + "?sent=1")


async def flag_post(request: Request) -> Response:
    return await _flag(request, "post", str(_post_id(request)))


async def flag_member(request: Request) -> Response:
    return await _flag(request, "member", request.path_params["handle"])


# -- editing a post ----------------------------------------------------------------


async def _edit_page(
    request: Request,
    member: Member,
    post_id: int,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    message: str | None = None,
    notices: list[Notice] | None = None,
    ask_confirm: bool = False,
    saved: bool = False,
    status_code: int = 200,
) -> Response:
    rooms = rooms_of(request)
    try:
        # The service's own test of who may change a post (author, room moderators).
        post = await rooms.editable_post(member, post_id)
    except CommunityError as error:
        return error_page(request, error)
    thread = post.thread
    return render(
        request,
        "community/post_edit.html",
        {
            "post": rooms.post_json(post),
            "own": post.author_id == member.id,
            "thread": {"id": thread.id, "title": thread.title},
            "room": rooms.room_json(thread.room),
            "form": form or {"body": post.body},
            "errors": errors or {},
            "message": message,
            "notices": notices or [],
            "ask_confirm": ask_confirm,
            "saved": saved,
        },
        status_code=status_code,
    )


async def edit_post(request: Request) -> Response:
    post_id = _post_id(request)
    if request.method in ("GET", "HEAD"):
        member = signed_in(request)
        if isinstance(member, Response):
            return member
        return await _edit_page(request, member, post_id)
    got = await member_form(request)
    if isinstance(got, Response):
        return got
    member, form = got
    body = text(form, "body")
    try:
        post, notices = await rooms_of(request).edit_post(
            member, post_id, body, confirm=form.get("confirm") == "yes"
        )
    except NotFound as error:
        return error_page(request, error)
    except CommunityError as error:
        return await refused(
            request,
            error,
            lambda **kw: _edit_page(request, member, post_id, **kw),
            {"body": body},
        )
    if notices:
        # Held again, crisis help, or details published as confirmed: said here, plainly.
        return await _edit_page(
            request, member, post_id, form={"body": post.body}, notices=notices, saved=True
        )
    url = _path(request, "page:thread", id=post.thread_id)
    return _redirect(f"{url}#post-{post.id}")


# -- for the thread page -------------------------------------------------------------


async def thread_controls(request: Request, member: Member, thread: Thread) -> dict[str, Any]:
    """What the thread page needs to offer each post's Edit link to its room's moderators."""
    return {"may_moderate_room": await rooms_of(request).is_room_moderator(member, thread.room)}


# -- a member's appeal of their own post ----------------------------------------------


async def _appeal_page(
    request: Request,
    member: Member,
    post_id: int,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    message: str | None = None,
    status_code: int = 200,
    **_: Any,  # what ``refused`` passes that this form has no use for (notices, confirm)
) -> Response:
    rooms = rooms_of(request)
    try:
        post = await community_of(request).moderation.appealable_post(member, post_id)
    except CommunityError as error:
        return error_page(request, error)
    return render(
        request,
        "community/appeal.html",
        {
            "post": rooms.post_json(post),
            "thread": {"id": post.thread.id, "title": post.thread.title},
            "form": form or {"note": ""},
            "errors": errors or {},
            "message": message,
            "sent": request.query_params.get("sent") == "1",
        },
        status_code=status_code,
    )


async def appeal_post(request: Request) -> Response:
    """A member asks, once, for a different moderator to look again at their post."""
    post_id = _post_id(request)
    if request.method in ("GET", "HEAD"):
        member = signed_in(request)
        if isinstance(member, Response):
            return member
        return await _appeal_page(request, member, post_id)
    got = await member_form(request)
    if isinstance(got, Response):
        return got
    member, form = got
    note = text(form, "note")
    try:
        no_nul(note=note)
        await community_of(request).moderation.appeal(member, "post", post_id, note)
    except NotFound as error:
        return error_page(request, error)
    except CommunityError as error:
        return await refused(
            request,
            error,
            lambda **kw: _appeal_page(request, member, post_id, **kw),
            {"note": note},
        )
    return _redirect(str(request.url.path) + "?sent=1")


routes: list[BaseRoute] = [
    Route("/moderation", queue, methods=["GET"], name="page:moderation"),
    Route("/moderation/appeals", appeals, methods=["GET"], name="page:mod_appeals"),
    Route("/moderation/items/{id:int}/claim", claim, methods=["POST"], name="page:mod_claim"),
    Route("/moderation/items/{id:int}/release", release, methods=["POST"], name="page:mod_release"),
    Route("/moderation/items/{id:int}/decide", decide, methods=["POST"], name="page:mod_decide"),
    Route("/moderation/members", find_member, methods=["GET"], name="page:mod_find_member"),
    Route("/moderation/members/{handle}", member_page, methods=["GET"], name="page:mod_member"),
    Route(
        "/moderation/members/{handle}/actions",
        member_action,
        methods=["POST"],
        name="page:mod_member_action",
    ),
    Route("/moderation/watched-words", watched, methods=["GET", "POST"], name="page:mod_watched"),
    Route(
        "/moderation/watched-words/{id:int}/remove",
        unwatch,
        methods=["POST"],
        name="page:mod_unwatch",
    ),
    Route("/moderation/log", audit_log, methods=["GET"], name="page:mod_log"),
    Route("/posts/{id:int}/flag", flag_post, methods=["GET", "POST"], name="page:flag_post"),
    Route("/posts/{id:int}/edit", edit_post, methods=["GET", "POST"], name="page:edit_post"),
    Route("/posts/{id:int}/appeal", appeal_post, methods=["GET", "POST"], name="page:appeal_post"),
    Route("/members/{handle}/flag", flag_member, methods=["GET", "POST"], name="page:flag_member"),
]
