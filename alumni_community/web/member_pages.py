"""Pages of a member's own: profile (bio, milestones, sessions, export, erase),
another member's profile, notifications, recovery, the host-bridge handle
picker, and crisis resources.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

__all__ = ["routes"]

routes: list[BaseRoute] = []
