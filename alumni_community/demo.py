"""Seed data for demo mode: a community that looks lived-in on first start."""

from __future__ import annotations

from .rooms.models import Moderation, Room, Visibility

__all__ = ["DEMO_ROOMS", "seed"]

DEMO_ROOMS = [
    ("welcome", "Welcome", "Introduce yourself and meet others.", Moderation.STANDARD),
    ("daily-reflections", "Daily reflections", "A thought for today.", Moderation.STANDARD),
    ("service", "Service", "Ways to give back, and people to do it with.", Moderation.STANDARD),
    (
        "hard-days",
        "Hard days",
        "When it is hard. Every post is read by a moderator first.",
        Moderation.PREMODERATED,
    ),
]


async def seed() -> None:
    """Create the demo rooms once; running it again changes nothing."""
    for position, (slug, name, description, moderation) in enumerate(DEMO_ROOMS):
        await Room.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "description": description,
                "visibility": Visibility.PUBLIC,
                "moderation": moderation,
                "position": position,
            },
        )
