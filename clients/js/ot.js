/**
 * Operational transformation for plain text: `TextOperation` (apply, compose, invert),
 * `transform` and cursor transform. A line-for-line port of coedit's Python core (`ot/`), checked
 * against it on generated test vectors. Pure: no DOM, no I/O.
 *
 * Every position and length counts Unicode code points, never UTF-16 units: an op made here
 * means the same to the server and to every other client, whatever characters the text holds.
 *
 * The wire form is the ot.js convention: a positive integer retains, a non-empty string inserts,
 * a negative integer deletes; what follows the last component is kept.
 */

import { advance, codePointLength, hasLoneSurrogate, hasSurrogates, sliceCodePoints, splitsPair }
  from "./unicode.js";

/** The largest length an op may carry: JavaScript's largest exact integer. */
export const MAX_LENGTH = Number.MAX_SAFE_INTEGER;

/** The base of every error this module throws. */
export class OTError extends Error {}

/** An operation is not well-formed; the message names the offending item. */
export class InvalidOperation extends OTError {
  constructor(message) {
    super(message);
    this.name = "InvalidOperation";
  }
}

/** An operation reads more characters than the text it is applied to has. */
export class LengthMismatch extends OTError {
  constructor(expected, actual) {
    super(`the operation reads ${expected} characters but the text has ${actual}`);
    this.name = "LengthMismatch";
    this.expected = expected;
    this.actual = actual;
  }
}

const isInsert = (c) => typeof c === "string";

/**
 * Append `c` to `out`, merging it into the last component when both are the same kind. Only
 * same-kind neighbours merge: a delete next to an insert keeps its place, because that order
 * decides how ties transform.
 */
function push(out, c) {
  if (!c) return;
  if (out.length) {
    const last = out[out.length - 1];
    if (isInsert(c)) {
      if (isInsert(last)) {
        out[out.length - 1] = last + c;
        return;
      }
    } else if (!isInsert(last) && last > 0 === c > 0) {
      out[out.length - 1] = last + c;
      return;
    }
  }
  out.push(c);
}

/** `out` without its trailing retain (retaining the rest is implicit). */
function trimmed(out) {
  if (out.length && !isInsert(out[out.length - 1]) && out[out.length - 1] > 0) out.pop();
  return out;
}

function checkComponent(c, index) {
  if (typeof c === "number") {
    if (!Number.isInteger(c)) {
      throw new InvalidOperation(`item ${index}: expected a non-zero integer, got ${c}`);
    }
    if (c === 0) throw new InvalidOperation(`item ${index}: 0 is neither a retain nor a delete`);
    if (Math.abs(c) > MAX_LENGTH) {
      throw new InvalidOperation(`item ${index}: length ${c} exceeds the maximum ${MAX_LENGTH}`);
    }
  } else if (typeof c === "string") {
    if (!c) throw new InvalidOperation(`item ${index}: an insert must not be empty`);
    if (hasLoneSurrogate(c)) {
      throw new InvalidOperation(`item ${index}: insert contains a lone surrogate code point`);
    }
  } else {
    let shown = JSON.stringify(c) ?? String(c);
    if (shown.length > 40) shown = `${shown.slice(0, 37)}...`;
    const kind = c === null ? "null" : Array.isArray(c) ? "array" : typeof c;
    throw new InvalidOperation(
      `item ${index}: expected a non-zero integer or a non-empty string, got ${kind} ${shown}`,
    );
  }
}

/**
 * An immutable edit of plain text in normal form: adjacent components of one kind are merged,
 * none is empty, and there is no trailing retain.
 */
export class TextOperation {
  /** Build an operation from components in wire form, validating and normalizing them. */
  constructor(components = []) {
    if (!Array.isArray(components)) {
      throw new InvalidOperation(`an operation must be an array, not ${typeof components}`);
    }
    const out = [];
    components.forEach((c, index) => {
      checkComponent(c, index);
      push(out, c);
    });
    this.components = Object.freeze(trimmed(out));
    Object.freeze(this);
  }

  /** Wrap components already in normal form (internal hot path: no validation). */
  static _of(components) {
    const op = Object.create(TextOperation.prototype);
    op.components = Object.freeze(components);
    return Object.freeze(op);
  }

  /** Parse the wire form (an array), throwing `InvalidOperation` on anything else. */
  static fromJSON(value) {
    return new TextOperation(value);
  }

  /** The op that deletes `deleteCount` code points at `position` and inserts `text` there. */
  static fromEdit(position, deleteCount, text) {
    for (const [name, n] of [["position", position], ["deleteCount", deleteCount]]) {
      if (!Number.isInteger(n) || n < 0 || n > MAX_LENGTH) {
        throw new InvalidOperation(`${name} must be a non-negative integer, got ${n}`);
      }
    }
    if (typeof text !== "string") {
      throw new InvalidOperation(`text must be a string, got ${typeof text}`);
    }
    if (text && hasLoneSurrogate(text)) {
      throw new InvalidOperation("text contains a lone surrogate code point");
    }
    const out = [];
    if (deleteCount || text) {
      if (position) out.push(position);
      if (deleteCount) out.push(-deleteCount);
      if (text) out.push(text);
    }
    return TextOperation._of(out);
  }

  /** The minimal single-region edit turning `oldText` into `newText` (common prefix/suffix). */
  static fromDiff(oldText, newText) {
    // Compare UTF-16 units, then never cut a surrogate pair: a shared high half followed by
    // different low halves (or a shared low half after different high halves) is edited text.
    let prefix = commonPrefix(oldText, newText);
    if (splitsPair(oldText, prefix) || splitsPair(newText, prefix)) prefix -= 1;
    const limit = Math.min(oldText.length, newText.length) - prefix;
    let suffix = commonSuffix(oldText, newText, limit);
    if (splitsPair(oldText, oldText.length - suffix) || splitsPair(newText, newText.length - suffix)) {
      suffix -= 1;
    }
    const removed = oldText.slice(prefix, oldText.length - suffix);
    return TextOperation.fromEdit(
      codePointLength(oldText.slice(0, prefix)),
      codePointLength(removed),
      newText.slice(prefix, newText.length - suffix),
    );
  }

  /** The wire form: an array of numbers and strings in normal form. */
  toJSON() {
    return [...this.components];
  }

  /** How many code points the op reads: the shortest text it can be applied to. */
  get baseLength() {
    let n = 0;
    for (const c of this.components) if (!isInsert(c)) n += Math.abs(c);
    return n;
  }

  /** How much the op changes a text's length: inserted minus deleted code points. */
  get lengthDelta() {
    let n = 0;
    for (const c of this.components) {
      if (isInsert(c)) n += codePointLength(c);
      else if (c < 0) n += c;
    }
    return n;
  }

  /** True when applying the op changes nothing. */
  get isNoop() {
    return this.components.length === 0;
  }

  /** `text` with the op applied; `LengthMismatch` if the op reads past its end. */
  apply(text) {
    const parts = [];
    const astral = hasSurrogates(text);
    let pos = 0; // a UTF-16 offset into text
    for (const c of this.components) {
      if (isInsert(c)) {
        parts.push(c);
        continue;
      }
      const n = Math.abs(c);
      const end = astral ? advance(text, pos, n) : pos + n;
      if (end < 0 || end > text.length) {
        throw new LengthMismatch(this.baseLength, codePointLength(text));
      }
      if (c > 0) parts.push(text.slice(pos, end));
      pos = end;
    }
    parts.push(text.slice(pos));
    return parts.join("");
  }

  /**
   * One op with the effect of `this` then `other`.
   * Law: `other.apply(this.apply(s)) === this.compose(other).apply(s)`.
   */
  compose(other) {
    return TextOperation._of(composeComponents(this.components, other.components));
  }

  /**
   * The op that undoes `this`, given the `text` it was applied to.
   * Law: `this.invert(s).apply(this.apply(s)) === s`.
   */
  invert(text) {
    const out = [];
    const astral = hasSurrogates(text);
    let pos = 0; // UTF-16 offset
    let read = 0; // code points
    for (const c of this.components) {
      if (isInsert(c)) {
        push(out, -codePointLength(c));
        continue;
      }
      const n = Math.abs(c);
      const end = astral ? advance(text, pos, n) : pos + n;
      if (end < 0 || end > text.length) throw new LengthMismatch(read + n, codePointLength(text));
      push(out, c > 0 ? c : text.slice(pos, end));
      pos = end;
      read += n;
    }
    return TextOperation._of(trimmed(out));
  }

  /** Whether `other` is the same op (normal forms are equal). */
  equals(other) {
    const a = this.components;
    const b = other.components;
    return a.length === b.length && a.every((c, i) => c === b[i]);
  }

  toString() {
    return `TextOperation(${JSON.stringify(this.components)})`;
  }
}

/** Compose a run of consecutive ops into one (the identity op for an empty run). */
export function composeAll(ops) {
  let components = [];
  for (const op of ops) {
    components = components.length ? composeComponents(components, op.components) : op.components;
  }
  return TextOperation._of([...components]);
}

/**
 * Compose raw components: `a` then `b`. Walks `b` and consumes `a` as `b` reads the text `a`
 * produced. A delete in `a` reads nothing of that text, so it passes through whole.
 */
function composeComponents(a, b) {
  const out = [];
  const n = a.length;
  let i = 0;
  let off = 0; // how much of a[i] is consumed, in code points
  for (const c2 of b) {
    if (isInsert(c2)) {
      push(out, c2);
      continue;
    }
    let length = Math.abs(c2);
    const keep = c2 > 0;
    while (length > 0) {
      if (i === n) {
        push(out, keep ? length : -length); // past a's end: a retains implicitly
        break;
      }
      const c = a[i];
      if (!isInsert(c) && c < 0) {
        push(out, c); // a's delete reads none of b's input
        i += 1;
        continue;
      }
      const rem = (isInsert(c) ? codePointLength(c) : c) - off;
      const take = rem <= length ? rem : length;
      if (keep) push(out, isInsert(c) ? sliceCodePoints(c, off, off + take) : take);
      else if (!isInsert(c)) push(out, -take); // b deleting a's insert cancels out
      length -= take;
      if (take === rem) {
        i += 1;
        off = 0;
      } else {
        off += take;
      }
    }
  }
  if (i < n) {
    let c = a[i];
    if (off) c = isInsert(c) ? sliceCodePoints(c, off) : c - off;
    push(out, c);
    for (const rest of a.slice(i + 1)) push(out, rest);
  }
  return trimmed(out);
}

/*
 * transform(a, b) takes two ops made against the same text and returns [a2, b2] such that
 * applying a then b2 gives the same text as applying b then a2 (TP1):
 *
 *         a            ──▶  s·a ── b2 ──▶ s·a·b2
 *      s                                  ║
 *         b            ──▶  s·b ── a2 ──▶ s·b·a2
 *
 * When both insert at the same position, a's text goes first (a is the left side).
 */

/** `[a2, b2]`: `a` rebased past `b` and `b` rebased past `a`; `a` wins ties. */
export function transform(a, b) {
  return [
    TextOperation._of(transformComponents(a.components, b.components, true)),
    TextOperation._of(transformComponents(b.components, a.components, false)),
  ];
}

/** Rebase `op` past the concurrent `other`; `left` says whether `op` wins ties. */
export function transformSide(op, other, left) {
  return TextOperation._of(transformComponents(op.components, other.components, left));
}

function transformComponents(op, other, left) {
  if (!other.length) return [...op];
  const out = [];
  const n = op.length;
  let i = 0;
  let off = 0; // how much of op[i] is consumed (a retain or delete; never an insert)
  for (const c2 of other) {
    if (isInsert(c2)) {
      if (left && i < n && isInsert(op[i])) {
        push(out, op[i]); // both insert here: the left side's text goes first
        i += 1;
      }
      push(out, codePointLength(c2));
      continue;
    }
    const keep = c2 > 0;
    let length = Math.abs(c2);
    while (length > 0 && i < n) {
      const c = op[i];
      if (isInsert(c)) {
        push(out, c);
        i += 1;
        continue;
      }
      const rem = Math.abs(c) - off;
      const take = rem <= length ? rem : length;
      if (keep) push(out, c > 0 ? take : -take);
      length -= take;
      if (take === rem) {
        i += 1;
        off = 0;
      } else {
        off += take;
      }
    }
  }
  if (i < n) {
    let c = op[i];
    if (off && !isInsert(c)) c = c > 0 ? c - off : c + off;
    push(out, c);
    for (const rest of op.slice(i + 1)) push(out, rest);
  }
  return trimmed(out);
}

/**
 * Move a cursor position (a code point index) through `op`. An insert exactly at the cursor
 * leaves the cursor before it, unless `own` says the cursor belongs to the op's author, whose
 * caret follows the text they typed. Deleted text collapses the cursor to the deletion's start.
 */
export function transformIndex(index, op, own = false) {
  let pos = 0;
  for (const c of op.components) {
    if (index < pos || (index === pos && !own)) break;
    if (isInsert(c)) {
      const n = codePointLength(c);
      pos += n;
      index += n;
    } else if (c > 0) {
      pos += c;
    } else {
      index -= Math.min(-c, index - pos);
    }
  }
  return index;
}

/** Move a selection `[anchor, head]` through `op`; see `transformIndex`. */
export function transformSelection([anchor, head], op, own = false) {
  return [transformIndex(anchor, op, own), transformIndex(head, op, own)];
}

/**
 * Map a position in the text after `op` back to the text before it: the inverse direction of
 * `transformIndex`. A position inside (or just after) inserted text maps to where the insert
 * began; no text is needed, only lengths.
 */
export function restoreIndex(index, op) {
  let before = 0; // position in op's input
  let after = 0; // position in op's output
  for (const c of op.components) {
    if (isInsert(c)) {
      const n = codePointLength(c);
      if (index <= after + n) return before;
      after += n;
    } else if (c > 0) {
      if (index <= after + c) return before + (index - after);
      before += c;
      after += c;
    } else {
      before -= c;
    }
  }
  return before + (index - after);
}

function commonPrefix(a, b) {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

function commonSuffix(a, b, limit) {
  let i = 0;
  while (i < limit && a.charCodeAt(a.length - 1 - i) === b.charCodeAt(b.length - 1 - i)) i++;
  return i;
}
