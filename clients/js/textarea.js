/**
 * Binds a plain `<textarea>` to a `CoDocument`: each input event becomes an op (the diff against
 * the previous value), remote ops are applied with the local caret and selection kept in place,
 * and the caret is announced as presence. Needs the DOM; no other dependency.
 */

import { TextOperation, transformIndex } from "./ot.js";
import { codePointLength, splitsPair, toCodePoints, toUtf16 } from "./unicode.js";

/**
 * The single-region edit turning `oldText` into `newText`, placed using the caret: after an
 * input event the caret (`caret`, a UTF-16 offset in `newText`) ends the inserted text, so
 * typing "a" into "a|a" inserts at 1, not at the end as a plain prefix/suffix diff would say.
 */
export function diffAtCaret(oldText, newText, caret) {
  const inserted = Math.max(0, newText.length - oldText.length);
  let prefix = 0;
  const limit = Math.min(oldText.length, newText.length, Math.max(0, caret - inserted));
  while (prefix < limit && oldText.charCodeAt(prefix) === newText.charCodeAt(prefix)) prefix++;
  if (splitsPair(oldText, prefix) || splitsPair(newText, prefix)) prefix -= 1;
  let suffix = 0;
  const room = Math.min(oldText.length, newText.length) - prefix;
  while (
    suffix < room
    && oldText.charCodeAt(oldText.length - 1 - suffix) === newText.charCodeAt(newText.length - 1 - suffix)
  ) suffix++;
  if (splitsPair(oldText, oldText.length - suffix) || splitsPair(newText, newText.length - suffix)) {
    suffix -= 1;
  }
  return TextOperation.fromEdit(
    codePointLength(oldText.slice(0, prefix)),
    codePointLength(oldText.slice(prefix, oldText.length - suffix)),
    newText.slice(prefix, newText.length - suffix),
  );
}

/** The textarea's selection as `[anchor, head]` in code points. */
export function selectionOf(textarea) {
  const value = textarea.value;
  const start = toCodePoints(value, textarea.selectionStart);
  const end = toCodePoints(value, textarea.selectionEnd);
  return textarea.selectionDirection === "backward" ? [end, start] : [start, end];
}

/** Select `[anchor, head]` (code points) in the textarea. */
export function select(textarea, [anchor, head]) {
  const value = textarea.value;
  const a = toUtf16(value, anchor);
  const h = toUtf16(value, head);
  textarea.setSelectionRange(Math.min(a, h), Math.max(a, h), h < a ? "backward" : "forward");
}

/**
 * Keeps `textarea` and `doc` equal. `info` (e.g. `{name, color}`) is sent with the caret;
 * change it with `setInfo`. Call `destroy()` to unbind.
 */
export class TextareaBinding {
  constructor(textarea, doc, { info } = {}) {
    this.textarea = textarea;
    this.doc = doc;
    this.info = info;
    this._value = textarea.value;
    this._listeners = [];
    this._on(textarea, "input", () => this._input());
    for (const type of ["select", "keyup", "mouseup", "focus"]) {
      this._on(textarea, type, () => this._announce());
    }
    this._on(textarea.ownerDocument, "selectionchange", () => {
      if (textarea.ownerDocument.activeElement === textarea) this._announce();
    });
    this._on(doc, "beforechange", () => this._input());
    this._on(doc, "change", (event) => this._remote(event.detail.op));
    this._sync();
  }

  /** Change the presence info sent with the caret (e.g. after the user renamed themselves). */
  setInfo(info) {
    this.info = info;
    this._announce(true);
  }

  destroy() {
    for (const [target, type, listener] of this._listeners) target.removeEventListener(type, listener);
    this._listeners = [];
  }

  _on(target, type, listener) {
    target.addEventListener(type, listener);
    this._listeners.push([target, type, listener]);
  }

  /** Show the document's text (on bind, and after a reload), keeping the caret if it fits. */
  _sync() {
    const ta = this.textarea;
    if (ta.value !== this.doc.text) {
      const selection = selectionOf(ta);
      ta.value = this.doc.text;
      select(ta, selection);
    }
    this._value = ta.value;
    ta.readOnly = this.doc.version === null;
  }

  /** The user changed the text: send the difference as an op. */
  _input() {
    const ta = this.textarea;
    const value = ta.value;
    if (value === this._value) return;
    if (this.doc.version === null) {
      ta.value = this._value; // not open yet: nothing may be typed
      return;
    }
    const op = diffAtCaret(this._value, value, ta.selectionEnd);
    this._value = value;
    this.doc.applyLocal(op);
    this._announce();
  }

  /** Someone else changed the text: apply `op`, moving the local selection through it. */
  _remote(op) {
    // "beforechange" already turned any unsent input into an op, so the textarea still shows
    // the text `op` applies to, and its selection is in that text's coordinates.
    const ta = this.textarea;
    const [anchor, head] = selectionOf(ta);
    const scrollTop = ta.scrollTop;
    ta.value = this.doc.text; // resets the selection, so it is restored below
    this._value = ta.value;
    ta.readOnly = false;
    select(ta, [transformIndex(anchor, op), transformIndex(head, op)]);
    ta.scrollTop = scrollTop;
  }

  _announce(force = false) {
    if (this.doc.version === null) return;
    const selection = selectionOf(this.textarea);
    const last = this._announced;
    if (!force && last && last[0] === selection[0] && last[1] === selection[1]) return;
    this._announced = selection;
    this.doc.setPresence(selection, this.info);
  }
}
