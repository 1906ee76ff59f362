"""The one configuration object of alumni_community.

``Settings`` is an immutable, keyword-only value object. It is validated
when it is built, so a host finds a typo at start-up with the field named,
not at the first request. ``Settings.from_env()`` reads the same fields
from ``ALUMNI_COMMUNITY_<FIELD>`` environment variables.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import ConfigurationError
from .milestones import DEFAULT_LADDER, Step
from .moderation.crisis_phrases import DEFAULT_CRISIS_PHRASES
from .moderation.trust import CrisisResource, TrustRules

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

__all__ = ["Limit", "Settings"]

logger = logging.getLogger("alumni_community")

#: Database URL schemes we accept, mapped to the one Tortoise understands.
DATABASE_SCHEMES = {
    "sqlite": "sqlite",
    "postgres": "postgres",
    "postgresql": "postgres",
    "asyncpg": "postgres",
}
BROKER_SCHEMES = ("memory", "postgres", "postgresql", "redis", "rediss")

#: Shorter keys are guessable by brute force; 32 characters of token_urlsafe
#: carry 192 bits.
MIN_SECRET_KEY_LENGTH = 32

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}

HostIdentity = Callable[["HTTPConnection"], "str | Awaitable[str | None] | None"]
HostRole = Callable[["HTTPConnection"], "str | Awaitable[str | None] | None"]


@dataclass(frozen=True)
class Limit:
    """At most ``count`` events per ``seconds``; written ``"COUNT/SECONDS"`` in the environment."""

    count: int
    seconds: int

    def __post_init__(self) -> None:
        if self.count < 1 or self.seconds < 1:
            raise ValueError("a limit needs a positive count and window")

    @classmethod
    def parse(cls, text: str) -> Limit:
        count, _, seconds = text.partition("/")
        return cls(int(count), int(seconds))


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything a host can configure.

    Example::

        Settings(
            database_url="postgres://community@db/community",
            secret_key=os.environ["COMMUNITY_SECRET"],
            allowed_origins=["https://alumni.example.org"],
        )
    """

    #: Where members, rooms and messages live. A SQLite file needs nothing
    #: installed; use ``postgres://`` when more than one process serves the app.
    database_url: str = "sqlite://community.sqlite3"

    #: Keys everything derived: CSRF tokens, recovery-code and host-id HMACs.
    #: Changing it unlinks host sign-ins and voids recovery codes. Required
    #: outside demo mode, because a generated key would change at every restart.
    secret_key: str | None = dataclasses.field(default=None, repr=False)

    #: How chat messages reach other server processes. ``memory://`` is right
    #: for one process; ``postgres://`` or ``redis://`` for several. ``None``
    #: means the database's own: memory on SQLite (one process), LISTEN/NOTIFY
    #: on PostgreSQL.
    broker_url: str | None = None

    #: Origins allowed to open the WebSocket, exactly as the browser sends
    #: them (scheme://host[:port]). The request's own origin is always allowed.
    allowed_origins: Sequence[str] = ()

    #: Largest WebSocket frame a client may send, in bytes. A message is at
    #: most 4,000 characters, so 16 KiB leaves room; a bigger frame closes
    #: the socket with 1009.
    ws_max_frame_bytes: int = 16 * 1024

    #: Open WebSockets per member: a phone, a laptop and a few tabs.
    ws_connections_per_member: int = 5

    #: Frames waiting for one slow socket before it is closed with 4408 (its
    #: client resumes with ``since``), so one slow reader never delays others.
    ws_queue_frames: int = 512

    #: Seconds without a frame from the client (pings count) before the
    #: server closes the socket; clients ping every 20-30 s.
    ws_idle_seconds: int = 90

    #: Messages a ``subscribe`` replays; further back the client gets a
    #: ``gap`` and pages through ``GET /rooms/{slug}/messages``.
    chat_backlog_limit: int = 500

    #: Seconds between rounds of slot reminders (24 h and 1 h before): a
    #: minute late is still on time for a reminder.
    reminder_interval_seconds: int = 60

    #: Publish public meetings at ``/api/v1/meetings/feed.json`` in the
    #: Meeting Guide format. Off by default: anonymity first, the centre
    #: decides which meetings (never any member data) are listed.
    meeting_guide_feed: bool = False

    #: The milestone ladder before the yearly ones (see milestones.py): the
    #: chips and keytags of 12-step fellowships.
    milestone_ladder: Sequence[Step] = DEFAULT_LADDER

    #: Days of self-declared sobriety a member needs to offer sponsorship
    #: (a year: the common rule of thumb in 12-step fellowships).
    sponsor_min_sober_days: int = 365

    #: The community's IANA time zone: times are shown in it to members who
    #: have not chosen their own.
    timezone: str = "UTC"

    #: Seconds after sending in which the author may edit or delete a
    #: message (room moderators always may): long enough to fix a typo,
    #: short enough that replies keep their meaning.
    chat_edit_window_seconds: int = 15 * 60

    #: Send cookies with ``Secure``. ``None`` means "yes, unless demo", since
    #: only a plain-http development server should ever turn it off.
    cookie_secure: bool | None = None

    #: Demo mode: a generated secret, schema created on start, seeded data,
    #: relaxed cookies. Never for real members.
    demo: bool = False

    #: Bring the schema up to date at start-up. ``None`` means "only in demo
    #: mode": in production migrations are a deliberate step (``migrate``).
    migrate_on_start: bool | None = None

    #: The community's name, shown in page titles and headings.
    site_name: str = "Alumni community"

    #: Folders of templates that override the packaged ones, file by file;
    #: the first folder that has a file wins, the packaged one comes last.
    template_dirs: Sequence[str] = ()

    #: Who is logged in on the host site: takes the request, returns the
    #: host's stable user id or None. ``None`` here means Starlette's
    #: ``scope["user"]`` from AuthenticationMiddleware.
    host_identity: HostIdentity | None = dataclasses.field(default=None, compare=False)

    #: Who the host says this user is, in the host's own terms: takes the
    #: request, returns "member", "moderator", "admin" or None (leave as is).
    #: Applied on every request of a host-signed-in member.
    host_role: HostRole | None = dataclasses.field(default=None, compare=False)

    #: A session ends after this many seconds without a request (14 days:
    #: members drop in weekly; a fortnight of silence is worth a new login).
    session_idle_seconds: int = 14 * 24 * 3600

    #: ...and this many seconds after sign-in whatever its activity (60 days),
    #: so a stolen cookie does not live for ever.
    session_max_seconds: int = 60 * 24 * 3600

    #: Failed logins per handle (5 in 30 minutes): slows guessing one member's
    #: password to a crawl while a person who mistypes is barely delayed.
    login_limit_per_handle: Limit = Limit(5, 30 * 60)

    #: Failed logins per client address (20 in 10 minutes): one address
    #: trying many handles. Addresses are counted in memory, never stored.
    login_limit_per_ip: Limit = Limit(20, 10 * 60)

    #: Sign-up attempts per client address (10 an hour, refused ones too): a
    #: person makes one account after a try or two; a script probing which
    #: handles are taken, or making accounts, makes hundreds.
    signup_limit_per_ip: Limit = Limit(10, 60 * 60)

    #: Trust-level thresholds and limits (see moderation/trust.py for each reason).
    trust: TrustRules = dataclasses.field(default_factory=TrustRules)

    #: Phrases that suggest someone may be in danger, matched on normalized
    #: text. A matching post is published and its author shown the resources
    #: below; moderators get an urgent review item. Adapt to the locale.
    crisis_phrases: Sequence[str] = DEFAULT_CRISIS_PHRASES

    #: Help shown at once to a member who may be in crisis. The default is
    #: the US (988 Suicide & Crisis Lifeline, 911): a host elsewhere must set
    #: its own, which is why it is a setting and not code.
    crisis_resources: Sequence[CrisisResource] = (
        CrisisResource(
            name="988 Suicide & Crisis Lifeline", contact="call or text 988",
            url="https://988lifeline.org",
        ),
        CrisisResource(name="Emergency services", contact="call 911"),
    )  # fmt: skip

    #: Region for reading phone numbers written without a country code.
    phone_region: str = "US"

    #: Threads hashing passwords at once. Each argon2id hash holds 64 MiB and
    #: about 0.16 s of CPU over 4 lanes; the threads yield the CPU to any other
    #: (SCHED_IDLE on Linux), and more workers than cores only adds memory.
    password_hash_workers: int = 2
    #: argon2id cost: memory per hash and passes. The defaults are argon2-cffi's
    #: (RFC 9106's low-memory profile). OWASP's floor is 19 MiB with 2 passes;
    #: go lower only in tests, where thousands of hashes would otherwise cost
    #: minutes. Stored hashes are upgraded at the next sign-in when these change.
    password_hash_memory_kib: int = 65_536
    password_hash_passes: int = 3

    #: The time, for tests that move it; None means the real UTC clock.
    clock: Callable[[], datetime] | None = dataclasses.field(
        default=None, compare=False, repr=False
    )

    #: Largest JSON request body in bytes. Posts are capped far below this; the
    #: limit only stops a client from making the server buffer megabytes.
    max_body_bytes: int = 256 * 1024

    def __post_init__(self) -> None:
        scheme = _scheme(self.database_url)
        if scheme not in DATABASE_SCHEMES:
            raise ConfigurationError(
                "database_url",
                f"unknown database scheme {scheme!r}; use sqlite://PATH or postgres://USER@HOST/DB",
            )
        if scheme != "sqlite":
            parts = urlsplit(self.database_url)
            if not parts.path.strip("/"):
                raise ConfigurationError(
                    "database_url", "name the database: postgres://HOST/DBNAME"
                )
            if not parts.hostname and "host=" not in parts.query:
                raise ConfigurationError("database_url", "name the host: postgres://HOST/DBNAME")
        elif not self.database_url[len("sqlite://") :]:
            raise ConfigurationError("database_url", "give a file: sqlite://community.sqlite3")

        if self.broker_url is not None and _scheme(self.broker_url) not in BROKER_SCHEMES:
            raise ConfigurationError(
                "broker_url",
                f"unknown broker scheme {_scheme(self.broker_url)!r}; "
                "use memory://, postgres://... or redis://...",
            )
        for name in (
            "ws_max_frame_bytes",
            "ws_connections_per_member",
            "ws_queue_frames",
            "ws_idle_seconds",
            "chat_backlog_limit",
            "reminder_interval_seconds",
            "sponsor_min_sober_days",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigurationError(name, "must be a whole number of at least 1")
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(self.timezone)
        except (ValueError, KeyError, TypeError, OSError):
            raise ConfigurationError(
                "timezone", f"{self.timezone!r} is not an IANA time zone such as America/Chicago"
            ) from None
        if not isinstance(self.chat_edit_window_seconds, int) or self.chat_edit_window_seconds < 0:
            raise ConfigurationError("chat_edit_window_seconds", "must be 0 or more")

        if isinstance(self.crisis_phrases, str) or not all(
            isinstance(p, str) and p.strip() for p in self.crisis_phrases
        ):
            raise ConfigurationError("crisis_phrases", "a list of phrases, not one string")
        if not isinstance(self.trust, TrustRules):
            raise ConfigurationError("trust", "must be a TrustRules(...)")
        if not all(isinstance(r, CrisisResource) for r in self.crisis_resources):
            raise ConfigurationError("crisis_resources", "must be CrisisResource(...) values")
        import phonenumbers

        if self.phone_region not in phonenumbers.SUPPORTED_REGIONS:
            raise ConfigurationError(
                "phone_region", f"{self.phone_region!r} is not a region code such as US or GB"
            )
        if isinstance(self.milestone_ladder, str) or not all(
            isinstance(step, Step) and (step.days > 0 or step.months > 0)
            for step in self.milestone_ladder
        ):
            raise ConfigurationError(
                "milestone_ladder", "a list of Step(label, days=..., months=...) values"
            )
        object.__setattr__(self, "milestone_ladder", tuple(self.milestone_ladder))
        object.__setattr__(self, "crisis_phrases", tuple(self.crisis_phrases))
        object.__setattr__(self, "crisis_resources", tuple(self.crisis_resources))
        origins = tuple(self.allowed_origins)
        for origin in origins:
            _check_origin(origin)
        object.__setattr__(self, "allowed_origins", origins)

        if self.secret_key is None or not self.secret_key.strip():
            if not self.demo:
                raise ConfigurationError(
                    "secret_key",
                    "required outside demo mode; generate one with "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`",
                )
            object.__setattr__(self, "secret_key", secrets.token_urlsafe(48))
            logger.warning(
                "DEMO MODE: using a generated secret_key; CSRF tokens and host sign-in links "
                "change at every restart. "
                "Never use demo mode for real members."
            )
        elif len(self.secret_key) < MIN_SECRET_KEY_LENGTH:
            raise ConfigurationError(
                "secret_key", f"must be at least {MIN_SECRET_KEY_LENGTH} characters long"
            )

        if isinstance(self.template_dirs, str):
            raise ConfigurationError("template_dirs", "a list of folders, not one string")
        template_dirs = tuple(str(folder) for folder in self.template_dirs)
        for folder in template_dirs:
            if not Path(folder).is_dir():
                raise ConfigurationError("template_dirs", f"{folder!r} is not a folder")
        object.__setattr__(self, "template_dirs", template_dirs)
        if not self.site_name.strip():
            raise ConfigurationError("site_name", "must not be empty")
        if self.max_body_bytes < 1024:
            raise ConfigurationError("max_body_bytes", "must be at least 1024")
        for name in ("host_identity", "host_role", "clock"):
            value = getattr(self, name)
            if value is not None and not callable(value):
                raise ConfigurationError(name, "must be a callable")
        for name in ("login_limit_per_handle", "login_limit_per_ip", "signup_limit_per_ip"):
            if not isinstance(getattr(self, name), Limit):
                raise ConfigurationError(name, "must be a Limit(count, seconds)")
        if self.password_hash_memory_kib < 64:
            raise ConfigurationError("password_hash_memory_kib", "must be at least 64")
        for name in (
            "session_idle_seconds",
            "session_max_seconds",
            "password_hash_workers",
            "password_hash_passes",
        ):
            if getattr(self, name) < 1:
                raise ConfigurationError(name, "must be at least 1")
        if self.session_idle_seconds > self.session_max_seconds:
            raise ConfigurationError(
                "session_idle_seconds", "must not be longer than session_max_seconds"
            )

    # -- derived values ---------------------------------------------------

    @property
    def secure_cookies(self) -> bool:
        """Whether cookies carry ``Secure`` (and the ``__Secure-`` prefix)."""
        return (not self.demo) if self.cookie_secure is None else self.cookie_secure

    @property
    def should_migrate_on_start(self) -> bool:
        return self.demo if self.migrate_on_start is None else self.migrate_on_start

    def now(self) -> datetime:
        """The current time, aware, in UTC."""
        return self.clock() if self.clock is not None else datetime.now(UTC)

    @property
    def broker(self) -> str:
        """The broker URL in force: ``broker_url``, or the database's own."""
        if self.broker_url is not None:
            return self.broker_url
        return self.database_url if self.database_engine == "postgres" else "memory://"

    @property
    def database_engine(self) -> str:
        """``"sqlite"`` or ``"postgres"``."""
        return DATABASE_SCHEMES[_scheme(self.database_url)]

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    # -- from the environment --------------------------------------------

    @classmethod
    def from_env(
        cls,
        prefix: str = "ALUMNI_COMMUNITY_",
        environ: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> Settings:
        """Build settings from ``<prefix><FIELD>`` variables.

        Booleans accept ``true/false/1/0/yes/no/on/off``; lists are
        comma-separated. Keyword ``overrides`` win over the environment.
        Unknown ``ALUMNI_COMMUNITY_*`` variables are refused, so a misspelt
        name does not silently fall back to a default.
        """
        env = os.environ if environ is None else environ
        callables = {
            "host_identity",
            "host_role",
            "clock",
            "trust",
            "crisis_resources",
            "milestone_ladder",
        }
        known = {f.name: f for f in dataclasses.fields(cls) if f.name not in callables}
        values: dict[str, Any] = {}
        for key, raw in env.items():
            if not key.startswith(prefix):
                continue
            name = key[len(prefix) :].lower()
            if name not in known:
                raise ConfigurationError(name, f"{key} is not a setting of alumni_community")
            values[name] = _parse(name, known[name], raw)
        values.update(overrides)
        return cls(**values)


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def _check_origin(origin: str) -> None:
    parts = urlsplit(origin)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("",)
        or parts.query
        or parts.fragment
    ):
        raise ConfigurationError(
            "allowed_origins",
            f"{origin!r} is not an origin; write scheme://host[:port] with no path",
        )


def _parse(name: str, f: dataclasses.Field[Any], raw: str) -> Any:
    kind = str(f.type)
    if "bool" in kind:
        if raw.strip().lower() in _TRUE:
            return True
        if raw.strip().lower() in _FALSE:
            return False
        raise ConfigurationError(name, f"expected true or false, got {raw!r}")
    if "Limit" in kind:
        try:
            return Limit.parse(raw)
        except ValueError:
            raise ConfigurationError(
                name, f"expected COUNT/SECONDS such as 5/1800, got {raw!r}"
            ) from None
    if name == "template_dirs":
        # Folders, like PATH: separated by os.pathsep (":" on POSIX), since a path may hold a comma.
        return tuple(part.strip() for part in raw.split(os.pathsep) if part.strip())
    if "Sequence" in kind:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if kind == "int":
        try:
            return int(raw)
        except ValueError:
            raise ConfigurationError(name, f"expected a whole number, got {raw!r}") from None
    return raw or None if "None" in kind else raw
