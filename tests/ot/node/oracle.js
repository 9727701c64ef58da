#!/usr/bin/env node
// Reference results from ShareDB's text type, ot-text-unicode, for tests/ot/test_differential.py.
//
// Usage: node oracle.js SEED COUNT
//
// Prints COUNT JSON lines, one random case each: a document, two concurrent ops `a` and `b` on it,
// an op `b_after_a` on the text `a` produced, and what ot-text-unicode computes from them. Ops are
// in ot-text-unicode's form with numeric deletes ({d: n}); lengths count code points.
// Everything random comes from ot-fuzzer's seeded generator, so a seed reproduces its cases.
'use strict';

const os = require('os');

const [seedArg, countArg] = process.argv.slice(2);
if (!/^\d+$/.test(seedArg || '') || !/^\d+$/.test(countArg || '')) {
  console.error('usage: node oracle.js SEED COUNT  (both non-negative integers)');
  process.exit(2);
}

// ot-fuzzer seeds its generator from $SEED when it is first required, and restores a saved state
// from $SYNCFILE (default: ./fuzzercrash.data) if one parses. Point that at an empty file so a
// stray crash dump can never change our cases.
process.env.SEED = seedArg;
process.env.SYNCFILE = os.devNull;
const { randomInt, randomWord } = require('ot-fuzzer');
const { type } = require('ot-text-unicode');
const genOp = require('ot-text-unicode/test/genOp');

// Text pieces for documents and inserts, beyond genOp's ASCII words and five emoji: accents,
// combining marks, CJK, astral letters, a ZWJ sequence and a flag (several code points each).
const BMP = ['é', 'ß', 'ж', '中文', 'e\u0301', '\u200d', '€'];
const ASTRAL = ['😅', '🤖', '𝔘', '𐍈', '👩\u200d💻', '🇫🇷', '🀄'];
// Code points U+E000..U+FFFF: genOp's strToList mistakes them for surrogate halves, so a document
// holding one gets ops only from genEdit below.
const HIGH_BMP = ['ｱ', '\ufeff', '\ufffd', '\ue000'];
const HIGH_BMP_RE = /[\ue000-\uffff]/;

const clone = (op) => op.map((c) => (typeof c === 'object' ? { ...c } : c));
const pick = (list) => list[randomInt(list.length)];
const codePoints = (s) => Array.from(s);

function randomPiece(highBmp) {
  switch (randomInt(6)) {
    case 0: return pick(BMP);
    case 1: case 2: return pick(ASTRAL);
    case 3: return highBmp ? pick(HIGH_BMP) : pick(BMP);
    default: return randomWord() + ' ';
  }
}

function randomText(maxPieces, highBmp) {
  let text = '';
  for (let n = randomInt(maxPieces + 1); n > 0; n--) text += randomPiece(highBmp);
  return text;
}

// An op on `doc` built piece by piece over its code points; unlike genOp it may insert any piece,
// delete up to the end and retain long stretches.
function genEdit(doc) {
  // Insert U+E000..U+FFFF only where there is some already: documents genOp can take stay so.
  const highBmp = HIGH_BMP_RE.test(doc);
  const cps = codePoints(doc);
  const op = [];
  let pos = 0;
  while (pos < cps.length && randomInt(6) !== 0) {
    const n = 1 + randomInt(Math.min(cps.length - pos, 8));
    switch (randomInt(3)) {
      case 0: op.push(n); pos += n; break;
      case 1: op.push({ d: randomInt(2) ? n : cps.slice(pos, pos + n).join('') }); pos += n; break;
      default: op.push(randomText(2, highBmp) || 'x');
    }
  }
  if (randomInt(4) === 0) op.push(randomText(2, highBmp) || 'y');
  return type.normalize(op);
}

function randomOp(doc) {
  const op = HIGH_BMP_RE.test(doc) || randomInt(3) === 0 ? genEdit(doc) : genOp(doc)[0];
  return type.stripInvertible(op); // {d: "text"} -> {d: n}: our wire form has numeric deletes only
}

// Documents: random pieces, then a few random edits applied, as ot-fuzzer grows its own. One in
// four may hold U+E000..U+FFFF code points.
function randomDoc() {
  let doc = randomText(12, randomInt(4) === 0);
  for (let n = randomInt(4); n > 0; n--) doc = type.apply(doc, randomOp(doc));
  return doc;
}

// `op` cut into more, smaller components (retains, deletes and inserts split at code points)
// and sometimes given a trailing retain: a valid op that is not in normal form.
function shatter(op) {
  const out = [];
  const split = (n) => {
    const parts = [];
    while (n > 0) {
      const k = 1 + randomInt(n);
      parts.push(k);
      n -= k;
    }
    return parts;
  };
  for (const c of op) {
    if (typeof c === 'number') for (const k of split(c)) out.push(k);
    else if (typeof c === 'object') for (const k of split(c.d)) out.push({ d: k });
    else {
      const cps = codePoints(c);
      let at = 0;
      for (const k of split(cps.length)) {
        out.push(cps.slice(at, at + k).join(''));
        at += k;
      }
    }
  }
  if (randomInt(3) === 0) out.push(1 + randomInt(5));
  return out;
}

function randomCase() {
  const doc = randomDoc();
  const a = randomOp(doc);
  // Sometimes both sides make the very same edit: every tie at once.
  const b = randomInt(10) === 0 ? a.slice() : randomOp(doc);
  const afterA = type.apply(doc, a);
  const bAfterA = randomOp(afterA);
  const shattered = shatter(a);
  const cursors = [];
  for (let i = 0; i <= codePoints(doc).length; i++) cursors.push(type.transformPosition(i, a));
  return {
    doc,
    a,
    b,
    b_after_a: bAfterA,
    apply: afterA,
    compose: type.stripInvertible(type.compose(a, bAfterA)),
    a_left: type.stripInvertible(type.transform(a, b, 'left')),
    a_right: type.stripInvertible(type.transform(a, b, 'right')),
    b_left: type.stripInvertible(type.transform(b, a, 'left')),
    b_right: type.stripInvertible(type.transform(b, a, 'right')),
    cursors, // cursors[i]: position i of doc moved through a
    shattered,
    normalized: type.normalize(clone(shattered)), // normalize merges deletes in place
  };
}

const lines = [];
for (let n = Number(countArg); n > 0; n--) lines.push(JSON.stringify(randomCase()));
process.stdout.write(lines.length ? lines.join('\n') + '\n' : '');
