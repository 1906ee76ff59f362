"""Where the community is mounted, and which of its paths are the API."""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.convertors import IntegerConvertor, StringConvertor
from starlette.routing import BaseRoute, Match, Mount, Route, WebSocketRoute
from starlette.types import Scope

__all__ = [
    "MAX_ID_PATTERN",
    "allowed_methods",
    "bound_path_params",
    "is_api_request",
    "mount_path",
]

#: 0 to 2,147,483,647 (the largest id a PostgreSQL ``integer`` holds), digit by digit.
MAX_ID_PATTERN = (
    "[0-9]{1,9}|1[0-9]{9}|20[0-9]{8}|21[0-3][0-9]{7}|214[0-6][0-9]{6}|2147[0-3][0-9]{5}"
    "|21474[0-7][0-9]{4}|214748[0-2][0-9]{3}|2147483[0-5][0-9]{2}|21474836[0-3][0-9]"
    "|214748364[0-7]"
)
#: A path segment without NUL (PostgreSQL cannot compare text holding one),
#: no longer than the column it is looked up in (slugs, handles: 64; session
#: ids: 32), since Tortoise refuses a longer value before the query is made.
_TEXT_PATTERN = "[^/\\x00]{{1,{}}}"
_TEXT_MAX = {"id": 32}
_TEXT_DEFAULT_MAX = 64


def bound_path_params(routes: Iterable[BaseRoute]) -> None:
    """Narrow the routes' ``{x:int}`` and ``{x}`` parameters to what the database can hold.

    An ``int`` parameter matches only 0 to 2**31 - 1 and a text one no NUL
    character and no more characters than its column holds, so
    ``/threads/99999999999``, ``/rooms/a%00b`` or a 65-character slug is a 404 from
    the router, as any other path that names nothing, instead of an error
    from the database in whichever handler reads it. Done on our own route
    objects (Starlette's converter registry is process-wide and the host's).
    """
    for route in routes:
        if isinstance(route, Mount):
            bound_path_params(route.routes)
        elif isinstance(route, Route | WebSocketRoute):
            pattern = route.path_regex.pattern
            for name, convertor in route.param_convertors.items():
                if isinstance(convertor, IntegerConvertor):
                    narrowed = f"(?P<{name}>{MAX_ID_PATTERN})"
                elif isinstance(convertor, StringConvertor):
                    longest = _TEXT_MAX.get(name, _TEXT_DEFAULT_MAX)
                    narrowed = f"(?P<{name}>{_TEXT_PATTERN.format(longest)})"
                else:
                    continue
                wide = f"(?P<{name}>{convertor.regex})"
                if narrowed in pattern:
                    continue  # the same route objects, narrowed for an earlier Community
                if wide not in pattern:
                    raise RuntimeError(f"cannot narrow {name!r} in {route.path!r}")
                pattern = pattern.replace(wide, narrowed)
            route.path_regex = re.compile(pattern)


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


def allowed_methods(routes: Iterable[BaseRoute], scope: Scope) -> set[str]:
    """Every method some route answers at the scope's path (for ``Allow`` on a 405).

    Starlette names only the first route that matched the path, but one
    path often has a route per method (``GET /rooms``, ``POST /rooms``).
    """
    found: set[str] = set()
    for route in routes:
        match, child = route.matches(scope)
        if match == Match.NONE:
            continue
        if isinstance(route, Mount):
            found |= allowed_methods(route.routes, {**scope, **child})
        elif isinstance(route, Route) and route.methods:
            found |= route.methods
    return found
