"""The service board and sponsorship pages.

Thin like the other pages: the board's rules (who sees a listing, who may
sign up, the waitlist, what the roster shows, who may act as organizer)
and sponsorship's (the sobriety rule, who sees which request) are the
services'. These handlers read a form, call ``community.board`` or
``community.sponsorships`` as the JSON API does, and show the answer: a
303 to the page after a change, or the page again with what was wrong.

Times: the board's service gives every time in the reader's own time zone
(ISO 8601 with its offset); the pages only write them out for people. A new
listing's slot times are read in the time zone the organizer names (their
own by default), since a form's date-and-time field carries no offset.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, NoMatchFound, Route

from ..errors import CommunityError, NotFound, ValidationFailed
from ..identity.models import Member
from ..moderation.service import Notice, is_moderator
from ..opportunities.models import Kind, Signup, SignupStatus, Slot
from ..requests import small_int
from .forms import (
    community_of,
    error_notices,
    error_page,
    field_messages,
    member_form,
    no_nul,
    problem_message,
    settings_of,
    signed_in,
    text,
)
from .templating import render

if TYPE_CHECKING:
    from ..opportunities.service import Board
    from ..opportunities.sponsorship import Sponsorships

__all__ = ["routes"]

#: Slot rows on the new-listing form. Without JavaScript a form cannot grow
#: rows; three covers most ways to serve, and more can be listed again.
SLOT_ROWS = 3
#: How many listings "my sign-ups" reads (a member rarely holds more places).
MAX_SIGNUP_LISTINGS = 50

KIND_LABELS: dict[str, str] = {
    "volunteer": "Volunteering",
    "meeting_service": "Meeting service",
    "mentoring": "Mentoring",
    "sponsorship": "Sponsorship",
    "other": "Something else",
}
#: Every kind the service knows, in its order, with a label for people.
KINDS = [(str(k), KIND_LABELS.get(str(k), str(k).replace("_", " ").capitalize())) for k in Kind]

#: Field names as the forms label them, for messages like "Title: 1 to 200 characters".
_LABELS = {
    "title": "Title",
    "body": "Description",
    "kind": "Kind",
    "location": "Location",
    "tags": "Tags",
    "min_sober_days": "Minimum days sober",
    "timezone": "Time zone",
    "slots": "Slots",
    "text": "Your message",
    "hours": "Hours",
    "attended": "Attended",
    "to_slot": "Move to",
    "capacity": "How many you can sponsor",
    "note": "Note",
    "sponsor": "Who to ask",
    "request": "Request",
    "cursor": "Page",
    "status": "Status",
}


def _messages(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each field's messages as sentences, in the words of the form's labels."""
    return field_messages(errors, _LABELS)


def _one_sentence(errors: dict[str, list[str]]) -> str:
    return " ".join(m for ms in _messages(errors).values() for m in ms)


def _board(request: Request) -> Board:
    return community_of(request).board


def _sponsorships(request: Request) -> Sponsorships:
    return community_of(request).sponsorships


def _see_other(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


def _path(request: Request, name: str, **params: Any) -> str:
    return str(request.url_for(name, **params).path)


def _id(request: Request) -> int:
    """The id in the path (the router takes only ids a row can have)."""
    ident: int = request.path_params["id"]
    return ident


def _with_headers(response: Response, error: CommunityError) -> Response:
    for name, value in error.headers().items():
        response.headers[name] = value
    return response


# -- times, for people -----------------------------------------------------------


def _zone_name(request: Request, member: Member) -> str:
    """The zone the service writes this member's times in (theirs, or the community's)."""
    return member.timezone or settings_of(request).timezone


def _when(iso: str | None) -> str:
    """``2026-03-07T17:00:00-06:00`` as "Sat 7 Mar 2026, 17:00"."""
    if not iso:
        return ""
    moment = dt.datetime.fromisoformat(iso)
    return f"{moment:%a} {moment.day} {moment:%b %Y, %H:%M}"


def _span(starts: str, ends: str) -> str:
    """A slot's start and end, the end's date left out when it is the same day."""
    start, end = dt.datetime.fromisoformat(starts), dt.datetime.fromisoformat(ends)
    if start.date() == end.date():
        return f"{_when(starts)} to {end:%H:%M}"
    return f"{_when(starts)} to {_when(ends)}"


def _now(request: Request) -> dt.datetime:
    now: dt.datetime = settings_of(request).now()
    return now


# -- the board -------------------------------------------------------------------

#: The board's filters, as the service reads them from a query string.
_FILTERS = ("kind", "tag", "upcoming", "open_seats")


async def board(request: Request) -> Response:
    member = signed_in(request)
    if isinstance(member, Response):
        return member
    params = request.query_params
    filters = {name: params[name] for name in _FILTERS if params.get(name)}
    cursor = params.get("cursor") or None
    message = None
    status_code = 200
    page: dict[str, Any] = {"items": [], "next": None}
    try:
        no_nul(**filters, cursor=cursor or "")
        page = await _board(request).page(member, filters, cursor)
    except CommunityError as error:
        message = _one_sentence(error.errors) if isinstance(error, ValidationFailed) else None
        message = message or problem_message(error)
        status_code = error.status
    items = page["items"]
    waiting = await _waiting(request, [item["id"] for item in items])
    for item in items:
        item["next_label"] = _when(item["next_starts_at"])
        item["waiting"] = waiting.get(item["id"], 0)
        item["kind_label"] = dict(KINDS).get(item["kind"], item["kind"])
    more = None
    if page["next"]:
        more = _path(request, "page:board") + "?" + urlencode({**filters, "cursor": page["next"]})
    return render(
        request,
        "community/board.html",
        {
            "items": items,
            "more": more,
            "filters": {name: filters.get(name, "") for name in _FILTERS},
            "kinds": KINDS,
            "zone": _zone_name(request, member),
            "message": message,
        },
        status_code=status_code,
    )


async def _waiting(request: Request, listing_ids: list[int]) -> dict[int, int]:
    """How many wait for a place in each listing's coming slots.

    The board's summary gives the seats left but not the waitlist; this
    reads the slots' own counters (kept by the service) for the page's
    listings, the ones the service chose to show.
    """
    if not listing_ids:
        return {}
    rows = await Slot.filter(
        opportunity_id__in=listing_ids, starts_at__gt=_now(request)
    ).values_list("opportunity_id", "waitlisted_count")
    waiting: dict[int, int] = {}
    for listing_id, count in rows:
        waiting[int(listing_id)] = waiting.get(int(listing_id), 0) + int(count)
    return waiting


# -- one listing ---------------------------------------------------------------------


async def _listing_page(
    request: Request,
    member: Member,
    listing_id: int,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    message: str | None = None,
    notices: list[Notice] | None = None,
    status_code: int = 200,
) -> Response:
    try:
        listing = await _board(request).detail(member, listing_id)
    except CommunityError as error:
        return error_page(request, error)
    now = _now(request)
    slots = listing["slots"]
    for slot in slots:
        slot["when"] = _span(slot["starts_at"], slot["ends_at"])
        slot["started"] = dt.datetime.fromisoformat(slot["starts_at"]) <= now
        slot["ended"] = dt.datetime.fromisoformat(slot["ends_at"]) <= now
    for slot in slots:
        # Where the organizer may move someone: the listing's other slots still to come.
        slot["others"] = [
            {"id": other["id"], "when": other["when"]}
            for other in slots
            if other["id"] != slot["id"] and not other["started"]
        ]
    listing["kind_label"] = dict(KINDS).get(listing["kind"], listing["kind"])
    told = request.query_params.get("told", "")
    return render(
        request,
        "community/listing.html",
        {
            "listing": listing,
            "slots": slots,
            # Who sees the organizer's tools; the service decides whether they work.
            "organizing": listing["organizer"]["handle"] == member.handle or is_moderator(member),
            "zone": _zone_name(request, member),
            "form": form or {"text": ""},
            "errors": errors or {},
            "message": message,
            "notices": notices or [],
            "told": small_int(told),
        },
        status_code=status_code,
    )


async def listing(request: Request) -> Response:
    member = signed_in(request)
    if isinstance(member, Response):
        return member
    listing_id = _id(request)
    return await _listing_page(request, member, listing_id)


async def _listing_refused(
    request: Request,
    member: Member,
    listing_id: int,
    error: CommunityError,
    *,
    form: dict[str, str] | None = None,
    fields: tuple[str, ...] = (),
) -> Response:
    """The listing again, with what was wrong: next to a field the form shows, else one sentence."""
    errors: dict[str, list[str]] = {}
    message = None
    if isinstance(error, ValidationFailed):
        placed = {k: v for k, v in error.errors.items() if k in fields}
        errors = _messages(placed)
        rest = {k: v for k, v in error.errors.items() if k not in fields}
        message = _one_sentence(rest) or None
    else:
        message = problem_message(error)
    response = await _listing_page(
        request,
        member,
        listing_id,
        form=form,
        errors=errors,
        message=message,
        notices=error_notices(error),
        status_code=error.status,
    )
    return _with_headers(response, error)


SlotAction = Callable[[Member, int, FormData], Awaitable[None]]


async def _slot_action(request: Request, act: SlotAction) -> Response:
    """A form about one slot: do it, then back to the slot on its listing's page."""
    got = await member_form(request)
    if isinstance(got, Response):
        return got
    member, form = got
    slot_id = _id(request)
    # Only to know which page to go back to; the service checks everything else.
    slot = await Slot.get_or_none(id=slot_id)
    if slot is None:
        return error_page(request, NotFound("No such slot."))
    listing_id = slot.opportunity_id
    try:
        await _board(request).visible(member, listing_id)
    except CommunityError as error:
        return error_page(request, error)
    try:
        await act(member, slot_id, form)
    except CommunityError as error:
        return await _listing_refused(request, member, listing_id, error)
    return _see_other(f"{_path(request, 'page:listing', id=listing_id)}#slot-{slot_id}")


async def slot_signup(request: Request) -> Response:
    async def act(member: Member, slot_id: int, form: FormData) -> None:
        await _board(request).sign_up(member, slot_id)

    return await _slot_action(request, act)


async def slot_cancel(request: Request) -> Response:
    async def act(member: Member, slot_id: int, form: FormData) -> None:
        await _board(request).cancel(member, slot_id)

    return await _slot_action(request, act)


async def slot_hide(request: Request) -> Response:
    async def act(member: Member, slot_id: int, form: FormData) -> None:
        await _board(request).set_hidden(member, slot_id, text(form, "hidden") == "yes")

    return await _slot_action(request, act)


def _handle(form: FormData) -> str:
    handle = text(form, "handle")
    no_nul(handle=handle)
    return handle


async def slot_remove(request: Request) -> Response:
    async def act(member: Member, slot_id: int, form: FormData) -> None:
        await _board(request).remove(member, slot_id, _handle(form))

    return await _slot_action(request, act)


async def slot_move(request: Request) -> Response:
    async def act(member: Member, slot_id: int, form: FormData) -> None:
        to_slot = small_int(text(form, "to_slot"))
        if to_slot is None:
            raise ValidationFailed({"to_slot": ["choose another slot of this listing"]})
        await _board(request).move(member, slot_id, _handle(form), to_slot)

    return await _slot_action(request, act)


async def slot_attendance(request: Request) -> Response:
    async def act(member: Member, slot_id: int, form: FormData) -> None:
        handle = _handle(form)
        raw = text(form, "hours").strip()
        hours: float | None = None
        if raw:
            try:
                hours = float(raw)
            except ValueError:
                raise ValidationFailed({"hours": ["a number of hours, such as 2 or 1.5"]}) from None
            if hours != hours or hours in (float("inf"), float("-inf")):
                raise ValidationFailed({"hours": ["a number of hours, such as 2 or 1.5"]})
        attended = text(form, "attended") == "yes"
        await _board(request).attendance(member, slot_id, handle, attended, hours)

    return await _slot_action(request, act)


async def listing_message(request: Request) -> Response:
    """The organizer writes to everyone signed up; the page then says how many were told."""
    got = await member_form(request)
    if isinstance(got, Response):
        return got
    member, form = got
    listing_id = _id(request)
    body = text(form, "text")
    try:
        no_nul(text=body)
        told = await _board(request).message(member, listing_id, body)
    except NotFound as error:
        return error_page(request, error)
    except CommunityError as error:
        return await _listing_refused(
            request, member, listing_id, error, form={"text": body}, fields=("text",)
        )
    url = _path(request, "page:listing", id=listing_id)
    return _see_other(f"{url}?{urlencode({'told': told})}#organizer")


async def listing_status(request: Request) -> Response:
    got = await member_form(request)
    if isinstance(got, Response):
        return got
    member, form = got
    listing_id = _id(request)
    try:
        await _board(request).set_status(member, listing_id, text(form, "status"))
    except NotFound as error:
        return error_page(request, error)
    except CommunityError as error:
        return await _listing_refused(request, member, listing_id, error)
    return _see_other(_path(request, "page:listing", id=listing_id))


# -- a new listing -------------------------------------------------------------------


def _blank_listing(zone: str) -> dict[str, str]:
    values = {
        "title": "",
        "body": "",
        "kind": "volunteer",
        "location": "",
        "tags": "",
        "min_sober_days": "",
        "timezone": zone,
    }
    for row in range(SLOT_ROWS):
        values |= {f"slot-{row}-starts": "", f"slot-{row}-ends": "", f"slot-{row}-capacity": ""}
    return values


def _listing_form(
    form: FormData,
) -> tuple[dict[str, str], dict[str, Any], dict[str, list[str]], list[int]]:
    """What was typed, the service's data made of it, this form's own errors, and which
    form row each of the data's slots came from."""
    values = {name: text(form, name) for name in _blank_listing("")}
    errors: dict[str, list[str]] = {}
    for name, value in values.items():
        if "\x00" in value:
            if not name.startswith("slot-"):
                errors[name] = ["must not contain NUL characters"]
                continue
            index = int(name.split("-")[1])
            errors[f"slot-{index}"] = [f"Slot {index + 1}: must not contain NUL characters"]
    data: dict[str, Any] = {
        "title": values["title"],
        "body": values["body"],
        "kind": values["kind"],
        "location": values["location"],
        "tags": [t for t in values["tags"].replace(",", " ").split() if t],
    }
    days = values["min_sober_days"].strip()
    if days:
        if small_int(days) is not None:
            data["min_sober_days"] = small_int(days)
        else:
            errors["min_sober_days"] = ["a whole number of days, or leave it empty"]
    zone: ZoneInfo | None = None
    zone_name = values["timezone"].strip()
    try:
        zone = ZoneInfo(zone_name) if zone_name and len(zone_name) <= 64 else None
    except (ZoneInfoNotFoundError, ValueError, OSError):
        zone = None
    if zone is None and "timezone" not in errors:
        errors["timezone"] = ["a time zone name such as America/Chicago or Europe/London"]
    slots: list[dict[str, Any]] = []
    rows: list[int] = []
    for row in range(SLOT_ROWS):
        starts = values[f"slot-{row}-starts"].strip()
        ends = values[f"slot-{row}-ends"].strip()
        capacity = values[f"slot-{row}-capacity"].strip()
        if not starts and not ends:
            continue
        wrong = _slot_row(starts, ends, capacity, zone)
        if isinstance(wrong, str):
            errors.setdefault(f"slot-{row}", [f"Slot {row + 1}: {wrong}"])
            continue
        slots.append(wrong)
        rows.append(row)
        # As a date-and-time field shows it again, should the form come back.
        for name in (f"slot-{row}-starts", f"slot-{row}-ends"):
            typed = dt.datetime.fromisoformat(values[name].strip())
            if typed.tzinfo is None:
                values[name] = f"{typed:%Y-%m-%dT%H:%M}"
    if not slots and not any(name.startswith("slot-") for name in errors):
        # The form's own words ("at least one"); the service says the same.
        errors["slots"] = ["Give at least one slot: when it starts, when it ends, and places."]
    data["slots"] = slots
    return values, data, errors, rows


def _slot_row(starts: str, ends: str, capacity: str, zone: ZoneInfo | None) -> dict[str, Any] | str:
    """One row of the form as the service's slot, or what is wrong with it."""
    if not starts or not ends:
        return "give both a start and an end"
    try:
        start, end = dt.datetime.fromisoformat(starts), dt.datetime.fromisoformat(ends)
    except ValueError:
        return "write the dates and times like 2026-03-07 17:00"
    places = small_int(capacity)
    if places is None:
        return "places is a whole number of people"
    if zone is None:
        return "choose a time zone for it"
    # A time typed with an offset keeps it; the others are in the chosen zone.
    start = start if start.tzinfo else start.replace(tzinfo=zone)
    end = end if end.tzinfo else end.replace(tzinfo=zone)
    return {"starts_at": start.isoformat(), "ends_at": end.isoformat(), "capacity": places}


def _service_errors(errors: dict[str, list[str]], rows: list[int]) -> dict[str, list[str]]:
    """The service's field errors, its slots ("slots[0]") named by the form's rows."""
    out: dict[str, list[str]] = {}
    for name, messages in errors.items():
        if name.startswith("slots[") and name.endswith("]") and name[6:-1].isdigit():
            index = int(name[6:-1])
            row = rows[index] if index < len(rows) else index
            out[f"slot-{row}"] = [f"Slot {row + 1}: {m}" for m in messages]
        elif name == "slots":
            out["slots"] = ["Give at least one slot: when it starts, when it ends, and places."]
        else:
            out |= _messages({name: messages})
    return out


def _new_listing_page(
    request: Request,
    member: Member,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    message: str | None = None,
    notices: list[Notice] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "community/listing_new.html",
        {
            "form": form or _blank_listing(_zone_name(request, member)),
            "errors": errors or {},
            "message": message,
            "notices": notices or [],
            "kinds": KINDS,
            "rows": range(SLOT_ROWS),
            # A hint only: the service decides, and says so in its answer.
            "may_be_held": member.trust_level < 2 and not is_moderator(member),
        },
        status_code=status_code,
    )


async def new_listing(request: Request) -> Response:
    if request.method in ("GET", "HEAD"):
        member = signed_in(request)
        if isinstance(member, Response):
            return member
        return _new_listing_page(request, member)
    got = await member_form(request)
    if isinstance(got, Response):
        return got
    member, form = got
    values, data, errors, rows = _listing_form(form)
    if errors:
        return _new_listing_page(
            request, member, form=values, errors=_messages_of_form(errors), status_code=422
        )
    try:
        made, notices = await _board(request).create(member, data)
    except CommunityError as error:
        fields = _service_errors(error.errors, rows) if isinstance(error, ValidationFailed) else {}
        response = _new_listing_page(
            request,
            member,
            form=values,
            errors=fields,
            message=None if fields else problem_message(error),
            notices=error_notices(error),
            status_code=error.status,
        )
        return _with_headers(response, error)
    if notices:
        # Held for review, or crisis resources: shown now, with the listing.
        return await _listing_page(request, member, made.id, notices=notices, status_code=201)
    return _see_other(_path(request, "page:listing", id=made.id))


def _messages_of_form(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """This form's own errors: slot rows already read as sentences, the rest labelled."""
    rows = {k: v for k, v in errors.items() if k.startswith("slot")}
    return {**_messages({k: v for k, v in errors.items() if k not in rows}), **rows}


# -- my service --------------------------------------------------------------------


async def _my_signups(request: Request, member: Member) -> list[dict[str, Any]]:
    """The member's places and waitlist positions in slots not yet over, soonest first.

    The service has no list of a member's sign-ups; this finds the listings
    they hold a place in and reads each one as the listing page does, so
    what they may see, and their position, are the service's.
    """
    board_service = _board(request)
    now = _now(request)
    found = await Signup.filter(
        member_id=member.id,
        status__in=[SignupStatus.CONFIRMED, SignupStatus.WAITLISTED],
        slot__ends_at__gt=now,
    ).values_list("slot__opportunity_id", flat=True)
    listing_ids = list(dict.fromkeys(int(i) for i in found))[:MAX_SIGNUP_LISTINGS]  # type: ignore[call-overload]
    places = []
    for listing_id in listing_ids:
        try:
            detail = await board_service.detail(member, listing_id)
        except NotFound:
            continue
        for slot in detail["slots"]:
            starts = dt.datetime.fromisoformat(slot["starts_at"])
            if slot["my_signup"] is None or dt.datetime.fromisoformat(slot["ends_at"]) <= now:
                continue
            places.append(
                {
                    "listing_id": detail["id"],
                    "title": detail["title"],
                    "slot_id": slot["id"],
                    "when": _span(slot["starts_at"], slot["ends_at"]),
                    "starts": starts,
                    "status": slot["my_signup"]["status"],
                    "position": slot["my_signup"]["position"],
                    "status_of_listing": detail["status"],
                }
            )
    places.sort(key=lambda place: (place["starts"], place["slot_id"]))
    return places


async def service_hours(request: Request) -> Response:
    member = signed_in(request)
    if isinstance(member, Response):
        return member
    hours = await _board(request).hours(member)
    for item in hours["items"]:
        item["when"] = _when(item["starts_at"])
    return render(
        request,
        "community/board_hours.html",
        {
            "hours": hours,
            "places": await _my_signups(request, member),
            "zone": _zone_name(request, member),
        },
    )


# -- sponsorship -----------------------------------------------------------------


def _conversation_link(request: Request, slug: str | None) -> str | None:
    """The match's direct conversation, when this site has a page for it."""
    if not slug:
        return None
    try:
        return _path(request, "page:conversation", slug=slug)
    except NoMatchFound:
        return None


async def _sponsorship_page(
    request: Request,
    member: Member,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    message: str | None = None,
    notices: list[Notice] | None = None,
    status_code: int = 200,
) -> Response:
    data = await _sponsorships(request).board(member)
    mine, others = [], []
    for match in data["matches"]:
        sponsor, sponsee = match["sponsor"]["handle"], match["sponsee"]["handle"]
        started = match["started_at"][:10]
        if member.handle is not None and member.handle in (sponsor, sponsee):
            i_sponsor = sponsor == member.handle
            mine.append(
                {
                    "id": match["id"],
                    "i_sponsor": i_sponsor,
                    "other": (sponsee if i_sponsor else sponsor) or "a former member",
                    "since": started,
                    "conversation": _conversation_link(request, match["room"]),
                }
            )
        else:
            # Moderators see who sponsors whom, and since when; nothing more.
            others.append(
                {
                    "sponsor": sponsor or "a former member",
                    "sponsee": sponsee or "a former member",
                    "since": started,
                }
            )
    offer = data["my_offer"]
    blank = {
        "capacity": str(offer["capacity"]) if offer else "1",
        "offer_note": offer["note"] if offer else "",
        "request_note": "",
        "sponsor": "",
    }
    return render(
        request,
        "community/sponsorship.html",
        {
            "sponsors": data["sponsors"],
            "my_offer": offer,
            "my_requests": [{**r, "since": r["created_at"][:10]} for r in data["my_requests"]],
            "requests": [{**r, "since": r["created_at"][:10]} for r in data["requests"]],
            "matches": mine,
            "others": others,
            "form": {**blank, **(form or {})},
            "errors": errors or {},
            "message": message,
            "notices": notices or [],
            "min_days": settings_of(request).sponsor_min_sober_days,
        },
        status_code=status_code,
    )


async def sponsorship(request: Request) -> Response:
    member = signed_in(request)
    if isinstance(member, Response):
        return member
    return await _sponsorship_page(request, member)


async def _sponsorship_form(
    request: Request,
    act: Callable[[Member, FormData], Awaitable[list[Notice]]],
    *,
    keep: dict[str, str] | None = None,
    fields: dict[str, str] | None = None,
) -> Response:
    """A sponsorship form: do it, then back to the page; refused, the page again.

    ``keep`` names the form's fields to show again as typed (form name: page
    name); ``fields`` the service's field names shown next to a control.
    """
    got = await member_form(request)
    if isinstance(got, Response):
        return got
    member, form = got
    try:
        notices = await act(member, form)
    except CommunityError as error:
        kept = {page_name: text(form, name) for name, page_name in (keep or {}).items()}
        errors: dict[str, list[str]] = {}
        message = None
        if isinstance(error, ValidationFailed):
            placed = {(fields or {}).get(k, k): v for k, v in _messages(error.errors).items()}
            errors = {k: v for k, v in placed.items() if k in (fields or {}).values()}
            message = " ".join(m for k, ms in placed.items() if k not in errors for m in ms) or None
        else:
            message = problem_message(error)
        response = await _sponsorship_page(
            request,
            member,
            form=kept,
            errors=errors,
            message=message,
            notices=error_notices(error),
            status_code=error.status,
        )
        return _with_headers(response, error)
    if notices:
        return await _sponsorship_page(request, member, notices=notices, status_code=201)
    return _see_other(_path(request, "page:sponsorship"))


async def sponsor_offer(request: Request) -> Response:
    async def act(member: Member, form: FormData) -> list[Notice]:
        raw, note = text(form, "capacity").strip(), text(form, "note")
        no_nul(capacity=raw, note=note)
        # Not a whole number: the service refuses it in its own words.
        capacity: Any = small_int(raw) if small_int(raw) is not None else raw
        await _sponsorships(request).offer(member, capacity, note)
        return []

    return await _sponsorship_form(
        request,
        act,
        keep={"capacity": "capacity", "note": "offer_note"},
        fields={"capacity": "capacity", "note": "offer_note"},
    )


async def sponsor_withdraw_offer(request: Request) -> Response:
    async def act(member: Member, form: FormData) -> list[Notice]:
        await _sponsorships(request).withdraw_offer(member)
        return []

    return await _sponsorship_form(request, act)


async def sponsor_request(request: Request) -> Response:
    async def act(member: Member, form: FormData) -> list[Notice]:
        note, sponsor = text(form, "note"), text(form, "sponsor").strip()
        no_nul(note=note, sponsor=sponsor)
        _, notices = await _sponsorships(request).request(member, note, sponsor or None)
        return notices

    return await _sponsorship_form(
        request,
        act,
        keep={"note": "request_note", "sponsor": "sponsor"},
        fields={"note": "request_note", "sponsor": "sponsor"},
    )


def _on_request_or_match(
    call: Callable[[Sponsorships, Member, int], Awaitable[object]],
) -> Callable[[Request], Awaitable[Response]]:
    """A sponsorship form about one request or match (its id in the path), with no fields."""

    async def endpoint(request: Request) -> Response:
        async def act(member: Member, form: FormData) -> list[Notice]:
            await call(_sponsorships(request), member, _id(request))
            return []

        return await _sponsorship_form(request, act)

    return endpoint


sponsor_withdraw_request = _on_request_or_match(lambda s, m, i: s.withdraw_request(m, i))
sponsor_accept = _on_request_or_match(lambda s, m, i: s.accept(m, i))
sponsor_decline = _on_request_or_match(lambda s, m, i: s.decline(m, i))
sponsor_end = _on_request_or_match(lambda s, m, i: s.end(m, i))


routes: list[BaseRoute] = [
    Route("/service", board, methods=["GET"], name="page:board"),
    Route("/service/new", new_listing, methods=["GET", "POST"], name="page:new_listing"),
    Route("/service/hours", service_hours, methods=["GET"], name="page:service_hours"),
    Route("/service/{id:int}", listing, methods=["GET"], name="page:listing"),
    Route(
        "/service/{id:int}/message", listing_message, methods=["POST"], name="page:listing_message"
    ),
    Route("/service/{id:int}/status", listing_status, methods=["POST"], name="page:listing_status"),
    Route("/service/slots/{id:int}/signup", slot_signup, methods=["POST"], name="page:slot_signup"),
    Route("/service/slots/{id:int}/cancel", slot_cancel, methods=["POST"], name="page:slot_cancel"),
    Route("/service/slots/{id:int}/hide", slot_hide, methods=["POST"], name="page:slot_hide"),
    Route("/service/slots/{id:int}/remove", slot_remove, methods=["POST"], name="page:slot_remove"),
    Route("/service/slots/{id:int}/move", slot_move, methods=["POST"], name="page:slot_move"),
    Route(
        "/service/slots/{id:int}/attendance",
        slot_attendance,
        methods=["POST"],
        name="page:slot_attendance",
    ),
    Route("/sponsorship", sponsorship, methods=["GET"], name="page:sponsorship"),
    Route("/sponsorship/offer", sponsor_offer, methods=["POST"], name="page:sponsor_offer"),
    Route(
        "/sponsorship/offer/withdraw",
        sponsor_withdraw_offer,
        methods=["POST"],
        name="page:sponsor_withdraw_offer",
    ),
    Route("/sponsorship/requests", sponsor_request, methods=["POST"], name="page:sponsor_request"),
    Route(
        "/sponsorship/requests/{id:int}/withdraw",
        sponsor_withdraw_request,
        methods=["POST"],
        name="page:sponsor_withdraw_request",
    ),
    Route(
        "/sponsorship/requests/{id:int}/accept",
        sponsor_accept,
        methods=["POST"],
        name="page:sponsor_accept",
    ),
    Route(
        "/sponsorship/requests/{id:int}/decline",
        sponsor_decline,
        methods=["POST"],
        name="page:sponsor_decline",
    ),
    Route(
        "/sponsorship/matches/{id:int}/end", sponsor_end, methods=["POST"], name="page:sponsor_end"
    ),
]
