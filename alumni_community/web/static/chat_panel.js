/**
 * The chat panel of a room or a conversation (chat_panel.html), made live.
 *
 * The server rendered the recent messages; this module subscribes after the
 * last of them on the page's one socket (live.js), so a message is shown once
 * however it arrived (history, live, a resume after a reconnect, a gap filled
 * from the history endpoint): every message is placed by its `seq`, and a seq
 * already shown is replaced, never added twice.
 *
 * Sending: the form's text goes out through the client, which keeps it until
 * the server echoes it (resent after a reconnect, never duplicated); the
 * message shows "Sending…" until then, and "Sent" after. Refusals are shown as
 * sentences: a rate limit as how long to wait; identifying details as a
 * question, with "Send anyway". Crisis resources are shown as an alert.
 * Enter sends, Shift+Enter starts a new line.
 *
 * Without a socket (signed out, refused) the form posts as it would without
 * JavaScript.
 */

import { client, listen } from "./live.js";

/** Seconds a "typing" lasts without another (the server passes one per 3 s). */
const TYPING_SHOWN_MS = 6000;
/** At most one read marker per this many ms. */
const READ_EVERY_MS = 1000;
const NOTICE_KINDS = new Set(["crisis_resources", "held_for_review", "identifying_details_confirmed"]);
const STATES = {
  connecting: "Connecting…",
  open: "Live",
  closed: "Connection lost: reconnecting. What you send is kept until it goes out.",
  signed_out: "You are signed out: sign in again to chat.",
  refused: "Live chat is not available on this page.",
};

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function timeLabel(iso) {
  const when = new Date(iso);
  return when.toLocaleString([], { day: "2-digit", month: "short", hour: "2-digit", minute: "2-digit" });
}

function waitWords(seconds) {
  if (seconds >= 120) return `${Math.ceil(seconds / 60)} minutes`;
  return `${seconds} second${seconds === 1 ? "" : "s"}`;
}

class Panel {
  constructor(section) {
    this.section = section;
    this.room = section.dataset.room;
    this.viewer = section.dataset.viewer;
    this.historyUrl = section.dataset.history;
    this.log = section.querySelector("[data-chat-log]");
    this.scroller = section.querySelector("[data-chat-scroll]");
    this.status = section.querySelector("[data-chat-status]");
    this.presence = section.querySelector("[data-chat-presence]");
    this.typingLine = section.querySelector("[data-chat-typing]");
    this.notices = section.querySelector("[data-chat-notices]");
    this.form = section.querySelector("[data-chat-form]");
    this.box = this.form?.querySelector("textarea[name=body]");
    this.problem = this.form?.querySelector("[data-chat-problem]");
    this.ask = this.form?.querySelector("[data-chat-ask]");
    /** client_ids of this page's sends, for their notices and errors */
    this.mine = new Set();
    this.typists = new Map();
    this.readAt = 0;
    this.readSeq = 0;
    this.readTimer = 0;
  }

  start() {
    this.section.classList.add("chat-live");
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.section.querySelector("[data-chat-hint]")?.append(" Enter sends; Shift+Enter starts a new line.");
    listen((type, frame) => this.event(type, frame));
    const last = this.section.dataset.lastSeq;
    if (last !== "" && !client.rooms.has(this.room)) {
      // Resume after what the server rendered, rather than send it again.
      client.rooms.set(this.room, { seen: Number(last), floor: null });
    }
    client.subscribe(this.room);
    this.showState(client.state);
    this.form?.addEventListener("submit", (event) => this.submit(event));
    this.box?.addEventListener("keydown", (event) => this.key(event));
    this.box?.addEventListener("input", () => this.box.value.trim() && client.typing(this.room));
    document.addEventListener("visibilitychange", () => this.markRead());
  }

  // -- events ---------------------------------------------------------------------------

  event(type, frame) {
    if (type === "state") return this.showState(frame.state);
    if (type === "notice") return this.notice(frame);
    if (type === "error" && frame.ref === this.room && frame.code === "not_found") {
      this.status.textContent = "This chat is no longer open to you.";
      return;
    }
    if ((type === "sent" ? frame.message.room : frame.room) !== this.room) return;
    switch (type) {
      case "subscribed":
        this.showPresence(frame.online, frame.online_count);
        this.markRead();
        break;
      case "pending":
        this.pending(frame);
        break;
      case "message":
        this.place(frame);
        this.markRead();
        break;
      case "sent":
        this.sent(frame);
        break;
      case "edited":
        if (this.log.querySelector(`[data-seq="${frame.seq}"]`)) this.place(frame);
        break;
      case "deleted":
        this.deleted(frame.seq);
        break;
      case "reaction":
        this.reactions(frame.seq, frame.reactions);
        break;
      case "presence":
        this.showPresence(frame.online, frame.online_count);
        break;
      case "typing":
        this.typing(frame.handle);
        break;
      case "gap":
        this.fill(frame.from_seq, frame.to_seq);
        break;
    }
  }

  showState(state) {
    if (STATES[state]) this.status.textContent = STATES[state];
    this.section.dataset.state = state;
  }

  /** `online` names at most 50 handles; `count` is everyone online (absent from older servers). */
  showPresence(online, count = online.length) {
    this.presence.hidden = false;
    if (!online.length) {
      this.presence.textContent = "Nobody else is here now.";
      return;
    }
    const others = count - online.length;
    const more = others > 0 ? ` and ${others} ${others === 1 ? "other" : "others"}` : "";
    this.presence.textContent = `Here now: ${online.join(", ")}${more}`;
  }

  typing(handle) {
    clearTimeout(this.typists.get(handle));
    this.typists.set(
      handle,
      setTimeout(() => {
        this.typists.delete(handle);
        this.showTyping();
      }, TYPING_SHOWN_MS),
    );
    this.showTyping();
  }

  showTyping() {
    const names = [...this.typists.keys()];
    this.typingLine.textContent =
      names.length === 0 ? "" : `${names.join(" and ")} ${names.length === 1 ? "is" : "are"} typing…`;
  }

  notice(frame) {
    if (!NOTICE_KINDS.has(frame.kind)) return;
    // A notice answers one of this page's sends; a crisis notice may also follow a refusal alone.
    if (frame.ref != null ? !this.mine.has(frame.ref) : frame.kind !== "crisis_resources") return;
    const box = element("section", `notice notice-${frame.kind}`);
    box.setAttribute("role", frame.kind === "crisis_resources" ? "alert" : "status");
    if (frame.kind === "crisis_resources") box.append(element("h3", "", "You are not alone"));
    const body = element("div");
    body.innerHTML = frame.html; // built by the server, as the page's own notices are
    box.append(body);
    const close = element("button", "ac-dismiss", "Dismiss");
    close.type = "button";
    close.addEventListener("click", () => box.remove());
    box.append(close);
    if (frame.kind === "crisis_resources") this.notices.prepend(box);
    else this.notices.append(box);
  }

  // -- messages ----------------------------------------------------------------------------

  item(message) {
    const own = Boolean(message.author?.handle) && message.author.handle === this.viewer;
    const li = element("li", `chat-message chat-${message.state}${own ? " chat-own" : ""}`);
    li.id = `msg-${message.seq}`;
    li.dataset.seq = String(message.seq);
    const meta = element("p", "chat-meta");
    const time = element("time", "", timeLabel(message.created_at));
    time.dateTime = message.created_at;
    meta.append(element("strong", "", message.author?.handle || "a former member"), " ", time);
    if (message.edited_at) meta.append(" ", element("span", "muted", "(edited)"));
    li.append(meta);
    const state = {
      pending: "Held for review: only you and the moderators see it until a moderator looks at it.",
      deleted: "This message was deleted.",
      hidden: "Not shown to others: a moderator hid it.",
      rejected: "Not shown to others: a moderator declined it.",
    }[message.state];
    if (state) li.append(element("p", "chat-state", state));
    const body = element("div", "chat-body");
    body.innerHTML = message.html; // sanitized by the server, as in the page's own history
    li.append(body);
    this.reactionLine(li, message.reactions);
    return li;
  }

  reactionLine(li, reactions) {
    li.querySelector(".chat-reactions")?.remove();
    const entries = Object.entries(reactions || {});
    if (!entries.length) return;
    const line = element("p", "chat-reactions");
    for (const [emoji, count] of entries) line.append(element("span", "", `${emoji} ${count}`), " ");
    li.append(line);
  }

  /** Keep the newest message in view, unless the member scrolled up to read. */
  follow(change) {
    const log = this.scroller;
    const atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    change();
    if (atEnd) log.scrollTop = log.scrollHeight;
  }

  /** Put a message where its seq belongs; the same seq again replaces it. */
  place(message) {
    this.follow(() => this.insert(message));
  }

  insert(message) {
    this.section.querySelector("[data-chat-empty]")?.remove();
    const li = this.item(message);
    const waiting =
      message.client_id &&
      this.log.querySelector(`[data-client-id="${CSS.escape(message.client_id)}"]:not([data-seq])`);
    if (waiting) {
      waiting.remove();
      li.dataset.clientId = message.client_id;
      li.querySelector(".chat-meta").append(" ", element("span", "chat-delivery", "Sending…"));
    }
    const same = this.log.querySelector(`[data-seq="${message.seq}"]`);
    if (same) {
      const delivery = same.querySelector(".chat-delivery");
      if (delivery) li.querySelector(".chat-meta").append(" ", delivery);
      same.replaceWith(li);
      return;
    }
    let before = null;
    for (const other of this.log.children) {
      if (other.dataset.seq ? Number(other.dataset.seq) > message.seq : other.classList.contains("chat-sending")) {
        before = other;
        break;
      }
    }
    this.log.insertBefore(li, before);
  }

  pending({ client_id, body }) {
    this.mine.add(client_id);
    if (this.log.querySelector(`[data-client-id="${CSS.escape(client_id)}"]`)) return;
    this.section.querySelector("[data-chat-empty]")?.remove();
    const li = element("li", "chat-message chat-own chat-sending");
    li.dataset.clientId = client_id;
    const meta = element("p", "chat-meta");
    meta.append(element("strong", "", this.viewer), " ", element("span", "chat-delivery", "Sending…"));
    li.append(meta, element("div", "chat-body chat-plain", body));
    this.log.append(li);
    this.scroller.scrollTop = this.scroller.scrollHeight; // what the member just sent is in view
  }

  sent({ client_id }) {
    const li = this.log.querySelector(`[data-seq][data-client-id="${CSS.escape(client_id)}"]`);
    const delivery = li?.querySelector(".chat-delivery");
    if (delivery) delivery.textContent = "Sent";
  }

  deleted(seq) {
    const li = this.log.querySelector(`[data-seq="${seq}"]`);
    if (!li) return;
    li.className = li.className.replace(/chat-(visible|pending|hidden|rejected)/, "chat-deleted");
    li.querySelector(".chat-state")?.remove();
    li.querySelector(".chat-body").replaceChildren();
    li.querySelector(".chat-meta").after(element("p", "chat-state", "This message was deleted."));
  }

  reactions(seq, counts) {
    const li = this.log.querySelector(`[data-seq="${seq}"]`);
    if (li) this.reactionLine(li, counts);
  }

  /** Messages the server left out after a long absence (a `gap`), from the history endpoint. */
  async fill(fromSeq, toSeq) {
    let after = fromSeq - 1;
    while (after < toSeq) {
      const response = await fetch(`${this.historyUrl}?after=${after}`, {
        credentials: "same-origin",
        headers: { accept: "application/json" },
      });
      if (!response.ok) return;
      const page = await response.json();
      const wanted = page.items.filter((m) => m.seq <= toSeq);
      for (const message of wanted) this.place(message);
      if (!page.next || wanted.length < page.items.length || !page.items.length) return;
      after = page.items[page.items.length - 1].seq;
    }
  }

  /** Tell the server what the member has seen (only while the page is in view). */
  markRead() {
    if (document.visibilityState !== "visible") return;
    const seqs = [...this.log.querySelectorAll("[data-seq]")].map((li) => Number(li.dataset.seq));
    const last = Math.max(0, ...seqs);
    if (last <= this.readSeq) return;
    clearTimeout(this.readTimer);
    const wait = Math.max(0, this.readAt + READ_EVERY_MS - Date.now());
    this.readTimer = setTimeout(() => {
      if (client.markRead(this.room, last) !== null) {
        this.readSeq = last;
        this.readAt = Date.now();
      }
    }, wait);
  }

  // -- sending ----------------------------------------------------------------------------

  key(event) {
    if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    event.preventDefault();
    this.form.requestSubmit();
  }

  submit(event) {
    if (client.state === "signed_out" || client.state === "refused") return; // the form posts
    event.preventDefault();
    const body = this.box.value;
    if (!body.trim()) return;
    const confirm = this.form.querySelector("input[name=confirm]");
    this.send(body, Boolean(confirm?.checked));
    confirm?.closest(".confirm")?.remove();
  }

  send(body, confirm) {
    this.say(null);
    this.askClear();
    this.box.value = "";
    client.send(this.room, body, { confirm }).catch((error) => this.refused(error, body));
  }

  refused(error, body) {
    const ref = error.frame?.ref;
    if (ref) this.log.querySelector(`[data-client-id="${CSS.escape(String(ref))}"]:not([data-seq])`)?.remove();
    if (!this.box.value.trim()) this.box.value = body; // nothing written is lost
    const frame = error.frame || {};
    switch (error.code) {
      case "rate_limited":
        return this.say(
          `That was a lot in a short time. Please wait ${waitWords(frame.retry_after || 1)} and try again.`,
        );
      case "identifying_details":
        return this.askConfirm(frame.detail, body);
      case "too_large":
        return this.say("Your message is too long: a message is at most 4,000 characters.");
      case "signed_out":
        return this.say("You are signed out: sign in again, then send your message.");
      case "closed":
      case "refused":
        return this.say("Live chat is not available: reload the page and try again.");
      case "bad_frame":
        if (frame.errors) return this.say(Object.values(frame.errors).flat().join(" "));
        return this.say(frame.detail || "That message could not be sent.");
      default:
        return this.say(frame.detail || "That message could not be sent.");
    }
  }

  /** A refusal, as an alert above the message box (null clears it). */
  say(text) {
    this.problem.replaceChildren();
    if (text) {
      const p = element("p", "form-problem", text);
      p.setAttribute("role", "alert");
      this.problem.append(p);
    }
  }

  askConfirm(detail, body) {
    const words = (detail || "This may reveal who someone is.").replace(
      /send again with confirm: true to publish anyway/,
      'choose "Send anyway"',
    );
    this.ask.replaceChildren();
    const p = element("p", "form-problem", words);
    p.setAttribute("role", "alert");
    const anyway = element("button", "", "Send anyway");
    anyway.type = "button";
    anyway.addEventListener("click", () => {
      const text = this.box.value.trim() ? this.box.value : body;
      this.send(text, true);
      this.box.focus();
    });
    const change = element("button", "secondary", "Let me change it");
    change.type = "button";
    change.addEventListener("click", () => {
      this.askClear();
      this.box.focus();
    });
    const actions = element("p", "chat-ask-actions");
    actions.append(anyway, " ", change);
    this.ask.append(p, actions);
    this.ask.hidden = false;
  }

  askClear() {
    this.ask.replaceChildren();
    this.ask.hidden = true;
  }
}

if (client) {
  for (const section of document.querySelectorAll("[data-chat-panel]")) new Panel(section).start();
}
