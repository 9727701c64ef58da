/**
 * One document's client protocol (docs/protocol.md): open with the known version, catch up,
 * recognise its own ops by client and seq, submit one op at a time, resubmit after a reconnect,
 * resync when the server lost the history, presence. No sockets: it sends through its
 * connection's `_send` and is fed decoded messages by `_receive`, so tests can drive it with
 * plain messages. The same design as the Python client (clients/python/sync.py).
 *
 * Lifecycle on each connection:
 *
 *     closed ──_connected()──▶ opening ──opened──▶ open
 *                                │  ▲
 *       resync_required ─────────┘  └── reopen without version; "probing" while the op in
 *                                       flight is resubmitted to learn whether it was committed
 */

import { composeAll, restoreIndex, TextOperation, transform, transformSelection } from "./ot.js";
import { backoffDelay } from "./backoff.js";
import { Client } from "./ot-client.js";
import { codePointLength } from "./unicode.js";

/** Retried later with the same seq: nothing was committed. */
const RETRY_CODES = new Set(["unavailable", "rate_limited", "internal_error"]);
/** The server cannot rebase from our version: reload its text and merge local edits into it. */
const RESYNC_CODES = new Set(["resync_required", "version_from_future"]);

/**
 * One open document: its local text (the server's text plus unacknowledged local edits), the
 * server version it is based on, and the other clients' presence.
 *
 * Events (CustomEvent):
 * - "beforechange": a change from elsewhere is about to be applied (flush pending input now);
 * - "change": `detail.op` was applied to `text` by someone else, a resync or a rejection;
 * - "presence": `presence` changed;
 * - "status": `version`, `pendingCount` or `isOpen` changed;
 * - "error": the server refused something; `detail` is its error message (with `rejected`
 *   true when a local edit was undone).
 */
export class CoDocument extends EventTarget {
  /** `connection` provides `clientId`, `presenceIntervalMs`, `_send(message)`, `_forget`. */
  constructor(connection, id, lastSeq = 0) {
    super();
    this.connection = connection;
    this.id = id;
    this.text = "";
    /** Other clients' presence: client id → {client, user, info, cursor: [anchor, head]}. */
    this.presence = new Map();
    this._client = null;
    this._serverText = ""; // the server's text at `version`: `text` without pending edits
    this._lastSeq = lastSeq; // where seq numbering starts on the first open
    this._phase = "closed";
    this._reopenWithoutVersion = false;
    this._resync = null; // {text, version, probeSeq} while probing
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

  /** True while the document is open and in sync on a live connection. */
  get isOpen() {
    return this._phase === "open";
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
    if (submission && this.isOpen) this._submit(submission);
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
    if (this._phase !== "closed") this.connection._send({ type: "close", doc: this.id });
    this._disconnected();
    this.connection._forget(this, this._client ? this._client.lastSeq : this._lastSeq);
  }

  // -- connection lifecycle -----------------------------------------------------------------

  _connected() {
    this._phase = "opening";
    this._sendOpen();
  }

  _disconnected() {
    this._phase = "closed";
    this._resync = null;
    clearTimeout(this._retryTimer);
    clearTimeout(this._presenceTimer);
    this._presenceTimer = null;
    if (this.presence.size) {
      this.presence.clear();
      this._emit("presence");
    }
    this._emit("status");
  }

  _receive(message) {
    const probing = this._phase === "probing";
    switch (message.type) {
      case "opened":
        if (this._phase === "opening") this._opened(message);
        break;
      case "op":
        if (probing) this._advanceResync(message);
        else if (this._phase !== "closed") this._committed(message);
        break;
      case "ack":
        if (probing && message.seq === this._resync.probeSeq) this._probeAcknowledged(message);
        else if (this._phase !== "closed") this._ack(message);
        break;
      case "presence":
        if (this.isOpen) this._remotePresence(message);
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
    const { text, version } = message;
    const presence = message.presence ?? [];
    if (text === undefined) {
      for (const entry of message.ops ?? []) if (!this._committed(entry)) return;
      if (this._client.version !== version) {
        this._startResync(); // the catch-up did not reach the head: never guess
        return;
      }
    } else if (!this._client) {
      this._firstOpen(text, version);
    } else if (this._probe(text, version, presence)) {
      return; // the probe's answer opens the document
    }
    this._becomeOpen(presence);
  }

  _firstOpen(text, version) {
    this._emit("beforechange");
    const before = this.text;
    this._client = new Client(version, this._lastSeq);
    this.text = this._serverText = text;
    this._emit("change", { op: TextOperation.fromDiff(before, text), remote: true, reload: true });
  }

  _becomeOpen(presence) {
    this._phase = "open";
    this._reopenWithoutVersion = false;
    this._retries = 0;
    const resubmission = this._client.resubmission(); // the op in flight, with its seq
    if (resubmission) this._submit(resubmission);
    this.presence.clear();
    for (const p of presence) this._storePresence(p);
    this._emit("presence");
    if (this._localCursor) this._presenceDirty = true;
    this._schedulePresence();
    this._emit("status");
    this._resolveReady(this);
  }

  /**
   * An op committed at `entry.version`: someone else's, or our in-flight one (its ack was lost
   * with the previous connection). Returns false when a gap started a resync.
   */
  _committed(entry) {
    const client = this._client;
    if (!client || entry.version <= client.version) return true;
    if (entry.version !== client.version + 1) {
      this._startResync();
      return false;
    }
    if (entry.client === this.connection.clientId && entry.seq === client.outstandingSeq) {
      this._acknowledged();
      return true;
    }
    this._emit("beforechange");
    const remote = TextOperation.fromJSON(entry.op);
    this._serverText = remote.apply(this._serverText);
    const op = client.applyServer(remote);
    this._applyToText(op, entry.client);
    this._emit("change", { op, remote: true, client: entry.client, user: entry.user });
    this._emit("status");
    return true;
  }

  _ack(message) {
    const client = this._client;
    // An ack for anything but the in-flight seq repeats one already seen (e.g. a duplicate
    // acknowledged after the op itself arrived as an `op` during a reconnect).
    if (!client || message.seq !== client.outstandingSeq || message.version <= client.version) {
      return;
    }
    if (message.version !== client.version + 1) {
      this._startResync();
      return;
    }
    this._acknowledged();
  }

  _acknowledged() {
    this._retries = 0;
    this._serverText = this._client.state.outstanding.apply(this._serverText);
    const next = this._client.serverAck();
    if (next && this.isOpen) this._submit(next);
    this._emit("status");
  }

  _error(message) {
    const { code, seq } = message;
    const client = this._client;
    if (this._phase === "probing" && seq !== undefined && seq === this._resync.probeSeq) {
      // seq_out_of_order: the server committed this seq or a later one of ours; we never send
      // a later one before this one is acknowledged, so this one it is.
      this._endProbe(code === "seq_out_of_order");
    } else if (this._phase === "opening" && seq === undefined) {
      if (RESYNC_CODES.has(code) && client) this._startResync();
      else if (RETRY_CODES.has(code)) this._retryLater();
      else this._failed(message);
    } else if (seq !== undefined && client && seq === client.outstandingSeq) {
      if (RETRY_CODES.has(code)) this._retryLater();
      else if (RESYNC_CODES.has(code) || code === "seq_out_of_order") this._startResync();
      else this._reject(message);
    } else if (RESYNC_CODES.has(code) && seq === undefined) {
      this._startResync();
    } else if (code === "doc_not_open" && this._phase !== "closed") {
      this._connected(); // e.g. closed by the server: open it again (a refusal ends it there)
    } else {
      this._emit("error", message);
    }
  }

  /** The document cannot be opened (e.g. forbidden, invalid id): stay closed. */
  _failed(message) {
    this._phase = "closed";
    this._emit("status");
    this._emit("error", message);
  }

  /** The server refused the op in flight for good: undo it locally, keep the later edits. */
  _reject(message) {
    const client = this._client;
    const { outstanding, buffer } = client.state;
    this._emit("beforechange");
    const undo = outstanding.invert(this._serverText); // applies to the text after the op
    let localUndo = undo;
    this._client = new Client(client.version, client.lastSeq);
    if (buffer) {
      let rebased;
      [rebased, localUndo] = transform(buffer, undo);
      const submission = this._client.applyClient(rebased);
      if (submission && this.isOpen) this._submit(submission);
    }
    this._applyToText(localUndo, this.connection.clientId);
    this._emit("change", { op: localUndo, remote: false, rejected: true });
    this._emit("status");
    this._emit("error", { ...message, rejected: true });
  }

  _retryLater() {
    clearTimeout(this._retryTimer);
    const delay = backoffDelay(this._retries, { initialMs: 1000, maxMs: 30_000 });
    this._retries += 1;
    this._retryTimer = setTimeout(() => {
      if (this._phase === "opening") {
        this._sendOpen();
        return;
      }
      const resubmission = this.isOpen ? this._client.resubmission() : null;
      if (resubmission) this._submit(resubmission);
    }, delay);
  }

  // -- resync -------------------------------------------------------------------------------

  _startResync() {
    this._phase = "opening";
    this._reopenWithoutVersion = true;
    this._resync = null;
    this._sendOpen();
    this._emit("status");
  }

  /**
   * The server resent its whole text. Was our op in flight committed before the history was
   * lost? Resubmitting it with its seq tells: a duplicate ack (or seq_out_of_order) if it was,
   * an error about its base version if it was not. Returns true while that answer is awaited.
   */
  _probe(text, version, presence) {
    this._resync = { text, version, presence, probeSeq: null };
    const submission = this._client.resubmission();
    if (!submission) {
      this._merge(false);
      return false;
    }
    this._phase = "probing";
    this._resync.probeSeq = submission.seq;
    this._submit(submission);
    return true;
  }

  /** Live ops while probing advance the resent text; they are merged when the probe ends. */
  _advanceResync(entry) {
    const resync = this._resync;
    if (entry.version !== resync.version + 1) {
      this._startResync();
      return;
    }
    resync.text = TextOperation.fromJSON(entry.op).apply(resync.text);
    resync.version += 1;
  }

  _probeAcknowledged(message) {
    if (message.duplicate) this._endProbe(true);
    else this._startResync(); // committed anew after all: start over, the next probe is a duplicate
  }

  _endProbe(committed) {
    const { presence } = this._resync;
    this._merge(committed);
    this._becomeOpen(presence);
  }

  /**
   * Merge the local edits into the resent text. There is no history to rebase past, so the
   * server's changes are recovered as a diff from the text the pending edits apply to, and the
   * pending edits are transformed past it (a three-way merge):
   *
   *     base ── pending ──▶ local
   *       │                   │
   *   serverChange       localChange
   *       ▼                   ▼
   *   resent ── rebased ──▶ merged
   */
  _merge(committed) {
    this._emit("beforechange"); // unsent input joins the pending edits first
    const resync = this._resync;
    const client = this._client;
    const { outstanding, buffer } = client.state;
    let base = this._serverText;
    let pending = composeAll(client.pendingOps);
    if (committed && outstanding) {
      base = outstanding.apply(this._serverText);
      pending = buffer ?? composeAll([]);
    }
    const serverChange = TextOperation.fromDiff(base, resync.text);
    const [rebased, localChange] = transform(pending, serverChange);
    this._client = new Client(resync.version, client.lastSeq);
    this._serverText = resync.text;
    this._resync = null;
    if (!rebased.isNoop) this._client.applyClient(rebased); // sent by _becomeOpen
    this._applyToText(localChange, null);
    if (!localChange.isNoop) {
      this._emit("change", { op: localChange, remote: true, client: null, user: null, reload: true });
    }
  }

  // -- helpers ------------------------------------------------------------------------------

  /** Apply an op from elsewhere to the local text, moving every cursor through it. */
  _applyToText(op, author) {
    this.text = op.apply(this.text);
    this._transformPresence(op, author);
    if (this._localCursor) {
      const own = author === this.connection.clientId;
      this._localCursor = transformSelection(this._localCursor, op, own);
    }
  }

  _sendOpen() {
    const open = { type: "open", doc: this.id };
    if (this._client && !this._reopenWithoutVersion) open.version = this._client.version;
    this.connection._send(open);
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
    if (!this._presenceDirty || !this.isOpen || this._presenceTimer !== null) return;
    const wait = Math.max(0, this._presenceSentAt + this.connection.presenceIntervalMs - Date.now());
    this._presenceTimer = setTimeout(() => {
      this._presenceTimer = null;
      this._sendPresence();
    }, wait);
  }

  _sendPresence() {
    if (!this._presenceDirty || !this.isOpen) return;
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
