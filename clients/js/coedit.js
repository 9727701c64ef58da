/**
 * coedit's browser client: one WebSocket speaking protocol v1 (docs/protocol.md), reconnecting
 * with exponential backoff and jitter, and any number of open documents (`CoDocument`, in
 * document.js) kept in sync with the ot.js client state machine. Dependency-free ES modules; no
 * DOM access beyond `WebSocket` and the window's online/offline events.
 *
 *     import { CoeditClient } from "/js/coedit.js";
 *     const client = new CoeditClient({ url: "ws://localhost:8765/v1/ws", token: getToken });
 *     const doc = client.open("notes");
 *     await doc.ready;
 *     doc.applyLocal(TextOperation.fromEdit(0, 0, "hi "));
 *
 * Positions in ops and cursors count code points; `doc.text` is an ordinary JavaScript string.
 */

import { backoffDelay } from "./backoff.js";
import { CoDocument } from "./document.js";

export { backoffDelay } from "./backoff.js";
export { CoDocument } from "./document.js";
export { TextOperation } from "./ot.js";

export const PROTOCOL = 1;

/** The close code of a server that does not speak this protocol version: never retried. */
const CLOSE_UNSUPPORTED_PROTOCOL = 4000;
/** setTimeout fires at once for anything longer (a 32-bit signed count of milliseconds). */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** A client id: 12 random base-36 characters (unique per page load; stable across reconnects). */
export function randomClientId(prefix = "web") {
  const bytes = new Uint8Array(12);
  globalThis.crypto.getRandomValues(bytes);
  return `${prefix}-${Array.from(bytes, (b) => (b % 36).toString(36)).join("")}`;
}

/**
 * One connection to a coedit server, shared by every document it opens.
 *
 * `state` is "connecting", "online", "offline" (waiting to reconnect) or "closed" (by `close()`
 * or by a server that does not speak protocol 1). Events: "state", "welcome", "error" (a
 * CustomEvent whose detail is the error message).
 *
 * `token` is a string or a function (sync or async) returning one; a function is called for
 * every hello and every `refreshToken()`, so it can fetch a fresh token each time. When the
 * server says when the token expires, a provider's token is refreshed (`auth`) before then.
 */
export class CoeditClient extends EventTarget {
  constructor({
    url,
    clientId = randomClientId(),
    token = null,
    backoff = {},
    pingIntervalMs = 15_000,
    pingTimeoutMs = 10_000,
    presenceIntervalMs = 50,
    WebSocket: Socket = globalThis.WebSocket,
    autoConnect = true,
  }) {
    super();
    this.url = url;
    this.clientId = clientId;
    this.user = null;
    this.limits = null;
    this.state = "offline";
    this.presenceIntervalMs = presenceIntervalMs;
    this._token = token;
    this._backoff = backoff;
    this._pingIntervalMs = pingIntervalMs;
    this._pingTimeoutMs = pingTimeoutMs;
    this._Socket = Socket;
    this._ws = null;
    this._attempt = 0;
    this._retryTimer = null;
    this._pingTimer = null;
    this._lastFrameAt = 0;
    this._pingId = 0;
    this._refreshTimer = null;
    this._docs = new Map();
    this._lastSeqs = new Map(); // doc id → last seq used, for documents closed and reopened
    this._onOnline = () => this._reconnectNow();
    this._onOffline = () => this._drop("the browser went offline");
    if (typeof globalThis.addEventListener === "function") {
      globalThis.addEventListener("online", this._onOnline);
      globalThis.addEventListener("offline", this._onOffline);
    }
    if (autoConnect) this.connect();
  }

  /** Open the socket if it is not open or opening (done by the constructor by default). */
  connect() {
    if (this.state === "closed" || this._ws) return;
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    this._setState("connecting");
    const ws = new this._Socket(this.url);
    this._ws = ws;
    ws.onopen = () => this._hello(ws);
    ws.onmessage = (event) => this._receiveFrame(event.data);
    ws.onclose = (event) => this._closed(ws, event.code, event.reason);
    ws.onerror = () => {}; // a close event follows; it decides what to do
  }

  /** Close the connection for good and close every document. */
  close() {
    this._setState("closed");
    for (const doc of this._docs.values()) doc._disconnected();
    this._docs.clear();
    this._teardown(1000);
    clearTimeout(this._retryTimer);
    if (typeof globalThis.removeEventListener === "function") {
      globalThis.removeEventListener("online", this._onOnline);
      globalThis.removeEventListener("offline", this._onOffline);
    }
  }

  /** The document `id`, opened on first use; the same object for every call. */
  open(id) {
    let doc = this._docs.get(id);
    if (!doc) {
      doc = new CoDocument(this, id, this._lastSeqs.get(id) ?? 0);
      this._docs.set(id, doc);
      if (this.state === "online") doc._connected();
    }
    return doc;
  }

  /** Ask the token provider for a fresh token and send it (`{"type": "auth"}`). */
  async refreshToken() {
    const token = await this._currentToken();
    if (token != null) this._send({ type: "auth", token });
  }

  /** Send a message now; false when there is no open connection (the caller retries later). */
  _send(message) {
    if (this.state !== "online" || !this._ws) return false;
    this._ws.send(JSON.stringify(message));
    return true;
  }

  /**
   * A closed document. Its last seq is kept: the server remembers every (client, doc, seq), so a
   * reopened document must number on from there, or its first ops would pass for duplicates.
   */
  _forget(doc, lastSeq) {
    if (this._docs.get(doc.id) === doc) this._docs.delete(doc.id);
    this._lastSeqs.set(doc.id, Math.max(lastSeq, this._lastSeqs.get(doc.id) ?? 0));
  }

  async _currentToken() {
    return typeof this._token === "function" ? await this._token() : this._token;
  }

  async _hello(ws) {
    let token;
    try {
      token = await this._currentToken();
    } catch (error) {
      this._tokenFailed(error);
      this._drop("no token");
      return;
    }
    if (ws !== this._ws) return;
    const hello = { type: "hello", protocol: PROTOCOL, client: this.clientId };
    if (token != null) hello.token = token;
    ws.send(JSON.stringify(hello));
  }

  _receiveFrame(data) {
    this._lastFrameAt = Date.now(); // any frame proves the connection is alive
    let messages;
    try {
      messages = JSON.parse(data);
    } catch {
      this._emitError({ code: "malformed_message", message: "the server sent a frame that is not JSON" });
      return;
    }
    for (const message of Array.isArray(messages) ? messages : [messages]) this._receive(message);
  }

  _receive(message) {
    switch (message.type) {
      case "welcome":
        this._welcome(message);
        return;
      case "pong":
        return;
      case "authed":
        this._scheduleRefresh(message.expires);
        return;
      case "error":
        if (message.code === "token_expired") this.refreshToken().catch((e) => this._tokenFailed(e));
        if (message.doc === undefined || !this._docs.has(message.doc)) {
          this._emitError(message);
          return;
        }
        break;
      default:
        break;
    }
    this._docs.get(message.doc)?._receive(message);
  }

  _welcome(message) {
    this.user = message.user ?? null;
    this.limits = message.limits ?? null;
    this._attempt = 0;
    this._setState("online");
    this.dispatchEvent(new CustomEvent("welcome", { detail: message }));
    this._schedulePing();
    this._scheduleRefresh(message.expires);
    for (const doc of this._docs.values()) doc._connected();
  }

  /**
   * Ping every interval; a socket silent for an interval plus the timeout is dead (a lost
   * network can leave a socket open for minutes without a close event).
   */
  _schedulePing() {
    clearTimeout(this._pingTimer);
    this._pingTimer = setTimeout(() => {
      if (this.state !== "online") return;
      if (Date.now() - this._lastFrameAt >= this._pingIntervalMs + this._pingTimeoutMs) {
        this._drop("the server stopped answering pings");
        return;
      }
      this._pingId += 1;
      this._send({ type: "ping", id: this._pingId });
      this._schedulePing();
    }, this._pingIntervalMs);
  }

  /**
   * Refresh the token before it expires (`expires`: Unix seconds, from welcome or authed): the
   * server closes a connection whose token ran out with 4001. Only a token provider can refresh.
   */
  _scheduleRefresh(expires) {
    clearTimeout(this._refreshTimer);
    if (typeof expires !== "number" || typeof this._token !== "function") return;
    const remaining = expires * 1000 - Date.now();
    const delay = Math.max(1000, Math.min(remaining - 30_000, remaining * 0.8, MAX_TIMEOUT_MS));
    this._refreshTimer = setTimeout(() => {
      if (this.state === "online") this.refreshToken().catch((error) => this._tokenFailed(error));
    }, delay);
  }

  _tokenFailed(error) {
    this._emitError({ code: "token_unavailable", message: `token provider failed: ${error}` });
  }

  _closed(ws, code, reason) {
    if (ws !== this._ws) return;
    this._ws = null;
    if (code === CLOSE_UNSUPPORTED_PROTOCOL) {
      this._emitError({ code: "unsupported_protocol", message: reason || "protocol 1 is not supported" });
      this.close();
      return;
    }
    this._disconnected();
  }

  /** Give up on the current socket at once (a dead socket may take minutes to report close). */
  _drop(why) {
    if (!this._ws) return;
    this._teardown(4999, why); // 4000-4999: application close codes
    this._disconnected();
  }

  _teardown(code, why = "") {
    const ws = this._ws;
    this._ws = null;
    clearTimeout(this._pingTimer);
    clearTimeout(this._refreshTimer);
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    try {
      ws.close(code, why.slice(0, 120));
    } catch {
      // already closing
    }
  }

  _disconnected() {
    clearTimeout(this._pingTimer);
    clearTimeout(this._refreshTimer);
    if (this.state === "closed") return;
    this._setState("offline");
    for (const doc of this._docs.values()) doc._disconnected();
    clearTimeout(this._retryTimer);
    if (globalThis.navigator?.onLine === false) return; // the "online" event reconnects
    const delay = backoffDelay(this._attempt, this._backoff);
    this._attempt += 1;
    this._retryTimer = setTimeout(() => this.connect(), delay);
  }

  _reconnectNow() {
    if (this.state !== "offline") return;
    this._attempt = 0;
    this.connect();
  }

  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state } }));
  }

  _emitError(message) {
    this.dispatchEvent(new CustomEvent("error", { detail: message }));
  }
}
