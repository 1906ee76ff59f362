"""The rules of identity: sign-up, sign-in, sessions, recovery, the host bridge, export, erasure.

No HTTP here. Edges pass in what they know of the request (the client
address for throttling, a coarse client label) and get members and
session tokens back. Client addresses are only ever keys of the in-memory
limiter; nothing here writes one down.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q, Subquery
from tortoise.transactions import in_transaction

from .. import milestones
from ..content import render_markdown
from ..errors import (
    AccountInactive,
    BadRequest,
    CommunityError,
    InvalidCredentials,
    NotAuthenticated,
    NotFound,
    RateLimited,
    ValidationFailed,
)
from ..ratelimit import MemoryLimiter
from ..settings import Limit, Settings
from . import handles, tokens
from .models import LoginFailure, Member, MemberStatus, RecoveryCode, Role, Session
from .passwords import MAX_BYTES, Hasher, PasswordError, check_policy

__all__ = ["Accounts", "Authenticated", "SignedIn", "member_json"]

logger = logging.getLogger("alumni_community.identity")

RECOVERY_CODES = 10
#: last_seen_at is written at most this often per session: often enough for
#: idle expiry measured in days, rare enough not to write on every request.
TOUCH_EVERY = dt.timedelta(minutes=1)
MAX_BIO_CHARS = 2000
ERASED_JOINED = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass
class SignedIn:
    member: Member
    session: Session
    #: The cookie value; shown once, never stored.
    token: str
    recovery_codes: list[str] | None = None


@dataclass
class Authenticated:
    member: Member
    session: Session


def member_json(member: Member) -> dict[str, Any]:
    """A member as every other member may see them: handle, role, month joined."""
    if member.status == MemberStatus.ERASED or member.handle is None:
        return {"handle": None, "role": "member", "joined": None, "milestone": None}
    # A milestone is shown only when the member chose to share it.
    reached = milestones.current(member.sobriety_date) if member.share_milestones else None
    return {
        "handle": member.handle,
        "role": str(member.role),
        "joined": member.joined_at.strftime("%Y-%m"),
        "milestone": {"days": reached.days, "label": reached.label} if reached else None,
    }


class Accounts:
    """Identity rules bound to one community's settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.hasher = Hasher(
            settings.password_hash_workers,
            memory_kib=settings.password_hash_memory_kib,
            passes=settings.password_hash_passes,
        )
        self.limiter = MemoryLimiter()
        #: Called with a member's id after their sessions or status changed
        #: (live connections re-check themselves: a logout closes sockets).
        self.member_listeners: list[Callable[[int], Awaitable[None]]] = []
        #: Called with a member's id after their account was erased (their
        #: places on the service board are given up).
        self.erase_listeners: list[Callable[[int], Awaitable[None]]] = []
        #: Reads a new bio before it is saved (refuses, or returns notices);
        #: the community sets it to the moderation rules.
        self.bio_screen: Callable[[Member, str], Awaitable[list[dict[str, str]]]] | None = None

    def close(self) -> None:
        self.hasher.close()

    async def member_changed(self, member_id: int) -> None:
        for listener in self.member_listeners:
            try:
                await listener(member_id)
            except Exception:
                logger.exception("member listener failed")

    # -- sign-up and sign-in ---------------------------------------------------

    async def sign_up(self, handle: str, password: str, *, ip: str, client: str) -> SignedIn:
        now = self.settings.now()
        self._count_signup(ip, now)
        value, password_hash = await self._credentials(handle, password)
        try:
            async with in_transaction():
                member = await self._create(value, now, password_hash=password_hash)
                codes = await self._replace_recovery_codes(member)
                token, session = await self._new_session(member, client, via_host=False)
        except IntegrityError:
            # Someone took the handle between our check and our insert.
            raise ValidationFailed({"handle": ["is taken"]}) from None
        return SignedIn(member, session, token, codes)

    async def log_in(self, handle: str, password: str, *, ip: str, client: str) -> SignedIn:
        now = self.settings.now()
        member, stored, attempt = await self._verify(handle, password, ip=ip, now=now)
        self._ensure_may_sign_in(member, now)
        await self._succeeded(attempt)
        if self.hasher.needs_rehash(stored):
            member.password_hash = await self.hasher.hash(password)
            await member.save(update_fields=["password_hash"])
        token, session = await self._new_session(member, client, via_host=False)
        return SignedIn(member, session, token)

    async def authenticate(self, token: str) -> Authenticated | None:
        """The member and session a cookie token stands for, or None if it is dead."""
        session = await Session.get_or_none(token_hash=tokens.hash_token(token)).select_related(
            "member"
        )
        if session is None:
            return None
        now = self.settings.now()
        idle = dt.timedelta(seconds=self.settings.session_idle_seconds)
        member: Member = session.member
        if (
            session.expires_at <= now
            or session.last_seen_at + idle <= now
            or not self._may_sign_in(member, now)
        ):
            await Session.filter(id=session.id).delete()
            return None
        if now - session.last_seen_at >= TOUCH_EVERY:
            session.last_seen_at = now
            await Session.filter(id=session.id).update(last_seen_at=now)
        return Authenticated(member, session)

    async def identify(self, handle: str, password: str, *, ip: str) -> Member:
        """The member these credentials belong to, whatever their status.

        For a suspended or banned member, who cannot sign in, to appeal.
        Throttled and timed exactly like a sign-in; no session is made.
        """
        now = self.settings.now()
        member, _, attempt = await self._verify(handle, password, ip=ip, now=now)
        await self._succeeded(attempt)
        return member

    async def _verify(
        self, handle: str, password: str, *, ip: str, now: dt.datetime
    ) -> tuple[Member, str, _Attempt]:
        key = handles.key(handle)[:64]
        attempt = await self._begin_attempt(key, ip, now)
        member = await Member.get_or_none(handle_key=key)
        stored = member.password_hash if member is not None else None
        if len(password.encode("utf-8")) > MAX_BYTES:
            ok = False  # never hash a megabyte; the answer is the same as a wrong password
        else:
            ok = await self.hasher.verify(stored, password)
        if not ok or member is None or stored is None:
            raise InvalidCredentials("The handle or the password is wrong.")
        return member, stored, attempt

    async def log_out(self, session: Session) -> None:
        await Session.filter(id=session.id).delete()
        await self.member_changed(session.member_id)

    # -- sessions --------------------------------------------------------------

    async def sessions(self, member: Member, current: Session) -> list[dict[str, Any]]:
        """The member's live sessions, newest activity first (dead ones are deleted)."""
        rows = await self._live_sessions(member)
        return [
            {
                "id": row.public_id,
                "created_at": row.created_at.isoformat(),
                "last_seen_at": row.last_seen_at.isoformat(),
                "client": row.client,
                "current": row.id == current.id,
            }
            for row in rows
        ]

    async def end_session(self, member: Member, public_id: str) -> None:
        deleted = await Session.filter(member_id=member.id, public_id=public_id).delete()
        if not deleted:
            raise NotFound("No such session.")
        await self.member_changed(member.id)

    async def end_other_sessions(self, member: Member, current: Session) -> int:
        count: int = await Session.filter(member_id=member.id).exclude(id=current.id).delete()
        await self.member_changed(member.id)
        return count

    # -- passwords and recovery ------------------------------------------------

    async def recover(
        self, handle: str, code: str, new_password: str, *, ip: str, client: str
    ) -> SignedIn:
        """Reset the password with a recovery code; every other session ends.

        Unknown handles, wrong codes and used codes answer alike, after the
        same work (policy check against the typed handle, one hash), so the
        answer does not reveal whether a handle exists.
        """
        now = self.settings.now()
        key = handles.key(handle)[:64]
        # The policy depends only on what was typed: a weak new password is a
        # typo to fix, not a guess to count.
        self._check_password(new_password, handles.normalize(handle), "new_password")
        attempt = await self._begin_attempt(key, ip, now)
        password_hash = await self.hasher.hash(new_password)
        member = await Member.get_or_none(handle_key=key)
        code_hash = tokens.recovery_code_hash(self._secret, code)
        used = 0
        if member is not None:
            async with in_transaction():
                # Conditional update: of two concurrent uses of one code, one wins.
                used = await RecoveryCode.filter(
                    member_id=member.id, code_hash=code_hash, used_at=None
                ).update(used_at=now)
                if used:
                    # Raised inside the transaction: a suspended member's code
                    # and password stay as they were.
                    self._ensure_may_sign_in(member, now)
                    await Member.filter(id=member.id).update(password_hash=password_hash)
                    await Session.filter(member_id=member.id).delete()
        if member is None or not used:
            raise InvalidCredentials("The handle or the recovery code is wrong.")
        await self._succeeded(attempt)
        await self.member_changed(member.id)
        token, session = await self._new_session(member, client, via_host=False)
        return SignedIn(member, session, token)

    async def change_password(
        self, member: Member, current_password: str, new_password: str, *, keep: Session
    ) -> None:
        self._require_password(member, "there is no password to change here")
        await self.confirm_password(member, current_password)
        self._check_password(new_password, member.handle or "", "new_password")
        member.password_hash = await self.hasher.hash(new_password)
        async with in_transaction():
            await member.save(update_fields=["password_hash"])
            await Session.filter(member_id=member.id).exclude(id=keep.id).delete()
        await self.member_changed(member.id)

    async def confirm_password(self, member: Member, password: str) -> None:
        """Re-authentication before a sensitive change (throttled like a login)."""
        now = self.settings.now()
        attempt = await self._begin_attempt(member.handle_key or "", "", now)
        if len(password.encode("utf-8")) > MAX_BYTES or not await self.hasher.verify(
            member.password_hash, password
        ):
            raise InvalidCredentials("The password is wrong.")
        await self._succeeded(attempt)

    async def regenerate_recovery_codes(self, member: Member, password: str) -> list[str]:
        """New codes after the password is confirmed; the old codes stop working."""
        self._require_password(member, "recovery codes are for passwords")
        await self.confirm_password(member, password)
        async with in_transaction():
            return await self._replace_recovery_codes(member)

    @staticmethod
    def _require_password(member: Member, why: str) -> None:
        if member.password_hash is None:
            raise BadRequest(f"You sign in through the site: {why}.")

    async def remaining_recovery_codes(self, member: Member) -> int:
        count: int = await RecoveryCode.filter(member_id=member.id, used_at=None).count()
        return count

    # -- the host bridge -------------------------------------------------------

    async def host_member(self, host_user_id: str) -> Member | None:
        return await Member.get_or_none(host_key=tokens.host_key(self._secret, host_user_id))

    async def host_sign_in(self, member: Member, role: str | None, *, client: str) -> SignedIn:
        now = self.settings.now()
        self._ensure_may_sign_in(member, now)
        await self.apply_host_role(member, role)
        token, session = await self._new_session(member, client, via_host=True)
        return SignedIn(member, session, token)

    async def claim_handle(
        self, host_user_id: str, handle: str, role: str | None, *, ip: str, client: str
    ) -> SignedIn:
        """A host user's first visit: they choose a handle (never suggested from their name)."""
        now = self.settings.now()
        if await self.host_member(host_user_id) is not None:
            raise ValidationFailed({"handle": ["you already have a handle here"]})
        self._count_signup(ip, now)
        value = await self._available_handle(handle)
        try:
            async with in_transaction():
                member = await self._create(
                    value, now, host_key=tokens.host_key(self._secret, host_user_id)
                )
                await self.apply_host_role(member, role)
                token, session = await self._new_session(member, client, via_host=True)
        except IntegrityError:
            raise ValidationFailed({"handle": ["is taken"]}) from None
        return SignedIn(member, session, token)

    async def apply_host_role(self, member: Member, role: str | None) -> None:
        if role is None:
            return
        try:
            new_role = Role(role)
        except ValueError:
            raise ValueError(f"host_role returned {role!r}; expected one of {list(Role)}") from None
        if member.role != new_role:
            member.role = new_role
            await member.save(update_fields=["role"])

    # -- profile ---------------------------------------------------------------

    async def update_profile(self, member: Member, changes: dict[str, Any]) -> list[dict[str, str]]:
        """Apply the member's changes; returns the notices to show them (crisis help).

        A new bio is public writing: ``bio_screen`` (the moderation rules, set
        by the community) sees it first, whatever edge the change came from.
        """
        notices: list[dict[str, str]] = []
        bio = changes.get("bio")
        if self.bio_screen is not None and isinstance(bio, str) and bio != member.bio:
            notices = await self.bio_screen(member, bio)
        try:
            await self._apply_profile(member, changes)
        except CommunityError as refusal:
            # A refused change still brings the help its words called for.
            refusal.notices.extend(notices)
            raise
        return notices

    async def _apply_profile(self, member: Member, changes: dict[str, Any]) -> None:
        errors: dict[str, list[str]] = {}
        fields: list[str] = []
        for name, value in changes.items():
            if name == "bio":
                if not isinstance(value, str):
                    errors[name] = ["must be text"]
                elif len(value) > MAX_BIO_CHARS:
                    errors[name] = [f"must be at most {MAX_BIO_CHARS} characters"]
                else:
                    member.bio, member.bio_html = value, render_markdown(value)
                    fields += ["bio", "bio_html"]
            elif name == "sobriety_date":
                parsed = self._parse_sobriety_date(value, errors)
                if name not in errors:
                    member.sobriety_date = parsed
                    fields.append(name)
            elif name in ("share_milestones", "share_service_hours"):
                if not isinstance(value, bool):
                    errors[name] = ["must be true or false"]
                else:
                    setattr(member, name, value)
                    fields.append(name)
            elif name == "timezone":
                if not isinstance(value, str) or not _is_zone(value):
                    errors[name] = ["an IANA time zone such as Europe/London, or empty"]
                else:
                    member.timezone = value
                    fields.append(name)
            else:
                errors[name] = ["is not a field you can change"]
        if errors:
            raise ValidationFailed(errors)
        if fields:
            await member.save(update_fields=fields)

    def _parse_sobriety_date(self, value: Any, errors: dict[str, list[str]]) -> dt.date | None:
        if value is None:
            return None
        try:
            parsed = dt.date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None:
            errors["sobriety_date"] = ["must be a date written YYYY-MM-DD, or null"]
        elif parsed > self.settings.now().date():
            errors["sobriety_date"] = ["must not be in the future"]
        elif parsed.year < 1900:
            errors["sobriety_date"] = ["must be 1900 or later"]
        return parsed

    async def profile(self, member: Member) -> dict[str, Any]:
        """The member's own view of their account (more than others see)."""
        return {
            "member": member_json(member),
            "bio": member.bio,
            "bio_html": member.bio_html,
            "sobriety_date": member.sobriety_date.isoformat() if member.sobriety_date else None,
            "share_milestones": member.share_milestones,
            "share_service_hours": member.share_service_hours,
            "timezone": member.timezone or self.settings.timezone,
            "trust_level": member.trust_level,
            "status": str(member.status),
            "has_password": member.password_hash is not None,
            "host_linked": member.host_key is not None,
            "recovery_codes_left": await self.remaining_recovery_codes(member),
        }

    async def celebrating(self, viewer: Member) -> list[dict[str, Any]]:
        """Members who share their milestones and reached one this month, latest first."""
        today = self.settings.now().date()
        rows = await Member.filter(
            share_milestones=True,
            sobriety_date__isnull=False,
            status__in=[MemberStatus.ACTIVE, MemberStatus.SILENCED],
        )
        found = []
        for member in rows:
            assert member.sobriety_date is not None
            reached = milestones.milestone_on(
                member.sobriety_date, today, self.settings.milestone_ladder
            )
            if reached and (reached.on.year, reached.on.month) == (today.year, today.month):
                found.append((reached.on, member_json(member)))
        return [who for _, who in sorted(found, key=lambda f: f[0], reverse=True)]

    async def public_profile(self, handle: str) -> dict[str, Any]:
        member = await Member.get_or_none(handle_key=handles.key(handle)[:64])
        if member is None or member.status == MemberStatus.ERASED:
            raise NotFound("No member has that handle.")
        public: dict[str, Any] = {"member": member_json(member), "bio_html": member.bio_html}
        if member.share_service_hours:
            # Shared by the member's choice only; off by default.
            from ..opportunities.models import Signup

            hours = await Signup.filter(member_id=member.id, attended=True).values_list(
                "hours", flat=True
            )
            public["service_hours"] = round(sum(h or 0.0 for h in hours), 2)  # type: ignore[misc]
        return public

    # -- admin -----------------------------------------------------------------

    async def create_member(
        self, handle: str, password: str, role: Role
    ) -> tuple[Member, list[str]]:
        """For the CLI: a member made by an operator (how a host makes its first admin).

        Returns the member and their recovery codes, made in one transaction.
        """
        value, password_hash = await self._credentials(handle, password)
        async with in_transaction():
            member = await self._create(
                value, self.settings.now(), password_hash=password_hash, role=role
            )
            return member, await self._replace_recovery_codes(member)

    async def get_by_handle(self, handle: str) -> Member:
        member = await Member.get_or_none(handle_key=handles.key(handle)[:64])
        if member is None:
            raise NotFound(f"No member has the handle {handle!r}.")
        return member

    async def set_role(self, handle: str, role: Role) -> Member:
        member = await self.get_by_handle(handle)
        member.role = role
        await member.save(update_fields=["role"])
        return member

    async def set_meeting_host(self, handle: str, allowed: bool) -> Member:
        member = await self.get_by_handle(handle)
        member.meeting_host = allowed
        await member.save(update_fields=["meeting_host"])
        return member

    async def set_trust(self, handle: str, level: int) -> Member:
        if not 0 <= level <= 3:
            raise ValidationFailed({"level": ["must be 0, 1, 2 or 3"]})
        member = await self.get_by_handle(handle)
        member.trust_level = level
        await member.save(update_fields=["trust_level"])
        return member

    # -- export and erasure ----------------------------------------------------

    async def export(self, member: Member) -> dict[str, Any]:
        """Everything we hold about the member, as JSON-ready data."""
        sessions = await self._live_sessions(member)
        return {
            "format": "alumni_community.export/1",
            "exported_at": self.settings.now().isoformat(),
            "member": {
                "handle": member.handle,
                "role": str(member.role),
                "trust_level": member.trust_level,
                "status": str(member.status),
                "status_until": member.status_until.isoformat() if member.status_until else None,
                "joined_at": member.joined_at.isoformat(),
                "bio": member.bio,
                "sobriety_date": member.sobriety_date.isoformat() if member.sobriety_date else None,
                "share_milestones": member.share_milestones,
                "share_service_hours": member.share_service_hours,
                "timezone": member.timezone,
                "meeting_host": member.meeting_host,
                "has_password": member.password_hash is not None,
                "host_linked": member.host_key is not None,
            },
            "sessions": [
                {
                    "created_at": s.created_at.isoformat(),
                    "last_seen_at": s.last_seen_at.isoformat(),
                    "expires_at": s.expires_at.isoformat(),
                    "client": s.client,
                    "via_host": s.via_host,
                }
                for s in sessions
            ],
            "recovery_codes_left": await self.remaining_recovery_codes(member),
            "posts": await _posts_of(member.id),
            "notifications": await _notifications_of(member.id),
            "messages": await _messages_of(member.id),
            **await _service_of(member.id),
        }

    async def erase(
        self,
        member: Member,
        *,
        password: str | None,
        host_signed_in: bool,
        delete_content: bool,
    ) -> None:
        """Remove the member's personal data; the row stays only as a tombstone id.

        The member re-authenticates first: with their password, or, for a
        member who only signs in through the host, by being signed in on the
        host at this moment.

        Content they wrote stays, shown as "former member", unless
        ``delete_content``. On SQLite the freed bytes are zeroed
        (``secure_delete``) and the write-ahead log is truncated, so the
        erased text cannot be read back from the files.
        """
        if member.password_hash is not None:
            await self.confirm_password(member, password or "")
        elif not host_signed_in:
            raise NotAuthenticated("Sign in on the site again to erase your account.")
        key = member.handle_key
        async with in_transaction():
            await Session.filter(member_id=member.id).delete()
            await RecoveryCode.filter(member_id=member.id).delete()
            if key:
                await LoginFailure.filter(handle_digest=self._digest(key)).delete()
            await Member.filter(id=member.id).update(
                handle=None,
                handle_key=None,
                handle_skeleton=None,
                role=Role.MEMBER,
                trust_level=0,
                status=MemberStatus.ERASED,
                status_until=None,
                joined_at=ERASED_JOINED,
                bio="",
                bio_html="",
                sobriety_date=None,
                share_milestones=False,
                share_service_hours=False,
                timezone="",
                meeting_host=False,
                password_hash=None,
                host_key=None,
            )
            # What the member was told is theirs alone: it goes with them.
            from ..notifications.models import Notification

            await Notification.filter(member_id=member.id).delete()
            # Reactions, read markers and blocks say who someone is close to.
            from ..chat.models import Block, Reaction, ReadMarker

            await Reaction.filter(member_id=member.id).delete()
            await ReadMarker.filter(member_id=member.id).delete()
            await Block.filter(Q(member_id=member.id) | Q(blocked_id=member.id)).delete()
            # Direct conversations end: the other member sees that they left.
            from ..rooms.models import RoomMembership

            direct = await RoomMembership.filter(
                member_id=member.id, room__direct=True
            ).values_list("id", flat=True)
            await RoomMembership.filter(id__in=list(direct)).delete()
            # Offers and requests to sponsor say who someone is and how they are.
            from ..opportunities.models import SponsorOffer, SponsorRequest

            await SponsorOffer.filter(member_id=member.id).delete()
            await SponsorRequest.filter(member_id=member.id).delete()
            if delete_content:
                await _erase_content(member.id)
        for listener in self.erase_listeners:
            await listener(member.id)
        await self.member_changed(member.id)
        if self.settings.database_engine == "sqlite":
            rows = await Member._meta.db.execute_query_dict("PRAGMA wal_checkpoint(TRUNCATE)")
            if rows and rows[0].get("busy"):
                # Another connection (another process) was reading: the old
                # pages stay in the write-ahead log until its next checkpoint.
                logger.warning("erasure: the write-ahead log could not be truncated yet")

    # -- internals -------------------------------------------------------------

    @property
    def _secret(self) -> str:
        assert self.settings.secret_key is not None
        return self.settings.secret_key

    @staticmethod
    def _check_password(password: str, handle: str, field: str) -> None:
        try:
            check_policy(password, handle=handle)
        except PasswordError as error:
            raise ValidationFailed({field: [str(error)]}) from None

    async def _credentials(self, handle: str, password: str) -> tuple[str, str]:
        """A new member's checked handle and hashed password."""
        value = await self._available_handle(handle)
        self._check_password(password, value, "password")
        return value, await self.hasher.hash(password)

    async def _live_sessions(self, member: Member) -> list[Session]:
        now = self.settings.now()
        idle_since = now - dt.timedelta(seconds=self.settings.session_idle_seconds)
        await (
            Session.filter(member_id=member.id)
            .filter(Q(expires_at__lte=now) | Q(last_seen_at__lte=idle_since))
            .delete()
        )
        rows: list[Session] = await Session.filter(member_id=member.id).order_by("-last_seen_at")
        return rows

    async def _create(self, handle: str, now: dt.datetime, **fields: Any) -> Member:
        """A new member under an available, validated handle (see ``_available_handle``)."""
        return await Member.create(
            handle=handle,
            handle_key=handles.key(handle),
            handle_skeleton=handles.skeleton(handle),
            joined_at=now,
            **fields,
        )

    def _digest(self, handle_key: str) -> str:
        return tokens.handle_digest(self._secret, handle_key)

    async def _available_handle(self, handle: str) -> str:
        try:
            value = handles.validate(handle)
        except handles.HandleError as error:
            raise ValidationFailed({"handle": [str(error)]}) from None
        if await Member.filter(handle_key=handles.key(value)).exists():
            raise ValidationFailed({"handle": ["is taken"]})
        if await Member.filter(handle_skeleton=handles.skeleton(value)).exists():
            raise ValidationFailed({"handle": ["looks too much like an existing handle"]})
        return value

    async def _new_session(
        self, member: Member, client: str, *, via_host: bool
    ) -> tuple[str, Session]:
        now = self.settings.now()
        token = tokens.new_session_token()
        session = await Session.create(
            public_id=tokens.new_public_id(),
            token_hash=tokens.hash_token(token),
            member=member,
            created_at=now,
            last_seen_at=now,
            expires_at=now + dt.timedelta(seconds=self.settings.session_max_seconds),
            client=client[:64],
            via_host=via_host,
        )
        return token, session

    async def _replace_recovery_codes(self, member: Member) -> list[str]:
        await RecoveryCode.filter(member_id=member.id).delete()
        codes = [tokens.new_recovery_code() for _ in range(RECOVERY_CODES)]
        await RecoveryCode.bulk_create(
            [
                RecoveryCode(member=member, code_hash=tokens.recovery_code_hash(self._secret, c))
                for c in codes
            ]
        )
        return codes

    def _may_sign_in(self, member: Member, now: dt.datetime) -> bool:
        return member.status_in_force(now) not in (
            MemberStatus.SUSPENDED,
            MemberStatus.BANNED,
            MemberStatus.ERASED,
        )

    def _ensure_may_sign_in(self, member: Member, now: dt.datetime) -> None:
        if not self._may_sign_in(member, now):
            until = member.status_until
            raise AccountInactive(
                f"This account is suspended until {until:%Y-%m-%d %H:%M} UTC."
                if member.status == MemberStatus.SUSPENDED and until
                else "This account cannot sign in."
            )

    def _count_signup(self, ip: str, now: dt.datetime) -> None:
        """Every attempt counts, refused ones too: a script probing which
        handles are taken is slowed as much as one creating accounts."""
        key, limit = f"signup:{ip}", self.settings.signup_limit_per_ip
        self._throttle_ip(key, limit, now)
        self.limiter.hit(key, limit, now.timestamp())

    def _throttle_ip(self, key: str, limit: Limit, now: dt.datetime) -> None:
        retry = self.limiter.retry_after(key, limit, now.timestamp())
        if retry is not None:
            raise RateLimited(retry)

    async def _begin_attempt(self, handle_key: str, ip: str, now: dt.datetime) -> _Attempt:
        """Count an attempt as failed before checking it; ``_succeeded`` takes it back.

        Counting first is what makes the limits hold under concurrency: each
        attempt inserts its row, then counts the rows up to its own, so of
        many simultaneous guesses only the first ``count`` reach the hash.
        """
        stamp = now.timestamp()
        ip_key = f"login:{ip}" if ip else None
        if ip_key is not None:
            self._throttle_ip(ip_key, self.settings.login_limit_per_ip, now)
            self.limiter.hit(ip_key, self.settings.login_limit_per_ip, stamp)
        limit = self.settings.login_limit_per_handle
        since = now - dt.timedelta(seconds=limit.seconds)
        digest = self._digest(handle_key)
        await LoginFailure.filter(failed_at__lte=since).delete()
        async with in_transaction() as connection:
            if self.settings.database_engine == "postgres":
                # Ids are handed out before commit: without this lock two
                # attempts committing out of order could each miss the other.
                await connection.execute_query(
                    "SELECT pg_advisory_xact_lock(hashtext($1))", [digest]
                )
            row = await LoginFailure.create(handle_digest=digest, failed_at=now)
            earlier: list[dt.datetime] = await (  # type: ignore[assignment]
                LoginFailure.filter(handle_digest=digest, failed_at__gt=since, id__lt=row.id)
                .order_by("failed_at", "id")
                .values_list("failed_at", flat=True)
            )
        if len(earlier) >= limit.count:
            await LoginFailure.filter(id=row.id).delete()
            if ip_key is not None:
                self.limiter.unhit(ip_key, stamp)
            frees_at = earlier[-limit.count] + dt.timedelta(seconds=limit.seconds)
            raise RateLimited(int((frees_at - now).total_seconds()) + 1)
        return _Attempt(digest=digest, ip_key=ip_key, stamp=stamp)

    async def _succeeded(self, attempt: _Attempt) -> None:
        """A good attempt clears the handle's failures and is not held against the address."""
        await LoginFailure.filter(handle_digest=attempt.digest).delete()
        if attempt.ip_key is not None:
            self.limiter.unhit(attempt.ip_key, attempt.stamp)


@dataclass
class _Attempt:
    digest: str
    ip_key: str | None
    stamp: float


async def _erase_content(member_id: int) -> None:
    """The member's posts lose their text and earlier versions; threads they began, their title.

    The rows stay (marked deleted) so replies keep their place in threads.
    """
    from ..chat.models import Message, MessageRevision
    from ..rooms.models import Post, PostRevision, PostState, Thread

    messages = Message.filter(author_id=member_id).values("id")
    await MessageRevision.filter(message_id__in=Subquery(messages)).delete()
    await Message.filter(author_id=member_id).update(body="", html="", state=PostState.DELETED)

    posts = Post.filter(author_id=member_id).values("id")
    await PostRevision.filter(post_id__in=Subquery(posts)).delete()
    await Post.filter(author_id=member_id).update(body="", html="", state=PostState.DELETED)
    await Thread.filter(author_id=member_id).update(title="[deleted]")
    for thread_id in (
        await Thread.filter(posts__author_id=member_id).distinct().values_list("id", flat=True)
    ):
        visible = await Post.filter(thread_id=thread_id, state=PostState.VISIBLE).count()
        await Thread.filter(id=thread_id).update(post_count=visible)


async def _posts_of(member_id: int) -> list[dict[str, Any]]:
    """Everything the member wrote in threads, as written (Markdown), oldest first."""
    from ..rooms.models import Post

    posts = await Post.filter(author_id=member_id).order_by("id").select_related("thread__room")
    return [
        {
            "id": p.id,
            "room": p.thread.room.slug,
            "thread": p.thread_id,
            "thread_title": p.thread.title,
            "body": p.body,
            "state": str(p.state),
            "created_at": p.created_at.isoformat(),
            "edited_at": p.edited_at.isoformat() if p.edited_at else None,
        }
        for p in posts
    ]


async def _notifications_of(member_id: int) -> list[dict[str, Any]]:
    from ..notifications.models import Notification

    rows = await Notification.filter(member_id=member_id).order_by("id")
    return [
        {
            "kind": n.kind,
            "html": n.html,
            "created_at": n.created_at.isoformat(),
            "read_at": n.read_at.isoformat() if n.read_at else None,
        }
        for n in rows
    ]


async def _messages_of(member_id: int) -> list[dict[str, Any]]:
    """The member's chat messages (not deleted ones), with the room they are in."""
    from ..chat.models import Message
    from ..rooms.models import PostState

    rows = (
        await Message.filter(author_id=member_id)
        .exclude(state=PostState.DELETED)
        .order_by("id")
        .select_related("room")
    )
    return [
        {
            "room": m.room.slug,
            "seq": m.seq,
            "body": m.body,
            "state": str(m.state),
            "created_at": m.created_at.isoformat(),
        }
        for m in rows
    ]


def _is_zone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone ("" means the community's default)."""
    if name == "":
        return True
    if len(name) > 64 or "\x00" in name:
        return False
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return False
    return True


async def _service_of(member_id: int) -> dict[str, Any]:
    """The member's listings, sign-ups and hours, and their sponsorship."""
    from tortoise.expressions import Q as Q_

    from ..opportunities.models import (
        Opportunity,
        Signup,
        SponsorOffer,
        SponsorRequest,
        Sponsorship,
    )

    listings = await Opportunity.filter(organizer_id=member_id).order_by("id")
    signups = (
        await Signup.filter(member_id=member_id).order_by("id").select_related("slot__opportunity")
    )
    offer = await SponsorOffer.get_or_none(member_id=member_id)
    requests = await SponsorRequest.filter(member_id=member_id).order_by("id")
    matches = (
        await Sponsorship.filter(Q_(sponsor_id=member_id) | Q_(sponsee_id=member_id))
        .order_by("id")
        .select_related("sponsor", "sponsee")
    )
    return {
        "listings": [
            {
                "title": o.title,
                "body": o.body,
                "status": str(o.status),
                "created_at": o.created_at.isoformat(),
            }
            for o in listings
        ],
        "signups": [
            {
                "opportunity": s.slot.opportunity.title,
                "starts_at": s.slot.starts_at.isoformat(),
                "status": str(s.status),
                "hidden": s.hidden,
                "attended": s.attended,
                "hours": s.hours,
            }
            for s in signups
        ],
        "sponsorship": {
            "offer": {"capacity": offer.capacity, "note": offer.note, "active": offer.active}
            if offer
            else None,
            "requests": [
                {"note": r.note, "open": r.open, "created_at": r.created_at.isoformat()}
                for r in requests
            ],
            "matches": [
                {
                    "role": "sponsor" if m.sponsor_id == member_id else "sponsee",
                    "with": (m.sponsee if m.sponsor_id == member_id else m.sponsor).handle,
                    "started_at": m.started_at.isoformat(),
                    "ended_at": m.ended_at.isoformat() if m.ended_at else None,
                }
                for m in matches
            ],
        },
    }
