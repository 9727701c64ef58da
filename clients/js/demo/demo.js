/**
 * The demo page served at `/`: open or create a document by name, edit it with others, see
 * their cursors, the connection state and the version. Glue only: the protocol lives in
 * coedit.js, the editor binding in textarea.js, the remote cursors in overlay.js.
 */

import { CoeditClient } from "../coedit.js";
import { CursorOverlay, describe } from "../overlay.js";
import { selectionOf, TextareaBinding } from "../textarea.js";
import { codePointLength, toUtf16 } from "../unicode.js";

const DOC_ID = /^[A-Za-z0-9_:@-][A-Za-z0-9._:@-]{0,199}$/;
const RECENT_LIMIT = 8;
const PALETTE = ["#e5484d", "#f76b15", "#ffb224", "#30a46c", "#12a594", "#0090ff", "#6e56cf", "#d6409f"];
const ADJECTIVES = ["Quiet", "Brave", "Swift", "Curious", "Gentle", "Bright", "Lucky", "Calm"];
const ANIMALS = ["Otter", "Falcon", "Lynx", "Heron", "Panda", "Fox", "Koala", "Orca"];

const $ = (id) => document.getElementById(id);
const els = {
  docForm: $("doc-form"), docName: $("doc-name"), newDoc: $("new-doc"), title: $("doc-title"),
  copyLink: $("copy-link"), text: $("text"), userName: $("user-name"), userColor: $("user-color"),
  people: $("people"), peopleCount: $("people-count"), recent: $("recent"), status: $("status"),
  statusText: $("status-text"), pending: $("pending"), notice: $("notice"), version: $("version"),
  chars: $("chars"),
};

const pick = (list) => list[Math.floor(Math.random() * list.length)];

/** localStorage that degrades to memory where storage is blocked. */
const store = {
  memory: new Map(),
  get(key) {
    try {
      return localStorage.getItem(key);
    } catch {
      return this.memory.get(key) ?? null;
    }
  },
  set(key, value) {
    try {
      localStorage.setItem(key, value);
    } catch {
      this.memory.set(key, value);
    }
  },
};

function loadMe() {
  let name = store.get("coedit.name");
  if (!name) {
    name = `${pick(ADJECTIVES)} ${pick(ANIMALS)}`;
    store.set("coedit.name", name);
  }
  let color = store.get("coedit.color");
  if (!/^#[0-9a-f]{6}$/i.test(color ?? "")) {
    color = pick(PALETTE);
    store.set("coedit.color", color);
  }
  return { name, color };
}

const me = loadMe();
const wsUrl = new URL("/v1/ws", location.href);
wsUrl.protocol = wsUrl.protocol === "https:" ? "wss:" : "ws:";
// A server with authentication wants a token; this page reads one from localStorage.
const client = new CoeditClient({ url: wsUrl.href, token: () => store.get("coedit.token") });
let session = null; // {doc, binding, overlay}
let everOnline = false;

function openDocument(name) {
  if (session?.doc.id === name) return;
  if (session) {
    session.binding.destroy();
    session.overlay.destroy();
    session.doc.close();
  }
  const doc = client.open(name);
  els.text.value = "";
  const binding = new TextareaBinding(els.text, doc, { info: me });
  const overlay = new CursorOverlay(els.text, doc);
  session = { doc, binding, overlay };
  for (const type of ["status", "change"]) doc.addEventListener(type, renderStatus);
  doc.addEventListener("presence", renderPeople);
  doc.addEventListener("change", renderPeople);
  doc.addEventListener("error", (event) => notify(event.detail));
  doc.ready.then(() => {
    if (session?.doc === doc && document.activeElement === document.body) els.text.focus();
  });
  els.docName.value = name;
  els.title.textContent = name;
  document.title = `${name} · coedit`;
  if (decodeURIComponent(location.hash.slice(1)) !== name) {
    history.replaceState(null, "", `#${encodeURIComponent(name)}`);
  }
  remember(name);
  renderStatus();
  renderPeople();
}

function remember(name) {
  let recent = [];
  try {
    recent = JSON.parse(store.get("coedit.recent") ?? "[]").filter((d) => DOC_ID.test(d));
  } catch {
    // a damaged list is replaced below
  }
  recent = [name, ...recent.filter((d) => d !== name)].slice(0, RECENT_LIMIT);
  store.set("coedit.recent", JSON.stringify(recent));
  els.recent.replaceChildren(...recent.map((doc) => {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = `#${encodeURIComponent(doc)}`;
    a.textContent = doc;
    if (doc === name) a.setAttribute("aria-current", "page");
    li.append(a);
    return li;
  }));
}

// -- status bar -------------------------------------------------------------------------------

function connectionState() {
  const doc = session?.doc;
  if (client.state === "online") {
    return doc && doc.isOpen && doc.pendingCount === 0 ? "online" : "syncing";
  }
  return client.state === "connecting" && !everOnline ? "connecting" : "offline";
}

const STATE_TEXT = {
  online: "Online",
  syncing: "Syncing…",
  connecting: "Connecting…",
  offline: "Offline — reconnecting…",
};

function renderStatus() {
  const doc = session?.doc;
  const state = connectionState();
  els.status.dataset.state = state;
  els.statusText.textContent = state === "offline" && navigator.onLine === false
    ? "Offline — no network"
    : STATE_TEXT[state];
  const pending = doc ? doc.pendingCount : 0;
  els.pending.dataset.count = String(pending);
  els.pending.textContent = pending
    ? `${pending} pending ${pending === 1 ? "op" : "ops"}${state === "offline" ? " · sent when back online" : ""}`
    : state === "online" ? "All changes saved" : "";
  const version = doc?.version;
  els.version.dataset.version = version ?? "";
  els.version.textContent = `Version ${version ?? "–"}`;
  const length = doc ? codePointLength(doc.text) : 0;
  els.chars.textContent = `${length.toLocaleString()} ${length === 1 ? "character" : "characters"}`;
}

/** Show a server error in the status bar for a while (and in the console in full). */
let noticeTimer = 0;
function notify(error) {
  console.warn("coedit:", error);
  els.notice.textContent = error.message ?? String(error.code);
  els.notice.title = error.code ?? "";
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { els.notice.textContent = ""; }, 8000);
}

// -- people -----------------------------------------------------------------------------------

/** "Ln 3, Col 7" for a code point index into `text`. */
function lineAndColumn(text, index) {
  const before = text.slice(0, toUtf16(text, index));
  const lines = before.split("\n");
  return `Ln ${lines.length}, Col ${codePointLength(lines[lines.length - 1]) + 1}`;
}

/** Where a cursor is: "Ln 3, Col 7", plus the size of its selection. */
function where(text, [anchor, head]) {
  const selected = Math.abs(head - anchor);
  return lineAndColumn(text, head) + (selected ? ` · ${selected} selected` : "");
}

function personItem({ name, color }, where, isMe, client) {
  const li = document.createElement("li");
  li.className = "person";
  if (client) li.dataset.client = client;
  const avatar = document.createElement("span");
  avatar.className = "avatar";
  avatar.style.background = color;
  avatar.textContent = Array.from(name.trim())[0]?.toUpperCase() ?? "?";
  const label = document.createElement("span");
  label.className = "name";
  label.textContent = name;
  if (isMe) {
    const you = document.createElement("small");
    you.textContent = " (you)";
    label.append(you);
  }
  const position = document.createElement("span");
  position.className = "where";
  position.textContent = where;
  li.append(avatar, label, position);
  return li;
}

function renderPeople() {
  const doc = session?.doc;
  const mine = doc && doc.version !== null ? where(doc.text, selectionOf(els.text)) : "joining…";
  const items = [personItem(me, mine, true, null)];
  for (const presence of doc?.presence.values() ?? []) {
    items.push(personItem(describe(presence), where(doc.text, presence.cursor), false, presence.client));
  }
  els.people.replaceChildren(...items);
  els.peopleCount.textContent = String(items.length);
}

// -- wiring -----------------------------------------------------------------------------------

function applyMe() {
  document.documentElement.style.setProperty("--me-color", me.color);
  els.userName.value = me.name;
  els.userColor.value = me.color;
  session?.binding.setInfo({ ...me });
  renderPeople();
}

els.userName.addEventListener("change", () => {
  me.name = els.userName.value.trim().slice(0, 40) || me.name;
  store.set("coedit.name", me.name);
  applyMe();
});
els.userColor.addEventListener("input", () => {
  me.color = els.userColor.value;
  store.set("coedit.color", me.color);
  applyMe();
});

els.docForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const name = els.docName.value.trim();
  if (DOC_ID.test(name)) openDocument(name);
});
els.newDoc.addEventListener("click", () => {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  const id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  openDocument(`note-${id}`);
  els.text.focus();
});
els.copyLink.addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText(location.href);
    els.copyLink.textContent = "Link copied";
  } catch {
    els.copyLink.textContent = "Copy failed";
  }
  setTimeout(() => { els.copyLink.textContent = "Copy link"; }, 1500);
});

window.addEventListener("hashchange", () => {
  const name = decodeURIComponent(location.hash.slice(1));
  if (DOC_ID.test(name)) openDocument(name);
});
client.addEventListener("state", () => {
  if (client.state === "online") everOnline = true;
  renderStatus();
  renderPeople();
});
client.addEventListener("error", (event) => notify(event.detail));
document.addEventListener("selectionchange", () => {
  if (document.activeElement === els.text) renderPeople();
});

const initial = decodeURIComponent(location.hash.slice(1));
applyMe();
openDocument(DOC_ID.test(initial) ? initial : "welcome");

// For the console and for end-to-end tests.
window.coedit = { client, get doc() { return session?.doc; } };
