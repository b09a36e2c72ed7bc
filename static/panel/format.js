// How the panel writes values: text, times and durations. Pure functions, no DOM,
// so Node's test runner can load them too. Words through t() and n() (i18n.js); dates and times
// in the page's language (its <html lang>) and the browser's time zone.

import { locale, t } from "./i18n.js";

export const str = (value) => (typeof value === "string" ? value : value === null || value === undefined ? "" : String(value));

// Only http(s) URLs become links; anything else (javascript:, data:, junk) stays text.
export function httpHref(value) {
  if (typeof value !== "string" || !value) return null;
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

// A file's link in a message (issue 23): the server's signed path under /files/, never anything
// else (no other scheme, host or path can come out of a payload as a link or an image).
const FILE_PATH = /^\/files\/[A-Za-z0-9:_-]+\/(thumb\/)?$/;
export function fileHref(value) {
  return typeof value === "string" && FILE_PATH.test(value) ? value : null;
}

// A file's size as people read it: "812 bytes", "14 KB", "2.4 MB".
export function fileSize(bytes) {
  if (!Number.isFinite(bytes) || bytes < 0) return "";
  if (bytes < 1000) return bytes + (bytes === 1 ? " byte" : " bytes");
  if (bytes < 1000 * 1000) return Math.round(bytes / 1000) + " KB";
  const mb = bytes / (1000 * 1000);
  return (mb < 10 ? mb.toFixed(1) : String(Math.round(mb))) + " MB";
}

// A message in one line (a pool item, a notification): its text, or the file it carries.
export function messageText(m) {
  const body = str(m && m.body);
  if (body.trim() || !m || !m.file || typeof m.file !== "object") return body;
  return (m.file.image ? "Image: " : "File: ") + str(m.file.name);
}

// What the panel shows of a page's URL (issue 23): its path, query and fragment, not the host
// (every visitor of a site is on the same one). Text that is no URL is shown as it is.
export function pathOf(value) {
  const text = str(value);
  try {
    const url = new URL(text);
    if (url.protocol !== "http:" && url.protocol !== "https:") return text;
    return url.pathname + url.search + url.hash;
  } catch {
    return text;
  }
}

const DEVICES = { desktop: t("Desktop"), phone: t("Phone"), tablet: t("Tablet"), bot: t("Bot") };

// Who a visitor is, as their browser says, in one line: "Phone · iOS 17.5 · Mobile Safari 17 · de-CH".
export function whoLine(visitor) {
  if (!visitor) return "";
  const parts = [DEVICES[visitor.device] || "", str(visitor.os), str(visitor.browser), str(visitor.language)];
  return parts.filter(Boolean).join(" · ");
}

// "1st visit", "2nd visit", "11th visit"… (and "1. Besuch", "1re visite"… in other languages).
export function visitOrdinal(count) {
  if (!Number.isFinite(count) || count < 1) return "";
  if (count === 1) return t("1st visit");
  const tens = count % 100;
  const ending = tens >= 11 && tens <= 13 ? 0 : count % 10;
  if (ending === 1) return t("{count}st visit", { count });
  if (ending === 2) return t("{count}nd visit", { count });
  if (ending === 3) return t("{count}rd visit", { count });
  return t("{count}th visit", { count });
}

// A message's text cut into text and http(s) links (issue 23): a URL written in it becomes a link,
// nothing else ever does. Punctuation that ends a sentence after a URL is not part of it; a
// closing bracket is, only when the URL opened one.
const URL_IN_TEXT = /\bhttps?:\/\/[^\s<>"]+/gi;
export function linkParts(text) {
  const parts = [];
  let last = 0;
  for (const match of String(text).matchAll(URL_IN_TEXT)) {
    let url = match[0];
    for (;;) {
      const end = url.at(-1);
      if (".,;:!?'".includes(end)) url = url.slice(0, -1);
      else if (")]}".includes(end) && count(url, "([{"[")]}".indexOf(end)]) < count(url, end)) url = url.slice(0, -1);
      else break;
    }
    const href = httpHref(url);
    if (!href) continue;
    if (match.index > last) parts.push({ text: text.slice(last, match.index) });
    parts.push({ text: url, href });
    last = match.index + url.length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}
const count = (text, char) => text.split(char).length - 1;

const timeCache = new Map();
export function parseTime(iso) {
  if (typeof iso !== "string" || !iso) return NaN;
  let ms = timeCache.get(iso);
  if (ms === undefined) {
    // Python gives microseconds; keep milliseconds for every browser's parser.
    ms = Date.parse(iso.replace(/(\.\d{3})\d+/, "$1"));
    if (timeCache.size > 5000) timeCache.clear();
    timeCache.set(iso, ms);
  }
  return ms;
}

export function duration(ms) {
  if (!Number.isFinite(ms)) return "—";
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return t("{s} s", { s });
  const m = Math.floor(s / 60);
  if (m < 60) return t("{m} min", { m });
  return t("{h} h {m} m", { h: Math.floor(m / 60), m: String(m % 60).padStart(2, "0") });
}

export function countdown(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
}

export function clockTime(iso) {
  const ms = parseTime(iso);
  if (!Number.isFinite(ms)) return "";
  return new Date(ms).toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" });
}

// A moment in full (a tooltip), a date alone, a time alone, a date with a short time: the page's language.
export const fullTime = (ms) => (Number.isFinite(ms) ? new Date(ms).toLocaleString(locale) : "");
export const dayOf = (ms) => (Number.isFinite(ms) ? new Date(ms).toLocaleDateString(locale) : "");
export const timeOf = (ms) => (Number.isFinite(ms) ? new Date(ms).toLocaleTimeString(locale) : "");
export const whenOf = (ms) => (Number.isFinite(ms) ? new Date(ms).toLocaleString(locale, { dateStyle: "medium", timeStyle: "short" }) : "");

export function visitorLabel(visitorId) {
  return t("Visitor {id}", { id: visitorId });
}

// The name and email a visitor left (R16, a room's `contact`), as one line; "" if none.
export function contactText(contact) {
  if (!contact || typeof contact !== "object") return "";
  return [str(contact.name), str(contact.email)].filter(Boolean).join(" · ");
}

// What the operator reads for each error code of the protocol (docs/protocol.md, Errors).
export const ERROR_TEXT = {
  taken: t("Another operator took that request first."),
  expired: t("That chat has already expired."),
  not_allowed: t("That action is not allowed."),
  not_found: t("That chat or visitor no longer exists."),
  unavailable: t("The server is busy — please try again."),
  server_error: t("Something went wrong on the server."),
  too_long: t("That message is too long."),
};
