"""The member's own pages: profile, member profile, notifications, recovery,
the handle picker for host users, and crisis help."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, BaseUser
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection
from starlette.routing import Mount

from alumni_community import Community
from alumni_community.identity.models import Member, MemberStatus, RecoveryCode, Role, Session
from alumni_community.notifications.models import Notification
from alumni_community.web.member_pages import contact_parts

from ..conftest import (
    PLANTED_EMAIL,
    PLANTED_HOST_ID,
    PLANTED_IP,
    LeakWatch,
    clone_migrated,
    make_settings,
)
from ..rooms.conftest import PASSWORD, World, make_room
from .test_pages import ORIGIN, csrf_of, page_client, post_form, signed_in

pytestmark = pytest.mark.anyio

NEW_PASSWORD = "another long passphrase"
CODE = re.compile(r"<code>([a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})</code>")


async def member_named(handle: str) -> Member:
    return await Member.get(handle=handle)


# -- my profile ------------------------------------------------------------------------


async def test_the_profile_shows_handle_trust_level_and_this_device(world: World) -> None:
    client = await signed_in(world, "river-a", trust=1)
    page = await client.get("/community/me")
    assert page.status_code == 200
    assert "<h1>Your profile</h1>" in page.text
    assert "<strong>river-a</strong>" in page.text
    assert "Member <span" in page.text and "(level 1)" in page.text
    assert "Member since</dt><dd>March 2026" in page.text
    assert "this device</span>" in page.text and "httpx" in page.text
    assert "Sign out everywhere else" not in page.text  # one session only
    assert 'href="/community/members/river-a"' in page.text
    # A label for every control of every form.
    for control in re.findall(r'<(?:input|textarea)[^>]*\bid="([^"]+)"', page.text):
        assert f'<label for="{control}">' in page.text, control


async def test_signed_out_visitors_are_sent_to_sign_in(world: World) -> None:
    client = page_client(world.app)
    world.clients.append(client)
    for url in (
        "/community/me",
        "/community/me/erase",
        "/community/notifications",
        "/community/members/anyone",
    ):
        page = await client.get(url)
        assert page.status_code == 303, url
        assert page.headers["location"] == "/community/signin"
    for url in (
        "/community/me/bio",
        "/community/me/export",
        "/community/me/sessions/others/end",
        "/community/notifications/read",
    ):
        posted = await client.post(url, data={"csrf_token": "x", "bio": "hi"})
        assert posted.status_code == 303, url
        assert posted.headers["location"] == "/community/signin"


async def test_a_bio_is_saved_and_others_see_it_sanitized(world: World) -> None:
    client = await signed_in(world, "river-b")
    saved = await post_form(
        client,
        "/community/me",
        "/community/me/bio",
        bio="Grateful **today**. <script>alert(1)</script>",
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/community/me?done=bio"
    again = await client.get(saved.headers["location"])
    assert "Your bio is saved." in again.text
    assert "Grateful **today**. &lt;script&gt;" in again.text  # the textarea, escaped
    assert (await member_named("river-b")).bio.startswith("Grateful **today**.")
    other = await signed_in(world, "lake-b")
    seen = await other.get("/community/members/river-b")
    assert seen.status_code == 200
    assert '<h1 id="member-title">river-b</h1>' in seen.text
    assert "<strong>today</strong>" in seen.text
    assert "<script>" not in seen.text
    assert "Flag this member" in seen.text


async def test_a_bio_with_nul_or_too_long_is_refused_next_to_the_field(world: World) -> None:
    client = await signed_in(world, "river-c")
    nul = await post_form(client, "/community/me", "/community/me/bio", bio="hello\x00there")
    assert nul.status_code == 422
    assert "Bio must not contain NUL characters" in nul.text
    assert 'id="bio-error"' in nul.text and 'aria-invalid="true"' in nul.text
    too_long = await post_form(client, "/community/me", "/community/me/bio", bio="x" * 2001)
    assert too_long.status_code == 422
    assert "Bio must be at most 2000 characters" in too_long.text
    assert "x" * 2001 in too_long.text  # what they typed is kept
    assert "validation_failed" not in too_long.text
    assert (await member_named("river-c")).bio == ""


async def test_a_crisis_bio_is_saved_and_shows_help_at_once(world: World) -> None:
    client = await signed_in(world, "river-d")
    saved = await post_form(
        client, "/community/me", "/community/me/bio", bio="Some days I want to kill myself."
    )
    assert saved.status_code == 200
    assert 'class="notice notice-crisis_resources" role="alert"' in saved.text
    assert "988 Suicide &amp; Crisis Lifeline" in saved.text
    assert "Your bio is saved." in saved.text
    assert any(item.kind == "crisis" for item in world.reviews)


async def test_milestones_show_only_when_the_member_shares_them(world: World) -> None:
    client = await signed_in(world, "river-e")
    other = await signed_in(world, "lake-e")
    kept = await post_form(
        client, "/community/me", "/community/me/milestones", sobriety_date="2025-01-10"
    )
    assert kept.status_code == 303
    member = await member_named("river-e")
    assert str(member.sobriety_date) == "2025-01-10" and not member.share_milestones
    assert "Milestone" not in (await other.get("/community/members/river-e")).text
    assert "Milestone</dt>" not in (await client.get("/community/me")).text

    shared = await post_form(
        client,
        "/community/me",
        "/community/me/milestones",
        sobriety_date="2025-01-10",
        share_milestones="yes",
    )
    assert shared.headers["location"] == "/community/me?done=milestones"
    seen = await other.get("/community/members/river-e")
    assert 'class="member-milestone">1 year' in seen.text
    own = await client.get("/community/me")
    assert 'class="member-milestone">1 year' in own.text
    assert 'id="share_milestones" name="share_milestones" value="yes" checked' in own.text

    # Unticking stops sharing at once; the date stays the member's own.
    await post_form(client, "/community/me", "/community/me/milestones", sobriety_date="2025-01-10")
    assert "member-milestone" not in (await other.get("/community/members/river-e")).text
    assert "2025-01-10" not in (await other.get("/community/members/river-e")).text


async def test_a_wrong_sobriety_date_is_refused_and_the_form_kept(world: World) -> None:
    client = await signed_in(world, "river-f")
    future = await post_form(
        client,
        "/community/me",
        "/community/me/milestones",
        sobriety_date="2026-04-01",
        share_milestones="yes",
    )
    assert future.status_code == 422
    assert "Sobriety date must not be in the future" in future.text
    assert 'value="2026-04-01"' in future.text
    assert 'name="share_milestones" value="yes" checked' in future.text
    garbled = await post_form(
        client, "/community/me", "/community/me/milestones", sobriety_date="last spring"
    )
    assert garbled.status_code == 422
    assert "written YYYY-MM-DD, or left empty" in garbled.text
    member = await member_named("river-f")
    assert member.sobriety_date is None and not member.share_milestones


async def test_the_time_zone_is_checked_and_saved(world: World) -> None:
    client = await signed_in(world, "river-g")
    wrong = await post_form(client, "/community/me", "/community/me/timezone", timezone="Mars/Base")
    assert wrong.status_code == 422 and "IANA time zone" in wrong.text
    assert 'value="Mars/Base"' in wrong.text
    saved = await post_form(
        client, "/community/me", "/community/me/timezone", timezone="Europe/London"
    )
    assert saved.status_code == 303
    assert (await member_named("river-g")).timezone == "Europe/London"
    assert "<dd>Europe/London</dd>" in (await client.get("/community/me")).text


async def test_every_profile_form_refuses_a_wrong_csrf_token(world: World) -> None:
    client = await signed_in(world, "river-h")
    session = await Session.get(member__handle="river-h")
    forms = {
        "/community/me/bio": {"bio": "changed"},
        "/community/me/milestones": {"sobriety_date": "2025-01-01", "share_milestones": "yes"},
        "/community/me/timezone": {"timezone": "Europe/Paris"},
        "/community/me/password": {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        "/community/me/recovery-codes": {"codes_password": PASSWORD},
        "/community/me/export": {},
        "/community/me/sessions/others/end": {},
        f"/community/me/sessions/{session.public_id}/end": {},
        "/community/me/erase": {"confirm_handle": "river-h", "password": PASSWORD},
        "/community/notifications/read": {},
        "/community/notifications/1/read": {},
    }
    for url, fields in forms.items():
        refused = await client.post(url, data={"csrf_token": "not-the-token", **fields})
        assert refused.status_code == 403, url
        assert "This form has expired" in refused.text
        assert "content-disposition" not in refused.headers
    member = await member_named("river-h")
    assert (member.bio, member.timezone, member.sobriety_date) == ("", "", None)
    assert member.status == MemberStatus.ACTIVE
    assert await Session.filter(member_id=member.id).count() == 1
    # Nothing changes over GET.
    for url in ("/community/me/bio", "/community/me/export", "/community/me/password"):
        assert (await client.get(url)).status_code == 405


async def test_changing_the_password_refuses_a_wrong_one_and_signs_out_elsewhere(
    world: World,
) -> None:
    client = await signed_in(world, "river-i")
    elsewhere = await signed_in_again(world, "river-i")
    wrong = await post_form(
        client,
        "/community/me",
        "/community/me/password",
        current_password="not it",
        new_password=NEW_PASSWORD,
    )
    assert wrong.status_code == 401
    assert "The password is wrong." in wrong.text and "invalid_credentials" not in wrong.text
    assert NEW_PASSWORD not in wrong.text  # passwords are never written back
    weak = await post_form(
        client,
        "/community/me",
        "/community/me/password",
        current_password=PASSWORD,
        new_password="short",
    )
    assert weak.status_code == 422 and "New password must be at least" in weak.text
    changed = await post_form(
        client,
        "/community/me",
        "/community/me/password",
        current_password=PASSWORD,
        new_password=NEW_PASSWORD,
    )
    assert changed.headers["location"] == "/community/me?done=password"
    assert (await client.get("/community/me")).status_code == 200
    gone = await elsewhere.get("/community/me")
    assert gone.status_code == 303 and gone.headers["location"] == "/community/signin"
    fresh = page_client(world.app, port=11)
    world.clients.append(fresh)
    back = await fresh.post(
        "/community/signin", data={"handle": "river-i", "password": NEW_PASSWORD}
    )
    assert back.status_code == 303


async def signed_in_again(world: World, handle: str, port: int = 8) -> httpx.AsyncClient:
    """A second browser of an existing member."""
    client = page_client(world.app, port=port)
    world.clients.append(client)
    client.headers["user-agent"] = "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"
    done = await client.post("/community/signin", data={"handle": handle, "password": PASSWORD})
    assert done.status_code == 303
    return client


async def test_new_recovery_codes_are_shown_once_and_never_cached(world: World) -> None:
    _, old_codes = await world.community.accounts.create_member("river-j", PASSWORD, Role.MEMBER)
    client = await signed_in_again(world, "river-j")
    wrong = await post_form(
        client, "/community/me", "/community/me/recovery-codes", codes_password="nope"
    )
    assert wrong.status_code == 401 and "The password is wrong." in wrong.text
    assert not CODE.search(wrong.text)
    made = await post_form(
        client, "/community/me", "/community/me/recovery-codes", codes_password=PASSWORD
    )
    assert made.status_code == 200
    assert made.headers["cache-control"] == "no-store"
    codes = CODE.findall(made.text)
    assert len(codes) == 10 and not set(codes) & set(old_codes)
    assert "Save these codes now" in made.text
    profile = await client.get("/community/me")
    assert not any(code in profile.text for code in codes)
    assert "<strong>10</strong> unused recovery" in profile.text
    # The old codes stopped working; a new one works.
    recovering = page_client(world.app, port=12)
    world.clients.append(recovering)
    old = await recovering.post(
        "/community/recover",
        data={"handle": "river-j", "recovery_code": old_codes[0], "new_password": NEW_PASSWORD},
    )
    assert old.status_code == 401
    new = await recovering.post(
        "/community/recover",
        data={"handle": "river-j", "recovery_code": codes[0], "new_password": NEW_PASSWORD},
    )
    assert new.status_code == 303


async def test_export_is_the_api_document_as_a_download(world: World) -> None:
    client = await signed_in(world, "river-k")
    api = await world.member("lake-k")
    await post_form(client, "/community/me", "/community/me/bio", bio="Hello there")
    download = await post_form(client, "/community/me", "/community/me/export")
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/json"
    assert download.headers["content-disposition"] == (
        'attachment; filename="my-community-data.json"'
    )
    assert download.headers["cache-control"] == "no-store"
    data = download.json()
    assert data["format"] == "alumni_community.export/1"
    assert data["member"]["handle"] == "river-k" and data["member"]["bio"] == "Hello there"
    # The same document the API's export answers, field for field.
    from_api = (await api.get("/me/export")).json()
    assert set(data) == set(from_api)
    assert set(data["member"]) == set(from_api["member"])
    assert PLANTED_IP not in json.dumps(data)


async def test_sessions_can_be_ended_one_by_one_or_all_but_this_one(world: World) -> None:
    client = await signed_in(world, "river-l")
    firefox = await signed_in_again(world, "river-l", port=8)
    third = await signed_in_again(world, "river-l", port=9)
    page = await client.get("/community/me")
    assert page.text.count("Firefox on Linux</strong>") == 2
    assert "Sign out everywhere else" in page.text
    member = await member_named("river-l")
    sessions = await Session.filter(member_id=member.id).order_by("id")
    assert len(sessions) == 3
    ended = await post_form(
        client, "/community/me", f"/community/me/sessions/{sessions[1].public_id}/end"
    )
    assert ended.headers["location"] == "/community/me?done=session"
    assert (await firefox.get("/community/me")).status_code == 303
    assert (await third.get("/community/me")).status_code == 200
    unknown = await post_form(client, "/community/me", "/community/me/sessions/0123abcd/end")
    assert unknown.status_code == 404 and "No such session." in unknown.text
    # Another member's session is no one's to end but theirs.
    other = await signed_in(world, "lake-l")
    mine = await Session.get(member__handle="lake-l")
    refused = await post_form(
        client, "/community/me", f"/community/me/sessions/{mine.public_id}/end"
    )
    assert refused.status_code == 404
    assert (await other.get("/community/me")).status_code == 200

    everywhere = await post_form(client, "/community/me", "/community/me/sessions/others/end")
    assert everywhere.headers["location"] == "/community/me?done=others"
    assert (await third.get("/community/me")).status_code == 303
    after = await client.get(everywhere.headers["location"])
    assert "You are signed out everywhere else." in after.text
    assert "You are signed in on this device only." in after.text

    this_one = await Session.get(member_id=member.id)
    out = await post_form(
        client, "/community/me", f"/community/me/sessions/{this_one.public_id}/end"
    )
    assert out.status_code == 303 and out.headers["location"] == "/community/"
    assert "Max-Age=0" in out.headers["set-cookie"]
    assert not await Session.filter(member_id=member.id).exists()


# -- erasing the account -----------------------------------------------------------------


async def test_erasing_asks_for_the_handle_and_password_then_signs_out(world: World) -> None:
    mod = await world.member("mod-m", Role.MODERATOR)
    await make_room(mod, "open-room", moderation="open")
    client = await signed_in(world, "river-m", trust=1)
    made = await post_form(
        client,
        "/community/rooms/open-room",
        "/community/rooms/open-room/threads",
        title="Day one",
        body="Still here.",
    )
    thread_url = made.headers["location"].split("#")[0]
    explained = await client.get("/community/me/erase")
    assert explained.status_code == 200
    assert "What is removed" in explained.text and "a former member" in explained.text
    assert "cannot be undone" in explained.text

    wrong_handle = await post_form(
        client,
        "/community/me/erase",
        "/community/me/erase",
        confirm_handle="river-x",
        password=PASSWORD,
    )
    assert wrong_handle.status_code == 422
    assert "That is not your handle." in wrong_handle.text
    assert 'value="river-x"' in wrong_handle.text
    wrong_password = await post_form(
        client,
        "/community/me/erase",
        "/community/me/erase",
        confirm_handle="river-m",
        password="not my password",
        delete_content="yes",
    )
    assert wrong_password.status_code == 401
    assert "The password is wrong." in wrong_password.text
    assert 'value="river-m"' in wrong_password.text
    assert 'name="delete_content" value="yes" checked' in wrong_password.text
    assert "not my password" not in wrong_password.text
    nul = await post_form(
        client,
        "/community/me/erase",
        "/community/me/erase",
        confirm_handle="river-m",
        password="x\x00",
    )
    assert nul.status_code == 422 and "Password must not contain NUL" in nul.text
    assert (await member_named("river-m")).status == MemberStatus.ACTIVE

    erased = await post_form(
        client,
        "/community/me/erase",
        "/community/me/erase",
        confirm_handle="River-M",
        password=PASSWORD,
    )
    assert erased.status_code == 303 and erased.headers["location"] == "/community/"
    assert "Max-Age=0" in erased.headers["set-cookie"]
    assert not await Member.filter(handle="river-m").exists()
    assert (await client.get("/community/me")).status_code == 303
    # The post stays, by a former member; the handle leads nowhere.
    other = await signed_in(world, "lake-m", trust=1)
    thread = await other.get(thread_url)
    assert "Still here." in thread.text and "a former member" in thread.text
    assert "river-m" not in thread.text
    assert (await other.get("/community/members/river-m")).status_code == 404


# -- another member -----------------------------------------------------------------------


async def test_unknown_erased_or_malformed_handles_are_404(world: World) -> None:
    client = await signed_in(world, "river-n")
    for handle in ("nobody-here", "%00", "a" * 300, "%3Cscript%3E"):
        page = await client.get(f"/community/members/{handle}")
        assert page.status_code == 404, handle
        # A NUL, or more characters than a handle column holds, never reaches the
        # page (the router has no such path); the rest are unknown.
        unroutable = handle in ("%00", "a" * 300)
        said = "Nothing is at this address." if unroutable else "No member has that handle."
        assert said in page.text
        assert "<script>" not in page.text
    own = await client.get("/community/members/River-N")
    assert own.status_code == 200
    assert "This is how other members see you." in own.text
    assert "Flag this member" not in own.text


async def test_a_member_page_shows_nothing_private(world: World) -> None:
    client = await signed_in(world, "river-o")
    await Member.filter(handle="river-o").update(
        bio="", timezone="Europe/Berlin", trust_level=2, share_milestones=False
    )
    await post_form(client, "/community/me", "/community/me/milestones", sobriety_date="2024-02-02")
    other = await signed_in(world, "lake-o")
    seen = await other.get("/community/members/river-o")
    assert seen.status_code == 200
    for private in ("2024-02-02", "Europe/Berlin", "Regular", "Trust", "httpx", "Session"):
        assert private not in seen.text, private
    assert "river-o has not written anything here yet." in seen.text


# -- notifications --------------------------------------------------------------------------


async def test_notifications_newest_first_with_links_and_unread_marked(world: World) -> None:
    mod = await world.member("mod-p", Role.MODERATOR)
    await make_room(mod, "open-room", moderation="open")
    client = await signed_in(world, "river-p", trust=1)
    member = await member_named("river-p")
    made = (await mod.post("/rooms/open-room/threads", json={"title": "T", "body": "B"})).json()
    notes = world.community.notifications
    first = await notes.notify(member.id, "post_approved", "<p>First &amp; oldest</p>")
    world.advance(minutes=5)
    second = await notes.notify(
        member.id,
        "post_approved",
        "<p>About your post</p>",
        target=("post", made["post"]["id"]),
    )
    page = await client.get("/community/notifications")
    assert page.status_code == 200
    assert "You have 2 unread notifications." in page.text
    assert page.text.index("About your post") < page.text.index("First &amp; oldest")
    assert page.text.count(">Unread</span>") == 2
    link = f'href="/community/threads/{made["thread"]["id"]}#post-{made["post"]["id"]}"'
    assert link in page.text

    read = await post_form(
        client, "/community/notifications", f"/community/notifications/{second.id}/read"
    )
    assert read.status_code == 303 and read.headers["location"] == "/community/notifications"
    after = await client.get("/community/notifications")
    assert "You have 1 unread notification." in after.text
    assert after.text.count(">Unread</span>") == 1
    assert (await Notification.get(id=second.id)).read_at is not None
    assert (await Notification.get(id=first.id)).read_at is None

    # Another member cannot mark mine, and unknown ids change nothing.
    other = await signed_in(world, "lake-p")
    await post_form(other, "/community/notifications", f"/community/notifications/{first.id}/read")
    for ident in (999_999, 2**40):
        await post_form(
            client, "/community/notifications", f"/community/notifications/{ident}/read"
        )
    assert (await Notification.get(id=first.id)).read_at is None

    everything = await post_form(
        client, "/community/notifications", "/community/notifications/read"
    )
    assert everything.status_code == 303
    done = await client.get("/community/notifications")
    assert "You are all caught up." in done.text and ">Unread</span>" not in done.text
    assert "Mark all as read" not in done.text


async def test_notifications_page_through_older_ones(world: World) -> None:
    client = await signed_in(world, "river-q")
    member = await member_named("river-q")
    for number in range(55):
        await world.community.notifications.store(member.id, "warning", f"<p>Note {number}</p>")
    first = await client.get("/community/notifications")
    assert "Note 54</p>" in first.text and "Note 4</p>" not in first.text
    older = re.search(r'href="(/community/notifications\?cursor=\d+)"', first.text)
    assert older
    second = await client.get(older.group(1))
    assert second.status_code == 200
    assert "Note 4</p>" in second.text and "Note 54</p>" not in second.text
    assert "Older notifications" not in second.text
    cursor = older.group(1).split("=")[1]
    # Marking all read from page two comes back to page two.
    back = await post_form(client, older.group(1), "/community/notifications/read", cursor=cursor)
    assert back.headers["location"] == older.group(1)
    # 999999999999 passes the service's check but is past any id a column holds.
    for bad in ("abc", "1" * 13, "%00", "999999999999", "%C2%B2"):
        page = await client.get(f"/community/notifications?cursor={bad}")
        assert page.status_code == 422, bad
        assert "That page of notifications is not there" in page.text
        assert "Note 54</p>" in page.text


# -- recovering an account -----------------------------------------------------------------


async def test_recovering_signs_in_and_says_how_many_codes_are_left(world: World) -> None:
    _, codes = await world.community.accounts.create_member("river-r", PASSWORD, Role.MEMBER)
    client = page_client(world.app)
    world.clients.append(client)
    form = await client.get("/community/recover")
    assert form.status_code == 200
    for name in ("handle", "recovery_code", "new_password"):
        assert f'<label for="{name}">' in form.text
    wrong = await client.post(
        "/community/recover",
        data={"handle": "river-r", "recovery_code": "aaaa-bbbb-cccc", "new_password": NEW_PASSWORD},
    )
    assert wrong.status_code == 401
    assert "The handle or the recovery code is wrong." in wrong.text
    assert 'value="river-r"' in wrong.text and NEW_PASSWORD not in wrong.text
    assert "set-cookie" not in wrong.headers
    weak = await client.post(
        "/community/recover",
        data={"handle": "river-r", "recovery_code": codes[0], "new_password": "short"},
    )
    assert weak.status_code == 422 and "New password must be at least" in weak.text
    nul = await client.post(
        "/community/recover",
        data={"handle": "river-r\x00", "recovery_code": codes[0], "new_password": NEW_PASSWORD},
    )
    assert nul.status_code == 422 and "Handle must not contain NUL" in nul.text
    evil = await client.post(
        "/community/recover",
        data={"handle": "river-r", "recovery_code": codes[0], "new_password": NEW_PASSWORD},
        headers={"origin": "https://evil.example"},
    )
    assert evil.status_code == 403 and "set-cookie" not in evil.headers

    done = await client.post(
        "/community/recover",
        data={"handle": "river-r", "recovery_code": codes[0], "new_password": NEW_PASSWORD},
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/community/me?done=recovered"
    assert done.headers["set-cookie"].startswith("ac_session=")
    profile = await client.get(done.headers["location"])
    assert profile.status_code == 200
    assert "Signed in as <strong>river-r</strong>" in profile.text
    assert "You have 9 unused recovery codes left." in profile.text
    member = await member_named("river-r")
    assert await RecoveryCode.filter(member_id=member.id, used_at=None).count() == 9
    # The code is used up.
    again = page_client(world.app, port=13)
    world.clients.append(again)
    used = await again.post(
        "/community/recover",
        data={"handle": "river-r", "recovery_code": codes[0], "new_password": NEW_PASSWORD},
    )
    assert used.status_code == 401


# -- crisis help ------------------------------------------------------------------------------


async def test_crisis_help_is_public_with_phone_links(world: World) -> None:
    client = page_client(world.app)
    world.clients.append(client)
    page = await client.get("/community/crisis")
    assert page.status_code == 200
    assert '<h1 id="crisis-title">' in page.text
    assert (
        '<a href="https://988lifeline.org" rel="noopener">988 Suicide &amp; Crisis Lifeline</a>'
        in (page.text)
    )
    assert 'href="tel:988">988</a>' in page.text and 'href="tel:911">911</a>' in page.text
    # The nav offers it to everyone.
    home = await client.get("/community/")
    assert 'href="/community/crisis"' in home.text


def test_phone_numbers_in_contact_text_become_tel_links() -> None:
    assert contact_parts("call or text 988") == [("call or text ", None), ("988", "tel:988")]
    assert contact_parts("Samaritans: 116 123, 24/7") == [
        ("Samaritans: ", None),
        ("116 123", "tel:116123"),
        (", 24/7", None),
    ]
    assert contact_parts("+44 (0)20 7946-0958") == [("+44 (0)20 7946-0958", "tel:+4402079460958")]
    assert contact_parts("text HOME") == [("text HOME", None)]


# -- pages at any mount ------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/community", ""])
async def test_member_pages_follow_the_mount(world: World, prefix: str) -> None:
    client = await signed_in(world, "river-s", prefix=prefix)
    for url in ("/me", "/me/erase", "/notifications", "/members/river-s", "/crisis"):
        page = await client.get(prefix + url)
        assert page.status_code == 200, url
        links = set(re.findall(r'(?:href|src|action)="([^"#]+)', page.text))
        local = {link for link in links if not link.startswith(("https://", "tel:"))}
        assert local and all(link.startswith(f"{prefix}/") for link in local), (url, local)
    saved = await post_form(client, f"{prefix}/me", f"{prefix}/me/bio", bio="hi")
    assert saved.headers["location"] == f"{prefix}/me?done=bio"
    signed_out = page_client(world.app if prefix else world.community, port=9)
    world.clients.append(signed_out)
    assert (await signed_out.get(f"{prefix}/recover")).status_code == 200
    assert (await signed_out.get(f"{prefix}/me")).headers["location"] == f"{prefix}/signin"


# -- the host bridge: choosing a handle ------------------------------------------------------


class HostUser(BaseUser):
    """The host's user: it knows an e-mail address, which must never reach the community."""

    def __init__(self, user_id: str) -> None:
        self.user_id, self.email = user_id, PLANTED_EMAIL

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.email

    @property
    def identity(self) -> str:
        return self.user_id


class HeaderBackend(AuthenticationBackend):
    """Stands in for the host's own login: the user id arrives in a header."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        user_id = conn.headers.get("x-host-user")
        return (AuthCredentials(["authenticated"]), HostUser(user_id)) if user_id else None


@pytest.fixture
async def host(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A host site with its own login, the community mounted in it; a browser of a host user."""
    await clone_migrated(database_url)
    community = Community(make_settings(database_url))
    watch = LeakWatch(
        Starlette(
            routes=[Mount("/community", app=community)],
            middleware=[Middleware(AuthenticationMiddleware, backend=HeaderBackend())],
        )
    )
    async with community.lifespan():
        with community.database.activate():
            transport = httpx.ASGITransport(app=watch, client=(PLANTED_IP, 4))
            async with httpx.AsyncClient(
                transport=transport, base_url=ORIGIN, headers={"origin": ORIGIN}
            ) as client:
                yield client
    watch.assert_clean()


async def test_a_host_user_without_a_handle_is_sent_to_choose_one(
    host: httpx.AsyncClient,
) -> None:
    nobody = await host.get("/community/welcome")
    assert nobody.status_code == 303 and nobody.headers["location"] == "/community/signin"
    host.headers["x-host-user"] = PLANTED_HOST_ID
    for url in ("/community/me", "/community/notifications", "/community/members/x-y"):
        sent = await host.get(url)
        assert sent.status_code == 303, url
        assert sent.headers["location"] == "/community/welcome"
    form = await host.get("/community/welcome")
    assert form.status_code == 200
    assert "Not your real name." in form.text and "Shown to everyone" in form.text
    assert '<label for="handle">' in form.text

    bad = await host.post("/community/welcome", data={"handle": "x"})
    assert bad.status_code == 422 and "Handle must be 3 to 32 characters long" in bad.text
    nul = await host.post("/community/welcome", data={"handle": "mead\x00ow"})
    assert nul.status_code == 422 and "Handle must not contain NUL" in nul.text
    evil = await host.post(
        "/community/welcome", data={"handle": "meadow"}, headers={"origin": "https://evil.example"}
    )
    assert evil.status_code == 403
    assert not await Member.exists()

    chosen = await host.post("/community/welcome", data={"handle": "meadow"})
    assert chosen.status_code == 303 and chosen.headers["location"] == "/community/rooms"
    assert "ac_session=" in chosen.headers["set-cookie"]
    member = await Member.get(handle="meadow")
    assert member.host_key and member.password_hash is None
    again = await host.get("/community/welcome")
    assert again.status_code == 303 and again.headers["location"] == "/community/rooms"
    profile = await host.get("/community/me")
    assert profile.status_code == 200 and "<strong>meadow</strong>" in profile.text
    # No password here: nothing to change, no codes.
    assert "no password or\n     recovery code" in profile.text
    assert 'id="current_password"' not in profile.text

    # A second host user cannot take a look-alike of it.
    host.cookies.clear()
    host.headers["x-host-user"] = "host-user-other-5150"
    taken = await host.post("/community/welcome", data={"handle": "Meadow"})
    assert taken.status_code == 422 and "Handle is taken" in taken.text
    assert 'value="Meadow"' in taken.text


async def test_a_host_member_erases_without_a_password(host: httpx.AsyncClient) -> None:
    host.headers["x-host-user"] = PLANTED_HOST_ID
    await host.post("/community/welcome", data={"handle": "meadow"})
    page = await host.get("/community/me/erase")
    assert 'id="password"' not in page.text
    token = await csrf_of(host, "/community/me/erase")
    erased = await host.post(
        "/community/me/erase", data={"csrf_token": token, "confirm_handle": "meadow"}
    )
    assert erased.status_code == 303
    assert (await Member.get()).status == MemberStatus.ERASED
