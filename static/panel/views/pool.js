// The general pool: one item per pending room, keyed by id, oldest request first.

import { contactText, duration, messageText, parseTime, str, visitorLabel } from "../format.js";
import { t } from "../i18n.js";
import { contactNodes, h, setText, visitorText } from "./dom.js";

const ACCEPTING_MS = 10000; // "Accepting…" gives up after this long without an answer

// Why a request is back in the pool by itself (R14): its room ended with the question unanswered.
const RETURNED = {
  operator_logout: (name) => t("{name} logged out", { name }),
  operator_timeout: (name) => t("{name} lost the connection", { name }),
  operator_closed: (name) => t("{name} closed the chat", { name }),
  ended_by_admin: () => t("the chat was ended in admin"),
  banned: () => t("the visitor was blocked"),
};
export function returnedNote(returned) {
  if (!returned || typeof returned !== "object") return "";
  const say = RETURNED[returned.reason];
  const name = str(returned.operator) || t("The operator");
  return t("Unanswered: {reason}", { reason: say ? say(name) : t("the chat ended") });
}

// dom: {list, empty, count}; actions: {accept(roomId)}.
export function createPoolView({ store, dom, actions }) {
  const items = new Map(); // room id → pool item record

  function build(room) {
    const ui = {};
    ui.who = h("span", { class: "who", text: visitorLabel(room.visitor) });
    ui.wait = h("span", { class: "wait num", testid: "pool-wait" });
    ui.page = h("div", { class: "pool-page", testid: "pool-page" });
    ui.returned = h("div", { class: "pool-returned", testid: "pool-returned" });
    ui.offline = h("div", { class: "pool-offline", testid: "pool-offline" });
    ui.message = h("p", { class: "pool-message", testid: "pool-message", dir: "auto" });
    ui.accept = h("button", { type: "button", class: "primary", testid: "accept", text: t("Accept"), onclick: () => actions.accept(room.id) });
    ui.item = h(
      "li",
      { class: "pool-item", testid: "pool-item", dataset: { roomId: String(room.id), visitorId: String(room.visitor) } },
      h("div", { class: "pool-main" }, h("div", { class: "pool-line" }, ui.who, ui.wait), ui.returned, ui.offline, ui.page, ui.message),
      ui.accept,
    );
    ui.created = parseTime(room.created_at);
    items.set(room.id, ui);
    // Oldest request first: it has waited longest.
    let before = null;
    for (const [otherId, other] of items) {
      if (otherId !== room.id && other.created > ui.created && (!before || other.created < before.created)) before = other;
    }
    dom.list.insertBefore(ui.item, before ? before.item : null);
    return ui;
  }

  function update(roomId) {
    const room = store.state.rooms.get(roomId);
    const ui = items.get(roomId) || build(room);
    ui.created = parseTime(room.created_at);
    const visitor = store.state.visitors.get(room.visitor);
    const page = visitor ? str(visitor.title) || str(visitor.url) : "";
    const left = !visitor && store.state.gone.has(room.visitor);
    const key = left ? "\u0000left" : page;
    if (ui.pageKey !== key) {
      ui.pageKey = key;
      ui.page.replaceChildren(...(left ? [t("left the site")] : page ? [t("on") + " ", visitorText(page)] : []));
    }
    ui.page.title = visitor ? str(visitor.url) : "";
    setText(ui.returned, returnedNote(room.returned));
    ui.returned.hidden = !room.returned;
    // R16: asked while nobody could answer; how to reach them once they have gone.
    const contact = contactText(room.contact);
    const offlineKey = (room.offline_at ? "offline\u0000" : "") + (room.after_hours ? "hours\u0000" : "") + contact;
    if (ui.offlineKey !== offlineKey) {
      ui.offlineKey = offlineKey;
      const nodes = contactNodes(room.contact);
      const kind = room.after_hours ? t("After hours") + " · " + t("Offline request") + " · " : t("Offline request") + " · ";
      ui.offline.replaceChildren(
        ...(room.offline_at ? [kind, ...(nodes.length ? nodes : [t("no email left yet")])]
          : room.after_hours ? [t("After hours")] : nodes),
      );
    }
    ui.offline.hidden = !room.offline_at && !contact && !room.after_hours;
    ui.item.classList.toggle("offline", Boolean(room.offline_at));
    const first = store.firstVisitorMessage(roomId);
    setText(ui.message, first ? messageText(first) : t("(no message yet)"));
    ui.message.classList.toggle("muted", !first);
    updateClock(ui, Date.now());
  }

  function remove(roomId) {
    const ui = items.get(roomId);
    if (!ui) return;
    clearTimeout(ui.acceptTimer);
    ui.item.remove();
    items.delete(roomId);
  }

  function updateClock(ui, now) {
    const text = Number.isFinite(ui.created) ? t("waiting {time}", { time: duration(now - ui.created) }) : "";
    if (ui.waitText !== text) {
      ui.waitText = text;
      ui.wait.textContent = text;
    }
  }

  function renderCount() {
    dom.empty.hidden = items.size > 0;
    setText(dom.count, String(items.size));
    dom.count.classList.toggle("hot", items.size > 0);
  }

  function render(changes) {
    for (const roomId of changes.pool) {
      if (store.inPool(roomId)) update(roomId);
      else remove(roomId);
    }
    renderCount();
  }

  // The Accept button shows "Accepting…" until the answer, an error, or 10 s.
  function setAccepting(roomId, on) {
    const ui = items.get(roomId);
    if (!ui) return;
    clearTimeout(ui.acceptTimer);
    ui.accept.disabled = on;
    ui.accept.textContent = on ? t("Accepting…") : t("Accept");
    if (on) ui.acceptTimer = setTimeout(() => setAccepting(roomId, false), ACCEPTING_MS);
  }

  function stopAllAccepting() {
    for (const roomId of items.keys()) setAccepting(roomId, false);
  }

  function tick(now) {
    for (const ui of items.values()) updateClock(ui, now);
  }

  renderCount();
  return { render, tick, setAccepting, stopAllAccepting, get size() {
    return items.size;
  } };
}
