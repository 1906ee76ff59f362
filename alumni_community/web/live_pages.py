"""The pages with live chat: the chat panel of a room, direct conversations, and meetings."""

from __future__ import annotations

from starlette.routing import BaseRoute

__all__ = ["routes"]

routes: list[BaseRoute] = []
