"""Who may do what: the expected answer of every API route and chat frame, per principal.

The table is the specification; ``test_authorization_matrix.py`` runs it.
Every cell is written here, never worked out from what the server answers:
a preset such as ``ROOM_WRITERS`` is only a short way of writing ten cells,
and a row changes a cell by naming it (``expect(ROOM_MODERATORS,
member=OK)``).

The principals, each a member of the seeded world (see the test module):

- ``anonymous``: no session at all.
- ``member``: an ordinary member (trust level 1) invited to the private room.
- ``silenced``: like ``member``, silenced by a moderator: may read, not write.
- ``suspended``, ``banned``: suspended or banned by a moderator, which ended
  their sessions; they still present the dead cookie.
- ``outsider``: an ordinary member who is not in the private room.
- ``organizer``: in the private room; organizer of the listings, a meeting
  host, and the one principal sober long enough to sponsor.
- ``room_moderator``: appointed moderator of the private room only.
- ``moderator``, ``admin``: site roles.

Most objects live in the private room or belong to the organizer; a row's
``call`` builds the request for one principal (its path parameters, body
and query), making a fresh object when an allowed principal would use one
up (a post to delete, a review item to decide).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .test_authorization_matrix import ApiStage, ChatStage, Principal

__all__ = [
    "API_ROWS",
    "FRAME_ROWS",
    "PRINCIPALS",
    "Call",
    "FrameRow",
    "Outcome",
    "Reply",
    "Row",
]

PRINCIPALS = (
    "anonymous",
    "member",
    "silenced",
    "suspended",
    "banned",
    "outsider",
    "organizer",
    "room_moderator",
    "moderator",
    "admin",
)

PASSWORD = "a long enough passphrase"
NEW_PASSWORD = "another long enough passphrase"


# -- outcomes --------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one principal gets from one route.

    ``status`` None means allowed: the success status the OpenAPI document
    declares for the operation. Anything else is a refusal (or an answer
    that is "ok, but not this way", such as 404 for an appeal by someone
    with nothing to appeal): that status, with that problem ``code``.
    """

    status: int | None = None
    code: str | None = None

    @property
    def allowed(self) -> bool:
        return self.status is None

    def __str__(self) -> str:
        return "ok" if self.allowed else f"{self.status} {self.code}"


OK = Outcome()
UNAUTHENTICATED = Outcome(401, "not_authenticated")
FORBIDDEN = Outcome(403, "forbidden")
SILENCED = Outcome(403, "silenced")
INACTIVE = Outcome(403, "account_inactive")
NOT_FOUND = Outcome(404, "not_found")

Cells = Mapping[str, Outcome]


def everyone(outcome: Outcome) -> dict[str, Outcome]:
    return dict.fromkeys(PRINCIPALS, outcome)


def expect(base: Cells, **changes: Outcome) -> dict[str, Outcome]:
    """``base`` with the named principals' cells changed."""
    unknown = set(changes) - set(PRINCIPALS)
    assert not unknown, f"no such principal: {unknown}"
    return {**base, **changes}


#: No live session: suspending and banning ended theirs, so their cookie is dead.
SIGNED_OUT = {"anonymous": UNAUTHENTICATED, "suspended": UNAUTHENTICATED, "banned": UNAUTHENTICATED}
EVERYONE = everyone(OK)
ANY_MEMBER = expect(EVERYONE, **SIGNED_OUT)
#: Writing: a silenced member may read, not write.
WRITERS = expect(ANY_MEMBER, silenced=SILENCED)
#: The private room, its threads, posts and chat: it does not exist for the outsider.
ROOM_READERS = expect(ANY_MEMBER, outsider=NOT_FOUND)
ROOM_WRITERS = expect(ROOM_READERS, silenced=SILENCED)
#: The room's own moderators, and site moderators, who moderate every room.
ROOM_MODERATORS = expect(ROOM_READERS, member=FORBIDDEN, silenced=FORBIDDEN, organizer=FORBIDDEN)
SITE_MODERATORS = expect(
    SIGNED_OUT,
    member=FORBIDDEN,
    silenced=FORBIDDEN,
    outsider=FORBIDDEN,
    organizer=FORBIDDEN,
    room_moderator=FORBIDDEN,
    moderator=OK,
    admin=OK,
)
#: A listing's organizer, and moderators, who may do all an organizer may.
ORGANIZERS = expect(SITE_MODERATORS, organizer=OK)
#: Meeting hosts (the organizer is one) and moderators: any meeting.
MEETING_HOSTS = expect(SITE_MODERATORS, organizer=OK)
#: Offering and accepting sponsorship takes a year's sobriety: only the organizer has it.
SPONSORS = expect(
    SITE_MODERATORS, silenced=SILENCED, organizer=OK, moderator=FORBIDDEN, admin=FORBIDDEN
)


def owned_by(*kinds: str) -> dict[str, Outcome]:
    """Something of one principal's own: everyone else is told it does not exist."""
    return expect(expect(everyone(NOT_FOUND), **SIGNED_OUT), **dict.fromkeys(kinds, OK))


# -- rows ------------------------------------------------------------------------


@dataclass
class Call:
    """One request: path parameters, JSON body (None: no body) and query."""

    params: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    query: dict[str, str] | None = None


Build = Callable[["ApiStage", "Principal"], Awaitable[Call]]


async def _nothing(stage: ApiStage, who: Principal) -> Call:
    return Call()


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    expect: Cells
    call: Build = _nothing
    #: The route changes the caller's own account or session (signs in or
    #: out, erases): each cell acts as a fresh principal of the same kind.
    own_account: bool = False


def _static(**params: str) -> Build:
    """Path parameters naming seeded objects (``stage.ref``)."""

    async def build(stage: ApiStage, who: Principal) -> Call:
        return Call({name: stage.ref[ref] for name, ref in params.items()})

    return build


async def _sign_up_as_new(stage: ApiStage, who: Principal) -> Call:
    return Call(body={"handle": f"newcomer-{stage.n()}", "password": PASSWORD})


async def _credentials(stage: ApiStage, who: Principal) -> Call:
    # Without an account, a client signs in with a member's credentials.
    own = who if who.handle else await stage.stranger()
    return Call(body={"handle": own.handle, "password": PASSWORD})


async def _recovery(stage: ApiStage, who: Principal) -> Call:
    own = who if who.handle else await stage.stranger()
    return Call(
        body={"handle": own.handle, "recovery_code": own.codes[0], "new_password": NEW_PASSWORD}
    )


async def _suspension_appeal(stage: ApiStage, who: Principal) -> Call:
    own = who if who.handle else await stage.stranger()
    return Call(body={"handle": own.handle, "password": PASSWORD, "note": "Please look again."})


async def _victims_session(stage: ApiStage, who: Principal) -> Call:
    return Call({"id": stage.ref["victim_session"]})


async def _bio(stage: ApiStage, who: Principal) -> Call:
    return Call(body={"bio": f"Here for the long run, number {stage.n()}."})


async def _password(stage: ApiStage, who: Principal) -> Call:
    return Call(body={"password": PASSWORD})


async def _new_password(stage: ApiStage, who: Principal) -> Call:
    return Call(body={"current_password": PASSWORD, "new_password": NEW_PASSWORD})


async def _member_profile(stage: ApiStage, who: Principal) -> Call:
    return Call({"handle": stage.principals["member"].handle})


async def _new_room(stage: ApiStage, who: Principal) -> Call:
    return Call(body={"slug": f"made-{stage.n()}", "name": "A new room"})


async def _describe_room(stage: ApiStage, who: Principal) -> Call:
    return Call({"slug": stage.ref["room"]}, {"description": f"Described {stage.n()} times"})


async def _invite(stage: ApiStage, who: Principal) -> Call:
    return Call({"slug": stage.ref["room"]}, {"handle": stage.ref["invitee"]})


async def _appoint(stage: ApiStage, who: Principal) -> Call:
    return Call({"slug": stage.ref["room"], "handle": stage.ref["appointee"]})


async def _stand_down(stage: ApiStage, who: Principal) -> Call:
    return Call({"slug": stage.ref["room"], "handle": await stage.fresh_room_moderator()})


async def _new_thread(stage: ApiStage, who: Principal) -> Call:
    return Call({"slug": stage.ref["room"]}, {"title": "Checking in", "body": "A good week."})


async def _pin(stage: ApiStage, who: Principal) -> Call:
    return Call({"id": stage.ref["thread"]}, {"pinned": True})


async def _reply(stage: ApiStage, who: Principal) -> Call:
    return Call({"id": stage.ref["thread"]}, {"body": "Glad you are here."})


def _own_post(stage: ApiStage, who: Principal) -> int:
    """The principal's own post in the private room, or else the member's."""
    post: int = stage.ref.get(f"{who.kind}_post", stage.ref["member_post"])
    return post


async def _edit_post(stage: ApiStage, who: Principal) -> Call:
    return Call({"id": _own_post(stage, who)}, {"body": f"Edited, take {stage.n()}."})


async def _revisions(stage: ApiStage, who: Principal) -> Call:
    return Call({"id": _own_post(stage, who)})


async def _delete_post(stage: ApiStage, who: Principal) -> Call:
    # A silenced member cannot write a new post; theirs was written before the silence.
    if who.kind == "silenced":
        return Call({"id": stage.ref["silenced_spare_post"]})
    return Call({"id": await stage.fresh_member_post()})


async def _start_direct(stage: ApiStage, who: Principal) -> Call:
    return Call(body={"handle": stage.ref["pal2"]})


async def _block(stage: ApiStage, who: Principal) -> Call:
    return Call({"handle": stage.ref["blockee"]})


async def _flag(stage: ApiStage, who: Principal) -> Call:
    post = await stage.fresh_witness_post()
    return Call(body={"target": {"type": "post", "id": post}, "reason": "spam"})


async def _open_item(stage: ApiStage, who: Principal) -> Call:
    return Call({"id": await stage.fresh_review_item(claimed=False)})


async def _claimed_item(stage: ApiStage, who: Principal) -> Call:
    return Call({"id": await stage.fresh_review_item(claimed=True)})


async def _approve_item(stage: ApiStage, who: Principal) -> Call:
    return Call({"id": await stage.fresh_review_item(claimed=False)}, {"decision": "approve"})


async def _warn(stage: ApiStage, who: Principal) -> Call:
    return Call({"handle": stage.ref["bystander"]}, {"action": "warn", "reason": "Be kind."})


async def _watch_word(stage: ApiStage, who: Principal) -> Call:
    return Call(body={"pattern": f"zzqword{stage.n()}", "action": "flag"})


async def _unwatch_word(stage: ApiStage, who: Principal) -> Call:
    return Call({"id": await stage.fresh_watched_word()})


async def _appeal_silence(stage: ApiStage, who: Principal) -> Call:
    return Call(body={"target": {"type": "silence"}, "note": "I have cooled off."})


async def _read_all(stage: ApiStage, who: Principal) -> Call:
    return Call(body={"all": True})


def _slots(stage: ApiStage) -> list[dict[str, Any]]:
    starts = stage.now() + dt.timedelta(days=10)
    return [
        {
            "starts_at": starts.isoformat(),
            "ends_at": (starts + dt.timedelta(hours=2)).isoformat(),
            "capacity": 3,
        }
    ]


async def _new_listing(stage: ApiStage, who: Principal) -> Call:
    return Call(body={"title": "Garden day", "body": "Bring gloves.", "slots": _slots(stage)})


async def _close_listing(stage: ApiStage, who: Principal) -> Call:
    return Call({"id": stage.ref["listing_to_close"]}, {"status": "closed"})


async def _message_participants(stage: ApiStage, who: Principal) -> Call:
    return Call({"id": stage.ref["listing"]}, {"text": "Bring an apron."})


async def _join_slot(stage: ApiStage, who: Principal) -> Call:
    await stage.leave_slot(who)
    return Call({"id": stage.ref["slot"]})


async def _hide_me(stage: ApiStage, who: Principal) -> Call:
    await stage.join_slot(who)
    return Call({"id": stage.ref["slot"]}, {"hidden": True})


async def _leave(stage: ApiStage, who: Principal) -> Call:
    await stage.join_slot(who)
    return Call({"id": stage.ref["slot"]})


async def _remove_participant(stage: ApiStage, who: Principal) -> Call:
    return Call({"id": stage.ref["slot"], "handle": await stage.fresh_participant()})


async def _move_participant(stage: ApiStage, who: Principal) -> Call:
    return Call(
        {"id": stage.ref["slot"], "handle": await stage.fresh_participant()},
        {"to_slot": stage.ref["other_slot"]},
    )


async def _attendance(stage: ApiStage, who: Principal) -> Call:
    return Call({"id": stage.ref["past_slot"]}, {"handle": stage.ref["worker"], "attended": True})


async def _offer(stage: ApiStage, who: Principal) -> Call:
    return Call(body={"capacity": 5, "note": "Big Book study on Tuesdays."})


async def _withdraw_offer(stage: ApiStage, who: Principal) -> Call:
    await stage.ensure_offer()
    return Call()


async def _ask_for_sponsor(stage: ApiStage, who: Principal) -> Call:
    await stage.withdraw_requests(who)
    return Call(body={"note": "Three weeks in."})


async def _members_request(stage: ApiStage, who: Principal) -> Call:
    return Call({"id": await stage.open_request_of("member")})


async def _accept(stage: ApiStage, who: Principal) -> Call:
    await stage.ensure_offer()
    return Call({"id": stage.ref["general_request"]})


async def _decline(stage: ApiStage, who: Principal) -> Call:
    return Call({"id": stage.ref["request_to_organizer"]})


async def _end_match(stage: ApiStage, who: Principal) -> Call:
    return Call({"id": stage.ref["match"]})


async def _new_meeting(stage: ApiStage, who: Principal) -> Call:
    return Call(
        body={
            "name": "Saturday speakers",
            "day": 6,
            "time": "10:00",
            "end_time": "11:00",
            "location": "Main house",
        }
    )


async def _calendar(stage: ApiStage, who: Principal) -> Call:
    # Without a session, the calendar link's key is the credential.
    return Call(query={"key": who.calendar_key} if who.calendar_key and not who.live else None)


async def _change_meeting(stage: ApiStage, who: Principal) -> Call:
    return Call({"id": stage.ref["meeting"]}, {"notes": f"Use the side door ({stage.n()})."})


async def _remove_meeting(stage: ApiStage, who: Principal) -> Call:
    return Call({"id": await stage.fresh_meeting()})


async def _cancel_date(stage: ApiStage, who: Principal) -> Call:
    return Call({"id": stage.ref["meeting"]}, {"date": "2026-03-17", "cancelled": True})


API_ROWS: list[Row] = [
    # -- the API itself
    Row("GET", "/health", EVERYONE),
    Row("GET", "/openapi.json", EVERYONE),
    # -- accounts and sessions. "Anyone" may create an account or sign in; a
    # suspended or banned member is told why they cannot.
    Row("POST", "/accounts", EVERYONE, _sign_up_as_new, own_account=True),
    # Only a user signed in on the host site may claim a handle; none here is.
    Row("POST", "/accounts/host", everyone(UNAUTHENTICATED), _sign_up_as_new),
    Row(
        "POST",
        "/session",
        expect(EVERYONE, suspended=INACTIVE, banned=INACTIVE),
        _credentials,
        own_account=True,
    ),
    Row("GET", "/session", ANY_MEMBER),
    Row("DELETE", "/session", ANY_MEMBER, own_account=True),
    Row(
        "POST",
        "/session/recover",
        expect(EVERYONE, suspended=INACTIVE, banned=INACTIVE),
        _recovery,
        own_account=True,
    ),
    Row("GET", "/sessions", ANY_MEMBER),
    Row("DELETE", "/sessions", ANY_MEMBER),
    # Someone else's session: nobody may end it, admins included.
    Row("DELETE", "/sessions/{id}", owned_by(), _victims_session),
    # -- one's own account. Erasing it, or changing the password, is not
    # writing: a silenced member may.
    Row("GET", "/me", ANY_MEMBER),
    Row("PATCH", "/me", WRITERS, _bio),
    Row("DELETE", "/me", ANY_MEMBER, _password, own_account=True),
    Row("POST", "/me/password", ANY_MEMBER, _new_password, own_account=True),
    Row("POST", "/me/recovery-codes", ANY_MEMBER, _password),
    Row("GET", "/me/export", ANY_MEMBER),
    Row("GET", "/members/{handle}", ANY_MEMBER, _member_profile),
    Row("GET", "/milestones/celebrating", ANY_MEMBER),
    # -- rooms: the private room, which the outsider never sees
    Row("GET", "/rooms", ANY_MEMBER),
    Row("POST", "/rooms", SITE_MODERATORS, _new_room),
    Row("GET", "/rooms/{slug}", ROOM_READERS, _static(slug="room")),
    Row("PATCH", "/rooms/{slug}", ROOM_MODERATORS, _describe_room),
    Row("POST", "/rooms/{slug}/members", ROOM_MODERATORS, _invite),
    Row("GET", "/rooms/{slug}/moderators", ROOM_READERS, _static(slug="room")),
    # Appointing room moderators is for site moderators, not room moderators.
    Row(
        "PUT",
        "/rooms/{slug}/moderators/{handle}",
        expect(ROOM_MODERATORS, room_moderator=FORBIDDEN),
        _appoint,
    ),
    Row(
        "DELETE",
        "/rooms/{slug}/moderators/{handle}",
        expect(ROOM_MODERATORS, room_moderator=FORBIDDEN),
        _stand_down,
    ),
    Row("GET", "/rooms/{slug}/threads", ROOM_READERS, _static(slug="room")),
    Row("POST", "/rooms/{slug}/threads", ROOM_WRITERS, _new_thread),
    Row("GET", "/threads/{id}", ROOM_READERS, _static(id="thread")),
    Row("PATCH", "/threads/{id}", ROOM_MODERATORS, _pin),
    Row("POST", "/threads/{id}/posts", ROOM_WRITERS, _reply),
    # Posts: the member and the silenced member act on their own post, the
    # others on the member's. Its author or a room moderator may change it;
    # a silenced author may read its revisions and delete it, not edit it.
    Row("PATCH", "/posts/{id}", expect(ROOM_MODERATORS, member=OK, silenced=SILENCED), _edit_post),
    Row(
        "GET", "/posts/{id}/revisions", expect(ROOM_MODERATORS, member=OK, silenced=OK), _revisions
    ),
    Row("DELETE", "/posts/{id}", expect(ROOM_MODERATORS, member=OK, silenced=OK), _delete_post),
    # -- chat over HTTP
    Row("GET", "/rooms/{slug}/messages", ROOM_READERS, _static(slug="room")),
    Row("GET", "/direct", ANY_MEMBER),
    Row("POST", "/direct", WRITERS, _start_direct),
    # The member's conversation with a friend: its two members' alone, moderators included.
    Row("DELETE", "/direct/{slug}", owned_by("member"), _static(slug="direct")),
    # Blocking protects; a silenced member may.
    Row("PUT", "/members/{handle}/block", ANY_MEMBER, _block),
    Row("DELETE", "/members/{handle}/block", ANY_MEMBER, _block),
    # -- moderation. Flags are writing, on what the flagger may see.
    Row("POST", "/flags", ROOM_WRITERS, _flag),
    Row("GET", "/moderation/queue", SITE_MODERATORS),
    Row("POST", "/moderation/queue/{id}/claim", SITE_MODERATORS, _open_item),
    # The moderator claimed each item: they, or an admin, may give it back.
    Row("DELETE", "/moderation/queue/{id}/claim", SITE_MODERATORS, _claimed_item),
    Row("POST", "/moderation/queue/{id}", SITE_MODERATORS, _approve_item),
    Row("POST", "/moderation/members/{handle}/actions", SITE_MODERATORS, _warn),
    Row("GET", "/moderation/log", SITE_MODERATORS),
    Row("GET", "/moderation/watched-words", SITE_MODERATORS),
    Row("POST", "/moderation/watched-words", SITE_MODERATORS, _watch_word),
    Row("DELETE", "/moderation/watched-words/{id}", SITE_MODERATORS, _unwatch_word),
    # Only the silenced member has a silence to appeal; an appeal is not a post.
    Row("POST", "/appeals", owned_by("silenced"), _appeal_silence),
    # With their own handle and password: only the suspended and the banned
    # have something to appeal (no session needed, none is made).
    Row(
        "POST",
        "/appeals/suspension",
        expect(everyone(NOT_FOUND), suspended=OK, banned=OK),
        _suspension_appeal,
    ),
    # -- notifications
    Row("GET", "/notifications", ANY_MEMBER),
    Row("POST", "/notifications/read", ANY_MEMBER, _read_all),
    # -- the service board: the organizer's listings
    Row("GET", "/opportunities", ANY_MEMBER),
    Row("POST", "/opportunities", WRITERS, _new_listing),
    Row("GET", "/opportunities/{id}", ANY_MEMBER, _static(id="listing")),
    Row("PATCH", "/opportunities/{id}", ORGANIZERS, _close_listing),
    Row("POST", "/opportunities/{id}/messages", ORGANIZERS, _message_participants),
    Row("POST", "/slots/{id}/signups", WRITERS, _join_slot),
    # The silenced member signed up before the silence: giving up or hiding
    # a place is not writing.
    Row("PATCH", "/slots/{id}/signups/me", ANY_MEMBER, _hide_me),
    Row("DELETE", "/slots/{id}/signups/me", ANY_MEMBER, _leave),
    Row("DELETE", "/slots/{id}/signups/{handle}", ORGANIZERS, _remove_participant),
    Row("POST", "/slots/{id}/signups/{handle}/move", ORGANIZERS, _move_participant),
    Row("POST", "/slots/{id}/attendance", ORGANIZERS, _attendance),
    Row("GET", "/me/service", ANY_MEMBER),
    # -- sponsorship: the organizer offers; requests belong to whoever made them
    Row("GET", "/sponsorship", ANY_MEMBER),
    Row("POST", "/sponsorship/offers", SPONSORS, _offer),
    Row("DELETE", "/sponsorship/offers/me", owned_by("organizer"), _withdraw_offer),
    Row("POST", "/sponsorship/requests", WRITERS, _ask_for_sponsor),
    Row("DELETE", "/sponsorship/requests/{id}", owned_by("member"), _members_request),
    Row("POST", "/sponsorship/requests/{id}/accept", SPONSORS, _accept),
    # A request made of the organizer by name, and the organizer's match.
    Row("POST", "/sponsorship/requests/{id}/decline", owned_by("organizer"), _decline),
    Row("POST", "/sponsorship/matches/{id}/end", owned_by("organizer"), _end_match),
    # -- meetings
    Row("GET", "/meetings", ANY_MEMBER),
    Row("POST", "/meetings", MEETING_HOSTS, _new_meeting),
    # The community publishes its feed here (meeting_guide_feed on).
    Row("GET", "/meetings/feed.json", EVERYONE),
    # The calendar link's key works without a session, except a banned
    # member's (the API reference: "A banned or erased member's key is refused").
    Row("GET", "/meetings.ics", expect(ANY_MEMBER, suspended=OK), _calendar),
    Row("PATCH", "/meetings/{id}", MEETING_HOSTS, _change_meeting),
    Row("DELETE", "/meetings/{id}", MEETING_HOSTS, _remove_meeting),
    Row("POST", "/meetings/{id}/exceptions", MEETING_HOSTS, _cancel_date),
    Row("GET", "/me/calendar", ANY_MEMBER),
]


# -- chat frames ----------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """What one principal's socket answers to one frame.

    Neither field set: allowed, no ``error`` frame, and ``FrameRow.answer``
    (when the row names one) arrives. ``error``: an ``error`` frame with
    that code, carrying the frame's ``ref``. ``close``: the socket is closed
    with that code, no frame handled.
    """

    error: str | None = None
    close: int | None = None

    @property
    def allowed(self) -> bool:
        return self.error is None and self.close is None

    def __str__(self) -> str:
        if self.close is not None:
            return f"closed {self.close}"
        return f"error {self.error}" if self.error else "ok"


FRAME_OK = Reply()
#: No live session: the handshake is closed with 4401 before any frame is read.
NO_SOCKET = Reply(close=4401)
Answers = Mapping[str, Reply]

CHAT_MEMBERS: dict[str, Reply] = {
    **dict.fromkeys(PRINCIPALS, FRAME_OK),
    "anonymous": NO_SOCKET,
    "suspended": NO_SOCKET,
    "banned": NO_SOCKET,
}
CHAT_READERS = {**CHAT_MEMBERS, "outsider": Reply("not_found")}
CHAT_WRITERS = {**CHAT_READERS, "silenced": Reply("silenced")}


def answers(base: Answers, **changes: Reply) -> dict[str, Reply]:
    unknown = set(changes) - set(PRINCIPALS)
    assert not unknown, f"no such principal: {unknown}"
    return {**base, **changes}


FrameBuild = Callable[["ChatStage", "Principal"], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class FrameRow:
    type: str
    expect: Answers
    fields: FrameBuild
    #: The frame an allowed principal gets back (besides no error).
    answer: str | None = None


async def _room(stage: ChatStage, who: Principal) -> dict[str, Any]:
    return {"room": stage.ref["room"]}


async def _send(stage: ChatStage, who: Principal) -> dict[str, Any]:
    return {"room": stage.ref["room"], "body": "Evening, all.", "client_id": f"cell-{stage.n()}"}


def _own_message(stage: ChatStage, who: Principal) -> int:
    """The principal's own message in the private room, or else the member's."""
    seq: int = stage.ref.get(f"{who.kind}_message", stage.ref["member_message"])
    return seq


async def _edit(stage: ChatStage, who: Principal) -> dict[str, Any]:
    return {"room": stage.ref["room"], "seq": _own_message(stage, who), "body": "Edited."}


async def _delete(stage: ChatStage, who: Principal) -> dict[str, Any]:
    if who.kind == "silenced":
        seq = stage.ref["silenced_spare_message"]
    else:
        seq = await stage.fresh_member_message()
    return {"room": stage.ref["room"], "seq": seq}


async def _react(stage: ChatStage, who: Principal) -> dict[str, Any]:
    return {"room": stage.ref["room"], "seq": stage.ref["member_message"], "emoji": "🙏"}


async def _read(stage: ChatStage, who: Principal) -> dict[str, Any]:
    return {"room": stage.ref["room"], "seq": stage.ref["member_message"]}


async def _ping(stage: ChatStage, who: Principal) -> dict[str, Any]:
    return {}


#: In the order they run: subscribed first, unsubscribed last.
FRAME_ROWS: list[FrameRow] = [
    FrameRow("subscribe", CHAT_READERS, _room, answer="subscribed"),
    FrameRow("send", CHAT_WRITERS, _send, answer="message"),
    # As for posts: the member and the silenced member edit their own
    # message, the others the member's; room moderators may edit any.
    FrameRow(
        "edit",
        answers(CHAT_READERS, silenced=Reply("silenced"), organizer=Reply("forbidden")),
        _edit,
    ),
    FrameRow("react", CHAT_WRITERS, _react),
    FrameRow("typing", CHAT_WRITERS, _room),
    FrameRow("read", CHAT_READERS, _read, answer="read"),
    # A silenced member may still delete their own message.
    FrameRow("delete", answers(CHAT_READERS, organizer=Reply("forbidden")), _delete),
    FrameRow("unsubscribe", CHAT_READERS, _room),
    FrameRow("ping", CHAT_MEMBERS, _ping, answer="pong"),
]
