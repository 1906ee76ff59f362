"""Database models of the identity domain.

What is deliberately absent: e-mail, real name, IP address, and the host's
user id in clear. A host-bridged member is found again through
``host_key = HMAC(secret_key, host user id)``, which our tables alone cannot
turn back into the host's id.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

__all__ = ["LoginFailure", "Member", "MemberStatus", "RecoveryCode", "Role", "Session"]

# Plain "#" comments on fields, not "#:": see rooms/models.py.


class Role(StrEnum):
    MEMBER = "member"
    MODERATOR = "moderator"
    ADMIN = "admin"


class MemberStatus(StrEnum):
    ACTIVE = "active"
    SILENCED = "silenced"
    SUSPENDED = "suspended"
    BANNED = "banned"
    # The account was erased: the row stays only as a tombstone id that old
    # posts point at, shown as "former member".
    ERASED = "erased"


class Member(Model):
    id = fields.IntField(primary_key=True)
    # As chosen (NFKC-normalized), shown to others. NULL once erased.
    handle = fields.CharField(max_length=64, null=True)
    # Casefolded handle: unique, so "River" and "river" are one handle.
    handle_key = fields.CharField(max_length=64, null=True, unique=True)
    # What the handle looks like: unique, so look-alikes are refused.
    handle_skeleton = fields.CharField(max_length=128, null=True, unique=True)
    role = fields.CharEnumField(Role, max_length=16, default=Role.MEMBER)
    trust_level = fields.SmallIntField(default=0)
    status = fields.CharEnumField(MemberStatus, max_length=16, default=MemberStatus.ACTIVE)
    # End of a silence or suspension, NULL when it has no end.
    status_until = fields.DatetimeField(null=True)
    joined_at = fields.DatetimeField()
    bio = fields.TextField(default="")
    bio_html = fields.TextField(default="")
    sobriety_date = fields.DateField(null=True)
    share_milestones = fields.BooleanField(default=False)
    # Confirmed service hours on the public profile: off unless the member says so.
    share_service_hours = fields.BooleanField(default=False)
    # May create and edit meetings without being a moderator.
    meeting_host = fields.BooleanField(default=False)
    # IANA time zone for showing times ("" = the community's default).
    timezone = fields.CharField(max_length=64, default="")
    # argon2id hash, NULL for members who only come in through the host.
    password_hash = fields.CharField(max_length=255, null=True)
    # HMAC-SHA256 of the host's user id, hex, NULL for standalone members.
    host_key = fields.CharField(max_length=64, null=True, unique=True)

    class Meta:
        table = "ac_member"
        app = "alumni_community"

    def __str__(self) -> str:
        return self.handle or "former member"

    def status_in_force(self, now: datetime) -> MemberStatus:
        """The status that applies at ``now``: a silence or suspension past its
        end is over (the row is not rewritten when it ends), a ban is not."""
        if self.status in (MemberStatus.SILENCED, MemberStatus.SUSPENDED) and (
            self.status_until is not None and self.status_until <= now
        ):
            return MemberStatus.ACTIVE
        return MemberStatus(self.status)


class Session(Model):
    member_id: int  # set by Tortoise beside the relation; declared for type checkers

    id = fields.IntField(primary_key=True)
    # Shown to the member to name a session (to end it); not a credential.
    public_id = fields.CharField(max_length=32, unique=True)
    # SHA-256 of the cookie's token: a stolen table does not log anyone in.
    token_hash = fields.CharField(max_length=64, unique=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "alumni_community.Member", related_name="sessions", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField()
    last_seen_at = fields.DatetimeField()
    # Absolute end: the session dies then whatever its activity.
    expires_at = fields.DatetimeField()
    # A coarse label like "Firefox on Linux", so a member recognises devices.
    client = fields.CharField(max_length=64, default="")
    # Created by the host bridge: ends when the host's login changes.
    via_host = fields.BooleanField(default=False)

    class Meta:
        table = "ac_session"
        app = "alumni_community"


class RecoveryCode(Model):
    id = fields.IntField(primary_key=True)
    member: fields.ForeignKeyRelation[Member] = fields.ForeignKeyField(
        "alumni_community.Member", related_name="recovery_codes", on_delete=fields.CASCADE
    )
    # HMAC-SHA256 of the code: codes carry 59 random bits, so a keyed fast
    # hash suffices (argon2 is for low-entropy secrets chosen by people).
    code_hash = fields.CharField(max_length=64, unique=True)
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "ac_recovery_code"
        app = "alumni_community"


class LoginFailure(Model):
    """A failed login for a handle, whether or not such a member exists.

    Keyed by the handle typed, not the member, so throttling behaves the same
    for unknown handles and does not reveal which handles exist. The handle
    is kept only as an HMAC, so the table does not say who was targeted. No
    IP here: per-address limits are kept in memory only.
    """

    id = fields.IntField(primary_key=True)
    handle_digest = fields.CharField(max_length=64, db_index=True)
    failed_at = fields.DatetimeField()

    class Meta:
        table = "ac_login_failure"
        app = "alumni_community"
