"""``Community``: the ASGI app a host mounts.

::

    community = Community(Settings.from_env())
    app = Starlette(routes=[Mount("/community", app=community)],
                    lifespan=community.lifespan)

Starlette does not run a mounted app's lifespan, so the host composes
``community.lifespan`` into its own. If it forgets, the first request starts
the community (once, under a lock) and a warning says so; then nothing closes
the database cleanly at shutdown (SQLite's worker threads are only stopped
as the interpreter exits), which is why composing the lifespan is the
documented way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Mount, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from . import api, milestones
from .chat.broker import Broker, make_broker
from .chat.endpoint import websocket_endpoint
from .chat.hub import Hub
from .chat.service import Chat
from .db import Database
from .errors import CommunityError
from .headers import SecurityHeadersMiddleware
from .identity.edge import AuthMiddleware
from .identity.service import Accounts
from .meetings.service import Meetings
from .moderation.actions import Actions
from .moderation.service import Moderation
from .notifications.service import Notifications
from .opportunities.service import Board
from .opportunities.sponsorship import Sponsorships
from .paths import bound_path_params
from .problems import ErrorMiddleware, community_error_handler, http_exception_handler
from .rooms.service import Rooms
from .settings import Settings
from .web import pages
from .web.templating import make_templates

__all__ = ["Community"]

logger = logging.getLogger("alumni_community")


class Community:
    """The community as one ASGI application, configured by ``Settings``.

    It works at any mount path: every URL it makes comes from the request's
    ``root_path``. Its database lives in a private Tortoise context, so a
    host's own Tortoise models in the same process are never touched.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings if settings is not None else Settings.from_env()
        self.database = Database(self.settings)
        self.accounts = Accounts(self.settings)
        self.notifications = Notifications(self.settings)
        self.moderation = Moderation(self.settings, self.notifications)
        self.rooms = Rooms(self.settings, self.moderation)
        self.actions = Actions(self.settings, self.moderation, self.rooms)
        self.chat = Chat(self.settings, self.moderation, self.rooms)
        self.hub = Hub(self.settings, self.chat)
        self.board = Board(self.settings, self.moderation, self.notifications)
        self.meetings = Meetings(self.settings, self.moderation)
        self.moderation.listing_listeners.append(self.board.decided)
        self.accounts.erase_listeners.append(self.board.member_erased)
        self.accounts.bio_screen = self.moderation.screen_bio
        self.sponsorships = Sponsorships(
            self.settings, self.moderation, self.notifications, self.chat
        )
        self.broker: Broker | None = None
        self._reminders: asyncio.Task[None] | None = None
        self._wire_events()
        self._started = False
        self._lazily_started = False
        self._start_lock = asyncio.Lock()
        self._app = self._build_app()

    def _wire_events(self) -> None:
        """What services announce, the live channel carries (through the broker)."""

        async def publish(event: dict[str, Any]) -> None:
            await self.chat.publish(event)

        async def member_changed(member_id: int) -> None:
            await publish({"k": "member", "member": member_id})

        async def review(item: Any) -> None:
            await publish(
                {
                    "k": "review",
                    "item": item.id,
                    "urgency": int(item.urgency),
                    "kind": str(item.kind),
                }
            )

        async def notified(note: Any) -> None:
            await publish({"k": "notification", "member": note.member_id, "id": note.id})

        async def message_changed(room_id: int, seq: int) -> None:
            await publish({"k": "edited", "room": room_id, "seq": seq})

        async def access_changed(room_id: int) -> None:
            await publish({"k": "access", "room": room_id})

        self.accounts.member_listeners.append(member_changed)
        self.actions.member_listeners.append(member_changed)
        self.moderation.on_review(review)
        self.notifications.on_notify(notified)
        self.moderation.message_listeners.append(message_changed)
        self.rooms.access_listeners.append(access_changed)

    def __repr__(self) -> str:
        return f"Community({self.settings!r})"

    # -- lifecycle ---------------------------------------------------------

    @asynccontextmanager
    async def lifespan(self, app: Any = None) -> AsyncIterator[None]:
        """Open the database (and migrate in demo mode) on start; close it on stop.

        ``app`` is accepted so ``lifespan=community.lifespan`` works as a
        host's Starlette lifespan directly.
        """
        await self.startup()
        try:
            yield
        finally:
            await self.shutdown()

    async def startup(self) -> None:
        async with self._start_lock:
            if self._started:
                return
            await self.database.open()
            try:
                await self.database.ensure_schema()
                if self.settings.demo:
                    from .demo import seed

                    with self.database.activate():
                        await seed(self.accounts, self.board, self.meetings)
                # Started inside our database context (and our milestone
                # ladder): the broker's listener and the hub's tasks read the
                # database and write frames with members' milestones.
                ladder = milestones.use(self.settings.milestone_ladder, None)
                try:
                    with self.database.activate():
                        self.broker = make_broker(self.settings.broker)
                        await self.broker.start(self.hub.deliver, self.hub.resume)
                        self.chat.publish = self.broker.publish
                        self.hub.start()
                        self._reminders = asyncio.create_task(
                            self.board.run_reminders(self.settings.reminder_interval_seconds),
                            name="ac-reminders",
                        )
                finally:
                    milestones.reset(ladder)
            except BaseException:
                if self.broker is not None:
                    await self.broker.close()
                await self.database.close()
                raise
            self._started = True
            logger.info("community started (%s)", self.settings.database_engine)

    async def shutdown(self) -> None:
        async with self._start_lock:
            if not self._started:
                return
            self._started = False
            if self._reminders is not None:
                self._reminders.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._reminders
                self._reminders = None
            await self.hub.close()
            # Give closing sockets a moment to say goodbye (1001).
            await asyncio.sleep(0)
            if self.broker is not None:
                await self.broker.close()
                self.broker = None
            self.accounts.close()
            await self.database.close()
            logger.info("community stopped")

    async def _ensure_started(self) -> None:
        if self._started:
            return
        if not self._lazily_started:
            self._lazily_started = True
            logger.warning(
                "The community was not started by a lifespan; starting it on the first "
                "request. Compose community.lifespan into the host's lifespan so the "
                "database is closed cleanly at shutdown."
            )
        await self.startup()
        self.database.stop_threads_at_exit()

    # -- ASGI --------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            # Served directly (not mounted): run our own lifespan.
            await self._app(scope, receive, send)
            return
        # Our URLs are built against our own router and root: a host router
        # already in the scope would not know our route names, and Starlette
        # keeps the host's root in app_root_path.
        root_path = scope.get("root_path", "")
        scope = {**scope, "router": self._router, "app_root_path": root_path}
        token = self.database.enter()
        now = self.settings.now()
        ladder = milestones.use(
            self.settings.milestone_ladder, now.date() if self.settings.clock else None
        )
        try:
            await self._app(scope, receive, send)
        finally:
            milestones.reset(ladder)
            self.database.leave(token)

    def _build_app(self) -> ASGIApp:
        routes = [
            Mount("/api/v1", routes=api.routes),
            WebSocketRoute("/ws", websocket_endpoint, name="ws"),
            Mount(
                "/static",
                app=StaticFiles(packages=[("alumni_community.web", "static")]),
                name="static",
            ),
            *pages.routes,
        ]
        bound_path_params(routes)
        app = Starlette(
            routes=routes,
            middleware=[
                Middleware(SecurityHeadersMiddleware),
                Middleware(ErrorMiddleware),
                Middleware(_StartedMiddleware, community=self),
                Middleware(AuthMiddleware, accounts=self.accounts),
            ],
            exception_handlers={
                HTTPException: http_exception_handler,
                CommunityError: community_error_handler,
            },
            lifespan=lambda _app: self.lifespan(),
        )
        self._router = app.router
        app.state.community = self
        app.state.settings = self.settings
        app.state.templates = make_templates(self.settings)
        return app


class _StartedMiddleware:
    """Starts the community on the first request when no lifespan did."""

    def __init__(self, app: ASGIApp, community: Community) -> None:
        self.app = app
        self.community = community

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            await self.community._ensure_started()
        await self.app(scope, receive, send)
