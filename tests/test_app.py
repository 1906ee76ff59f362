"""The mounted app: paths at any prefix, problem documents, headers, failures."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from alumni_community import Community
from alumni_community.paths import mount_path
from alumni_community.problems import ErrorMiddleware
from alumni_community.requests import read_json

pytestmark = pytest.mark.anyio

PROBLEM = "application/problem+json"
#: Breaks the landing page's query for real (other tables reference ac_room).
BREAK_ROOMS = {"sqlite": "DROP TABLE ac_room", "postgres": "DROP TABLE ac_room CASCADE"}


def host_with(community: Community, prefix: str) -> Starlette:
    if prefix == "":
        return Starlette(routes=[Mount("/", app=community)])
    return Starlette(routes=[Mount(prefix, app=community)])


@pytest.fixture(params=["", "/community", "/a/b"])
async def mounted(
    request: pytest.FixtureRequest, community: Community
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    prefix: str = request.param
    transport = httpx.ASGITransport(app=host_with(community, prefix))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client, prefix


async def test_openapi_is_served_under_the_mount_and_names_its_server(
    mounted: tuple[httpx.AsyncClient, str],
) -> None:
    client, prefix = mounted
    response = await client.get(f"{prefix}/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.1")
    assert doc["servers"] == [{"url": f"{prefix}/api/v1"}]
    assert {"/health", "/openapi.json"} <= doc["paths"].keys()


async def test_an_unknown_path_is_a_problem_document(
    mounted: tuple[httpx.AsyncClient, str],
) -> None:
    client, prefix = mounted
    for path in (f"{prefix}/api/v1/nothing-here", f"{prefix}/nothing-here"):
        response = await client.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM
        body = response.json()
        assert body["code"] == "not_found"
        assert body["status"] == 404
        assert {"type", "title", "detail"} <= body.keys()


async def test_a_wrong_method_is_405_with_allow(mounted: tuple[httpx.AsyncClient, str]) -> None:
    client, prefix = mounted
    response = await client.delete(f"{prefix}/api/v1/health")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "method_not_allowed"
    assert "GET" in response.headers["allow"]


async def test_browsers_get_an_html_error_page_but_the_api_never_does(
    mounted: tuple[httpx.AsyncClient, str],
) -> None:
    client, prefix = mounted
    page = await client.get(f"{prefix}/nothing-here", headers={"accept": "text/html"})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Not found" in page.text
    assert f'href="{prefix}/"' in page.text
    api = await client.get(f"{prefix}/api/v1/nothing", headers={"accept": "text/html"})
    assert api.headers["content-type"] == PROBLEM


async def test_page_links_follow_the_mount(mounted: tuple[httpx.AsyncClient, str]) -> None:
    client, prefix = mounted
    page = await client.get(f"{prefix}/")
    assert page.status_code == 200
    links = set(re.findall(r'(?:href|src)="([^"]+)"', page.text))
    assert f"{prefix}/static/community.css" in links
    assert f"{prefix}/api/v1/openapi.json" in links
    assert f"{prefix}/" in links
    # Paths, never absolute URLs: behind a proxy the Host header may not be the browser's.
    assert not any(link.startswith("http") for link in links)
    for link in links - {"#main"}:
        assert (await client.get(link)).status_code == 200, link


async def test_the_stylesheet_is_served_with_its_type(
    mounted: tuple[httpx.AsyncClient, str],
) -> None:
    client, prefix = mounted
    css = await client.get(f"{prefix}/static/community.css")
    assert css.headers["content-type"].startswith("text/css")
    assert "--ac-accent" in css.text


async def test_the_landing_page_counts_rooms_but_names_none(
    community: Community, mounted: tuple[httpx.AsyncClient, str]
) -> None:
    from alumni_community.rooms.models import Room, Visibility

    client, prefix = mounted
    with community.database.activate():
        await Room.create(slug="open", name="Open room")
        await Room.create(slug="secret", name="Secret room", visibility=Visibility.PRIVATE)
    page = await client.get(f"{prefix}/")
    assert "1 room is open to members" in page.text
    assert "Open room" not in page.text and "Secret room" not in page.text


def test_mount_path_is_the_root_path_or_slash() -> None:
    assert mount_path({"type": "http", "root_path": "/community"}) == "/community"
    assert mount_path({"type": "http", "root_path": ""}) == "/"
    assert mount_path({"type": "http", "root_path": "/x", "app_root_path": "/a/b"}) == "/a/b"


async def test_mount_path_seen_by_the_app_follows_the_mount(community: Community) -> None:
    seen: list[str] = []

    async def probe(request: Request) -> JSONResponse:
        seen.append(mount_path(request.scope))
        return JSONResponse({})

    community._app.router.routes.insert(0, Route("/probe", probe))  # type: ignore[attr-defined]
    for prefix in ("", "/community", "/a/b"):
        transport = httpx.ASGITransport(app=host_with(community, prefix))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            await client.get(f"{prefix}/probe")
    assert seen == ["/", "/community", "/a/b"]


async def test_security_headers_on_pages_and_no_store_on_the_api(
    mounted: tuple[httpx.AsyncClient, str],
) -> None:
    client, prefix = mounted
    for path in (f"{prefix}/", f"{prefix}/api/v1/health", f"{prefix}/missing"):
        response = await client.get(path)
        csp = response.headers["content-security-policy"]
        assert "object-src 'none'" in csp and "base-uri 'none'" in csp
        assert "script-src 'self'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
    api = await client.get(f"{prefix}/api/v1/health")
    assert api.headers["cache-control"] == "no-store"
    assert api.json() == {"status": "ok"}
    page = await client.get(f"{prefix}/")
    assert "no-store" not in page.headers["cache-control"]


async def test_an_unexpected_failure_is_a_generic_500_with_a_reference_in_the_log(
    community: Community, caplog: pytest.LogCaptureFixture
) -> None:
    # Break the database under a running app: the page's query fails for real.
    with community.database.activate():
        await community.database.connection().execute_script(
            BREAK_ROOMS[community.settings.database_engine]
        )
    transport = httpx.ASGITransport(app=host_with(community, "/community"))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        with caplog.at_level(logging.ERROR, logger="alumni_community"):
            response = await client.get("/community/", headers={"accept": "application/json"})
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["code"] == "internal_error"
    ref = body["ref"]
    assert re.fullmatch(r"[0-9a-f]{12}", ref)
    # Nothing internal reaches the client.
    assert "ac_room" not in response.text and "Traceback" not in response.text
    assert set(body) == {"type", "title", "status", "detail", "code", "ref"}
    # The operator finds the traceback under the same reference.
    logged = [r for r in caplog.records if ref in r.getMessage()]
    assert logged and logged[0].exc_info is not None


async def test_unexpected_failure_on_a_page_is_an_html_page_with_the_reference(
    community: Community,
) -> None:
    with community.database.activate():
        await community.database.connection().execute_script(
            BREAK_ROOMS[community.settings.database_engine]
        )
    transport = httpx.ASGITransport(app=host_with(community, "/c"))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/c/", headers={"accept": "text/html"})
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert re.search(r"reference <code>[0-9a-f]{12}</code>", response.text)


# -- request bodies: a tiny app using the same pieces the API uses ----------


def body_app(max_bytes: int = 2048) -> Starlette:
    async def echo(request: Request) -> JSONResponse:
        return JSONResponse(await read_json(request, max_bytes=max_bytes))

    return Starlette(
        routes=[Route("/echo", echo, methods=["POST"])], middleware=[Middleware(ErrorMiddleware)]
    )


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b'{"a": 1', "application/json", 400, "bad_request"),
        (b"\xff\xfe", "application/json", 400, "bad_request"),
        (b"[1, 2]", "application/json", 422, "validation_failed"),
        (b'{"a": 1}', "text/plain", 400, "bad_request"),
        (b'{"a": "' + b"x" * 5000 + b'"}', "application/json", 413, "too_large"),
    ],
)
async def test_bad_bodies_get_clear_problems(
    content: bytes, content_type: str, status: int, code: str
) -> None:
    transport = httpx.ASGITransport(app=body_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post(
            "/echo", content=content, headers={"content-type": content_type}
        )
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == code


async def test_an_oversized_chunked_body_is_refused_without_a_content_length() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 1024

    transport = httpx.ASGITransport(app=body_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post(
            "/echo", content=chunks(), headers={"content-type": "application/json"}
        )
    assert response.status_code == 413


async def test_a_good_body_is_read() -> None:
    transport = httpx.ASGITransport(app=body_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post("/echo", json={"handle": "river"})
    assert response.json() == {"handle": "river"}


def test_every_api_route_is_in_the_openapi_document() -> None:
    from alumni_community import api
    from alumni_community.openapi import document

    doc = document(api.routes, server_url="/api/v1", title="t")
    declared = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    routed = {
        (re.sub(r"{(\w+)(:\w+)?}", r"{\1}", r.path), m.lower())  # type: ignore[attr-defined]
        for r in api.routes
        for m in (r.methods or set()) - {"HEAD"}  # type: ignore[attr-defined]
    }
    assert declared == routed
    json.dumps(doc)  # serialisable as it is served


async def test_nul_characters_are_refused_by_field() -> None:
    transport = httpx.ASGITransport(app=body_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post(
            "/echo", json={"title": "a\x00b", "ok": "fine", "nested": {"x": ["\x00"]}}
        )
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"title", "nested"}
