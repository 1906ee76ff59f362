"""Path parameters the database could not hold are a 404 from the router, on every route."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from alumni_community import Community
from alumni_community.identity.models import Role
from alumni_community.paths import MAX_ID_PATTERN

from .conftest import World, make_room

pytestmark = pytest.mark.anyio


def all_routes(routes: list[BaseRoute]) -> list[Route | WebSocketRoute]:
    found: list[Route | WebSocketRoute] = []
    for route in routes:
        if isinstance(route, Mount):
            found += all_routes(route.routes)
        elif isinstance(route, Route | WebSocketRoute):
            found.append(route)
    return found


def test_the_id_pattern_is_exactly_zero_to_int4_max() -> None:
    match = re.compile(f"(?:{MAX_ID_PATTERN})$").match
    edges = [0, 7, 999_999_999, 1_000_000_000, 2_000_000_000, 2_147_483_647]
    assert all(match(str(n)) for n in edges)
    beyond = [2_147_483_648, 2_147_483_650, 2_148_000_000, 2_200_000_000, 9_999_999_999, 10**10]
    assert not any(match(str(n)) for n in beyond)
    # Every number with one digit changed around the limit, both ways.
    limit = 2**31 - 1
    for n in range(limit - 50_000, limit + 50_000, 7):
        assert bool(match(str(n))) == (n <= limit), n


async def test_every_route_with_a_parameter_is_narrowed(world: World) -> None:
    routes = all_routes(world.community._router.routes)
    with_params = [r for r in routes if r.param_convertors]
    assert len(with_params) > 40
    for route in with_params:
        pattern = route.path_regex.pattern
        assert "[0-9]+)" not in pattern and "[^/]+)" not in pattern, route.path
    # A second community in the same process narrows the same route objects again, harmlessly.
    Community(world.community.settings)


async def test_huge_ids_and_nul_in_paths_are_404_not_500(world: World) -> None:
    mod = await world.member("mod-a", Role.MODERATOR)
    await make_room(mod, "open-room", moderation="open")
    pages = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=world.app),
        base_url="http://t/community",
        cookies=mod.cookies,
    )
    world.clients.append(pages)
    huge, nul = "99999999999", "a%00b"
    for client, path in [
        (mod, f"/threads/{huge}"),
        (mod, f"/posts/{huge}/revisions"),
        (mod, f"/opportunities/{huge}"),
        (mod, f"/rooms/{nul}"),
        (mod, f"/members/{nul}"),
        (mod, "/threads/2147483648"),
        (pages, f"/threads/{huge}"),
        (pages, f"/meetings/{huge}"),
        (pages, f"/rooms/{nul}"),
        (pages, f"/members/{nul}"),
        (pages, f"/moderation/members/{nul}"),
    ]:
        got = await client.get(path)
        assert got.status_code == 404, (path, got.status_code, got.text[:200])
    for client, path in [
        (mod, f"/moderation/queue/{huge}/claim"),
        (mod, f"/sponsorship/matches/{huge}/end"),
        (mod, f"/rooms/{nul}/threads"),
    ]:
        got = await client.post(path, json={})
        assert got.status_code == 404, (path, got.status_code, got.text[:200])
    # The largest id that fits still reaches its handler (and finds nothing).
    assert (await mod.get("/threads/2147483647")).status_code == 404
    assert (await mod.get("/rooms/open-room")).status_code == 200
