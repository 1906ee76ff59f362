/**
 * The community's chat client: one WebSocket to `<mount>/ws`, as an ES module.
 *
 * It keeps the socket alive (pings; reconnects with backoff), resumes every
 * subscribed room after the last message seen, so a reconnect brings what was
 * missed exactly once, and keeps each send until the server echoes it, so a
 * message written offline goes out once when the connection is back (the
 * server recognises a resend by its `client_id`).
 *
 * It renders nothing. Every server frame goes to `onEvent(type, frame)` as
 * received (`html` is sanitised by the server), plus these client events:
 *   state    {state: "connecting" | "open" | "closed" | "signed_out" | "refused",
 *             retry_in?: ms until the next attempt, after a drop}
 *   pending  {client_id, room, body}   a send is queued until echoed
 *   sent     {client_id, message}      the server echoed it
 * After "signed_out" (close 4401) or "refused" (4403) it never reconnects.
 *
 * @example
 *   import {ChatClient, socketUrl} from "/community/static/chat.js";
 *   const chat = new ChatClient(socketUrl("/community"), {onEvent: render});
 *   chat.connect();
 *   chat.subscribe("lounge");
 *   const message = await chat.send("lounge", "Hello");
 */

const PING_EVERY = 20_000;
const BACKOFF_MIN = 500;
const BACKOFF_MAX = 30_000;
const TYPING_EVERY = 3_000;
/** The server closes the socket (1009) on a larger frame. */
const MAX_FRAME_BYTES = 16 * 1024;
/** Close codes after which reconnecting cannot help, and the state they lead to. */
const FINAL = new Map([
  [4401, "signed_out"],
  [4403, "refused"],
]);
const FINAL_STATES = new Set(FINAL.values());

/** @typedef {{seen: number|null, floor: number|null}} RoomCursor last seq seen; else last_seq */
/** @typedef {{frame: object, resolve: Function, reject: Function}} PendingSend */

/**
 * The chat socket's URL for a community mounted at `mountPath` on this page's host.
 * @param {string} mountPath e.g. "/community"
 * @returns {string} e.g. "wss://example.org/community/ws"
 */
export function socketUrl(mountPath) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${mountPath.replace(/\/+$/, "")}/ws`;
}

/** A fresh `client_id` (36 characters of `[0-9a-f-]`; randomUUID needs a secure context). */
export function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A refused send: `code` as in the `error` frame, which is kept whole in `frame`. */
export class ChatError extends Error {
  /** @param {{code: string, detail?: string}} frame */
  constructor(frame) {
    super(frame.detail || frame.code);
    this.name = "ChatError";
    this.code = frame.code;
    this.frame = frame;
  }
}

export class ChatClient {
  /**
   * @param {string} url the socket's URL (see `socketUrl`)
   * @param {object} [options]
   * @param {(type: string, frame: object) => void} [options.onEvent]
   * @param {number} [options.pingEvery] ms between pings, plus up to half again of jitter
   */
  constructor(url, { onEvent = () => {}, pingEvery = PING_EVERY } = {}) {
    this.url = url;
    this.onEvent = onEvent;
    this.pingEvery = pingEvery;
    this.state = "closed";
    /** @type {Map<string, RoomCursor>} subscribed rooms, by slug */
    this.rooms = new Map();
    /** @type {Map<string, PendingSend>} sends not yet echoed, by client_id, in the order made */
    this.pending = new Map();
    this._ws = null;
    this._ready = false; // the server said hello on this socket
    this._stopped = true;
    this._attempt = 0;
    this._retry = 0;
    this._beat = 0;
    this._heardAt = 0;
    this._ref = 0;
    this._typedAt = new Map();
    this._online = () => this._reconnectNow();
    this._offline = () => this._ws && this._drop();
  }

  /** Open the socket and keep it open until `close()` or a final refusal (then call again). */
  connect() {
    if (!this._stopped) return;
    this._stopped = false;
    addEventListener("online", this._online);
    addEventListener("offline", this._offline);
    this._dial();
  }

  /** Close for good; sends still pending are rejected with code "closed". */
  close() {
    this._stop("closed");
  }

  /**
   * Receive `room`'s messages, now and after every reconnect (from the last seen).
   * @param {string} room the room's slug
   */
  subscribe(room) {
    if (!this.rooms.has(room)) this.rooms.set(room, { seen: null, floor: null });
    if (this._ready) this._put(this._subscribeFrame(room));
  }

  /** @param {string} room */
  unsubscribe(room) {
    this.rooms.delete(room);
    this._typedAt.delete(room);
    if (this._ready) this._put({ type: "unsubscribe", room });
  }

  /**
   * Send a message; kept and resent after each reconnect until the server echoes it.
   * @param {string} room
   * @param {string} body Markdown, as typed
   * @param {{confirm?: boolean}} [options] confirm: the writer saw the identifying-details warning
   * @returns {Promise<object>} the echoed `message` frame; rejects with a ChatError
   */
  send(room, body, { confirm = false } = {}) {
    const client_id = newClientId();
    const frame = { type: "send", room, body, client_id };
    if (confirm) frame.confirm = true;
    return new Promise((resolve, reject) => {
      const final = FINAL_STATES.has(this.state) && this.state;
      const refusal = this._tooLarge(frame) ? "too_large" : final;
      if (refusal) {
        reject(new ChatError({ type: "error", code: refusal, detail: `not sent: ${refusal}` }));
        return;
      }
      this.pending.set(client_id, { frame, resolve, reject });
      this._emit("pending", { client_id, room, body });
      if (this._ready) this._put(frame);
    });
  }

  // Frames that need the socket: each returns the `ref` an `error` frame about it
  // would carry, or null when not connected (then nothing was sent).

  /** @param {string} room @param {number} seq @param {string} body */
  edit(room, seq, body) {
    return this._op({ type: "edit", room, seq, body });
  }

  /** @param {string} room @param {number} seq */
  delete(room, seq) {
    return this._op({ type: "delete", room, seq });
  }

  /** Add `emoji` to the message at `seq` in `room`, or with `{remove: true}` take it back. */
  react(room, seq, emoji, { remove = false } = {}) {
    return this._op({ type: "react", room, seq, emoji, remove });
  }

  /** The member has read `room` up to and including `seq`; the server answers with `read`. */
  markRead(room, seq) {
    return this._op({ type: "read", room, seq });
  }

  /** Say "typing" in `room`, at most once per 3 s; true when a frame went out. */
  typing(room) {
    const now = Date.now();
    if (!this._ready || now - (this._typedAt.get(room) ?? -Infinity) < TYPING_EVERY) return false;
    this._typedAt.set(room, now);
    return this._put({ type: "typing", room });
  }

  // -- the socket --------------------------------------------------------------------

  _dial() {
    this._hangUp();
    this._setState("connecting");
    const ws = (this._ws = new WebSocket(this.url));
    ws.onmessage = (event) => this._receive(event.data);
    ws.onclose = (event) => this._closed(event.code);
    this._heardAt = Date.now();
    this._heartbeat();
  }

  /** Ping now and then; a socket silent for two intervals is dead (or never opened). */
  _heartbeat() {
    clearTimeout(this._beat);
    const every = this.pingEvery * (1 + Math.random() / 2);
    this._beat = setTimeout(() => {
      if (Date.now() - this._heardAt > 2 * this.pingEvery) return this._drop();
      this._put({ type: "ping" });
      this._heartbeat();
    }, every);
  }

  /** Forget the current socket: its late events are ignored. */
  _hangUp() {
    clearTimeout(this._beat);
    clearTimeout(this._retry);
    const ws = this._ws;
    this._ws = null;
    this._ready = false;
    if (ws) {
      ws.onmessage = ws.onclose = null;
      ws.close();
    }
  }

  /** Drop the socket and try again after an exponential, jittered delay. */
  _drop() {
    if (this._stopped) return;
    this._hangUp();
    const delay = Math.min(BACKOFF_MAX, BACKOFF_MIN * 2 ** this._attempt++);
    const wait = delay / 2 + (Math.random() * delay) / 2;
    this._retry = setTimeout(() => this._dial(), wait);
    this._setState("closed", { retry_in: Math.round(wait) });
  }

  /** The browser is back online: try at once rather than after the backoff. */
  _reconnectNow() {
    if (this._stopped) return;
    if (this._ready) {
      this._put({ type: "ping" }); // the heartbeat will tell whether this socket survived
      return;
    }
    this._attempt = 0;
    this._dial();
  }

  _closed(code) {
    const final = FINAL.get(code);
    if (final) this._stop(final);
    else this._drop();
  }

  _stop(state) {
    this._stopped = true;
    removeEventListener("online", this._online);
    removeEventListener("offline", this._offline);
    this._hangUp();
    for (const [ref, { reject }] of this.pending) {
      reject(new ChatError({ type: "error", code: state, detail: `not sent: ${state}`, ref }));
    }
    this.pending.clear();
    this._setState(state);
  }

  // -- frames ------------------------------------------------------------------------

  _receive(data) {
    this._heardAt = Date.now();
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (frame.type === "message") return this._message(frame);
    this._emit(frame.type, frame);
    if (frame.type === "hello") {
      this._ready = true;
      this._attempt = 0;
      this._setState("open");
      for (const room of this.rooms.keys()) this._put(this._subscribeFrame(room));
      for (const { frame: send } of this.pending.values()) this._put(send);
    } else if (frame.type === "subscribed") {
      const room = this.rooms.get(frame.room);
      if (room && room.seen === null) room.floor = frame.last_seq;
    } else if (frame.type === "error" && this.pending.has(frame.ref)) {
      const { reject } = this.pending.get(frame.ref);
      this.pending.delete(frame.ref);
      reject(new ChatError(frame));
    } else if (frame.type === "error" && frame.code === "not_found" && this.rooms.has(frame.ref)) {
      this.rooms.delete(frame.ref); // gone, or no longer ours: stop resubscribing
    }
  }

  /** A message once per seq per room; the echo of a pending send settles it. */
  _message(frame) {
    const room = this.rooms.get(frame.room);
    if (!room || room.seen === null || frame.seq > room.seen) {
      if (room) room.seen = frame.seq;
      this._emit("message", frame);
    }
    const pending = this.pending.get(frame.client_id);
    if (pending) {
      this.pending.delete(frame.client_id);
      pending.resolve(frame);
      this._emit("sent", { client_id: frame.client_id, message: frame });
    }
  }

  _subscribeFrame(room) {
    const { seen, floor } = this.rooms.get(room);
    return { type: "subscribe", room, since: seen ?? floor, ref: room };
  }

  _op(frame) {
    if (!this._ready) return null;
    frame.ref = ++this._ref;
    this._put(frame);
    return frame.ref;
  }

  _put(frame) {
    if (this._ws?.readyState !== WebSocket.OPEN) return false;
    this._ws.send(JSON.stringify(frame));
    return true;
  }

  _tooLarge(frame) {
    return new TextEncoder().encode(JSON.stringify(frame)).length > MAX_FRAME_BYTES;
  }

  _setState(state, extra = {}) {
    if (state === this.state && !("retry_in" in extra)) return;
    this.state = state;
    this._emit("state", { state, ...extra });
  }

  /** Call the page's handler; its exceptions are reported, never break the client. */
  _emit(type, frame) {
    try {
      this.onEvent(type, frame);
    } catch (error) {
      reportError(error);
    }
  }
}
