/**
 * coedit's browser client: one WebSocket speaking protocol v1 (docs/protocol.md), reconnecting
 * with exponential backoff and jitter, and any number of open documents kept in sync with the
 * ot.js client state machine. Dependency-free ES module; no DOM access beyond `WebSocket` and the
 * window's online/offline events.
 *
 *     import { CoeditClient } from "/js/coedit.js";
 *     const client = new CoeditClient({ url: "ws://localhost:8765/v1/ws", token: getToken });
 *     const doc = client.open("notes");
 *     await doc.ready;
 *     doc.applyLocal(TextOperation.fromEdit(0, 0, "hi "));
 *
 * Positions in ops and cursors count code points; `doc.text` is an ordinary JavaScript string.
 */

import { composeAll, restoreIndex, TextOperation, transformSelection } from "./ot.js";
import { Client } from "./ot-client.js";
import { codePointLength } from "./unicode.js";

export { TextOperation } from "./ot.js";

export const PROTOCOL = 1;

/** The close code of a server that does not speak this protocol version: never retried. */
const CLOSE_UNSUPPORTED_PROTOCOL = 4000;

/** Codes after which the in-flight submission is dropped and the document is reloaded. */
const DROP_CODES = new Set([
  "invalid_op", "invalid_field", "op_mismatch", "op_too_large", "doc_too_large",
  "seq_out_of_order",
]);
/** Codes after which the in-flight submission is resubmitted later with the same seq. */
const RETRY_CODES = new Set(["unavailable", "rate_limited", "internal_error"]);
/** Codes after which the document is reloaded and local edits are rebased on its text. */
const RESYNC_CODES = new Set(["resync_required", "version_from_future"]);

/** A client id: 12 random base-36 characters (unique per page load; stable across reconnects). */
export function randomClientId(prefix = "web") {
  const bytes = new Uint8Array(12);
  globalThis.crypto.getRandomValues(bytes);
  return `${prefix}-${Array.from(bytes, (b) => (b % 36).toString(36)).join("")}`;
}

/**
 * The delay before reconnect attempt `attempt` (0, 1, 2, ...): exponential, capped, with jitter
 * over its upper half so that clients dropped together do not return together.
 */
export function backoffDelay(attempt, { initialMs = 500, maxMs = 15_000 } = {}, random = Math.random) {
  const ceiling = Math.min(maxMs, initialMs * 2 ** attempt);
  return ceiling / 2 + random() * (ceiling / 2);
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
    const delay = Math.max(1000, Math.min(remaining - 30_000, remaining * 0.8));
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

/**
 * One open document: its local text (the server's text plus unacknowledged local edits), the
 * server version it is based on, and the other clients' presence.
 *
 * Events (CustomEvent):
 * - "beforechange": a remote change is about to be applied (flush pending local input now);
 * - "change": `detail.op` was applied to `text` by someone else (or by a reload);
 * - "presence": `presence` changed;
 * - "status": `version`, `pendingCount` or `isOpen` changed;
 * - "error": the server rejected something; `detail` is its error message.
 */
export class CoDocument extends EventTarget {
  constructor(connection, id, lastSeq = 0) {
    super();
    this.connection = connection;
    this.id = id;
    this.text = "";
    /** Other clients' presence: client id → {client, user, info, cursor: [anchor, head]}. */
    this.presence = new Map();
    this._client = null;
    this._lastSeq = lastSeq; // where seq numbering starts when the document is first opened
    this._open = false; // opened on the current socket
    this._rebaseOnReload = true;
    this._localCursor = null;
    this._localInfo = undefined;
    this._presenceDirty = false;
    this._presenceTimer = null;
    this._presenceSentAt = 0;
    this._retryTimer = null;
    this._retries = 0;
    this.ready = new Promise((resolve) => {
      this._resolveReady = resolve;
    });
  }

  /** The server version the local text is based on (null before the first `opened`). */
  get version() {
    return this._client ? this._client.version : null;
  }

  /** Local ops the server has not acknowledged: 0, 1 (in flight) or 2 (in flight + buffer). */
  get pendingCount() {
    return this._client ? this._client.pendingCount : 0;
  }

  /** True while the document is open on a live connection. */
  get isOpen() {
    return this._open;
  }

  /** The local text's length in code points (the unit of every position). */
  get length() {
    return codePointLength(this.text);
  }

  /**
   * Apply a local edit (an op against `text`) and send it. Throws `LengthMismatch` if the op does
   * not fit the text, and an Error before the document is first opened.
   */
  applyLocal(op) {
    if (!this._client) throw new Error(`document ${this.id} is not open yet; await doc.ready`);
    if (op.isNoop) return;
    this.text = op.apply(this.text);
    this._transformPresence(op, null);
    if (this._localCursor) this._localCursor = transformSelection(this._localCursor, op, true);
    const submission = this._client.applyClient(op);
    if (submission && this._open) this._submit(submission);
    this._emit("status");
  }

  /** Replace the whole text, sending the minimal edit that does it. */
  setText(text) {
    this.applyLocal(TextOperation.fromDiff(this.text, text));
  }

  /**
   * Announce this client's cursor or selection `[anchor, head]` (code points in `text`), or
   * `null` to clear it; `info` (e.g. `{name, color}`) travels with it. Sends are throttled.
   */
  setPresence(cursor, info = this._localInfo) {
    this._localCursor = cursor ? [cursor[0], cursor[1]] : null;
    this._localInfo = info;
    this._presenceDirty = true;
    this._schedulePresence();
  }

  /** Close the document on the server and stop tracking it. */
  close() {
    if (this._open) this.connection._send({ type: "close", doc: this.id });
    this._disconnected();
    this.connection._forget(this, this._client ? this._client.lastSeq : this._lastSeq);
  }

  // -- connection lifecycle -----------------------------------------------------------------

  _connected() {
    const open = { type: "open", doc: this.id };
    if (this._client) open.version = this._client.version;
    this.connection._send(open);
  }

  _disconnected() {
    this._open = false;
    clearTimeout(this._retryTimer);
    if (this.presence.size) {
      this.presence.clear();
      this._emit("presence");
    }
    this._emit("status");
  }

  _receive(message) {
    switch (message.type) {
      case "opened":
        this._opened(message);
        break;
      case "op":
        if (this._open) this._committed(message, true);
        break;
      case "ack":
        if (this._open) this._ack(message);
        break;
      case "presence":
        if (this._open) this._remotePresence(message);
        break;
      case "error":
        this._error(message);
        break;
      default:
        break;
    }
  }

  // -- protocol handlers --------------------------------------------------------------------

  _opened(message) {
    if (message.text !== undefined) this._reload(message.text, message.version);
    else if (!this._catchUp(message.ops ?? [], message.version)) return;
    this._open = true;
    this._retries = 0;
    const resubmission = this._client.resubmission();
    if (resubmission) this._submit(resubmission);
    this.presence.clear();
    for (const p of message.presence ?? []) this._storePresence(p);
    this._emit("presence");
    if (this._localCursor) this._presenceDirty = true;
    this._schedulePresence();
    this._emit("status");
    this._resolveReady(this);
  }

  /** Ops committed while this client was away; its own among them are missed acks. */
  _catchUp(ops, version) {
    for (const entry of ops) if (!this._committed(entry, false)) return false;
    if (this._client.version !== version) {
      this._reopen(true); // a gap: should not happen, but never guess
      return false;
    }
    return true;
  }

  /**
   * An op committed at `entry.version`: someone else's, or our in-flight one (a missed ack).
   * Returns false when a gap in versions made it reload the document.
   */
  _committed(entry, live) {
    const client = this._client;
    if (entry.version <= client.version) return true;
    if (entry.version !== client.version + 1) {
      this._reopen(true);
      return false;
    }
    if (entry.client === this.connection.clientId && entry.seq === client.outstandingSeq) {
      this._acknowledged(live);
      return true;
    }
    this._emit("beforechange");
    const op = client.applyServer(TextOperation.fromJSON(entry.op));
    this.text = op.apply(this.text);
    this._transformPresence(op, entry.client);
    if (this._localCursor) this._localCursor = transformSelection(this._localCursor, op, false);
    this._emit("change", { op, remote: true, client: entry.client, user: entry.user });
    this._emit("status");
    return true;
  }

  _ack(message) {
    const client = this._client;
    // An ack for anything but the in-flight seq repeats one already seen (e.g. a duplicate
    // acknowledged after the op itself arrived as an `op` during a reconnect).
    if (message.seq !== client.outstandingSeq || message.version <= client.version) return;
    if (message.version !== client.version + 1) {
      this._reopen(true);
      return;
    }
    this._acknowledged(true);
  }

  _acknowledged(sendNext) {
    this._retries = 0;
    const next = this._client.serverAck();
    if (next && sendNext) this._submit(next);
    this._emit("status");
  }

  _error(message) {
    const client = this._client;
    const aboutInFlight = client !== null && message.seq !== undefined
      && message.seq === client.outstandingSeq;
    if (RESYNC_CODES.has(message.code)) {
      this._reopen(true);
    } else if (message.code === "doc_not_open") {
      this._reopen(true);
    } else if (aboutInFlight && DROP_CODES.has(message.code)) {
      this._reopen(false);
    } else if (aboutInFlight && RETRY_CODES.has(message.code)) {
      this._retryLater();
    }
    this._emit("error", message);
  }

  /**
   * Reload the document from its current text. With `rebase`, unacknowledged local edits are
   * re-applied on top of it as a new submission; without, they are dropped (the server refused
   * them).
   */
  _reopen(rebase) {
    this._open = false;
    this._rebaseOnReload = rebase;
    this.connection._send({ type: "open", doc: this.id });
    this._emit("status");
  }

  /** Take the server's `text` at `version`: the first open, or a reload. */
  _reload(text, version) {
    this._emit("beforechange");
    const before = this.text;
    const old = this._client;
    this._client = new Client(version, old ? old.lastSeq : this._lastSeq);
    this.text = text;
    if (old && this._rebaseOnReload && old.pendingCount) {
      // Without the history the pending edits cannot be transformed; applying them to the new
      // text keeps the user's work (positions may shift) and never corrupts the document.
      const pending = composeAll(old.pendingOps);
      if (pending.baseLength <= codePointLength(text)) {
        this.text = pending.apply(text);
        this._client.applyClient(pending); // sent by the resubmission step of `_opened`
      }
    }
    this._rebaseOnReload = true;
    if (before !== this.text || !old) {
      this.presence.clear();
      const op = TextOperation.fromDiff(before, this.text);
      this._localCursor = this._localCursor && transformSelection(this._localCursor, op, false);
      this._emit("change", { op, remote: true, client: null, user: null, reload: true });
    }
  }

  _retryLater() {
    clearTimeout(this._retryTimer);
    const delay = backoffDelay(this._retries, { initialMs: 1000, maxMs: 30_000 });
    this._retries += 1;
    this._retryTimer = setTimeout(() => {
      const resubmission = this._open ? this._client.resubmission() : null;
      if (resubmission) this._submit(resubmission);
    }, delay);
  }

  _submit({ seq, baseVersion, op }) {
    this.connection._send({ type: "submit", doc: this.id, version: baseVersion, seq, op: op.toJSON() });
  }

  // -- presence -----------------------------------------------------------------------------

  _remotePresence(message) {
    if (message.client === this.connection.clientId) return;
    if (message.cursor == null) this.presence.delete(message.client);
    else this._storePresence(message);
    this._emit("presence");
  }

  /** Keep a remote cursor in local-text coordinates: past our unacknowledged edits. */
  _storePresence({ client, user, info, cursor }) {
    if (!cursor) return;
    let local = [cursor[0], cursor[1]];
    for (const op of this._client.pendingOps) local = transformSelection(local, op, false);
    this.presence.set(client, { client, user: user ?? null, info: info ?? {}, cursor: local });
  }

  _transformPresence(op, author) {
    for (const p of this.presence.values()) {
      p.cursor = transformSelection(p.cursor, op, p.client === author);
    }
    if (this.presence.size) this._emit("presence");
  }

  _schedulePresence() {
    if (!this._presenceDirty || !this._open || this._presenceTimer !== null) return;
    const wait = Math.max(0, this._presenceSentAt + this.connection.presenceIntervalMs - Date.now());
    this._presenceTimer = setTimeout(() => {
      this._presenceTimer = null;
      this._sendPresence();
    }, wait);
  }

  _sendPresence() {
    if (!this._presenceDirty || !this._open) return;
    this._presenceDirty = false;
    this._presenceSentAt = Date.now();
    const message = { type: "presence", doc: this.id, version: this._client.version, cursor: null };
    if (this._localCursor) message.cursor = this._serverCursor(this._localCursor);
    if (this._localInfo !== undefined) message.info = this._localInfo;
    this.connection._send(message);
  }

  /**
   * Map a local cursor back to the server's text at `version`, before our unacknowledged edits.
   * The others move it past those edits as they arrive, on our side of ties (their author).
   */
  _serverCursor(cursor) {
    const ops = this._client.pendingOps;
    return cursor.map((index) => {
      let i = index;
      for (let k = ops.length - 1; k >= 0; k--) i = restoreIndex(i, ops[k]);
      return i;
    });
  }

  _emit(type, detail = null) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
