// Code point ↔ UTF-16 conversions, the caret-placed diff and restoreIndex.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { restoreIndex, TextOperation, transformIndex } from "../../../clients/js/ot.js";
import { diffAtCaret } from "../../../clients/js/textarea.js";
import {
  advance, codePointLength, hasLoneSurrogate, sliceCodePoints, splitsPair, toCodePoints, toUtf16,
} from "../../../clients/js/unicode.js";

const SAMPLES = ["", "abc", "😀", "a😀b", "👍🏽x", "👨‍👩‍👧", "🇺🇸🇫🇷", "e\u0301", "中文😀\n𝒳", "\uD800x"];

describe("unicode", () => {
  test("codePointLength counts what Array.from counts", () => {
    for (const s of SAMPLES) assert.equal(codePointLength(s), Array.from(s).length, JSON.stringify(s));
  });

  test("toUtf16 and toCodePoints are inverse at every code point boundary", () => {
    for (const s of SAMPLES) {
      let offset = 0;
      Array.from(s).forEach((ch, index) => {
        assert.equal(toUtf16(s, index), offset);
        assert.equal(toCodePoints(s, offset), index);
        offset += ch.length;
      });
      assert.equal(toUtf16(s, codePointLength(s)), s.length);
      assert.equal(toUtf16(s, codePointLength(s) + 5), s.length, "clamped");
    }
  });

  test("an offset inside a pair counts the pair as before it", () => {
    assert.equal(toCodePoints("a😀b", 2), 2);
    assert.ok(splitsPair("a😀b", 2));
    assert.ok(!splitsPair("a😀b", 1) && !splitsPair("a😀b", 3));
  });

  test("advance walks code points and reports running out", () => {
    assert.equal(advance("😀😀", 0, 1), 2);
    assert.equal(advance("😀😀", 2, 1), 4);
    assert.equal(advance("😀😀", 0, 3), -1);
  });

  test("sliceCodePoints slices like Python", () => {
    assert.equal(sliceCodePoints("a😀b🎉c", 1, 4), "😀b🎉");
    assert.equal(sliceCodePoints("a😀b🎉c", 2), "b🎉c");
    assert.equal(sliceCodePoints("abc", 1, 2), "b");
  });

  test("lone surrogates are detected, pairs are not", () => {
    assert.ok(hasLoneSurrogate("\uD800"));
    assert.ok(hasLoneSurrogate("x\uDC00"));
    assert.ok(!hasLoneSurrogate("😀👍🏽"));
  });
});

describe("diffAtCaret", () => {
  const cases = [
    // [old, new, caret after the edit (UTF-16), expected op]
    ["aa", "aaa", 2, [1, "a"]], // typed "a" between the two a's
    ["aaa", "aa", 1, [1, -1]], // backspace after the second a
    ["", "😀", 2, ["😀"]],
    ["x😀y", "x😀😀y", 5, [2, "😀"]], // a second identical emoji, placed by the caret
    ["😀", "😁", 2, [-1, "😁"]], // same high surrogate, different low: never half a pair
    ["a😁", "a😀", 3, [1, -1, "😀"]],
    ["hello world", "hello brave world", 12, [6, "brave "]],
    ["abc", "aXc", 2, [1, -1, "X"]],
  ];
  for (const [oldText, newText, caret, expected] of cases) {
    test(`${JSON.stringify(oldText)} → ${JSON.stringify(newText)}`, () => {
      const op = diffAtCaret(oldText, newText, caret);
      assert.deepEqual(op.toJSON(), expected);
      assert.equal(op.apply(oldText), newText);
    });
  }

  test("always produces an op that turns old into new", () => {
    const alphabet = ["a", "b", "😀", "😁", "👍🏽", "\n"];
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pick = () => alphabet[Math.floor(random() * alphabet.length)];
    const text = (n) => Array.from({ length: n }, pick).join("");
    for (let i = 0; i < 2000; i++) {
      const oldText = text(Math.floor(random() * 8));
      const newText = text(Math.floor(random() * 8));
      const caret = Math.floor(random() * (newText.length + 1));
      const op = diffAtCaret(oldText, newText, caret);
      assert.equal(op.apply(oldText), newText, JSON.stringify([oldText, newText, caret]));
    }
  });
});

describe("restoreIndex", () => {
  test("undoes transformIndex for positions outside edits", () => {
    const op = new TextOperation([2, "xyz", 3, -2, 1, "😀"]);
    for (const [index, expected] of [[0, 0], [1, 1], [2, 2], [5, 2], [6, 3], [8, 5], [9, 8], [10, 8]]) {
      assert.equal(restoreIndex(index, op), expected, `index ${index}`);
    }
    for (const index of [0, 1, 3, 4, 5, 8]) {
      assert.equal(restoreIndex(transformIndex(index, op), op), index, `round trip ${index}`);
    }
  });
});
