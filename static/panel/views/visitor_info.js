// Who the visitor is (issue 23): the side panel beside a room's transcript. Read from the REST
// API (GET /api/visitors/{id}/) when the room opens and again after the visitor's page events,
// never from the socket: the page trail, the landing page and the note are one visitor's, not
// every panel's on every page event. The operators' note is written with PATCH.
//
// Everything here but our own labels is the visitor's (or a colleague's) text: textContent only.

import { clockTime, dayOf, duration, parseTime, str, visitOrdinal, whoLine } from "../format.js";
import { t } from "../i18n.js";
import { h, pathNode, setText, urlNode, visitorText } from "./dom.js";

const REFRESH_MS = 1500; // page events closer together than this cost one read
const UTM = ["source", "medium", "campaign", "term", "content"];

// fetchJson(method, url, body) as panel.js gives it; noteLength: the server's limit, if known;
// block(visitorId): the operator asks to block the visitor (issue 25: panel.js asks why first).
export function createVisitorInfo({ fetchJson, noteLength = () => 0, block = null }) {
  // One per room tab: {node, visitorId, ...}.
  return function infoFor(visitorId) {
    const ui = { visitorId, detail: null, timer: null, loading: null, dirty: false };
    const rows = {};
    const list = h("dl", { class: "info-list" });
    for (const [key, label] of [
      ["who", t("Device")],
      ["visits", t("Visits")],
      ["time", t("On site")],
      ["landing", t("Landed on")],
      ["referrer", t("Came from")],
      ["utm", t("Campaign")],
    ]) {
      rows[key] = h("dd", { testid: "info-" + key });
      list.append(h("dt", { text: label }), rows[key]);
    }
    ui.name = h("div", { class: "info-name", testid: "info-name", dir: "auto", hidden: true });
    ui.email = h("div", { class: "info-email", testid: "info-email", dir: "auto", hidden: true });
    // Issue 25: the site's server vouched for who this is (identify() with the id's signature).
    ui.externalId = h("bdi", { class: "info-external-id", testid: "info-external-id" });
    ui.verified = h(
      "div",
      { class: "info-verified", testid: "info-verified", hidden: true, title: t("The site's server vouched for this visitor's account") },
      h("span", { class: "badge verified", text: t("Verified") }),
      " ",
      ui.externalId,
    );
    // What the site's own code said of them (setAttributes, track): the visitor's browser sends
    // these, so they are text like the rest.
    ui.attributes = h("dl", { class: "info-list info-attributes", testid: "info-attributes" });
    ui.attributesHead = h("h4", { text: t("Attributes") });
    ui.events = h("ol", { class: "trail info-events", testid: "info-events", "aria-label": "Events the site tracked, newest first" });
    ui.eventsHead = h("h4", { text: t("Events") });
    ui.error = h("p", { class: "info-error", testid: "info-error", role: "alert", hidden: true });

    ui.note = h("textarea", { class: "note-input", testid: "visitor-note", rows: 3, placeholder: t("A note for your colleagues…"), "aria-label": t("Note on this visitor") });
    ui.noteSave = h("button", { type: "submit", class: "small", testid: "save-note", text: t("Save note"), disabled: true });
    ui.noteBy = h("span", { class: "note-by", testid: "note-by" });
    ui.noteForm = h("form", { class: "note-form" }, ui.note, h("div", { class: "note-foot" }, ui.noteBy, ui.noteSave));
    ui.note.addEventListener("input", () => {
      ui.dirty = true;
      ui.noteSave.disabled = false;
    });
    ui.noteForm.addEventListener("submit", (event) => {
      event.preventDefault();
      saveNote();
    });

    ui.trail = h("ol", { class: "trail", testid: "trail", "aria-label": t("Pages of this visit, newest first") });
    ui.node = h(
      "aside",
      { class: "visitor-info", testid: "visitor-info", "aria-label": t("About the visitor") },
      ui.name,
      ui.email,
      ui.verified,
      ui.error,
      list,
      ui.attributesHead,
      ui.attributes,
      ui.eventsHead,
      ui.events,
      h("h4", { text: t("Note") }),
      ui.noteForm,
      h("h4", { text: t("Pages this visit") }),
      ui.trail,
    );
    if (block) {
      const button = h("button", { type: "button", class: "small ghost info-block", testid: "block-visitor", text: t("Block visitor…") });
      button.addEventListener("click", () => block(visitorId));
      ui.node.append(button);
    }

    function render(detail) {
      ui.detail = detail;
      ui.error.hidden = true;
      // Name and email, once the visitor gives them (issue 23's `details`): shown when the server sends them.
      for (const [node, value] of [[ui.name, detail.name], [ui.email, detail.email]]) {
        const text = typeof value === "string" ? value : "";
        setText(node, text);
        node.hidden = !text;
      }
      setText(ui.externalId, detail.verified && detail.external_id ? str(detail.external_id) : "");
      ui.verified.hidden = !detail.verified;
      renderSiteSaid(detail);
      const who = whoLine(detail);
      setText(rows.who, who || t("unknown"));
      const first = clockDate(detail.first_seen);
      setText(rows.visits, (visitOrdinal(detail.visits) || "—") + (detail.visits > 1 && first ? " " + t("(first {date})", { date: first }) : ""));
      tick(Date.now());
      rows.landing.replaceChildren(detail.landing_url ? pathNode(detail.landing_url, "info-landing-link", "url") : "—");
      rows.referrer.replaceChildren(detail.landing_referrer ? urlNode(detail.landing_referrer, null, "url") : t("direct"));
      const utm = detail.utm || {};
      const parts = UTM.filter((key) => str(utm[key])).map((key) => h("span", { class: "utm", dataset: { utm: key } }, key + ": ", visitorText(str(utm[key]))));
      rows.utm.replaceChildren(...(parts.length ? parts : ["—"]));
      if (!ui.dirty) ui.note.value = str(detail.note);
      const max = noteLength();
      if (max) ui.note.maxLength = max;
      setText(ui.noteBy, detail.note_by ? t("by {name}", { name: str(detail.note_by) }) + (detail.note_at ? ", " + clockDate(detail.note_at) : "") : "");
      ui.trail.replaceChildren(
        ...(detail.trail || []).map((page) =>
          h(
            "li",
            { class: "trail-item", testid: "trail-item" },
            h("time", { class: "trail-at num", text: clockTime(page.at), dateTime: str(page.at) }),
            pathNode(page.url, "trail-url", "url"),
            ...(page.title ? [h("span", { class: "trail-title", dir: "auto", text: str(page.title) })] : []),
          ),
        ),
      );
    }

    function renderSiteSaid(detail) {
      const attributes = detail.attributes && typeof detail.attributes === "object" ? Object.entries(detail.attributes) : [];
      ui.attributes.replaceChildren(
        ...attributes.flatMap(([key, value]) => [
          h("dt", { dir: "auto", text: key }),
          h("dd", { dir: "auto", text: typeof value === "string" ? value : JSON.stringify(value) }),
        ]),
      );
      ui.attributes.hidden = ui.attributesHead.hidden = !attributes.length;
      const events = Array.isArray(detail.events) ? detail.events.slice().reverse() : [];
      ui.events.replaceChildren(
        ...events.map((event) =>
          h(
            "li",
            { class: "trail-item", testid: "info-event" },
            h("time", { class: "trail-at num", text: clockTime(event.at), dateTime: str(event.at) }),
            h("span", { class: "event-name", dir: "auto", text: str(event.name) }),
          ),
        ),
      );
      ui.events.hidden = ui.eventsHead.hidden = !events.length;
    }

    function tick(now) {
      const since = parseTime(ui.detail && ui.detail.since);
      setText(rows.time, Number.isFinite(since) && ui.detail.online ? duration(now - since) : ui.detail && !ui.detail.online ? t("left the site") : "—");
    }

    async function load() {
      if (ui.loading) return ui.loading;
      ui.loading = fetchJson("GET", `/api/visitors/${visitorId}/`)
        .then((detail) => detail && render(detail))
        .catch((error) => showError(error))
        .finally(() => (ui.loading = null));
      return ui.loading;
    }

    // Page events come in bursts (a single-page app, a visitor clicking around): one read for them.
    function refresh() {
      if (ui.timer) return;
      ui.timer = setTimeout(() => {
        ui.timer = null;
        load();
      }, REFRESH_MS);
    }

    async function saveNote() {
      ui.noteSave.disabled = true;
      try {
        const detail = await fetchJson("PATCH", `/api/visitors/${visitorId}/`, { note: ui.note.value });
        ui.dirty = false;
        render(detail);
      } catch (error) {
        ui.noteSave.disabled = false;
        showError(error);
      }
    }

    function showError(error) {
      const detail = error && error.detail ? str(error.detail) : "";
      setText(ui.error, detail ? t("Could not do that: {detail}", { detail }) : t("Could not read the visitor's details."));
      ui.error.hidden = false;
    }

    function stop() {
      clearTimeout(ui.timer);
      ui.timer = null;
    }

    return { node: ui.node, load, refresh, tick, stop };
  };
}

function clockDate(iso) {
  const ms = parseTime(iso);
  if (!Number.isFinite(ms)) return "";
  const date = new Date(ms);
  return date.toDateString() === new Date().toDateString() ? clockTime(iso) : dayOf(ms);
}
