// format.js: what becomes a link, and how times read.

import assert from "node:assert/strict";
import { test } from "node:test";

import { countdown, duration, fileHref, fileSize, httpHref, linkParts, messageText, parseTime, pathOf, str, visitOrdinal, whoLine } from "../format.js";

test("only http and https URLs become links", () => {
  assert.equal(httpHref("https://shop.example/a?b=1"), "https://shop.example/a?b=1");
  assert.equal(httpHref("http://shop.example"), "http://shop.example/");
  for (const value of ["javascript:alert(1)//http://x/", "JavaScript:alert(1)", "data:text/html,<b>", "/relative", "", null, 42]) {
    assert.equal(httpHref(value), null, String(value));
  }
});

test("times from Python, with microseconds, parse", () => {
  assert.equal(parseTime("2026-11-26T10:52:21.211458+00:00"), Date.UTC(2026, 10, 26, 10, 52, 21, 211));
  assert.ok(Number.isNaN(parseTime("")));
  assert.ok(Number.isNaN(parseTime(null)));
});

test("durations and countdowns read as the panel shows them", () => {
  assert.equal(duration(59_999), "59 s");
  assert.equal(duration(60_000), "1 min");
  assert.equal(duration(2 * 3600_000 + 5 * 60_000), "2 h 05 m");
  assert.equal(duration(-5), "0 s");
  assert.equal(duration(NaN), "—");
  assert.equal(countdown(61_000), "1:01");
  assert.equal(countdown(500), "0:01");
});

test("str shows nothing for null and undefined", () => {
  assert.equal(str(null), "");
  assert.equal(str(undefined), "");
  assert.equal(str(7), "7");
});

test("http(s) URLs in a message become links, punctuation after them does not, nothing else does", () => {
  assert.deepEqual(linkParts("See https://shop.example/boots?size=42. Or (https://shop.example/b_(x)) now!"), [
    { text: "See " },
    { text: "https://shop.example/boots?size=42", href: "https://shop.example/boots?size=42" },
    { text: ". Or (" },
    { text: "https://shop.example/b_(x)", href: "https://shop.example/b_(x)" },
    { text: ") now!" },
  ]);
  for (const text of ["javascript:alert(1)", "www.shop.example", "ftp://shop.example/x", "mailto:a@b.c", "<a href=x>y</a>", "data:text/html,hi"]) {
    assert.deepEqual(linkParts(text), [{ text }], text);
  }
  assert.deepEqual(linkParts("HTTPS://SHOP.EXAMPLE/A"), [{ text: "HTTPS://SHOP.EXAMPLE/A", href: "https://shop.example/A" }]);
  assert.deepEqual(linkParts(""), []);
});

test("a page's URL shows as its path, not the host (issue 23)", () => {
  assert.equal(pathOf("https://shop.example/boots?size=42#reviews"), "/boots?size=42#reviews");
  assert.equal(pathOf("http://shop.example"), "/");
  assert.equal(pathOf("javascript:alert(1)"), "javascript:alert(1)");
  assert.equal(pathOf("not a url"), "not a url");
  assert.equal(pathOf(null), "");
});

test("who the visitor is reads as one line, and returning visitors their visit", () => {
  assert.equal(whoLine({ device: "phone", os: "iOS 17.5", browser: "Mobile Safari 17", language: "de-CH" }), "Phone · iOS 17.5 · Mobile Safari 17 · de-CH");
  assert.equal(whoLine({ device: "", os: "", browser: "curl 8", language: "" }), "curl 8");
  assert.equal(whoLine({ device: "<b>x</b>" }), "");
  assert.equal(visitOrdinal(1), "1st visit");
  assert.equal(visitOrdinal(2), "2nd visit");
  assert.equal(visitOrdinal(3), "3rd visit");
  assert.equal(visitOrdinal(11), "11th visit");
  assert.equal(visitOrdinal(22), "22nd visit");
  assert.equal(visitOrdinal(0), "");
});

test("a file's link is only ever the server's own signed path (issue 23)", () => {
  assert.equal(fileHref("/files/12:1tAbC:x_y-Z/"), "/files/12:1tAbC:x_y-Z/");
  assert.equal(fileHref("/files/12:1tAbC:x_y-Z/thumb/"), "/files/12:1tAbC:x_y-Z/thumb/");
  for (const value of ["javascript:alert(1)", "https://evil.example/files/1/", "//evil.example/files/1/", "/files/../admin/", "/files/a b/", "/api/rooms/", null, 42]) {
    assert.equal(fileHref(value), null, String(value));
  }
});

test("file sizes and file-only messages read as the panel shows them", () => {
  assert.equal(fileSize(1), "1 byte");
  assert.equal(fileSize(812), "812 bytes");
  assert.equal(fileSize(14_200), "14 KB");
  assert.equal(fileSize(2_400_000), "2.4 MB");
  assert.equal(fileSize(12_600_000), "13 MB");
  assert.equal(fileSize(undefined), "");
  assert.equal(messageText({ body: "Here", file: { name: "a.pdf" } }), "Here");
  assert.equal(messageText({ body: "", file: { name: "a.pdf", image: false } }), "File: a.pdf");
  assert.equal(messageText({ body: "", file: { name: "cat.png", image: true } }), "Image: cat.png");
  assert.equal(messageText({ body: "Hi", file: null }), "Hi");
});
