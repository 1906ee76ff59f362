"""The ``/ws`` endpoint: the handshake, the receive loop, and frames to services.

Handshake: the ``Origin`` header must equal one of ``allowed_origins`` or
the request's own origin, exactly (4403 otherwise); the session cookie must
name a live session (4401 otherwise). Then every frame is checked again:
the session and the member's status are read afresh (a suspension closes
the socket with 4401), and each frame's room is checked by the services
like an HTTP request would be (404-style ``not_found`` for a room the member
may not see). A refusal is an ``error`` frame with the frame's ``ref``; the
socket stays open. Only a frame larger than ``ws_max_frame_bytes`` (1009),
a dead session (4401) or a full outgoing queue (4408) closes it.

A database that cannot serve right now is an ``error`` frame too (code
``unavailable``): the client sends the frame again later, and a send with
the same ``client_id`` is written once. Only a ``subscribe`` that meets it
closes the socket with 1013 (try again later): a client counts a room as
subscribed once it asked, and subscribes again, with ``since``, when it
reconnects.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.websockets import WebSocket, WebSocketDisconnect

from ..db import outage_name, unavailable
from ..errors import (
    AccountInactive,
    CommunityError,
    Forbidden,
    IdentifyingDetails,
    NotAuthenticated,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    Silenced,
    ValidationFailed,
)
from ..identity.edge import current
from ..identity.models import Member, MemberStatus, Session
from ..problems import CLOSE_TRY_AGAIN, TRY_AGAIN
from . import protocol
from .hub import CLOSE_NO_SESSION, CLOSE_REFUSED, Connection

if TYPE_CHECKING:
    from ..app import Community

__all__ = ["websocket_endpoint"]

logger = logging.getLogger("alumni_community.chat")

CLOSE_TOO_LARGE = 1009
CLOSE_TOO_MANY = 4429


def own_origin(ws: WebSocket) -> str | None:
    """The origin a page served by this same host would send."""
    host = ws.headers.get("host")
    if not host:
        return None
    scheme = "https" if ws.url.scheme in ("wss", "https") else "http"
    return f"{scheme}://{host}".lower()


def origin_allowed(ws: WebSocket, allowed: tuple[str, ...]) -> bool:
    origin = ws.headers.get("origin")
    if not origin:
        return False  # browsers always send it; a missing one is not a page of ours
    origin = origin.lower()
    parts = urlsplit(origin)
    if parts.path or parts.query or not parts.hostname:
        return False
    return origin in allowed or origin == own_origin(ws)


async def websocket_endpoint(ws: WebSocket) -> None:
    community: Community = ws.app.state.community
    settings = community.settings
    hub = community.hub
    await ws.accept()
    if not origin_allowed(ws, tuple(o.lower() for o in settings.allowed_origins)):
        await ws.close(code=CLOSE_REFUSED, reason="origin not allowed")
        return
    state = current(ws)
    if state.member is None or state.session is None:
        await ws.close(code=CLOSE_NO_SESSION, reason="sign in first")
        return
    member, session_id, expires = state.member, state.session.id, state.session.expires_at
    # The socket keeps the session's id, not its row: thousands of sockets sit open,
    # and every frame reads the session afresh anyway.
    state.session = None
    if hub.connections_of(member.id) >= settings.ws_connections_per_member:
        # Not 4403: this passes (a tab closes, a dead socket is noticed), so
        # clients retry with backoff.
        await ws.close(code=CLOSE_TOO_MANY, reason="too many connections; retry later")
        return
    conn = Connection(ws, member, session_id, settings.ws_queue_frames)
    hub.add(conn)
    conn.offer(hub.hello(member))
    try:
        while not conn.closed:
            # Wake at the idle limit, or when the session reaches its end.
            left = (expires - settings.now()).total_seconds()
            message = await conn.receive(max(0.0, min(settings.ws_idle_seconds, left)))
            if message is None:
                if not conn.closed:
                    if left <= settings.ws_idle_seconds:
                        conn.end(CLOSE_NO_SESSION, "session ended")
                    else:
                        conn.end(1000, "idle")  # no frame, not even a ping, for too long
                break
            if message["type"] == "websocket.disconnect":
                conn.disconnected = True
                conn.end(1000, "")
                break
            await _handle(community, conn, message)
    except WebSocketDisconnect:
        conn.disconnected = True
        conn.end(1000, "")
    finally:
        await hub.remove(conn)
        await conn.finish()


async def _handle(
    community: Community, conn: Connection, message: MutableMapping[str, Any]
) -> None:
    settings = community.settings
    text = message.get("text")
    data: str | bytes
    if text is None:
        data = message.get("bytes") or b""
        size = len(data)  # a binary frame is refused, but a too large one closes like text
    else:
        data = text
        size = len(text.encode("utf-8", "surrogatepass"))
    if size > settings.ws_max_frame_bytes:
        conn.end(CLOSE_TOO_LARGE, "frame too large")
        return
    try:
        frame = protocol.parse(data, max_bytes=settings.ws_max_frame_bytes)
    except protocol.FrameError as error:
        if error.code == "too_large":
            conn.end(CLOSE_TOO_LARGE, "frame too large")
        else:
            conn.offer(error.frame())
        return
    ref = frame.ref
    if ref is None and isinstance(frame, protocol.Send):
        ref = frame.client_id
    if isinstance(frame, protocol.Ping):
        conn.offer(protocol.encode("pong", ref=ref) if ref is not None else protocol.encode("pong"))
        return
    try:
        # Everything else is checked against the session and the member as they are now.
        member = await _member_now(community, conn)
        if member is None:
            return
        await _dispatch(community, conn, member, frame, ref)
    except CommunityError as refusal:
        conn.offer(_error_frame(refusal, ref))
        for notice in refusal.notices:
            conn.offer(protocol.encode("notice", **notice, ref=ref))
    except Exception as exc:
        outage = unavailable(exc)
        if outage is not None:
            logger.warning(
                "chat: database unavailable (%s): a %s frame answered %s",
                outage_name(outage),
                type(frame).__name__,
                outage.code,
            )
            if isinstance(frame, protocol.Subscribe):
                conn.end(CLOSE_TRY_AGAIN, TRY_AGAIN)
            else:
                conn.offer(_error_frame(outage, ref))
            return
        logger.exception("chat: a %s frame failed", type(frame).__name__)
        conn.offer(protocol.error("server_error", "Something went wrong; try again.", ref))


async def _member_now(community: Community, conn: Connection) -> Member | None:
    settings = community.settings
    session = await Session.get_or_none(id=conn.session_id).select_related("member")
    now = settings.now()
    if session is None or session.expires_at <= now:
        conn.end(CLOSE_NO_SESSION, "session ended")
        return None
    member = session.member
    if member.status_in_force(now) in (
        MemberStatus.SUSPENDED,
        MemberStatus.BANNED,
        MemberStatus.ERASED,
    ):
        conn.end(CLOSE_NO_SESSION, "account inactive")
        return None
    conn.member = member
    return member


def _error_frame(refusal: CommunityError, ref: protocol.Ref) -> str:
    detail = refusal.detail
    if isinstance(refusal, Silenced):
        code = "silenced"
    elif isinstance(refusal, RateLimited):
        return protocol.encode(
            "error",
            code="rate_limited",
            detail=detail,
            ref=ref,
            retry_after=refusal.retry_after,
        )
    elif isinstance(refusal, IdentifyingDetails):
        return protocol.encode(
            "error",
            code="identifying_details",
            detail=detail,
            ref=ref,
            found=refusal.found,
        )
    elif isinstance(refusal, NotFound):
        code = "not_found"
    elif isinstance(refusal, (Forbidden, AccountInactive, NotAuthenticated)):
        code = "forbidden"
    elif isinstance(refusal, ServiceUnavailable):
        # One code for every temporary refusal (gone, full, read-only): try again later.
        code = "unavailable"
    elif isinstance(refusal, ValidationFailed):
        return protocol.encode(
            "error", code="bad_frame", detail=detail, ref=ref, errors=refusal.errors
        )
    else:
        code = "bad_frame"
    return protocol.error(code, detail, ref)


async def _dispatch(
    community: Community,
    conn: Connection,
    member: Member,
    frame: protocol.ClientFrame,
    ref: protocol.Ref,
) -> None:
    chat, hub = community.chat, community.hub
    if isinstance(frame, protocol.Subscribe):
        room = await chat.room(member, frame.room)
        await hub.subscribe(conn, room, frame.since)
    elif isinstance(frame, protocol.Unsubscribe):
        room = await chat.room(member, frame.room)
        await hub.unsubscribe(conn, room.id)
    elif isinstance(frame, protocol.Send):
        sent = await chat.send(
            member, frame.room, frame.body, frame.client_id, confirm=frame.confirm
        )
        sub = conn.subscriptions.get(sent.message.room_id)
        if not sent.created or sub is None:
            # The sender hears of it even when not subscribed, and a resend
            # gets the original back; subscribers never see it twice.
            data = chat.message_json(sent.message, frame.room, client_id=True)
            conn.offer(protocol.encode("message", **data))
        for notice in sent.notices:
            conn.offer(protocol.encode("notice", **notice.as_json(), ref=ref))
    elif isinstance(frame, protocol.Edit):
        _, notices = await chat.edit(member, frame.room, frame.seq, frame.body)
        for notice in notices:
            conn.offer(protocol.encode("notice", **notice.as_json(), ref=ref))
    elif isinstance(frame, protocol.Delete):
        await chat.delete(member, frame.room, frame.seq)
    elif isinstance(frame, protocol.React):
        await chat.react(member, frame.room, frame.seq, frame.emoji, remove=frame.remove)
    elif isinstance(frame, protocol.Typing):
        room = await chat.room(member, frame.room)
        community.moderation.ensure_may_write(member)
        if hub.may_type(conn, room.id) and member.handle:
            await chat.publish(
                {"k": "typing", "room": room.id, "handle": member.handle, "member": member.id}
            )
    elif isinstance(frame, protocol.Read):
        unread = await chat.read(member, frame.room, frame.seq)
        conn.offer(protocol.encode("read", room=frame.room, seq=frame.seq, unread=unread))
