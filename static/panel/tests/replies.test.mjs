// replies.js: which canned replies "/" and a few letters offer, and their placeholders filled in.

import assert from "node:assert/strict";
import { test } from "node:test";

import { fillReply, matchReplies, typedShortcut } from "../replies.js";

const REPLIES = [
  { id: 1, shortcut: "shipping", body: "We ship in two days.", uses: 9 },
  { id: 2, shortcut: "hi", body: "Hi {visitor.name}, {operator.name} here.", uses: 5 },
  { id: 3, shortcut: "free-shipping", body: "Free over 50 €.", uses: 1 },
];

test("shortcuts starting with the letters come first, then those containing them, in the server's order", () => {
  assert.deepEqual(matchReplies(REPLIES, "sh").map((r) => r.id), [1, 3]);
  assert.deepEqual(matchReplies(REPLIES, "SHIP").map((r) => r.id), [1, 3]);
  assert.deepEqual(matchReplies(REPLIES, "").map((r) => r.id), [1, 2, 3]);
  assert.deepEqual(matchReplies(REPLIES, "zz"), []);
});

test("only '/' and a shortcut's letters ask for replies", () => {
  assert.equal(typedShortcut("/"), "");
  assert.equal(typedShortcut("/ship"), "ship");
  assert.equal(typedShortcut("/free-sh"), "free-sh");
  for (const value of ["ship", "/ship it", "a /ship", "/ship\n", "//"]) assert.equal(typedShortcut(value), null, value);
});

test("placeholders are filled in, and an unknown value reads as a word, never as braces", () => {
  assert.equal(fillReply(REPLIES[1].body, { visitor: "Linda", operator: "Peter" }), "Hi Linda, Peter here.");
  assert.equal(fillReply(REPLIES[1].body, { operator: "Peter" }), "Hi there, Peter here.");
  assert.equal(fillReply("About {page.title}: {other}", { page: "Trail shoes" }), "About Trail shoes: {other}");
});
