// How the panel writes values: text, times and durations. Pure functions, no DOM,
// so Node's test runner can load them too.

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

const DEVICES = { desktop: "Desktop", phone: "Phone", tablet: "Tablet", bot: "Bot" };

// Who a visitor is, as their browser says, in one line: "Phone · iOS 17.5 · Mobile Safari 17 · de-CH".
export function whoLine(visitor) {
  if (!visitor) return "";
  const parts = [DEVICES[visitor.device] || "", str(visitor.os), str(visitor.browser), str(visitor.language)];
  return parts.filter(Boolean).join(" · ");
}

// "1st visit", "2nd visit", "11th visit"…
export function visitOrdinal(count) {
  if (!Number.isFinite(count) || count < 1) return "";
  const tens = count % 100;
  const suffix = tens >= 11 && tens <= 13 ? "th" : ["th", "st", "nd", "rd"][count % 10] || "th";
  return count + suffix + " visit";
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
  if (s < 60) return s + " s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + " min";
  return Math.floor(m / 60) + " h " + String(m % 60).padStart(2, "0") + " m";
}

export function countdown(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
}

export function clockTime(iso) {
  const ms = parseTime(iso);
  if (!Number.isFinite(ms)) return "";
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function visitorLabel(visitorId) {
  return "Visitor " + visitorId;
}

// The name and email a visitor left (R16, a room's `contact`), as one line; "" if none.
export function contactText(contact) {
  if (!contact || typeof contact !== "object") return "";
  return [str(contact.name), str(contact.email)].filter(Boolean).join(" · ");
}

// What the operator reads for each error code of the protocol (docs/protocol.md, Errors).
export const ERROR_TEXT = {
  taken: "Another operator took that request first.",
  expired: "That chat has already expired.",
  not_allowed: "That action is not allowed.",
  not_found: "That chat or visitor no longer exists.",
  unavailable: "The server is busy — please try again.",
  server_error: "Something went wrong on the server.",
  too_long: "That message is too long.",
};
