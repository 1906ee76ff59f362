"""static/chat.js, the browser's chat client, in real Chromium against a real server.

Playwright drives Debian's ``chromium`` (found on PATH); no browser is ever downloaded.
Each page is one of ours (``/community/``), so its socket carries the right Origin.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import pytest
from playwright.async_api import Browser, BrowserContext, Page, WebSocketRoute, async_playwright

from alumni_community.identity.models import Role

from ..conftest import missing
from .conftest import ChatWorld, Client, make_room

pytestmark = pytest.mark.anyio

#: Fast heartbeats, so that a dead socket is noticed within a few seconds.
PING_EVERY_MS = 500
#: Seconds a promise in the page may take; a client that never settles one fails, not hangs.
WAIT = 10

START = """async ([room, pingEvery]) => {
    const {ChatClient, socketUrl} = await import("/community/static/chat.js");
    window.events = [];
    const onEvent = (type, frame) => window.events.push([type, frame]);
    window.chat = new ChatClient(socketUrl("/community"), {onEvent, pingEvery});
    chat.connect();
    chat.subscribe(room);
}"""


@pytest.fixture
async def browser(chat: ChatWorld) -> AsyncIterator[Browser]:
    # Asks for ``chat`` so that the browser closes first, while the server still runs.
    executable = shutil.which("chromium")
    if executable is None:
        missing("chromium not found on PATH; install the chromium package")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, headless=True)
        yield browser
        await browser.close()


async def open_page(
    browser: Browser,
    chat: ChatWorld,
    client: Client,
    route: Callable[[WebSocketRoute], Any] | None = None,
) -> tuple[BrowserContext, Page]:
    """A signed-in page running the client, subscribed to the lounge; ``route`` sees its sockets."""
    context = await browser.new_context()
    context.set_default_timeout(WAIT * 1000)
    token = client.cookie.split("=", 1)[1]
    url = chat.base + "/community/"
    await context.add_cookies([{"name": "ac_session", "value": token, "url": url}])
    page = await context.new_page()
    if route is not None:
        await page.route_web_socket("**/community/ws", route)
    await page.goto(url)
    await page.evaluate(START, ["lounge", PING_EVERY_MS])
    await page.wait_for_function("() => events.some(([type]) => type === 'subscribed')")
    return context, page


async def events(page: Page, kind: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await page.evaluate(
        "kind => events.filter(([type]) => type === kind).map(([, frame]) => frame)", kind
    )
    return found


async def arrived(page: Page, text: str) -> None:
    """Wait until a ``message`` event whose html holds ``text`` has reached the page."""
    await page.wait_for_function(
        "text => events.some(([type, f]) => type === 'message' && f.html.includes(text))",
        arg=text,
    )


async def send(page: Page, body: str) -> dict[str, Any]:
    """Send through the client; the echoed message frame."""
    with anyio.fail_after(WAIT):
        echo: dict[str, Any] = await page.evaluate("body => chat.send('lounge', body)", body)
    return echo


async def lounge(chat: ChatWorld) -> None:
    mod = await chat.member("mod-a", Role.MODERATOR)
    await make_room(mod, "lounge")


async def test_a_message_reaches_the_other_member_once(chat: ChatWorld, browser: Browser) -> None:
    await lounge(chat)
    _, a = await open_page(browser, chat, await chat.member("river"))
    _, b = await open_page(browser, chat, await chat.member("lake"))

    echo = await send(a, "hello from river")
    [pending] = await events(a, "pending")
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", pending["client_id"])
    assert pending["body"] == "hello from river"
    assert echo["client_id"] == pending["client_id"]
    assert echo["author"]["handle"] == "river" and "hello from river" in echo["html"]
    assert [s["client_id"] for s in await events(a, "sent")] == [pending["client_id"]]

    marker = await send(a, "marker")  # anything sent twice would come before it
    await arrived(b, "marker")
    got = await events(b, "message")
    assert [(m["seq"], m["author"]["handle"]) for m in got] == [
        (echo["seq"], "river"),
        (marker["seq"], "river"),
    ]
    assert "client_id" not in got[0]  # only the sender learns it
    await arrived(a, "marker")
    assert [m["seq"] for m in await events(a, "message")] == [echo["seq"], marker["seq"]]
    assert await a.evaluate("chat.pending.size") == 0


async def test_an_offline_member_resumes_without_gap_or_duplicate(
    chat: ChatWorld, browser: Browser
) -> None:
    await lounge(chat)
    _, a = await open_page(browser, chat, await chat.member("river"))
    b_context, b = await open_page(browser, chat, await chat.member("lake"))
    before = await send(a, "before")  # a resubscription without since would repeat it
    await arrived(b, "before")

    # As on a network that died without the browser noticing: no "offline" event
    # for the client, so only its heartbeat can tell that the socket is dead.
    await b.evaluate("() => removeEventListener('offline', chat._offline)")
    resent: list[dict[str, Any]] = []  # what B sends on the sockets it opens from now on
    b.on("websocket", lambda ws: ws.on("framesent", lambda text: resent.append(json.loads(text))))
    await b_context.set_offline(True)
    await b.wait_for_function("() => chat.state === 'closed'")
    away = [await send(a, f"while away {i}") for i in range(5)]
    await b.wait_for_timeout(2 * PING_EVERY_MS)  # retries fail while offline
    assert [m["seq"] for m in await events(b, "message")] == [before["seq"]]

    await b_context.set_offline(False)  # the client reconnects by itself
    await arrived(b, "while away 4")
    after = await send(a, "after")
    await arrived(b, "after")
    seqs = [m["seq"] for m in await events(b, "message")]
    assert seqs == [before["seq"], *(m["seq"] for m in away), after["seq"]]
    assert seqs == list(range(before["seq"], after["seq"] + 1))
    states = [s["state"] for s in await events(b, "state")]
    assert states[:2] == ["connecting", "open"] and states[-1] == "open"
    assert states.count("open") >= 2 and "closed" in states
    subscribes = [f for f in resent if f["type"] == "subscribe"]
    assert [(f["room"], f["since"]) for f in subscribes] == [("lounge", before["seq"])]


async def test_a_message_written_offline_goes_out_once_when_back(
    chat: ChatWorld, browser: Browser
) -> None:
    await lounge(chat)
    river = await chat.member("river")
    a_context, a = await open_page(browser, chat, river)
    _, b = await open_page(browser, chat, await chat.member("lake"))

    await a_context.set_offline(True)
    await a.wait_for_function("() => chat.state === 'closed'")
    await a.evaluate("() => { window.sending = chat.send('lounge', 'written offline'); }")
    [pending] = await events(a, "pending")
    assert pending["body"] == "written offline"
    await a.wait_for_timeout(3 * PING_EVERY_MS)  # heartbeats and retries while offline
    listed = await river.http.get("/rooms/lounge/messages")
    assert listed.status_code == 200 and listed.json()["items"] == []

    await a_context.set_offline(False)
    with anyio.fail_after(WAIT):
        echo = await a.evaluate("sending")
    assert echo["client_id"] == pending["client_id"]
    await arrived(b, "written offline")
    listed = await river.http.get("/rooms/lounge/messages")
    items = listed.json()["items"]
    assert [(m["seq"], m["client_id"]) for m in items] == [(echo["seq"], pending["client_id"])]
    assert [m["seq"] for m in await events(b, "message")] == [echo["seq"]]
    assert [s["client_id"] for s in await events(a, "sent")] == [pending["client_id"]]


async def test_an_error_reply_rejects_the_send(chat: ChatWorld, browser: Browser) -> None:
    await lounge(chat)
    _, page = await open_page(browser, chat, await chat.member("newcomer", trust=0))
    # TL0: 20 chat messages per 30 s; the 21st is refused.
    with anyio.fail_after(WAIT):
        outcomes = await page.evaluate(
            """async () => {
                const sends = Array.from({length: 21}, (_, i) => chat.send("lounge", `n${i}`));
                const settled = await Promise.allSettled(sends);
                return settled.map(r => r.status === "fulfilled"
                    ? {seq: r.value.seq}
                    : {name: r.reason.name, code: r.reason.code, frame: r.reason.frame});
            }"""
        )
    assert all("seq" in outcome for outcome in outcomes[:20])
    refused = outcomes[20]
    assert (refused["name"], refused["code"]) == ("ChatError", "rate_limited")
    pending = await events(page, "pending")
    assert refused["frame"]["ref"] == pending[20]["client_id"]
    assert refused["frame"]["retry_after"] >= 1
    assert await page.evaluate("chat.pending.size") == 0  # not resent after a reconnect
    assert len(await events(page, "sent")) == 20


async def test_a_lost_echo_is_delivered_once(chat: ChatWorld, browser: Browser) -> None:
    """The server stored the message but the socket died before its echo reached the page:
    after the reconnect both the backlog and the resend bring it; the page shows it once."""
    await lounge(chat)
    lost: list[str | bytes] = []

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        async def to_page(message: str | bytes) -> None:
            if not lost and json.loads(message)["type"] == "message":
                lost.append(message)
                await ws.close(code=1001, reason="going away")  # the echo goes with the socket
            else:
                ws.send(message)

        server.on_message(to_page)

    river = await chat.member("river")
    _, page = await open_page(browser, chat, river, route)
    echo = await send(page, "echo lost")
    assert lost and json.loads(lost[0])["client_id"] == echo["client_id"]
    marker = await send(page, "marker")
    assert [m["seq"] for m in await events(page, "message")] == [echo["seq"], marker["seq"]]
    assert [s["state"] for s in await events(page, "state")].count("open") == 2
    listed = (await river.http.get("/rooms/lounge/messages")).json()["items"]
    assert [m["client_id"] for m in listed] == [echo["client_id"], marker["client_id"]]
