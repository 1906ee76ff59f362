"""Where the community is mounted, and which of its paths are the API."""

from __future__ import annotations

from starlette.types import Scope

__all__ = ["is_api_request", "mount_path"]


def mount_path(scope: Scope) -> str:
    """Where the community is mounted: "/community", or "/" at the root.

    Cookies are scoped to it, so the host's other pages never receive them.
    """
    root: str = scope.get("app_root_path", scope.get("root_path", ""))
    return root or "/"


def is_api_request(scope: Scope) -> bool:
    """Whether the request is for the JSON API (problem+json errors, never cached)."""
    root: str = scope.get("app_root_path", scope.get("root_path", ""))
    path: str = scope.get("path", "")
    return path.startswith(root + "/api/")
