"""The last seats and reminders with two server processes on one PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
import pytest

from alumni_community import Community
from alumni_community.identity import tokens
from alumni_community.identity.models import Member, Role
from alumni_community.notifications.models import Notification
from alumni_community.opportunities.models import Signup, SignupStatus, Slot

from ..chat.test_processes import server
from ..conftest import SECRET, clone_migrated, make_settings

pytestmark = [pytest.mark.anyio, pytest.mark.postgres, pytest.mark.slow]

PASSWORD = "a long enough passphrase"


async def _sessions(community: Community, count: int) -> list[tuple[str, str]]:
    """``count`` members with a session each: (cookie, CSRF token)."""
    accounts = community.accounts
    found = []
    for i in range(count):
        member, _ = await accounts.create_member(f"p-{i:03}", PASSWORD, Role.MEMBER)
        token, session = await accounts._new_session(member, "test", via_host=False)
        found.append((f"ac_session={token}", tokens.csrf_token(SECRET, session.token_hash)))
    await Member.filter(handle__startswith="p-").update(trust_level=1)
    return found


async def test_two_hundred_sign_ups_for_ten_seats_across_two_processes(postgres_url: str) -> None:
    await clone_migrated(postgres_url)
    community = Community(make_settings(postgres_url, broker_url="memory://"))
    async with community.lifespan():
        with community.database.activate():
            organizer, _ = await community.accounts.create_member("org", PASSWORD, Role.MODERATOR)
            start = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
            listing, _ = await community.board.create(
                organizer,
                {
                    "title": "Phone line",
                    "kind": "volunteer",
                    "slots": [
                        {
                            "starts_at": start.isoformat(),
                            "ends_at": (start + dt.timedelta(hours=2)).isoformat(),
                            "capacity": 10,
                        }
                    ],
                },
            )
            slot = await Slot.get(opportunity_id=listing.id)
            people = await _sessions(community, 200)

            with (
                server(postgres_url, "memory://") as (base_a, _),
                server(postgres_url, "memory://") as (base_b, _),
            ):
                limits = httpx.Limits(max_connections=100)
                async with httpx.AsyncClient(limits=limits, timeout=60) as http:

                    async def sign_up(i: int) -> httpx.Response:
                        cookie, csrf = people[i]
                        base = base_a if i % 2 else base_b
                        return await http.post(
                            f"{base}/community/api/v1/slots/{slot.id}/signups",
                            headers={"Cookie": cookie, "X-CSRF-Token": csrf},
                        )

                    answers = await asyncio.gather(*(sign_up(i) for i in range(200)))
                    assert all(a.status_code == 201 for a in answers), {
                        a.status_code for a in answers
                    }
                    statuses = [a.json()["status"] for a in answers]
                    assert statuses.count("confirmed") == 10
                    positions = sorted(
                        a.json()["position"] for a in answers if a.json()["position"]
                    )
                    assert positions == list(range(1, 191))

                    # Five cancellations at once: the first five in line move up, in order.
                    waiting = (
                        await Signup.filter(slot_id=slot.id, status=SignupStatus.WAITLISTED)
                        .order_by("queued_at", "id")
                        .values_list("member_id", flat=True)
                    )
                    confirmed = await Signup.filter(
                        slot_id=slot.id, status=SignupStatus.CONFIRMED
                    ).values_list("member_id", flat=True)
                    handle_of = dict(await Member.all().values_list("id", "handle"))
                    leaving = [int(handle_of[m][2:]) for m in list(confirmed)[:5]]  # type: ignore[index]

                    async def cancel(i: int) -> httpx.Response:
                        cookie, csrf = people[i]
                        base = base_b if i % 2 else base_a
                        return await http.delete(
                            f"{base}/community/api/v1/slots/{slot.id}/signups/me",
                            headers={"Cookie": cookie, "X-CSRF-Token": csrf},
                        )

                    done = await asyncio.gather(*(cancel(i) for i in leaving))
                    assert all(d.status_code == 204 for d in done)
            now_confirmed = set(
                await Signup.filter(slot_id=slot.id, status=SignupStatus.CONFIRMED).values_list(
                    "member_id", flat=True
                )
            )
            assert set(list(waiting)[:5]) <= now_confirmed and len(now_confirmed) == 10
            fresh = await Slot.get(id=slot.id)
            assert (fresh.confirmed_count, fresh.waitlisted_count) == (10, 185)
            promoted = await Notification.filter(kind="waitlist_promoted").values_list(
                "member_id", flat=True
            )
            assert sorted(promoted) == sorted(list(waiting)[:5])  # type: ignore[type-var]


async def test_reminders_go_out_once_with_two_processes(postgres_url: str) -> None:
    await clone_migrated(postgres_url)
    community = Community(make_settings(postgres_url, broker_url="memory://"))
    async with community.lifespan():
        with community.database.activate():
            organizer, _ = await community.accounts.create_member("org", PASSWORD, Role.MODERATOR)
            start = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)
            listing, _ = await community.board.create(
                organizer,
                {
                    "title": "Chair the meeting",
                    "kind": "meeting_service",
                    "slots": [
                        {
                            "starts_at": start.isoformat(),
                            "ends_at": (start + dt.timedelta(hours=1)).isoformat(),
                            "capacity": 3,
                        }
                    ],
                },
            )
            slot = await Slot.get(opportunity_id=listing.id)
            people = await Member.filter(handle="org")
            for i in range(3):
                member, _ = await community.accounts.create_member(f"r-{i}", PASSWORD, Role.MEMBER)
                await Signup.create(
                    slot=slot, member=member, status=SignupStatus.CONFIRMED, queued_at=start
                )
            await Slot.filter(id=slot.id).update(confirmed_count=3)
            assert people
            env = {"ALUMNI_COMMUNITY_REMINDER_INTERVAL_SECONDS": "1"}
            with server(postgres_url, "memory://", **env), server(postgres_url, "memory://", **env):
                for _ in range(100):
                    if await Notification.filter(kind="slot_reminder").count() >= 3:
                        break
                    await asyncio.sleep(0.1)
                await asyncio.sleep(2.5)  # both processes have had further rounds
            reminders = await Notification.filter(kind="slot_reminder").values_list(
                "member_id", flat=True
            )
            assert len(reminders) == 3 and len(set(reminders)) == 3
