"""The pages with live chat: the chat panel of a room, direct conversations, and meetings.

The chat panel shows a room's recent messages from the server, so it reads
without JavaScript, and sends through a plain form (``POST
/rooms/{slug}/messages``) whose hidden ``client_id`` makes a form sent twice
one message. With JavaScript, ``static/chat_panel.js`` takes over: the same
history, then live messages over the page's one WebSocket (``static/live.js``).

Thin like the other pages: who may read or write a room, start or leave a
conversation, block someone, or schedule a meeting is the services' to say.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import secrets
from typing import Any
from zoneinfo import ZoneInfo

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ..chat import protocol
from ..chat.models import Block
from ..chat.service import Chat
from ..content import render_markdown
from ..errors import CommunityError, NotFound, ValidationFailed
from ..identity import tokens
from ..identity.models import Member
from ..meetings.models import Meeting
from ..meetings.service import TYPE_CODES, Meetings
from ..moderation.service import Notice
from ..rooms.models import Room, RoomMembership
from .forms import (
    community_of,
    error_page,
    member_form,
    no_nul,
    refused,
    rooms_of,
    settings_of,
    signed_in,
    text,
)
from .templating import render

__all__ = ["room_chat", "routes"]

#: Messages a page shows before the live ones: as many as a subscription without ``since``.
HISTORY = 50
#: Weekday names by the Meeting Guide's numbers (0 = Sunday).
WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
#: How far ahead a meeting's own page lists its dates.
MEETING_DATES_AHEAD = dt.timedelta(days=28)
#: What the meetings page lists: from what may still be going on to a week ahead (as the API).
LIST_FROM = dt.timedelta(hours=2)
LIST_SPAN = dt.timedelta(days=7)
#: Meeting form fields the service reads as text.
MEETING_TEXT = ("name", "time", "end_time", "timezone", "location", "conference_url")
MEETING_MORE = ("conference_phone", "notes")


def _chat(request: Request) -> Chat:
    return community_of(request).chat


def _meetings(request: Request) -> Meetings:
    return community_of(request).meetings


def _new_client_id() -> str:
    return "p-" + secrets.token_hex(12)


def _zone(request: Request, member: Member) -> ZoneInfo:
    return _meetings(request).zone_of(member)


# -- the chat panel ---------------------------------------------------------------------


async def _panel(
    request: Request,
    member: Member,
    room: Room,
    *,
    label: str,
    form: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    message: str | None = None,
    notices: list[Notice] | None = None,
    ask_confirm: bool = False,
    closed: str | None = None,
    client_id: str | None = None,
) -> dict[str, Any]:
    """What ``chat_panel.html`` shows: the recent messages, and the form as it was sent."""
    chat = _chat(request)
    rows = await chat.messages(member, room, limit=HISTORY)
    reactions = await chat.reactions([m.id for m in rows])
    zone = _zone(request, member)
    messages = []
    for row in rows:
        data = chat.message_json(
            row, room.slug, reactions=reactions.get(row.id), client_id=row.author_id == member.id
        )
        data["time"] = row.created_at.astimezone(zone).strftime("%d %b %H:%M")
        data["own"] = row.author_id == member.id
        messages.append(data)
    if closed is None and room.archived:
        closed = "This room is archived: its chat can be read but not written in."
    return {
        "slug": room.slug,
        "label": label,
        "messages": messages,
        "form": form or {"body": ""},
        "errors": errors or {},
        "message": message,
        "notices": notices or [],
        "ask_confirm": ask_confirm,
        "closed": closed,
        # A form sent twice (a double click, a resend after a timeout) is one message.
        "client_id": client_id or _new_client_id(),
    }


async def room_chat(request: Request, member: Member, slug: str, **kw: Any) -> dict[str, Any]:
    """The ``chat`` a room page's chat panel shows (server-side history for the no-JS case).

    For the room page's handler: ``{**context, **await room_chat(request, member, slug)}``.
    """
    room = await _chat(request).room(member, slug)
    return {"chat": await _panel(request, member, room, label="Message to the room", **kw)}


async def _room_page(request: Request, member: Member, slug: str, **kw: Any) -> Response:
    """The room page with its chat panel: after a chat message sent without JavaScript."""
    from .pages import room_page  # the room page is the forum's; it includes this panel

    status_code = kw.pop("status_code", 200)
    return await room_page(request, member, slug, chat_form=kw, status_code=status_code)


def _body_problems(slug: str, body: str, client_id: str) -> None:
    """The protocol's rules for a message body (not blank, at most 4,000 characters, no NUL)."""
    frame = json.dumps({"type": "send", "room": slug, "body": body, "client_id": client_id})
    try:
        protocol.parse(frame, max_bytes=len(frame.encode("utf-8", "surrogatepass")) + 1)
    except protocol.FrameError as error:
        detail = error.detail.removeprefix("field 'body' ")
        raise ValidationFailed({"body": [detail]}) from None


async def send_message(request: Request) -> Response:
    got = await member_form(request)
    if isinstance(got, Response):
        return got
    member, form = got
    slug = request.path_params["slug"]
    chat = _chat(request)
    try:
        room = await chat.room(member, slug)
    except CommunityError as error:
        return error_page(request, error)
    body = text(form, "body")
    client_id = text(form, "client_id")
    if not protocol.CLIENT_ID.fullmatch(client_id):
        client_id = _new_client_id()

    async def again(**kw: Any) -> Response:
        kw.setdefault("client_id", client_id)
        if room.direct:
            return await _conversation_page(request, member, room.slug, **kw)
        return await _room_page(request, member, room.slug, **kw)

    try:
        no_nul(body=body)
        _body_problems(room.slug, body, client_id)
        sent = await chat.send(
            member, room.slug, body, client_id, confirm=form.get("confirm") == "yes"
        )
    except NotFound as error:
        return error_page(request, error)
    except CommunityError as error:
        return await refused(request, error, again, {"body": body})
    if sent.notices:
        # Crisis resources and "held for review" are read on the page, not lost in a redirect.
        return await again(notices=sent.notices, client_id=_new_client_id(), status_code=201)
    name = "page:conversation" if room.direct else "page:room"
    url = str(request.url_for(name, slug=room.slug).path)
    return RedirectResponse(f"{url}#msg-{sent.message.seq}", status_code=303)


# -- direct conversations ----------------------------------------------------------------------


async def _conversations_page(
    request: Request,
    member: Member,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    message: str | None = None,
    status_code: int = 200,
    **_: Any,
) -> Response:
    items = await _chat(request).direct_rooms(member)
    return render(
        request,
        "community/conversations.html",
        {
            "conversations": items,
            "form": form or {"handle": ""},
            "errors": errors or {},
            "message": message,
        },
        status_code=status_code,
    )


async def conversations(request: Request) -> Response:
    member = signed_in(request)
    if isinstance(member, Response):
        return member
    return await _conversations_page(request, member)


async def start_conversation(request: Request) -> Response:
    got = await member_form(request)
    if isinstance(got, Response):
        return got
    member, form = got
    handle = text(form, "handle").strip()
    try:
        no_nul(handle=handle)
        if not handle:
            raise ValidationFailed({"handle": ["is required"]})
        room = await _chat(request).start_direct(member, handle)
    except CommunityError as error:
        return await refused(
            request,
            error,
            lambda **kw: _conversations_page(request, member, **kw),
            {"handle": handle},
        )
    url = str(request.url_for("page:conversation", slug=room.slug).path)
    return RedirectResponse(url, status_code=303)


async def _conversation(request: Request, member: Member, slug: str) -> tuple[Room, dict[str, Any]]:
    """The member's own conversation and who it is with; 404 for anyone else's."""
    chat = _chat(request)
    mine = next((c for c in await chat.direct_rooms(member) if c["slug"] == slug), None)
    if mine is None:
        raise NotFound("No such conversation.")
    room = await chat.room(member, slug)
    return room, mine


async def _conversation_page(request: Request, member: Member, slug: str, **kw: Any) -> Response:
    status_code = kw.pop("status_code", 200)
    try:
        room, mine = await _conversation(request, member, slug)
    except CommunityError as error:
        return error_page(request, error)
    other = mine["with"]
    other_id = (
        await RoomMembership.filter(room_id=room.id)
        .exclude(member_id=member.id)
        .values_list("member_id", flat=True)
    )
    blocked = (
        bool(other_id) and await Block.filter(member_id=member.id, blocked_id=other_id[0]).exists()
    )
    closed = None
    if other is None:
        closed = "The other member has left this conversation: it can be read, not written in."
    elif blocked:
        closed = f"You have blocked {other['handle']}: neither of you can write here."
    label = f"Message to {other['handle']}" if other and other["handle"] else "Message"
    chat = await _panel(request, member, room, label=label, closed=closed, **kw)
    return render(
        request,
        "community/conversation.html",
        {"conversation": mine, "other": other, "blocked": blocked, "chat": chat},
        status_code=status_code,
    )


async def conversation(request: Request) -> Response:
    member = signed_in(request)
    if isinstance(member, Response):
        return member
    return await _conversation_page(request, member, request.path_params["slug"])


async def leave_conversation(request: Request) -> Response:
    got = await member_form(request)
    if isinstance(got, Response):
        return got
    member, _ = got
    slug = request.path_params["slug"]
    try:
        await _conversation(request, member, slug)
        await _chat(request).leave_direct(member, slug)
    except CommunityError as error:
        return error_page(request, error)
    return RedirectResponse(str(request.url_for("page:conversations").path), status_code=303)


async def block_member(request: Request) -> Response:
    """Block (or, with ``unblock``, unblock) the other member of a conversation."""
    got = await member_form(request)
    if isinstance(got, Response):
        return got
    member, form = got
    slug = request.path_params["slug"]
    try:
        _, mine = await _conversation(request, member, slug)
        other = mine["with"]
        if other is None or not other["handle"]:
            raise NotFound("The other member has left this conversation.")
        await _chat(request).block(member, other["handle"], blocked=form.get("unblock") != "yes")
    except CommunityError as error:
        return error_page(request, error)
    url = str(request.url_for("page:conversation", slug=slug).path)
    return RedirectResponse(url, status_code=303)


# -- meetings ---------------------------------------------------------------------------------


def _may_host(request: Request, member: Member) -> bool:
    return _meetings(request).may_host(member)


def _occurrence(item: dict[str, Any]) -> dict[str, Any]:
    """An occurrence from the service, with its times as a person reads them."""
    starts = dt.datetime.fromisoformat(item["starts_at"])
    ends = dt.datetime.fromisoformat(item["ends_at"])
    return {
        **item,
        "day_label": f"{starts:%A} {starts.day} {starts:%B}",
        "time_label": f"{starts:%H:%M} to {ends:%H:%M}",
        "types_label": [TYPE_CODES.get(code, code) for code in item["meeting"]["types"]],
    }


def _calendar_link(request: Request, member: Member) -> str:
    secret = settings_of(request).secret_key
    assert secret is not None
    return f"{request.url_for('api:meetings_ics')}?key={tokens.calendar_key(secret, member.id)}"


async def meetings(request: Request) -> Response:
    member = signed_in(request)
    if isinstance(member, Response):
        return member
    now = settings_of(request).now()
    items = await _meetings(request).occurrences(member, now - LIST_FROM, now + LIST_SPAN)
    # What ended in the last two hours is neither now nor next.
    later = [i for i in items if dt.datetime.fromisoformat(i["starts_at"]) > now]
    return render(
        request,
        "community/meetings.html",
        {
            "now_on": [_occurrence(i) for i in items if i["in_progress"]],
            "next_up": [_occurrence(i) for i in later if not i["in_progress"]],
            "zone": str(_zone(request, member)),
            "may_host": _may_host(request, member),
            "calendar_link": _calendar_link(request, member),
        },
    )


async def _meeting_or_404(request: Request, meeting_id: int) -> Meeting:
    return await _meetings(request).get(meeting_id)


async def meeting(request: Request) -> Response:
    member = signed_in(request)
    if isinstance(member, Response):
        return member
    service = _meetings(request)
    try:
        found = await _meeting_or_404(request, int(request.path_params["id"]))
    except CommunityError as error:
        return error_page(request, error)
    now = settings_of(request).now()
    dates = [
        _occurrence(item)
        for item in await service.occurrences(member, now - LIST_FROM, now + MEETING_DATES_AHEAD)
        if item["meeting"]["id"] == found.id
    ]
    data = service.meeting_json(found)
    return render(
        request,
        "community/meeting.html",
        {
            "meeting": data,
            "days_label": ", ".join(WEEKDAYS[d] for d in data["day"]),
            "types_label": [TYPE_CODES.get(code, code) for code in data["types"]],
            "notes_html": render_markdown(found.notes) if found.notes else "",
            "dates": dates,
            "zone": str(_zone(request, member)),
            "may_host": _may_host(request, member),
        },
    )


def _meeting_form_values(form: FormData) -> dict[str, Any]:
    """The form as it was filled in, to show again."""
    values: dict[str, Any] = {name: text(form, name) for name in (*MEETING_TEXT, *MEETING_MORE)}
    values["day"] = [str(d) for d in form.getlist("day")]
    values["types"] = [str(t) for t in form.getlist("types")]
    values["public"] = form.get("public") == "yes"
    values["room"] = text(form, "room")
    return values


def _meeting_data(values: dict[str, Any]) -> dict[str, Any]:
    """The form's values as the service takes them (as the API's JSON would carry them)."""
    data = {name: values[name] for name in (*MEETING_TEXT, *MEETING_MORE)}
    data["day"] = [
        int(d) if d.isascii() and d.isdigit() and len(d) < 3 else d for d in values["day"]
    ]
    data["types"] = values["types"]
    data["public"] = values["public"]
    data["room"] = values["room"] or None
    return data


def _meeting_values(meeting: dict[str, Any], notes: str) -> dict[str, Any]:
    """A meeting's fields as the edit form shows them (the stored text is escaped)."""
    return {
        "name": html.unescape(meeting["name"]),
        "time": meeting["time"],
        "end_time": meeting["end_time"],
        "timezone": meeting["timezone"],
        "location": html.unescape(meeting["location"]),
        "conference_url": meeting["conference_url"] or "",
        "conference_phone": meeting["conference_phone"] or "",
        "notes": notes,
        "day": [str(d) for d in meeting["day"]],
        "types": list(meeting["types"]),
        "public": meeting["public"],
        "room": meeting["room"] or "",
    }


#: Field messages the meeting form shows instead of the API's (which name JSON values).
MEETING_WORDS = {
    "day": "Choose at least one day of the week.",
    "types": "Choose the meeting's types from the list.",
    "room": "Choose a room from the list.",
    "time": "Starts at: a time such as 19:00, on the 24-hour clock.",
    "end_time": "Ends at: a time such as 20:00, on the 24-hour clock.",
}


async def _meeting_form(
    request: Request,
    member: Member,
    *,
    meeting_id: int | None = None,
    form: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
    message: str | None = None,
    status_code: int = 200,
    **_: Any,
) -> Response:
    rooms = [
        r
        for r in await rooms_of(request).list_rooms(member)
        if r["visibility"] == "members" and not r["archived"]
    ]
    blank = {
        **{name: "" for name in (*MEETING_TEXT, *MEETING_MORE)},
        "timezone": str(_zone(request, member)),
        "day": [],
        "types": [],
        "public": False,
        "room": "",
    }
    shown = dict(errors or {})
    for name, words in MEETING_WORDS.items():
        if name in shown:
            shown[name] = [words]
    return render(
        request,
        "community/meeting_form.html",
        {
            "meeting_id": meeting_id,
            "page_title": "Edit the meeting" if meeting_id else "Schedule a meeting",
            "form": form or blank,
            "errors": shown,
            "message": message,
            "rooms": rooms,
            "weekdays": list(enumerate(WEEKDAYS)),
            "type_codes": sorted(TYPE_CODES.items(), key=lambda kv: kv[1].lower()),
        },
        status_code=status_code,
    )


async def new_meeting(request: Request) -> Response:
    member = signed_in(request)
    if isinstance(member, Response):
        return member
    try:
        _meetings(request).ensure_may_host(member)
    except CommunityError as error:
        return error_page(request, error)
    return await _meeting_form(request, member)


async def create_meeting(request: Request) -> Response:
    got = await member_form(request)
    if isinstance(got, Response):
        return got
    member, form = got
    values = _meeting_form_values(form)
    try:
        no_nul(**{k: v for k, v in values.items() if isinstance(v, str)})
        made = await _meetings(request).create(member, _meeting_data(values))
    except CommunityError as error:
        return await refused(
            request, error, lambda **kw: _meeting_form(request, member, **kw), values
        )
    url = str(request.url_for("page:meeting", id=made.id).path)
    return RedirectResponse(url, status_code=303)


async def edit_meeting(request: Request) -> Response:
    member = signed_in(request)
    if isinstance(member, Response):
        return member
    meeting_id = int(request.path_params["id"])
    service = _meetings(request)
    try:
        service.ensure_may_host(member)
        found = await _meeting_or_404(request, meeting_id)
    except CommunityError as error:
        return error_page(request, error)
    shown = _meeting_values(service.meeting_json(found), found.notes)
    return await _meeting_form(request, member, meeting_id=meeting_id, form=shown)


async def update_meeting(request: Request) -> Response:
    got = await member_form(request)
    if isinstance(got, Response):
        return got
    member, form = got
    meeting_id = int(request.path_params["id"])
    values = _meeting_form_values(form)
    try:
        no_nul(**{k: v for k, v in values.items() if isinstance(v, str)})
        await _meetings(request).update(member, meeting_id, _meeting_data(values))
    except NotFound as error:
        return error_page(request, error)
    except CommunityError as error:
        return await refused(
            request,
            error,
            lambda **kw: _meeting_form(request, member, meeting_id=meeting_id, **kw),
            values,
        )
    url = str(request.url_for("page:meeting", id=meeting_id).path)
    return RedirectResponse(url, status_code=303)


async def delete_meeting(request: Request) -> Response:
    got = await member_form(request)
    if isinstance(got, Response):
        return got
    member, _ = got
    try:
        await _meetings(request).delete(member, int(request.path_params["id"]))
    except CommunityError as error:
        return error_page(request, error)
    return RedirectResponse(str(request.url_for("page:meetings").path), status_code=303)


routes: list[BaseRoute] = [
    Route("/rooms/{slug}/messages", send_message, methods=["POST"], name="page:send_message"),
    Route("/conversations", conversations, methods=["GET"], name="page:conversations"),
    Route("/conversations", start_conversation, methods=["POST"], name="page:start_conversation"),
    Route("/conversations/{slug}", conversation, methods=["GET"], name="page:conversation"),
    Route(
        "/conversations/{slug}/leave",
        leave_conversation,
        methods=["POST"],
        name="page:leave_conversation",
    ),
    Route("/conversations/{slug}/block", block_member, methods=["POST"], name="page:block_member"),
    Route("/meetings", meetings, methods=["GET"], name="page:meetings"),
    Route("/meetings", create_meeting, methods=["POST"], name="page:create_meeting"),
    Route("/meetings/new", new_meeting, methods=["GET"], name="page:new_meeting"),
    Route("/meetings/{id:int}", meeting, methods=["GET"], name="page:meeting"),
    Route("/meetings/{id:int}/edit", edit_meeting, methods=["GET"], name="page:edit_meeting"),
    Route("/meetings/{id:int}/edit", update_meeting, methods=["POST"], name="page:update_meeting"),
    Route(
        "/meetings/{id:int}/delete", delete_meeting, methods=["POST"], name="page:delete_meeting"
    ),
]
