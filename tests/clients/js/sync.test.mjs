// CoDocument's protocol logic (open, catch-up, submit/ack, resubmission after a reconnect) in a
// simulation: several documents talk to an in-process reference server that follows protocol v1
// (transform to head, exactly-once per client and seq, catch-up from a version), over ordered
// links whose deliveries interleave at random and that drop whatever is in flight when they go down.
// Every run must converge (ot.js test-client-server.js, plus lost connections).

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { CoDocument } from "../../../clients/js/document.js";
import { TextOperation, transform } from "../../../clients/js/ot.js";
import { codePointLength } from "../../../clients/js/unicode.js";

/**
 * The server side of protocol v1 for one document, as docs/protocol.md specifies it. `compact()`
 * forgets the history so far, as a server that no longer keeps old ops: opening or rebasing from
 * before it is `resync_required`, while (client, seq) stay known, so duplicates are still found.
 */
class ReferenceServer {
  constructor() {
    this.text = "";
    this.log = []; // {version, op, client, seq}
    this.kept = 0; // ops up to this version are forgotten
    this.links = new Set();
    this.refuse = null; // (op) => error code, to refuse submissions for good
    this.sent = { resync_required: 0, duplicate: 0, refused: 0 };
  }

  compact() {
    this.kept = this.log.length;
  }

  receive(link, message) {
    const resync = { type: "error", code: "resync_required", doc: message.doc, version: this.log.length };
    if (message.type === "open" && message.version !== undefined && message.version < this.kept) {
      link.down.push(resync);
      this.sent.resync_required += 1;
    } else if (message.type === "open") {
      const opened = { type: "opened", doc: message.doc, version: this.log.length, presence: [] };
      if (message.version === undefined) opened.text = this.text;
      else opened.ops = this.log.slice(message.version).map((e) => this._entry(e));
      link.open = true;
      link.down.push(opened);
    } else if (message.type === "submit") {
      this._submit(link, message);
    }
  }

  _submit(link, { doc, version, seq, op }) {
    const done = this.log.find((e) => e.client === link.clientId && e.seq === seq);
    if (done) {
      link.down.push({ type: "ack", doc, version: done.version, seq, duplicate: true });
      this.sent.duplicate += 1;
      return;
    }
    const refused = this.refuse?.(op);
    if (version < this.kept || refused) {
      const code = refused ?? "resync_required";
      link.down.push({ type: "error", code, doc, seq, version: this.log.length, message: code });
      this.sent[refused ? "refused" : "resync_required"] += 1;
      return;
    }
    let rebased = new TextOperation(op);
    for (const entry of this.log.slice(version)) [rebased] = transform(rebased, entry.op);
    this.text = rebased.apply(this.text);
    const entry = { version: this.log.length + 1, op: rebased, client: link.clientId, seq };
    this.log.push(entry);
    for (const other of this.links) {
      if (other !== link && other.open) other.down.push({ type: "op", doc, ...this._entry(entry) });
    }
    link.down.push({ type: "ack", doc, version: entry.version, seq });
  }

  _entry({ version, op, client, seq }) {
    return { version, op: op.toJSON(), client, seq, user: null };
  }
}

/** One client: a CoDocument over a link that can go down, losing what is in flight. */
class Peer {
  constructor(server, clientId) {
    this.server = server;
    this.clientId = clientId;
    this.presenceIntervalMs = 0;
    this.link = null;
    this.doc = new CoDocument(this, "sim");
  }

  get online() {
    return this.link !== null;
  }

  connect() {
    this.link = { clientId: this.clientId, up: [], down: [], open: false };
    this.server.links.add(this.link);
    this.doc._connected();
  }

  disconnect() {
    this.server.links.delete(this.link);
    this.link = null;
    this.doc._disconnected();
  }

  // The transport side of the connection interface CoDocument uses.
  _send(message) {
    if (!this.link) return false;
    this.link.up.push(message);
    return true;
  }

  _forget() {}
}

/** Deliver every message both ways until nothing is in flight. */
function exchangeAll(server, peer) {
  while (peer.link.up.length || peer.link.down.length) {
    if (peer.link.up.length) server.receive(peer.link, peer.link.up.shift());
    else peer.doc._receive(peer.link.down.shift());
  }
}

/** A peer whose document is open on `server`. */
function openPeer(server, clientId) {
  const peer = new Peer(server, clientId);
  peer.connect();
  exchangeAll(server, peer);
  return peer;
}

function randomEdit(random, text) {
  const length = codePointLength(text);
  const at = Math.floor(random() * (length + 1));
  const remove = Math.min(length - at, Math.floor(random() * 3));
  const pieces = ["a", "b", " ", "\n", "😀", "👍🏽", "中"];
  const pick = () => pieces[Math.floor(random() * pieces.length)];
  const insert = Array.from({ length: Math.floor(random() * 3) }, pick).join("");
  return TextOperation.fromEdit(at, remove, insert);
}

function seeded(seed) {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

function run(seed, steps, { compactions = false, refusals = false } = {}) {
  const random = seeded(seed);
  const server = new ReferenceServer();
  if (refusals) server.refuse = (op) => (JSON.stringify(op).includes("中") ? "invalid_op" : null);
  const peers = [new Peer(server, "c-a"), new Peer(server, "c-b"), new Peer(server, "c-c")];
  for (const peer of peers) peer.connect();
  for (let step = 0; step < steps; step++) {
    const peer = peers[Math.floor(random() * peers.length)];
    const roll = random();
    if (roll < 0.35) {
      if (peer.doc.version !== null) peer.doc.applyLocal(randomEdit(random, peer.doc.text));
    } else if (roll < 0.6) {
      if (peer.link?.up.length) server.receive(peer.link, peer.link.up.shift());
    } else if (roll < 0.9) {
      if (peer.link?.down.length) peer.doc._receive(peer.link.down.shift());
    } else if (roll < 0.93) {
      if (peer.online) peer.disconnect();
    } else if (roll < 0.95) {
      if (compactions) server.compact();
    } else if (!peer.online) {
      peer.connect();
    }
  }
  // Quiesce: everyone back online, every message delivered.
  for (const peer of peers) if (!peer.online) peer.connect();
  for (let busy = true; busy;) {
    busy = false;
    for (const peer of peers) {
      while (peer.link.up.length) {
        server.receive(peer.link, peer.link.up.shift());
        busy = true;
      }
      while (peer.link.down.length) {
        peer.doc._receive(peer.link.down.shift());
        busy = true;
      }
    }
  }
  return { server, peers };
}

describe("CoDocument against a reference server, with lost connections", () => {
  const runs = [
    ...[1, 2, 3, 4, 5, 6, 7, 8].map((seed) => [seed, {}]),
    ...[11, 12, 13, 14, 15, 16].map((seed) => [seed, { compactions: true }]),
    ...[21, 22, 23].map((seed) => [seed, { refusals: true }]),
  ];
  for (const [seed, options] of runs) {
    test(`seed ${seed} converges ${JSON.stringify(options)}`, () => {
      const { server, peers } = run(seed, 600, options);
      assert.ok(server.log.length > 20, `only ${server.log.length} ops committed`);
      for (const peer of peers) {
        assert.equal(peer.doc.text, server.text, `${peer.clientId} diverged`);
        assert.equal(peer.doc.version, server.log.length, `${peer.clientId} version`);
        assert.equal(peer.doc.pendingCount, 0, `${peer.clientId} still has pending ops`);
      }
      // Exactly once: no client's seq was committed twice.
      const keys = server.log.map((e) => `${e.client}/${e.seq}`);
      assert.equal(new Set(keys).size, keys.length);
      if (options.compactions) assert.ok(server.sent.resync_required > 0, "no resync happened");
      if (options.refusals) assert.ok(server.sent.refused > 0, "nothing was refused");
    });
  }

  test("resyncs probed both committed and uncommitted ops in flight", () => {
    const totals = { resync_required: 0, duplicate: 0 };
    for (const seed of [11, 12, 13, 14, 15, 16]) {
      const { server } = run(seed, 600, { compactions: true });
      totals.resync_required += server.sent.resync_required;
      totals.duplicate += server.sent.duplicate;
    }
    assert.ok(totals.duplicate > 0 && totals.resync_required > 0, JSON.stringify(totals));
  });

  test("a missed ack found in the catch-up is not resubmitted", () => {
    const server = new ReferenceServer();
    const peer = new Peer(server, "c-a");
    peer.connect();
    server.receive(peer.link, peer.link.up.shift()); // open
    peer.doc._receive(peer.link.down.shift()); // opened
    peer.doc.applyLocal(TextOperation.fromEdit(0, 0, "hi 😀"));
    server.receive(peer.link, peer.link.up.shift()); // submit: committed, ack in flight...
    peer.disconnect(); // ...and lost
    assert.equal(peer.doc.pendingCount, 1);
    peer.connect();
    const open = peer.link.up.shift();
    assert.deepEqual(open, { type: "open", doc: "sim", version: 0 });
    server.receive(peer.link, open);
    peer.doc._receive(peer.link.down.shift()); // opened with our own op in `ops`
    assert.equal(peer.doc.pendingCount, 0);
    assert.equal(peer.doc.version, 1);
    assert.deepEqual(peer.link.up, [], "nothing to resubmit");
    assert.equal(peer.doc.text, "hi 😀");
  });

  test("a reopened document numbers its submissions on from the last seq", () => {
    const server = new ReferenceServer();
    const peer = new Peer(server, "c-a");
    peer.connect();
    const exchange = () => exchangeAll(server, peer);
    exchange();
    peer.doc.applyLocal(TextOperation.fromEdit(0, 0, "one "));
    exchange();
    const lastSeq = peer.doc._client.lastSeq;
    peer.doc = new CoDocument(peer, "sim", lastSeq); // closed and opened again on this client
    peer.doc._connected();
    exchange();
    peer.doc.applyLocal(TextOperation.fromEdit(4, 0, "two"));
    const [submit] = peer.link.up;
    assert.equal(submit.seq, lastSeq + 1);
    exchange();
    assert.equal(peer.doc.pendingCount, 0);
    assert.equal(server.text, "one two");
  });

  test("an op lost on the way is resubmitted with its original seq", () => {
    const server = new ReferenceServer();
    const peer = new Peer(server, "c-a");
    peer.connect();
    server.receive(peer.link, peer.link.up.shift());
    peer.doc._receive(peer.link.down.shift());
    peer.doc.applyLocal(TextOperation.fromEdit(0, 0, "👍🏽"));
    const [submit] = peer.link.up;
    peer.disconnect(); // the submit never reached the server
    peer.doc.applyLocal(TextOperation.fromEdit(2, 0, "!")); // typed while offline: buffered
    assert.equal(peer.doc.pendingCount, 2);
    peer.connect();
    server.receive(peer.link, peer.link.up.shift());
    peer.doc._receive(peer.link.down.shift());
    const resubmit = peer.link.up.shift();
    assert.deepEqual(resubmit, submit);
    server.receive(peer.link, resubmit);
    peer.doc._receive(peer.link.down.shift()); // ack: the buffer goes out with the next seq
    assert.deepEqual(peer.link.up.shift(), { type: "submit", doc: "sim", version: 1, seq: 2, op: [2, "!"] });
  });
});

describe("resync and rejection", () => {
  function offlineWithLostAck(server, peer, committed) {
    peer.doc.applyLocal(TextOperation.fromEdit(0, 0, "mine "));
    if (committed) server.receive(peer.link, peer.link.up.shift()); // committed, ack lost
    peer.disconnect();
    peer.doc.applyLocal(TextOperation.fromEdit(5, 0, "later")); // buffered
  }

  for (const committed of [true, false]) {
    test(`history lost while offline, op in flight ${committed ? "" : "not "}committed`, () => {
      const server = new ReferenceServer();
      const alice = openPeer(server, "c-alice");
      const bob = openPeer(server, "c-bob");
      bob.doc.applyLocal(TextOperation.fromEdit(0, 0, "abc"));
      exchangeAll(server, bob);
      exchangeAll(server, alice);
      offlineWithLostAck(server, alice, committed);
      bob.doc.applyLocal(TextOperation.fromEdit(3, 0, " bob 😀"));
      exchangeAll(server, bob);
      server.compact();
      alice.connect();
      exchangeAll(server, alice);
      exchangeAll(server, bob);
      assert.ok(server.sent.resync_required >= 1);
      assert.equal(server.sent.duplicate, committed ? 1 : 0, "the probe");
      for (const peer of [alice, bob]) assert.equal(peer.doc.text, server.text);
      assert.equal(server.text, "mine laterabc bob 😀");
      // Committed: the buffer follows alone. Not: both edits are merged into one new op.
      const ops = server.log.filter((e) => e.client === "c-alice").length;
      assert.equal(ops, committed ? 2 : 1, "each edit committed exactly once");
    });
  }

  test("a refused op is undone, the edits after it survive", () => {
    const server = new ReferenceServer();
    server.refuse = (op) => (JSON.stringify(op).includes("X") ? "op_too_large" : null);
    const peer = openPeer(server, "c-a");
    peer.doc.applyLocal(TextOperation.fromEdit(0, 0, "ok "));
    exchangeAll(server, peer);
    const errors = [];
    peer.doc.addEventListener("error", (event) => errors.push(event.detail));
    peer.doc.applyLocal(TextOperation.fromEdit(3, 0, "XXX")); // in flight, to be refused
    peer.doc.applyLocal(TextOperation.fromEdit(6, 0, " 👍🏽")); // buffered behind it
    assert.equal(peer.doc.text, "ok XXX 👍🏽");
    exchangeAll(server, peer);
    assert.equal(peer.doc.text, "ok  👍🏽");
    assert.equal(server.text, "ok  👍🏽");
    assert.equal(peer.doc.pendingCount, 0);
    assert.deepEqual(errors.map((e) => [e.code, e.rejected]), [["op_too_large", true]]);
  });
});

describe("CoeditClient module", () => {
  test("imports without a browser, and backs off exponentially with jitter", async () => {
    const { backoffDelay, CoeditClient } = await import("../../../clients/js/coedit.js");
    assert.equal(typeof CoeditClient, "function");
    assert.equal(backoffDelay(0, {}, () => 0), 250);
    assert.equal(backoffDelay(0, {}, () => 1), 500);
    assert.equal(backoffDelay(3, {}, () => 1), 4000);
    assert.equal(backoffDelay(30, {}, () => 1), 15_000);
  });
});
