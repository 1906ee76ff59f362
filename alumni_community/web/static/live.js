/**
 * The live channel of every page a signed-in member has open, as an ES module.
 *
 * One WebSocket per page (a `ChatClient` from chat.js), shared with whatever
 * else the page runs: the chat panel imports `client` and `listen` from here
 * rather than opening a second socket (the server limits sockets per member).
 *
 * On its own it shows, in the live region base.html puts at the end of the
 * page (`#ac-live`):
 *   - new notifications: the unread count (on the Notifications link of the
 *     site navigation when there is one) and a polite message;
 *   - for moderators, the `urgent_review` alert, as an alert, on whatever page
 *     is open, with a link to the review queue.
 *
 * The URLs come from data- attributes the server fills with url_for, so the
 * module works at any mount path.
 *
 * @example
 *   import {client, listen} from "./live.js";
 *   listen((type, frame) => { if (type === "message") show(frame); });
 *   client.subscribe("lounge");
 */

import { ChatClient } from "./chat.js";

const root = document.getElementById("ac-live");
/** @type {Set<(type: string, frame: object) => void>} */
const listeners = new Set();

/**
 * Call `fn(type, frame)` for every event of the page's chat client (see chat.js).
 * @returns {() => void} stops listening
 */
export function listen(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** The WebSocket's URL from its path, on this page's host. */
function socketUrl(path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

function dispatch(type, frame) {
  for (const fn of listeners) {
    try {
      fn(type, frame);
    } catch (error) {
      reportError(error);
    }
  }
}

/** The page's one chat client; null when the page has no live region (signed out). */
export const client = root
  ? new ChatClient(socketUrl(root.dataset.socket), { onEvent: dispatch })
  : null;

/** Text of server html (notifications are built by the server), without running anything. */
export function plainText(html) {
  return new DOMParser().parseFromString(html, "text/html").body.textContent.trim();
}

// -- what every page shows ------------------------------------------------------------------

const alerts = root?.querySelector("[data-live-alerts]");
const status = root?.querySelector("[data-live-status]");
/** Notification ids heard on the socket, so the count fetched at load does not count them twice. */
const heard = new Set();
let unread = 0;

/** The unread count on the Notifications link of the navigation, when the page has one. */
function showCount() {
  const page = root.dataset.notificationsPage;
  const link = page && document.querySelector(`.site-nav a[href="${CSS.escape(page)}"]`);
  if (!link) return;
  let badge = link.querySelector("[data-live-count]");
  if (!badge) {
    badge = document.createElement("span");
    badge.className = "ac-count";
    badge.dataset.liveCount = "";
    link.append(" ", badge);
  }
  badge.hidden = unread === 0;
  badge.textContent = String(unread);
  const words = document.createElement("span");
  words.className = "visually-hidden";
  words.textContent = unread === 1 ? " unread notification" : " unread notifications";
  badge.append(words);
}

/** A message in the polite live region, visible until dismissed or replaced. */
function say(text, link) {
  status.replaceChildren();
  const box = document.createElement("div");
  box.className = "ac-toast";
  const p = document.createElement("p");
  p.textContent = text;
  box.append(p);
  if (link) {
    const a = document.createElement("a");
    a.href = link.href;
    a.textContent = link.text;
    p.append(" ", a);
  }
  const close = document.createElement("button");
  close.type = "button";
  close.className = "ac-dismiss";
  close.textContent = "Dismiss";
  close.addEventListener("click", () => status.replaceChildren());
  box.append(close);
  status.append(box);
}

function notified(frame) {
  if (heard.has(frame.id)) return;
  heard.add(frame.id);
  unread += 1;
  showCount();
  const page = root.dataset.notificationsPage;
  say(`New notification: ${plainText(frame.html)}`, page && { href: page, text: "See all" });
}

/** The urgent alert for moderators: prominent, once per review item, until dismissed. */
function urgent(frame) {
  if (alerts.querySelector(`[data-item="${CSS.escape(String(frame.item))}"]`)) return;
  const box = document.createElement("section");
  box.className = "ac-urgent";
  box.dataset.item = String(frame.item);
  box.setAttribute("aria-label", "Urgent review");
  const p = document.createElement("p");
  const strong = document.createElement("strong");
  strong.textContent = "Urgent: ";
  p.append(strong, plainText(frame.html));
  box.append(p);
  const actions = document.createElement("p");
  actions.className = "ac-urgent-actions";
  const queue = root.dataset.reviewPage;
  if (queue) {
    const a = document.createElement("a");
    a.href = queue;
    a.textContent = "Open the review queue";
    actions.append(a, " ");
  }
  const close = document.createElement("button");
  close.type = "button";
  close.className = "ac-dismiss";
  close.textContent = "Dismiss";
  close.addEventListener("click", () => box.remove());
  actions.append(close);
  box.append(actions);
  alerts.append(box);
}

/**
 * The unread count from the server, with what the socket brought meanwhile counted once.
 * A notification heard is stored before it is sent, so an answer that does not list it
 * was read before it was stored (its count may or may not have it): ask again.
 */
async function fetchCount(attempts = 3) {
  try {
    const response = await fetch(root.dataset.notificationsApi, {
      credentials: "same-origin",
      headers: { accept: "application/json" },
    });
    if (!response.ok) return;
    const page = await response.json();
    const listed = new Set(page.items.map((item) => item.id));
    const meanwhile = [...heard].filter((id) => !listed.has(id)).length;
    if (meanwhile && attempts > 1) return fetchCount(attempts - 1);
    unread = page.unread + meanwhile;
    showCount();
  } catch {
    // Offline: the count waits for the next page.
  }
}

if (client) {
  listen((type, frame) => {
    if (type !== "notice") return;
    if (frame.kind === "notification") notified(frame);
    else if (frame.kind === "urgent_review") urgent(frame);
  });
  client.connect();
  fetchCount();
}
