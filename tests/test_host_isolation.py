"""A host with its own Tortoise models keeps working beside the community."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from alumni_community.db import migrate
from examples import fastapi_host, starlette_host

from .conftest import make_settings, serve

pytestmark = pytest.mark.anyio


async def test_host_orm_and_community_share_a_process_under_concurrent_load(
    database_url: str, tmp_path: Path
) -> None:
    await migrate(make_settings(database_url))
    app = starlette_host.create_app(
        make_settings(database_url), host_database_url=f"sqlite://{tmp_path / 'host.sqlite3'}"
    )
    with serve(app) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            # Before any community request, the host's ORM works.
            assert (await client.get("/")).status_code == 200
            assert (await client.get("/community/")).status_code == 200
            # ...and after one.
            assert (await client.get("/visits")).json() == {"visits": 1}

            host_calls = [client.get("/") for _ in range(50)]
            community_calls = [client.get("/community/") for _ in range(25)]
            community_calls += [client.get("/community/api/v1/health") for _ in range(25)]
            mixed = [c for pair in zip(host_calls, community_calls, strict=True) for c in pair]
            responses = await asyncio.gather(*mixed)

            assert [r.status_code for r in responses] == [200] * 100
            assert all("Our centre" in r.text for r in responses[0::2])
            assert all(
                "open to members" in r.text or r.json() == {"status": "ok"} for r in responses[1::2]
            )
            # Every host write landed in the host's database, none in ours.
            assert (await client.get("/visits")).json() == {"visits": 51}
            assert (await client.get("/community/")).status_code == 200


async def test_fastapi_host_and_community_side_by_side(sqlite_url: str, tmp_path: Path) -> None:
    await migrate(make_settings(sqlite_url))
    app = fastapi_host.create_app(
        make_settings(sqlite_url), host_database_url=f"sqlite://{tmp_path / 'host.sqlite3'}"
    )
    with serve(app) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            assert (await client.post("/enquiries", params={"topic": "visiting"})).json()[
                "count"
            ] == 1
            community = await client.get("/community/")
            assert community.status_code == 200 and "open to members" in community.text
            doc = (await client.get("/community/api/v1/openapi.json")).json()
            assert doc["servers"] == [{"url": "/community/api/v1"}]
            assert (await client.post("/enquiries", params={"topic": "again"})).json()["count"] == 2
            # The host's own OpenAPI document is FastAPI's, untouched by ours.
            assert "/enquiries" in (await client.get("/openapi.json")).json()["paths"]
