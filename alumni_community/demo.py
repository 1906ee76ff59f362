"""Seed data for demo mode: a community that looks lived-in on first start."""

from __future__ import annotations

import datetime as dt

from .identity.models import Member, Role
from .identity.service import Accounts
from .meetings.models import Meeting
from .meetings.service import Meetings
from .opportunities.models import Opportunity
from .opportunities.service import Board
from .rooms.models import Moderation, Room, Visibility

__all__ = ["DEMO_LOGINS", "DEMO_ROOMS", "seed"]

#: Demo sign-ins, printed by `alumni-community demo`. Demo mode only: the
#: passwords are public by design.
DEMO_LOGINS = [
    ("demo-admin", "demo admin passphrase", Role.ADMIN),
    ("demo-moderator", "demo moderator passphrase", Role.MODERATOR),
    ("demo-member", "demo member passphrase", Role.MEMBER),
]

DEMO_ROOMS = [
    ("welcome", "Welcome", "Introduce yourself and meet others.", Moderation.NEW_MEMBERS_REVIEWED),
    (
        "daily-reflections",
        "Daily reflections",
        "A thought for today.",
        Moderation.NEW_MEMBERS_REVIEWED,
    ),
    (
        "service",
        "Service",
        "Ways to give back, and people to do it with.",
        Moderation.NEW_MEMBERS_REVIEWED,
    ),
    (
        "hard-days",
        "Hard days",
        "When it is hard. Every post is read by a moderator first.",
        Moderation.ALL_REVIEWED,
    ),
]


async def seed(
    accounts: Accounts, board: Board | None = None, meetings: Meetings | None = None
) -> None:
    """Create the demo rooms, members and a service listing once; running it again
    changes nothing."""
    for handle, password, role in DEMO_LOGINS:
        if not await Member.filter(handle_key=handle).exists():
            await accounts.create_member(handle, password, role)  # codes unused in a demo
    for position, (slug, name, description, moderation) in enumerate(DEMO_ROOMS):
        await Room.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "description": description,
                "visibility": Visibility.MEMBERS,
                "moderation": moderation,
                "position": position,
            },
        )
    if board is not None and not await Opportunity.exists():
        # A way to serve in the coming days, so the board is not empty on first look.
        moderator = await Member.get(handle_key="demo-moderator")
        start = board.settings.now().replace(minute=0, second=0, microsecond=0)
        slots = [
            {
                "starts_at": (start + dt.timedelta(days=day, hours=2)).isoformat(),
                "ends_at": (start + dt.timedelta(days=day, hours=4)).isoformat(),
                "capacity": 3,
            }
            for day in (2, 5)
        ]
        await board.create(
            moderator,
            {
                "title": "Answer the alumni phone line",
                "body": "Pick up when newcomers call. A short briefing first; "
                "no experience needed beyond your own.",
                "kind": "volunteer",
                "location": "online",
                "tags": ["phone", "newcomers"],
                "slots": slots,
            },
        )
    if meetings is not None and not await Meeting.exists():
        moderator = await Member.get(handle_key="demo-moderator")
        await meetings.create(
            moderator,
            {
                "name": "Alumni Tuesday Night",
                "day": 2,
                "time": "19:00",
                "end_time": "20:00",
                "timezone": meetings.settings.timezone,
                "types": ["C", "D"],
                "conference_url": "https://meet.example.org/alumni-tuesday",
                "room": "daily-reflections",
                "notes": "Closed discussion meeting for alumni. Doors open 15 minutes early.",
            },
        )
