"""The moderators' pages: the review queue, flags, member actions, watched
words, the audit log and appeals; and the flag and edit forms on posts.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

__all__ = ["routes"]

routes: list[BaseRoute] = []
