"""Rules about rooms. Plain async functions; no HTTP here."""

from __future__ import annotations

from .models import Room, Visibility

__all__ = ["count_public_rooms"]


async def count_public_rooms() -> int:
    """How many rooms any member may see (the only room fact shown before sign-in)."""
    return await Room.filter(visibility=Visibility.MEMBERS).count()
