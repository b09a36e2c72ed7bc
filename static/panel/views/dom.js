// Building nodes. Everything a visitor supplies (page URL, title, referrer, message
// bodies, names) reaches the page through textContent or a validated attribute, never
// as HTML: no view sets innerHTML. And in an element of its own with dir="auto", which
// isolates it (unicode-bidi: isolate): a right-to-left override or other bidirectional
// control in it reorders nothing around it (issue 21), and Arabic or Hebrew text reads
// in its own direction.

import { fileHref, fileSize, httpHref, linkParts, pathOf, str } from "../format.js";

// Build an element. Children that are strings become text nodes (append never parses HTML).
export function h(tag, props, ...children) {
  const node = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "testid") node.dataset.testid = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key === "text") node.textContent = String(value);
      else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
      else if (key.startsWith("aria-") || key === "role") node.setAttribute(key, String(value));
      else node[key] = value;
    }
  }
  for (const child of children) if (child !== null && child !== undefined && child !== false) node.append(child);
  return node;
}

// Visitor text inside a line of ours ("on <title>"): isolated as a <bdi>.
export const visitorText = (text, className) => h("bdi", { class: className, text });

// The name and email a visitor left (R16), each isolated: "ليلى · layla@example.com" keeps its
// order, and the separator stays between them. [] if they left none.
export function contactNodes(contact) {
  if (!contact || typeof contact !== "object") return [];
  const parts = [str(contact.name), str(contact.email)].filter(Boolean).map((text) => visitorText(text));
  return parts.flatMap((node, i) => (i ? [" · ", node] : [node]));
}

export function setText(node, text) {
  const value = String(text);
  if (node.textContent !== value) node.textContent = value;
}

// A link for http(s) URLs only; anything else is shown as text. `shown`: what the link reads
// (the path, say), the whole URL in its tooltip.
export function urlNode(value, testid, className, shown) {
  const text = str(value);
  const label = shown === undefined ? text : str(shown);
  const href = httpHref(text);
  if (!href) return h("span", { class: className, testid, title: text, dir: "auto" }, label || "—");
  const link = document.createElement("a");
  link.dir = "auto";
  link.className = className;
  if (testid) link.dataset.testid = testid;
  link.href = href;
  link.target = "_blank";
  link.rel = "noopener noreferrer";
  link.title = text;
  link.textContent = label || text;
  return link;
}

// A page's URL as the panel lists it: its path, the whole URL in the tooltip and the link.
export const pathNode = (value, testid, className) => urlNode(value, testid, className, pathOf(value));

// A message's body: its text, with the http(s) URLs in it as links to a new tab that tell the
// target nothing of us and vouch for nothing (issue 23). Only those: the rest stays text.
export function linkedText(value) {
  return linkParts(str(value)).map((part) => {
    if (!part.href) return part.text;
    const link = h("a", { href: part.href, target: "_blank", class: "msg-link", text: part.text });
    link.rel = "noopener noreferrer nofollow ugc";
    return link;
  });
}

// The file a message carries (issue 23): an image as its thumbnail, which opens the full image in
// a new tab; anything else as a chip with its name and size that downloads it. Links only to the
// server's own signed /files/ paths (format.fileHref); the name is text.
const THUMB_SIZE = 320;
export function fileNode(file) {
  if (!file || typeof file !== "object") return null;
  const name = str(file.name) || "file";
  const size = fileSize(file.size);
  const href = fileHref(file.url);
  const thumb = fileHref(file.thumb);
  const link = (className, testid, ...children) => {
    if (!href) return h("span", { class: className, testid }, ...children);
    const a = h("a", { class: className, testid, href, target: "_blank", title: size ? name + " · " + size : name }, ...children);
    a.rel = "noopener noreferrer";
    return a;
  };
  if (file.image === true && thumb) {
    const img = h("img", { class: "msg-thumb", testid: "message-thumb", src: thumb, alt: name, loading: "lazy", decoding: "async" });
    const width = Number(file.width);
    const height = Number(file.height);
    if (width > 0 && height > 0) {
      // Its box from the start: the transcript does not jump when it loads.
      const scale = Math.min(1, THUMB_SIZE / Math.max(width, height));
      img.width = Math.max(1, Math.round(width * scale));
      img.height = Math.max(1, Math.round(height * scale));
    }
    return h("div", { class: "msg-file", testid: "message-file", dataset: { kind: "image" } }, link("msg-image", "message-image-link", img));
  }
  return h(
    "div",
    { class: "msg-file", testid: "message-file", dataset: { kind: "download" } },
    link(
      "file-chip",
      "message-file-link",
      fileBadge(name),
      h("bdi", { class: "file-name", text: name }),
      size ? h("span", { class: "file-size", text: size }) : null,
    ),
  );
}

// A file's kind at a glance: its extension in a small box ("PDF"), no icon font needed.
export function fileBadge(name) {
  const text = str(name);
  const dot = text.lastIndexOf(".");
  const extension = dot > 0 ? text.slice(dot + 1, dot + 5).toUpperCase() : "";
  return h("span", { class: "file-icon", "aria-hidden": "true", text: extension || "FILE" });
}

// A paperclip, drawn (no icon font): the composer's Attach button.
export function paperclip() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "18");
  svg.setAttribute("height", "18");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", "M16.5 6.5 8.4 14.6a2 2 0 0 0 2.8 2.8l8.1-8.1a4 4 0 0 0-5.7-5.7l-8.3 8.3a6 6 0 0 0 8.5 8.5l6.7-6.7");
  path.setAttribute("fill", "none");
  path.setAttribute("stroke", "currentColor");
  path.setAttribute("stroke-width", "2");
  path.setAttribute("stroke-linecap", "round");
  svg.append(path);
  return svg;
}
