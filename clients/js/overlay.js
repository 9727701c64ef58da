/**
 * Draws other people's carets and selections over a `<textarea>` bound to a `CoDocument`: a
 * transparent mirror of the textarea's text, laid out with the same font, padding and wrapping,
 * in which each remote cursor is a coloured bar with a name flag and each selection a tint.
 * Needs the DOM; the textarea's parent must be positioned (e.g. `position: relative`).
 */

import { toUtf16 } from "./unicode.js";

const COPIED_STYLES = [
  "fontFamily", "fontSize", "fontWeight", "fontStyle", "fontVariant", "fontFeatureSettings",
  "letterSpacing", "wordSpacing", "lineHeight", "textIndent", "textTransform", "tabSize",
  "paddingTop", "paddingRight", "paddingBottom", "paddingLeft", "direction",
];

// Zero width and no line break opportunity, so a caret never changes where lines wrap.
const WORD_JOINER = "\u2060";

/** A stable colour for a client that announced none. */
export function colorFor(key) {
  let hash = 0;
  for (let i = 0; i < key.length; i++) hash = (hash * 31 + key.charCodeAt(i)) >>> 0;
  return `hsl(${hash % 360} 70% 45%)`;
}

/** The name and colour to show for a presence entry. */
export function describe(presence) {
  const info = presence.info ?? {};
  const name = typeof info.name === "string" && info.name.trim() ? info.name.trim() : null;
  const color = typeof info.color === "string" && /^#[0-9a-f]{6}$/i.test(info.color) ? info.color : null;
  return {
    name: (name ?? presence.user ?? presence.client).slice(0, 40),
    color: color ?? colorFor(presence.client),
  };
}

export class CursorOverlay {
  constructor(textarea, doc) {
    this.textarea = textarea;
    this.doc = doc;
    const mirror = textarea.ownerDocument.createElement("div");
    mirror.className = "coedit-overlay";
    mirror.setAttribute("aria-hidden", "true");
    Object.assign(mirror.style, {
      position: "absolute", pointerEvents: "none", overflow: "hidden", boxSizing: "border-box",
      whiteSpace: "pre-wrap", overflowWrap: "break-word", wordBreak: "normal",
      color: "transparent", margin: "0", border: "0", zIndex: "1",
    });
    textarea.insertAdjacentElement("afterend", mirror);
    this.mirror = mirror;
    this._frame = 0;
    this._listeners = [];
    const render = () => this.scheduleRender();
    for (const type of ["presence", "change", "status"]) this._on(doc, type, render);
    this._on(textarea, "input", render);
    this._on(textarea, "scroll", () => this._scroll());
    this._resize = new ResizeObserver(render);
    this._resize.observe(textarea);
    textarea.ownerDocument.fonts?.ready.then(render); // web fonts change where lines wrap
    this.render();
  }

  destroy() {
    for (const [target, type, listener] of this._listeners) target.removeEventListener(type, listener);
    this._resize.disconnect();
    cancelAnimationFrame(this._frame);
    this.mirror.remove();
  }

  /** Render at the next animation frame (many events may arrive in one frame). */
  scheduleRender() {
    if (this._frame) return;
    this._frame = requestAnimationFrame(() => {
      this._frame = 0;
      this.render();
    });
  }

  render() {
    if (!this.doc.presence.size) {
      this.mirror.replaceChildren(); // nobody else here: no need to lay the text out
      return;
    }
    this._layout();
    const text = this.textarea.value;
    const fragment = this.textarea.ownerDocument.createDocumentFragment();
    const marks = this._marks(text);
    const active = [];
    let pos = 0;
    for (const mark of marks) {
      if (mark.at > pos) this._appendText(fragment, text.slice(pos, mark.at), active);
      pos = Math.max(pos, mark.at);
      if (mark.kind === "start") active.push(mark.who);
      else if (mark.kind === "end") active.splice(active.indexOf(mark.who), 1);
      else fragment.append(this._caret(mark.who));
    }
    this._appendText(fragment, text.slice(pos), active);
    fragment.append(WORD_JOINER); // gives a trailing empty line its height
    this.mirror.replaceChildren(fragment);
    this._scroll();
  }

  /** Selection starts and ends and carets, as UTF-16 offsets into `text`, in drawing order. */
  _marks(text) {
    const marks = [];
    for (const presence of this.doc.presence.values()) {
      const who = describe(presence);
      const [anchor, head] = presence.cursor.map((i) => toUtf16(text, i));
      if (anchor !== head) {
        marks.push({ at: Math.min(anchor, head), order: 1, kind: "start", who });
        marks.push({ at: Math.max(anchor, head), order: 0, kind: "end", who });
      }
      marks.push({ at: head, order: 2, kind: "caret", who });
    }
    return marks.sort((a, b) => a.at - b.at || a.order - b.order);
  }

  _appendText(fragment, text, active) {
    if (!text) return;
    if (!active.length) {
      fragment.append(text);
      return;
    }
    const span = this.textarea.ownerDocument.createElement("span");
    span.className = "coedit-selection";
    span.style.background = `color-mix(in srgb, ${active[active.length - 1].color} 22%, transparent)`;
    span.textContent = text;
    fragment.append(span);
  }

  _caret(who) {
    const doc = this.textarea.ownerDocument;
    const caret = doc.createElement("span");
    caret.className = "coedit-caret";
    caret.style.setProperty("--coedit-color", who.color);
    Object.assign(caret.style, {
      position: "relative", borderLeft: `2px solid ${who.color}`, margin: "0 -1px",
    });
    caret.textContent = WORD_JOINER;
    const flag = doc.createElement("span");
    flag.className = "coedit-caret-label";
    flag.textContent = who.name;
    Object.assign(flag.style, {
      position: "absolute", left: "-2px", bottom: "100%", background: who.color, color: "#fff",
      whiteSpace: "nowrap",
    });
    caret.append(flag);
    return caret;
  }

  /** Cover the textarea's padding box (not its scrollbar) with the same text metrics. */
  _layout() {
    const ta = this.textarea;
    const style = getComputedStyle(ta);
    for (const name of COPIED_STYLES) this.mirror.style[name] = style[name];
    Object.assign(this.mirror.style, {
      left: `${ta.offsetLeft + ta.clientLeft}px`,
      top: `${ta.offsetTop + ta.clientTop}px`,
      width: `${ta.clientWidth}px`,
      height: `${ta.clientHeight}px`,
    });
  }

  _scroll() {
    this.mirror.scrollTop = this.textarea.scrollTop;
    this.mirror.scrollLeft = this.textarea.scrollLeft;
  }

  _on(target, type, listener) {
    target.addEventListener(type, listener);
    this._listeners.push([target, type, listener]);
  }
}
