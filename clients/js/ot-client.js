/**
 * The client side of OT: the ot.js state machine plus protocol v1's version and seq bookkeeping,
 * a port of coedit's `ot/client.py`. Pure: it says what to send and what to apply.
 *
 * A client has at most one op in flight (`outstanding`) and composes later local edits into a
 * `buffer` until the server acknowledges it:
 *
 *     Synchronized ──local edit──▶ AwaitingConfirm ──local edit──▶ AwaitingWithBuffer
 *          ▲                            │    ▲                          │
 *          └────────────ack─────────────┘    └───────────ack────────────┘ (buffer is sent)
 *
 * Remote ops are rebased past the in-flight and buffered ops with the remote op on the right,
 * mirroring the server, which rebases a submitted op with the submission on the left.
 */

import { transform } from "./ot.js";

/** Nothing is in flight: the client's text equals the server's at `Client.version`. */
export class Synchronized {
  applyClient(op) {
    return [new AwaitingConfirm(op), op];
  }

  applyServer(op) {
    return [this, op];
  }

  serverAck() {
    throw new Error("an ack arrived while no operation was in flight");
  }
}

/** One op is in flight, waiting for its ack. */
export class AwaitingConfirm {
  constructor(outstanding) {
    this.outstanding = outstanding;
  }

  applyClient(op) {
    return [new AwaitingWithBuffer(this.outstanding, op), null];
  }

  applyServer(op) {
    const [outstanding, remote] = transform(this.outstanding, op);
    return [new AwaitingConfirm(outstanding), remote];
  }

  serverAck() {
    return [new Synchronized(), null];
  }
}

/** One op is in flight and later local edits wait, composed, in `buffer`. */
export class AwaitingWithBuffer {
  constructor(outstanding, buffer) {
    this.outstanding = outstanding;
    this.buffer = buffer;
  }

  applyClient(op) {
    return [new AwaitingWithBuffer(this.outstanding, this.buffer.compose(op)), null];
  }

  applyServer(op) {
    const [outstanding, remote1] = transform(this.outstanding, op);
    const [buffer, remote2] = transform(this.buffer, remote1);
    return [new AwaitingWithBuffer(outstanding, buffer), remote2];
  }

  serverAck() {
    return [new AwaitingConfirm(this.buffer), this.buffer];
  }
}

/**
 * One document's client state: the state machine, the version and submit numbering. `seq`
 * numbers submissions 1, 2, 3...; a resubmission after a reconnect reuses the seq of the op it
 * repeats, so the server can tell whether it was already committed.
 *
 * A submission is `{seq, baseVersion, op}`.
 */
export class Client {
  constructor(version, lastSeq = 0) {
    this.version = version;
    this.state = new Synchronized();
    this.lastSeq = lastSeq;
    this.outstandingSeq = null;
  }

  /** How many ops are not yet acknowledged: 0, 1 (in flight) or 2 (in flight + buffer). */
  get pendingCount() {
    if (this.state instanceof AwaitingWithBuffer) return 2;
    return this.state instanceof AwaitingConfirm ? 1 : 0;
  }

  /** The unacknowledged local ops, oldest first: what separates local text from the server's. */
  get pendingOps() {
    const s = this.state;
    if (s instanceof AwaitingWithBuffer) return [s.outstanding, s.buffer];
    return s instanceof AwaitingConfirm ? [s.outstanding] : [];
  }

  /** Record a local edit; returns the submission to send now, or null. */
  applyClient(op) {
    const [state, toSend] = this.state.applyClient(op);
    this.state = state;
    return this._submission(toSend);
  }

  /** Take a remote op committed at `version + 1`; returns the op to apply locally. */
  applyServer(op) {
    const [state, local] = this.state.applyServer(op);
    this.state = state;
    this.version += 1;
    return local;
  }

  /** The in-flight op committed at `version + 1`; returns the next submission, or null. */
  serverAck() {
    const [state, toSend] = this.state.serverAck();
    this.state = state;
    this.version += 1;
    this.outstandingSeq = null;
    return this._submission(toSend);
  }

  /** After a reconnect and catch-up: the in-flight op again, with its original seq. */
  resubmission() {
    if (this.state instanceof Synchronized || this.outstandingSeq === null) return null;
    return { seq: this.outstandingSeq, baseVersion: this.version, op: this.state.outstanding };
  }

  _submission(op) {
    if (op === null) return null;
    this.lastSeq += 1;
    this.outstandingSeq = this.lastSeq;
    return { seq: this.lastSeq, baseVersion: this.version, op };
  }
}
