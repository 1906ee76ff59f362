"""Rules of meetings: weekly schedules, their occurrences, the Meeting Guide feed, iCalendar.

A meeting meets on some weekdays at a wall-clock time in its own time zone
(``America/Chicago``), so 19:00 stays 19:00 across daylight-saving changes
while its instant in UTC moves. Occurrences are computed, never stored:
for each local date in range, the time is put in the meeting's zone (a time
that does not exist on a spring-forward day moves forward by the gap)
and then shown in the member's zone. Exceptions cancel or change one date.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from ..content import render_markdown, render_title
from ..errors import Forbidden, NotFound, ValidationFailed
from ..identity.models import Member
from ..moderation.service import Moderation, is_moderator
from ..rooms.models import Room, Visibility
from ..settings import Settings
from .models import Meeting, MeetingException

__all__ = ["TYPE_CODES", "Meetings", "local_instant"]

#: Meeting types from the Meeting Guide specification (code4recovery/spec).
TYPE_CODES: dict[str, str] = {
    "11": "11th Step Meditation",
    "12x12": "12 Steps & 12 Traditions",
    "A": "Secular",
    "ABSI": "As Bill Sees It",
    "AL": "Concurrent with Alateen",
    "AL-AN": "Concurrent with Al-Anon",
    "ASL": "American Sign Language",
    "B": "Big Book",
    "BA": "Babysitting Available",
    "BE": "Newcomer",
    "BI": "Bisexual",
    "BRK": "Breakfast",
    "C": "Closed",
    "CAN": "Candlelight",
    "CF": "Child-Friendly",
    "D": "Discussion",
    "DD": "Dual Diagnosis",
    "DR": "Daily Reflections",
    "EN": "English",
    "FF": "Fragrance Free",
    "FR": "French",
    "G": "Gay",
    "GR": "Grapevine",
    "H": "Birthday",
    "L": "Lesbian",
    "LGBTQ": "LGBTQ",
    "LIT": "Literature",
    "LS": "Living Sober",
    "M": "Men",
    "MED": "Meditation",
    "N": "Native American",
    "O": "Open",
    "OUT": "Outdoor",
    "P": "Professionals",
    "POC": "People of Color",
    "S": "Spanish",
    "SEN": "Seniors",
    "SM": "Smoking Permitted",
    "SP": "Speaker",
    "ST": "Step Study",
    "T": "Transgender",
    "TC": "Location Temporarily Closed",
    "TR": "Tradition Study",
    "W": "Women",
    "X": "Wheelchair Access",
    "XB": "Wheelchair-Accessible Bathroom",
    "XT": "Cross Talk Permitted",
    "Y": "Young People",
}

_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_SLUG_CHARS = re.compile(r"[^a-z0-9]+")
#: The longest range one request may expand.
MAX_RANGE = dt.timedelta(days=62)
#: The conference link column's length (models.Meeting.conference_url).
MAX_URL_CHARS = 500


def local_instant(day: dt.date, hhmm: str, zone: ZoneInfo) -> dt.datetime:
    """``hhmm`` on ``day`` in ``zone``, as an aware instant.

    A wall time skipped by a spring-forward change (02:30) moves forward by
    the gap (03:30); an ambiguous one at the fall-back change is its first
    occurrence. Both follow from a round trip through UTC.
    """
    hour, minute = (int(part) for part in hhmm.split(":"))
    wall = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zone)
    return wall.astimezone(dt.UTC).astimezone(zone)


def spec_day(day: dt.date) -> int:
    """The Meeting Guide weekday: 0 = Sunday ... 6 = Saturday."""
    return day.isoweekday() % 7


class Meetings:
    def __init__(self, settings: Settings, moderation: Moderation) -> None:
        self.settings = settings
        self.moderation = moderation

    def may_host(self, member: Member) -> bool:
        """Whether the member may schedule meetings: moderators and meeting hosts."""
        return is_moderator(member) or member.meeting_host

    def ensure_may_host(self, member: Member) -> None:
        if not self.may_host(member):
            raise Forbidden("Only moderators and meeting hosts schedule meetings.")

    # -- writing ---------------------------------------------------------------------

    async def create(self, member: Member, data: dict[str, Any]) -> Meeting:
        self.ensure_may_host(member)
        self.moderation.ensure_may_write(member)
        values = await self._checked(data, partial=False)
        now = self.settings.now()
        base = _SLUG_CHARS.sub("-", str(data.get("name", "")).lower()).strip("-")[:40] or "meeting"
        slug, n = base, 1
        while await Meeting.filter(slug=slug).exists():
            n += 1
            slug = f"{base}-{n}"
        return await Meeting.create(
            slug=slug, created_by=member, created_at=now, updated_at=now, **values
        )

    async def update(self, member: Member, meeting_id: int, data: dict[str, Any]) -> Meeting:
        self.ensure_may_host(member)
        self.moderation.ensure_may_write(member)
        meeting = await self.get(meeting_id)
        values = await self._checked(data, partial=True)
        for name, value in values.items():
            setattr(meeting, name, value)
        if not (meeting.location or meeting.conference_url or meeting.conference_phone):
            raise ValidationFailed({"location": ["give a place, or a conference link or phone"]})
        meeting.updated_at = self.settings.now()
        await meeting.save()
        return meeting

    async def delete(self, member: Member, meeting_id: int) -> None:
        self.ensure_may_host(member)
        self.moderation.ensure_may_write(member)
        if not await Meeting.filter(id=meeting_id).delete():
            raise NotFound("No such meeting.")

    async def get(self, meeting_id: int) -> Meeting:
        meeting = await Meeting.get_or_none(id=meeting_id).select_related("room")
        if meeting is None:
            raise NotFound("No such meeting.")
        return meeting

    async def _checked(self, data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}
        values: dict[str, Any] = {}

        def wanted(name: str) -> bool:
            return name in data or not partial

        if wanted("name"):
            name = data.get("name")
            if not isinstance(name, str) or not name.strip() or len(name) > 120:
                errors["name"] = ["1 to 120 characters"]
            else:
                values["name"] = render_title(" ".join(name.split()))
        if wanted("day"):
            day = data.get("day")
            days = day if isinstance(day, list) else [day]
            if not days or not all(
                isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6 for d in days
            ):
                errors["day"] = ["0 (Sunday) to 6 (Saturday), or a list of them"]
            else:
                values["days"] = sorted(set(days))
        for name in ("time", "end_time"):
            if wanted(name):
                value = data.get(name)
                if not isinstance(value, str) or not _TIME.match(value):
                    errors[name] = ['a time "HH:MM", 24-hour']
                else:
                    values[name] = value
        if wanted("timezone"):
            zone = data.get("timezone", self.settings.timezone)
            try:
                ZoneInfo(str(zone))
                values["timezone"] = str(zone)
            except (ValueError, KeyError, OSError):
                errors["timezone"] = ["an IANA time zone such as America/New_York"]
        if wanted("types"):
            types = data.get("types", [])
            if not isinstance(types, list) or not all(
                isinstance(t, str) and t in TYPE_CODES for t in types
            ):
                errors["types"] = ["Meeting Guide codes such as O, C, D, SP, ST, BE, H, A"]
            else:
                values["types"] = sorted(set(types))
        if wanted("location"):
            location = data.get("location", "")
            if not isinstance(location, str) or len(location) > 200:
                errors["location"] = ["at most 200 characters"]
            else:
                values["location"] = render_title(" ".join(location.split()))
        if wanted("conference_url"):
            url = data.get("conference_url", "")
            try:
                parts = urlsplit(url) if isinstance(url, str) else None
            except ValueError:  # "https://[x": a bracketed host that is no IPv6 address
                parts = None
            if not isinstance(url, str) or (
                url != ""
                and (
                    parts is None
                    or parts.scheme != "https"
                    or not parts.hostname
                    or len(url) > MAX_URL_CHARS
                )
            ):
                errors["conference_url"] = [
                    f"an https:// link of at most {MAX_URL_CHARS} characters"
                ]
            else:
                values["conference_url"] = url
        if wanted("conference_phone"):
            phone = data.get("conference_phone", "")
            if not isinstance(phone, str) or len(phone) > 64:
                errors["conference_phone"] = ["at most 64 characters"]
            else:
                values["conference_phone"] = phone.strip()
        if wanted("notes"):
            notes = data.get("notes", "")
            if not isinstance(notes, str) or len(notes) > 2000:
                errors["notes"] = ["at most 2000 characters"]
            else:
                values["notes"] = notes
        if wanted("public"):
            public = data.get("public", False)
            if not isinstance(public, bool):
                errors["public"] = ["true or false"]
            else:
                values["public"] = public
        if wanted("room"):
            slug = data.get("room")
            if slug is None:
                values["room"] = None
            else:
                # Only a room every member can see: the link is shown to all.
                room = (
                    await Room.get_or_none(slug=slug, direct=False, visibility=Visibility.MEMBERS)
                    if isinstance(slug, str) and len(slug) <= 64
                    else None
                )
                if room is None:
                    errors["room"] = ["no room has that slug"]
                else:
                    values["room"] = room
        if not partial and not errors:
            if (
                not values.get("location")
                and not values.get("conference_url")
                and not values.get("conference_phone")
            ):
                errors["location"] = ["give a place, or a conference link or phone"]
        if errors:
            raise ValidationFailed(errors)
        return values

    async def add_exception(
        self, member: Member, meeting_id: int, data: dict[str, Any]
    ) -> MeetingException:
        """Cancel one date, or change its time, place or notes."""
        self.ensure_may_host(member)
        self.moderation.ensure_may_write(member)
        meeting = await self.get(meeting_id)
        errors: dict[str, list[str]] = {}
        try:
            day = dt.date.fromisoformat(data.get("date", ""))
        except (TypeError, ValueError):
            raise ValidationFailed({"date": ["a date YYYY-MM-DD"]}) from None
        if spec_day(day) not in meeting.days:
            errors["date"] = ["the meeting does not meet on that weekday"]
        cancelled = data.get("cancelled", False)
        if not isinstance(cancelled, bool):
            errors["cancelled"] = ["true or false"]
        changes: dict[str, str] = {}
        for name in ("time", "end_time"):
            value = data.get(name, "")
            if value not in (None, "") and (not isinstance(value, str) or not _TIME.match(value)):
                errors[name] = ['a time "HH:MM", 24-hour']
            changes[name] = value or ""
        location, notes = data.get("location", ""), data.get("notes", "")
        if not isinstance(location, str) or len(location) > 200:
            errors["location"] = ["at most 200 characters"]
        if not isinstance(notes, str) or len(notes) > 2000:
            errors["notes"] = ["at most 2000 characters"]
        if errors:
            raise ValidationFailed(errors)
        row, _ = await MeetingException.update_or_create(
            meeting=meeting,
            date=day,
            defaults={
                "cancelled": cancelled,
                "location": render_title(" ".join(str(location).split())),
                "notes": notes,
                **changes,
            },
        )
        meeting.updated_at = self.settings.now()
        await meeting.save(update_fields=["updated_at"])
        return row

    # -- reading ------------------------------------------------------------------------

    def zone_of(self, member: Member) -> ZoneInfo:
        return ZoneInfo(member.timezone or self.settings.timezone)

    async def occurrences(
        self, member: Member, start: dt.datetime, end: dt.datetime
    ) -> list[dict[str, Any]]:
        """Every meeting between ``start`` and ``end``, in order, in the member's zone."""
        if end <= start or end - start > MAX_RANGE:
            raise ValidationFailed({"to": ["after from, and at most 62 days later"]})
        viewer = self.zone_of(member)
        now = self.settings.now()
        meetings = await Meeting.all().select_related("room").order_by("id")
        exceptions: dict[tuple[int, dt.date], MeetingException] = {
            (e.meeting_id, e.date): e
            for e in await MeetingException.filter(
                date__gte=start.date() - dt.timedelta(days=1),
                date__lte=end.date() + dt.timedelta(days=1),
            )
        }
        found: list[tuple[dt.datetime, int, dict[str, Any]]] = []
        # A meeting's notes are the same every week: each text is rendered once per call,
        # not once per date (a schedule of many meetings has thousands of dates).
        rendered: dict[str, str] = {}

        def notes_html(text: str) -> str:
            if text not in rendered:
                rendered[text] = render_markdown(text)
            return rendered[text]

        for meeting in meetings:
            for starts, ends, exception in expand(meeting, exceptions, start, end):
                found.append(
                    (
                        starts,
                        meeting.id,
                        {
                            "meeting": self.meeting_json(meeting),
                            "starts_at": starts.astimezone(viewer).isoformat(),
                            "ends_at": ends.astimezone(viewer).isoformat(),
                            "in_progress": starts <= now < ends,
                            "changed": exception is not None,
                            "location": (
                                exception.location
                                if exception and exception.location
                                else meeting.location
                            ),
                            "notes_html": notes_html(
                                exception.notes if exception and exception.notes else meeting.notes
                            ),
                        },
                    )
                )
        found.sort(key=lambda o: (o[0], o[1]))
        return [item for _, _, item in found]

    def meeting_json(self, meeting: Meeting) -> dict[str, Any]:
        return {
            "id": meeting.id,
            "name": meeting.name,
            "slug": meeting.slug,
            "day": meeting.days,
            "time": meeting.time,
            "end_time": meeting.end_time,
            "timezone": meeting.timezone,
            "types": meeting.types,
            "location": meeting.location,
            "conference_url": meeting.conference_url or None,
            "conference_phone": meeting.conference_phone or None,
            "public": meeting.public,
            "room": meeting.room.slug if meeting.room else None,
        }

    async def feed(self) -> list[dict[str, Any]]:
        """The Meeting Guide feed: public meetings only, and nothing about any member."""
        rows = await Meeting.filter(public=True).order_by("id")
        feed = []
        for meeting in rows:
            entry: dict[str, Any] = {
                "name": _plain(meeting.name),
                "slug": meeting.slug,
                "day": meeting.days[0] if len(meeting.days) == 1 else meeting.days,
                "time": meeting.time,
                "end_time": meeting.end_time,
                "timezone": meeting.timezone,
                "types": meeting.types,
                "updated": meeting.updated_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
            }
            if meeting.notes:
                entry["notes"] = meeting.notes
            if meeting.location:
                entry["location"] = _plain(meeting.location)
                entry["formatted_address"] = _plain(meeting.location)
            if meeting.conference_url:
                entry["conference_url"] = meeting.conference_url
            if meeting.conference_phone:
                entry["conference_phone"] = meeting.conference_phone
            feed.append(entry)
        return feed

    async def calendar(self) -> bytes:
        """The schedule as iCalendar: one weekly event per meeting, with its exceptions."""
        from icalendar import Calendar, Event

        cal = Calendar()
        cal.add("prodid", "-//alumni_community//meetings//EN")
        cal.add("version", "2.0")
        cal.add("x-wr-calname", self.settings.site_name + " meetings")
        rows = await Meeting.all().order_by("id")
        exceptions = await MeetingException.all().order_by("date")
        by_meeting: dict[int, list[MeetingException]] = {}
        for exception in exceptions:
            by_meeting.setdefault(exception.meeting_id, []).append(exception)
        byday = ["SU", "MO", "TU", "WE", "TH", "FR", "SA"]
        for meeting in rows:
            zone = ZoneInfo(meeting.timezone)
            first = _first_date(meeting, meeting.created_at.astimezone(zone).date())
            starts = local_instant(first, meeting.time, zone)
            ends = _end(first, meeting.time, meeting.end_time, zone)
            uid = f"meeting-{meeting.id}@alumni-community"
            event = Event()
            event.add("uid", uid)
            event.add("summary", _plain(meeting.name))
            event.add("dtstart", starts)
            event.add("dtend", ends)
            event.add("dtstamp", meeting.updated_at.astimezone(dt.UTC))
            event.add("rrule", {"freq": "weekly", "byday": [byday[d] for d in meeting.days]})
            if meeting.location:
                event.add("location", _plain(meeting.location))
            description = "\n".join(
                part for part in (meeting.notes, meeting.conference_url) if part
            )
            if description:
                event.add("description", description)
            if meeting.conference_url:
                event.add("url", meeting.conference_url)
            cancelled = [
                local_instant(e.date, meeting.time, zone)
                for e in by_meeting.get(meeting.id, [])
                if e.cancelled and e.date >= first
            ]
            for instant in cancelled:
                event.add("exdate", instant)
            cal.add_component(event)
            for change in by_meeting.get(meeting.id, []):
                if change.cancelled or change.date < first:
                    continue
                moved = Event()
                moved.add("uid", uid)
                moved.add("recurrence-id", local_instant(change.date, meeting.time, zone))
                moved.add("summary", _plain(meeting.name))
                time = change.time or meeting.time
                moved.add("dtstart", local_instant(change.date, time, zone))
                moved.add(
                    "dtend", _end(change.date, time, change.end_time or meeting.end_time, zone)
                )
                moved.add("dtstamp", meeting.updated_at.astimezone(dt.UTC))
                location = change.location or meeting.location
                if location:
                    moved.add("location", _plain(location))
                cal.add_component(moved)
        cal.add_missing_timezones()
        data: bytes = cal.to_ical()
        return data


def _plain(escaped: str) -> str:
    import html

    return html.unescape(escaped)


def _end(day: dt.date, time: str, end_time: str, zone: ZoneInfo) -> dt.datetime:
    """The end on the same date, or the next one for a meeting that runs past midnight."""
    end_day = day + dt.timedelta(days=1) if end_time <= time else day
    return local_instant(end_day, end_time, zone)


def _first_date(meeting: Meeting, since: dt.date) -> dt.date:
    for offset in range(7):
        day = since + dt.timedelta(days=offset)
        if spec_day(day) in meeting.days:
            return day
    return since


def expand(
    meeting: Meeting,
    exceptions: dict[tuple[int, dt.date], MeetingException],
    start: dt.datetime,
    end: dt.datetime,
) -> list[tuple[dt.datetime, dt.datetime, MeetingException | None]]:
    """The meeting's occurrences overlapping [start, end), cancelled dates left out."""
    zone = ZoneInfo(meeting.timezone)
    day = start.astimezone(zone).date() - dt.timedelta(days=1)
    last = end.astimezone(zone).date()
    found = []
    while day <= last:
        if spec_day(day) in meeting.days:
            exception = exceptions.get((meeting.id, day))
            if not (exception and exception.cancelled):
                time = (exception.time if exception else "") or meeting.time
                end_time = (exception.end_time if exception else "") or meeting.end_time
                starts = local_instant(day, time, zone)
                ends = _end(day, time, end_time, zone)
                if ends > start and starts < end:
                    found.append((starts, ends, exception))
        day += dt.timedelta(days=1)
    return found
