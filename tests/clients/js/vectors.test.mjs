// The JS OT core against vectors computed by the Python core (tests/clients/vectors.py).
// Run by tests/clients/js/test_node.py, which writes the vectors and sets COEDIT_VECTORS.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";

import {
  InvalidOperation, LengthMismatch, TextOperation, transform, transformIndex,
} from "../../../clients/js/ot.js";
import { Client } from "../../../clients/js/ot-client.js";

const path = process.env.COEDIT_VECTORS;
if (!path) throw new Error("set COEDIT_VECTORS to a file written by tests/clients/vectors.py");
const vectors = JSON.parse(readFileSync(path, "utf8"));

const op = (components) => new TextOperation(components);
const wire = (operation) => operation.toJSON();

/** Run `check` on every case, failing once with the first few cases that differ. */
function everyCase(cases, check) {
  assert.ok(cases.length > 0, "no cases");
  const failures = [];
  cases.forEach((c, i) => {
    try {
      check(c);
    } catch (error) {
      if (failures.length < 3) failures.push(`case ${i} ${JSON.stringify(c.doc ?? "")}: ${error.message}`);
      else failures.push(null);
    }
  });
  const shown = failures.filter(Boolean).join("\n");
  assert.equal(failures.length, 0, `${failures.length} of ${cases.length} cases differ:\n${shown}`);
}

describe(`TextOperation vs the Python core (seed ${vectors.seed})`, () => {
  const cases = vectors.ops;

  test("normal form", () => everyCase(cases, (c) => {
    assert.deepEqual(wire(op(c.raw_a)), c.a);
    assert.deepEqual(wire(op(c.a)), c.a);
  }));

  test("base length and length delta", () => everyCase(cases, (c) => {
    assert.equal(op(c.a).baseLength, c.a_base_length);
    assert.equal(op(c.a).lengthDelta, c.a_length_delta);
  }));

  test("apply", () => everyCase(cases, (c) => {
    assert.equal(op(c.a).apply(c.doc), c.apply_a);
    assert.equal(op(c.b).apply(c.doc), c.apply_b);
  }));

  test("apply rejects a text shorter than the base length", () => {
    everyCase(cases.filter((c) => c.too_short !== null), (c) => {
      assert.throws(() => op(c.a).apply(c.too_short), LengthMismatch);
    });
  });

  test("compose", () => everyCase(cases, (c) => {
    const composed = op(c.a).compose(op(c.c));
    assert.deepEqual(wire(composed), c.compose_a_c);
    assert.equal(composed.apply(c.doc), c.apply_compose);
  }));

  test("invert", () => everyCase(cases, (c) => {
    const inverse = op(c.a).invert(c.doc);
    assert.deepEqual(wire(inverse), c.invert_a);
    assert.equal(inverse.apply(c.apply_a), c.doc);
  }));

  test("transform", () => everyCase(cases, (c) => {
    const [a2, b2] = transform(op(c.a), op(c.b));
    assert.deepEqual([wire(a2), wire(b2)], c.transform_a_b);
    assert.equal(b2.apply(c.apply_a), c.converged);
    assert.equal(a2.apply(c.apply_b), c.converged);
  }));

  test("transformIndex", () => everyCase(cases, (c) => {
    for (const [index, own, expected] of c.indices) {
      assert.equal(transformIndex(index, op(c.a), own), expected, `index ${index} own ${own}`);
    }
  }));

  test("fromDiff", () => everyCase(cases, (c) => {
    const diff = TextOperation.fromDiff(c.doc, c.apply_b);
    assert.deepEqual(wire(diff), c.diff_doc_b);
    assert.equal(diff.apply(c.doc), c.apply_b);
  }));

  test("invalid ops are rejected", () => {
    for (const components of vectors.invalid) {
      assert.throws(() => new TextOperation(components), InvalidOperation, JSON.stringify(components));
    }
  });
});

describe("client state machine vs the Python core", () => {
  test("every call returns what Python's Client returned", () => {
    everyCase(vectors.clients, ({ calls, text }) => {
      const client = new Client(0);
      let local = "";
      calls.forEach((call, step) => {
        let result;
        if (call.call === "local") {
          local = op(call.op).apply(local);
          result = submission(client.applyClient(op(call.op)));
        } else if (call.call === "remote") {
          const applied = client.applyServer(op(call.op));
          local = applied.apply(local);
          result = wire(applied);
        } else if (call.call === "ack") {
          result = submission(client.serverAck());
        } else {
          result = submission(client.resubmission());
        }
        const where = `step ${step} (${call.call})`;
        assert.deepEqual(result, call.result, where);
        assert.equal(client.version, call.version, `${where}: version`);
        assert.equal(client.pendingCount, call.pending, `${where}: pending count`);
      });
      assert.equal(local, text, "the client did not converge on the server's text");
    });
  });
});

function submission(s) {
  return s === null ? null : [s.seq, s.baseVersion, wire(s.op)];
}
