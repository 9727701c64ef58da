/**
 * Code points ↔ UTF-16 code units. The protocol counts code points (Python `str` indices);
 * JavaScript strings count UTF-16 units, where an astral character such as 😀 takes two.
 * Pure functions, no DOM.
 *
 * A lone surrogate counts as one code point, as it does in Python.
 */

const SURROGATE = /[\uD800-\uDFFF]/;
// With the `u` flag a well-formed pair is one code point, so this matches lone surrogates only.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** True when `s` holds any surrogate, i.e. code points and UTF-16 units may differ. */
export function hasSurrogates(s) {
  return SURROGATE.test(s);
}

/** True when `s` holds a surrogate that is not half of a well-formed pair. */
export function hasLoneSurrogate(s) {
  return LONE_SURROGATE.test(s);
}

function isHigh(unit) {
  return unit >= 0xd800 && unit <= 0xdbff;
}

function isLow(unit) {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

/** Whether UTF-16 offset `i` falls between the two halves of a surrogate pair. */
export function splitsPair(s, i) {
  return i > 0 && i < s.length && isHigh(s.charCodeAt(i - 1)) && isLow(s.charCodeAt(i));
}

/** The length of `s` in code points. */
export function codePointLength(s) {
  if (!hasSurrogates(s)) return s.length;
  let n = 0;
  for (let i = 0; i < s.length; i++, n++) {
    if (isHigh(s.charCodeAt(i)) && i + 1 < s.length && isLow(s.charCodeAt(i + 1))) i++;
  }
  return n;
}

/**
 * The UTF-16 offset reached by walking `count` code points of `s` from UTF-16 offset `from`,
 * or -1 when fewer than `count` code points follow `from`.
 */
export function advance(s, from, count) {
  let i = from;
  for (let n = 0; n < count; n++) {
    if (i >= s.length) return -1;
    i += isHigh(s.charCodeAt(i)) && i + 1 < s.length && isLow(s.charCodeAt(i + 1)) ? 2 : 1;
  }
  return i;
}

/** The UTF-16 offset of code point index `index` in `s`, clamped to the end of `s`. */
export function toUtf16(s, index) {
  if (!hasSurrogates(s)) return Math.min(index, s.length);
  const i = advance(s, 0, index);
  return i < 0 ? s.length : i;
}

/**
 * The code point index of UTF-16 offset `offset` in `s` (clamped to the end). An offset between
 * the halves of a pair counts the whole pair as before it.
 */
export function toCodePoints(s, offset) {
  const end = Math.min(offset, s.length);
  if (!hasSurrogates(s)) return end;
  let n = 0;
  for (let i = 0; i < end; i++, n++) {
    if (isHigh(s.charCodeAt(i)) && i + 1 < s.length && isLow(s.charCodeAt(i + 1))) i++;
  }
  return n;
}

/** `s` from code point `start` up to (not including) code point `end`, like Python's `s[a:b]`. */
export function sliceCodePoints(s, start, end = Infinity) {
  if (!hasSurrogates(s)) return s.slice(start, end);
  const from = toUtf16(s, start);
  if (end === Infinity) return s.slice(from);
  const to = advance(s, from, Math.max(0, end - start));
  return s.slice(from, to < 0 ? s.length : to);
}
