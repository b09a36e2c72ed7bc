// The "Visitors online" table: one row per visitor, keyed by id, newest arrivals on top.

import { contactText, duration, parseTime, str, visitOrdinal, whoLine } from "../format.js";
import { contactNodes, h, pathNode, setText, visitorText } from "./dom.js";

const isLive = (room) => room && (room.status === "active" || room.status === "closing");
const STARTING_MS = 10000; // "Starting…" gives up after this long without an answer

function chatState(visitor) {
  const room = visitor.room;
  if (!room) return { key: "browsing", text: "browsing", note: "" };
  const who = room.operator ? str(room.operator.name) : "an operator";
  const note = room.visitor_in_room ? "" : room.window_opened === false ? " (window not opened yet)" : " (left the chat window)";
  switch (room.status) {
    case "pending":
      return { key: "pending", text: "waiting in pool", note: "" };
    case "active":
      return { key: "active", text: "chatting with " + who, note };
    case "closing":
      return { key: "closing", text: "closing, " + who, note };
    default:
      return { key: "browsing", text: "browsing", note: "" };
  }
}

// dom: {body (tbody), empty, count, filter}; actions: {startChat(visitorId), openRoom(roomId)}.
export function createVisitorsView({ store, dom, actions }) {
  const rows = new Map(); // visitor id → row record
  const starting = new Map(); // visitor id → timer: a start I asked for, not answered yet
  let filterText = "";

  function buildRow(visitor) {
    const ui = { cache: {} };
    ui.title = h("span", { class: "page-title", dir: "auto" });
    ui.url = h("span", { class: "page-url" });
    ui.pageBox = h("div", { class: "page", testid: "visitor-page" }, ui.title, ui.url);
    ui.referrer = h("div", { class: "page-ref", testid: "visitor-referrer" });
    // Who they are (issue 23): device, OS, browser, language, and a returning visitor's visit count.
    ui.who = h("div", { class: "who", testid: "visitor-who" });
    ui.time = h("td", { class: "c-time num", testid: "visitor-time" });
    ui.pages = h("td", { class: "c-pages num", testid: "visitor-pages" });
    ui.chat = h("span", { class: "chat-state", testid: "visitor-chat-state" });
    ui.lost = h("span", { class: "lost-note", testid: "visitor-lost", text: "connection lost — may have left" });
    ui.lost.hidden = true;
    ui.action = h("td", { class: "c-action" });
    ui.contact = h("div", { class: "visitor-contact", testid: "visitor-contact" });
    ui.row = h(
      "tr",
      { testid: "visitor-row", dataset: { visitorId: String(visitor.id) } },
      h("td", { class: "c-id" }, "#" + visitor.id, ui.contact),
      h("td", { class: "c-page" }, ui.pageBox, ui.referrer, ui.who),
      ui.time,
      ui.pages,
      h("td", { class: "c-chat" }, ui.chat, ui.lost),
      ui.action,
    );
    updateRow(ui, visitor);
    return ui;
  }

  function updateRow(ui, visitor) {
    const c = ui.cache;
    // The name and email they left (R16).
    const contact = contactText(visitor);
    if (c.contact !== contact) {
      c.contact = contact;
      ui.contact.replaceChildren(...contactNodes(visitor));
    }
    const title = str(visitor.title);
    const url = str(visitor.url);
    const referrer = str(visitor.referrer);
    if (c.title !== title) {
      c.title = title;
      setText(ui.title, title || "(no title)");
      ui.title.classList.toggle("muted", !title);
    }
    if (c.url !== url) {
      c.url = url;
      ui.url.replaceChildren(pathNode(url, null, "url"));
    }
    if (c.referrer !== referrer) {
      c.referrer = referrer;
      ui.referrer.replaceChildren(...(referrer ? ["from ", visitorText(referrer)] : []));
      ui.referrer.title = referrer;
      ui.referrer.hidden = !referrer;
    }
    const who = whoLine(visitor);
    const returning = visitor.visits > 1 ? visitOrdinal(visitor.visits) : "";
    if (c.who !== who + "\u0000" + returning) {
      c.who = who + "\u0000" + returning;
      ui.who.replaceChildren(...(who ? [visitorText(who)] : []), ...(returning ? [h("span", { class: "returning", testid: "visitor-returning", text: returning })] : []));
      ui.who.hidden = !who && !returning;
    }
    const pages = String(Number.isFinite(visitor.pages) ? visitor.pages : "—");
    if (c.pages !== pages) {
      c.pages = pages;
      setText(ui.pages, pages);
    }
    const since = parseTime(visitor.since);
    if (c.since !== since) {
      c.since = since;
      ui.time.title = Number.isFinite(since) ? "since " + new Date(since).toLocaleTimeString() : "";
      updateClock(ui, Date.now());
    }
    const chat = chatState(visitor);
    const room = visitor.room;
    const mine = store.isMine(room) && isLive(room);
    const canStart = !room || room.status === "pending";
    const actionKey = mine ? "open:" + room.id : canStart ? (starting.has(visitor.id) ? "starting" : "start") : "none";
    if (c.chat !== chat.text + chat.note || c.chatKey !== chat.key) {
      c.chat = chat.text + chat.note;
      c.chatKey = chat.key;
      // One text for tests and screen readers; the note on its own line.
      ui.chat.replaceChildren(chat.text, ...(chat.note ? [h("span", { class: "chat-note", text: chat.note })] : []));
      ui.chat.dataset.state = chat.key;
      ui.row.dataset.chat = chat.key;
      ui.chat.dataset.inRoom = room ? String(Boolean(room.visitor_in_room)) : "";
    }
    // The last tab closed a few seconds ago and nothing came back: greyed until they do, or leave (R3).
    const lost = Boolean(visitor.lost);
    if (c.lost !== lost) {
      c.lost = lost;
      ui.row.classList.toggle("lost", lost);
      ui.lost.hidden = !lost;
      if (lost && parseTime(visitor.lost)) ui.lost.title = "since " + new Date(parseTime(visitor.lost)).toLocaleTimeString();
    }
    if (ui.row.classList.contains("mine") !== mine) ui.row.classList.toggle("mine", mine);
    if (c.action !== actionKey) {
      c.action = actionKey;
      renderAction(ui, visitor.id, actionKey, room);
    }
    applyFilter(ui, visitor);
  }

  function renderAction(ui, visitorId, key, room) {
    if (key === "none") {
      ui.action.replaceChildren();
    } else if (key.startsWith("open:")) {
      const roomId = room.id;
      ui.action.replaceChildren(
        h("button", { type: "button", class: "small ghost", testid: "open-room", text: "Open chat", onclick: () => actions.openRoom(roomId) }),
      );
    } else {
      ui.action.replaceChildren(
        h("button", {
          type: "button",
          class: "small",
          testid: "start-chat",
          text: key === "starting" ? "Starting…" : "Start chat",
          disabled: key === "starting",
          onclick: () => actions.startChat(visitorId),
        }),
      );
    }
  }

  function updateClock(ui, now) {
    const text = Number.isFinite(ui.cache.since) ? duration(now - ui.cache.since) : "—";
    if (ui.cache.time !== text) {
      ui.cache.time = text;
      ui.time.textContent = text;
    }
  }

  function applyFilter(ui, visitor) {
    let hide = false;
    if (filterText) {
      const haystack = ("#" + visitor.id + " " + str(visitor.title) + " " + str(visitor.url) + " " + contactText(visitor)).toLowerCase();
      hide = !haystack.includes(filterText);
    }
    if (ui.row.hidden !== hide) ui.row.hidden = hide;
  }

  function updateCount() {
    setText(dom.count, String(rows.size));
    // Filtered down to nothing: say so, rather than an empty table.
    let shown = rows.size;
    if (filterText) for (const ui of rows.values()) if (ui.row.hidden) shown -= 1;
    dom.empty.hidden = shown > 0;
    setText(dom.empty, rows.size ? `No visitors match “${dom.filter.value.trim()}”.` : "No visitors online right now.");
  }

  function refresh(visitorId) {
    const ui = rows.get(visitorId);
    const visitor = store.state.visitors.get(visitorId);
    if (ui && visitor) updateRow(ui, visitor);
  }

  function rebuild() {
    for (const timer of starting.values()) clearTimeout(timer);
    starting.clear();
    rows.clear();
    const fragment = document.createDocumentFragment();
    for (const visitor of store.visitorsNewestFirst()) {
      const ui = buildRow(visitor);
      rows.set(visitor.id, ui);
      fragment.append(ui.row);
    }
    dom.body.replaceChildren(fragment);
  }

  function render(changes) {
    if (changes.snapshot) {
      rebuild();
    } else {
      for (const id of changes.visitors) {
        const visitor = store.state.visitors.get(id);
        let ui = rows.get(id);
        if (!visitor) {
          if (ui) ui.row.remove();
          rows.delete(id);
          setStarting(id, false, { rerender: false });
          continue;
        }
        // Their chat state moved on: the start I asked for was answered (or overtaken).
        if (visitor.room && visitor.room.status !== "pending") setStarting(id, false, { rerender: false });
        if (ui) {
          updateRow(ui, visitor);
        } else {
          ui = buildRow(visitor);
          rows.set(id, ui);
          dom.body.prepend(ui.row); // newest arrivals on top
        }
      }
    }
    updateCount();
  }

  // The Start chat button shows "Starting…" until the answer, an error, or 10 s.
  function setStarting(visitorId, on, { rerender = true } = {}) {
    if (on) {
      clearTimeout(starting.get(visitorId));
      starting.set(
        visitorId,
        setTimeout(() => setStarting(visitorId, false), STARTING_MS),
      );
    } else {
      if (!starting.has(visitorId)) return;
      clearTimeout(starting.get(visitorId));
      starting.delete(visitorId);
    }
    if (rerender) refresh(visitorId);
  }

  function stopAllStarting() {
    for (const visitorId of [...starting.keys()]) setStarting(visitorId, false);
  }

  let filterTimer = null;
  dom.filter.addEventListener("input", () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => {
      filterText = dom.filter.value.trim().toLowerCase();
      for (const [id, ui] of rows) applyFilter(ui, store.state.visitors.get(id));
      updateCount();
    }, 120);
  });

  function tick(now) {
    for (const ui of rows.values()) updateClock(ui, now);
  }

  updateCount();
  return { render, tick, setStarting, stopAllStarting };
}
