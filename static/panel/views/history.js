// The "History" dialog (issue 23): past conversations of my sites found by what was said in
// them or the visitor's name or email (GET /api/rooms/?q=…), and one read in full.

import { clockTime, parseTime, str, visitorLabel } from "../format.js";
import { fileNode, h, linkedText, setText } from "./dom.js";

// dom: {open (button), dialog, form, list, transcript, status}; fetchJson(method, url).
export function createHistory({ dom, fetchJson }) {
  let asked = 0; // the latest search: an older answer arriving late is dropped

  function when(iso) {
    const at = parseTime(iso);
    return Number.isFinite(at) ? new Date(at).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "";
  }

  function row(room) {
    const who = room.contact && room.contact.name ? str(room.contact.name) : visitorLabel(room.visitor);
    return h(
      "li",
      { testid: "history-item" },
      h(
        "button",
        { type: "button", class: "history-open", onclick: () => read(room) },
        h("span", { class: "history-when", text: when(room.created_at) }),
        " ",
        h("bdi", { class: "history-who", text: who }),
        " · ",
        h("span", { class: "muted", text: room.operator ? str(room.operator.name) : "nobody" }),
        room.rating ? h("span", { class: "history-rating", text: " " + "★".repeat(room.rating) }) : null,
      ),
    );
  }

  async function search(text) {
    const mine = ++asked;
    setText(dom.status, "Searching…");
    const params = new URLSearchParams({ q: text, page_size: "50" });
    for (const status of ["pending", "active", "closing", "expired"]) params.append("status", status);
    try {
      const answer = await fetchJson("GET", "/api/rooms/?" + params);
      if (mine !== asked) return;
      const rooms = (answer && answer.results) || [];
      dom.list.replaceChildren(...rooms.map(row));
      setText(dom.status, rooms.length ? (answer.count > rooms.length ? `The newest ${rooms.length} of ${answer.count}` : "") : `Nothing found for “${text}”.`);
    } catch (error) {
      if (mine === asked) setText(dom.status, (error && error.detail) || "The search failed; try again.");
    }
  }

  async function read(room) {
    dom.transcript.replaceChildren(h("p", { class: "muted", text: "Loading…" }));
    try {
      const answer = await fetchJson("GET", `/api/rooms/${room.id}/messages/?page_size=200`);
      const lines = ((answer && answer.results) || []).map((m) =>
        h(
          "li",
          { class: "history-line history-" + str(m.sender), testid: "history-line", dataset: { sender: str(m.sender) } },
          h("span", { class: "msg-time", text: clockTime(m.at) + " " }),
          h("bdi", { class: "history-name", text: (m.sender === "note" ? "Note · " : "") + str(m.name) + ": " }),
          h("span", { dir: "auto" }, ...linkedText(m.body)),
          fileNode(m.file),
        ),
      );
      dom.transcript.replaceChildren(h("ol", { class: "history-transcript" }, ...lines));
    } catch {
      dom.transcript.replaceChildren(h("p", { class: "muted", text: "Could not read this conversation." }));
    }
  }

  dom.open.addEventListener("click", () => {
    dom.dialog.showModal();
    dom.form.querySelector("input").focus();
  });
  dom.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = String(new FormData(dom.form).get("q") || "").trim();
    if (text.length >= 2) search(text);
    else setText(dom.status, "Type at least 2 characters.");
  });
}
