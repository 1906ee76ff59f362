"""Seed data for demo mode: a community that looks lived-in on first start."""

from __future__ import annotations

from .identity.models import Member, Role
from .identity.service import Accounts
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


async def seed(accounts: Accounts) -> None:
    """Create the demo rooms and members once; running it again changes nothing."""
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
