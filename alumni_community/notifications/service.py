"""Telling a member what happened to them or to what they did.

Every notification is written first, then handed to the listeners (the
live channel pushes it to the member's open connections). A notification
holds only the member's own business: what happened to their post, their
flag, their account. It never names who flagged them.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from ..errors import ValidationFailed
from ..identity.models import Member
from ..requests import MAX_ID, id_cursor
from ..settings import Settings
from .models import Notification

__all__ = ["Notifications", "escape"]

logger = logging.getLogger("alumni_community.notifications")

Listener = Callable[[Notification], Awaitable[None]]

PAGE_SIZE = 50
#: Ids one "mark as read" request may name.
MAX_READ_IDS = 500


def escape(text: str) -> str:
    return html.escape(text, quote=True)


class Notifications:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._listeners: list[Listener] = []

    def on_notify(self, listener: Listener) -> None:
        """Call ``listener`` with every notification once it is stored (live delivery)."""
        self._listeners.append(listener)

    async def notify(
        self,
        member_id: int,
        kind: str,
        html_text: str,
        *,
        target: tuple[str, int] | None = None,
    ) -> Notification:
        """Store one notification and hand it to the listeners.

        Call it after the change it reports has committed, so a listener
        never tells of something that was rolled back.
        """
        note = await self.store(member_id, kind, html_text, target=target)
        await self.announce(note)
        return note

    async def store(
        self,
        member_id: int,
        kind: str,
        html_text: str,
        *,
        target: tuple[str, int] | None = None,
    ) -> Notification:
        """Write a notification without telling listeners (inside a caller's transaction:
        call ``announce`` after it commits)."""
        return await Notification.create(
            member_id=member_id,
            kind=kind,
            html=html_text,
            target_type=target[0] if target else "",
            target_id=target[1] if target else None,
            created_at=self.settings.now(),
        )

    async def announce(self, note: Notification) -> None:
        for listener in self._listeners:
            try:
                await listener(note)
            except Exception:
                # The stored notification is what counts; a live push may fail.
                logger.exception("notification listener failed for notification %s", note.id)

    async def notify_many(
        self, member_ids: Iterable[int], kind: str, html_text: str, **kwargs: Any
    ) -> None:
        for member_id in dict.fromkeys(member_ids):
            await self.notify(member_id, kind, html_text, **kwargs)

    @staticmethod
    def as_json(note: Notification) -> dict[str, Any]:
        return {
            "id": note.id,
            "kind": note.kind,
            "html": note.html,
            "target": (
                {"type": note.target_type, "id": note.target_id} if note.target_type else None
            ),
            "created_at": note.created_at.isoformat(),
            "read": note.read_at is not None,
        }

    async def page(self, member: Member, cursor: str | None) -> dict[str, Any]:
        query = Notification.filter(member_id=member.id)
        before = id_cursor(cursor)
        if before is not None:
            query = query.filter(id__lt=before)
        rows = await query.order_by("-id").limit(PAGE_SIZE + 1)
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        return {
            "items": [self.as_json(n) for n in rows],
            "next": str(rows[-1].id) if more else None,
            "unread": await self.unread(member),
        }

    async def unread(self, member: Member) -> int:
        return await Notification.filter(member_id=member.id, read_at__isnull=True).count()

    async def mark_read(self, member: Member, ids: Any, everything: bool) -> int:
        """Mark the member's own notifications read; others' ids are ignored. Returns unread.

        With ``everything``, ``ids`` may be None; given, it is held to the same shape.
        """
        now: dt.datetime = self.settings.now()
        query = Notification.filter(member_id=member.id, read_at__isnull=True)
        if not everything or ids is not None:
            if (
                not isinstance(ids, list)
                or not ids
                or len(ids) > MAX_READ_IDS
                or not all(
                    isinstance(i, int) and not isinstance(i, bool) and 0 <= i <= MAX_ID for i in ids
                )
            ):
                raise ValidationFailed(
                    {"ids": [f"a list of 1 to {MAX_READ_IDS} notification ids, or all: true"]}
                )
            if not everything:
                query = query.filter(id__in=ids)
        await query.update(read_at=now)
        return await self.unread(member)
