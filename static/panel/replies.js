// Canned replies (issue 23): "/" and a few letters in the composer offer the replies whose
// shortcut matches; the one picked replaces what was typed, its placeholders filled in.
// The list comes from the REST API (/api/replies/, the panel's session), most used first.

import { t } from "./i18n.js";

const MAX_SHOWN = 8;
const PLACEHOLDER = /\{(visitor\.name|operator\.name|page\.title)\}/g;

// The replies for what follows "/": shortcuts starting with it first, then containing it,
// each group most used first (the server's order). "" offers them all.
export function matchReplies(replies, typed) {
  const text = String(typed).toLowerCase();
  const starts = [];
  const contains = [];
  for (const reply of replies) {
    const shortcut = String(reply.shortcut).toLowerCase();
    if (shortcut.startsWith(text)) starts.push(reply);
    else if (text && shortcut.includes(text)) contains.push(reply);
  }
  return [...starts, ...contains].slice(0, MAX_SHOWN);
}

// A reply's body with {visitor.name}, {operator.name} and {page.title} filled in (an unknown
// value leaves a readable word, never the braces).
export function fillReply(body, { visitor = "", operator = "", page = "" } = {}) {
  const values = { "visitor.name": visitor || t("there"), "operator.name": operator || "", "page.title": page || t("this page") };
  return String(body).replace(PLACEHOLDER, (_, name) => values[name]);
}

// What the composer holds when it asks for a reply: "/" and a shortcut's letters, nothing else.
export function typedShortcut(value) {
  const match = /^\/([\w-]{0,40})$/.exec(value);
  return match ? match[1] : null;
}

// fetchJson(method, url, body) → parsed JSON (or null); the panel gives one with its CSRF token.
export function createReplies({ fetchJson }) {
  let replies = [];
  const listeners = new Set();
  const changed = () => listeners.forEach((listener) => listener(replies));

  return {
    get list() {
      return replies;
    },
    onChange(listener) {
      listeners.add(listener);
    },
    async load() {
      const answer = await fetchJson("GET", "/api/replies/");
      if (Array.isArray(answer)) {
        replies = answer;
        changed();
      }
    },
    async add(shortcut, body) {
      await fetchJson("POST", "/api/replies/", { shortcut, body });
      await this.load();
    },
    async remove(id) {
      await fetchJson("DELETE", `/api/replies/${id}/`);
      await this.load();
    },
    use(id) {
      fetchJson("POST", `/api/replies/${id}/use/`).catch(() => {});
    },
  };
}
