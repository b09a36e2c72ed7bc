// views/phone.js: which pane a phone shows, the lists or my chats, after what happened.

import assert from "node:assert/strict";
import { test } from "node:test";

import { paneAfter } from "../views/phone.js";

test("the operator's choice shows that pane; anything else means the lists", () => {
  assert.equal(paneAfter("lists", { type: "show", pane: "rooms" }), "rooms");
  assert.equal(paneAfter("rooms", { type: "show", pane: "lists" }), "lists");
  assert.equal(paneAfter("rooms", { type: "show", pane: "nonsense" }), "lists");
});

test("a chat started, accepted or opened comes into view", () => {
  assert.equal(paneAfter("lists", { type: "room-opened" }), "rooms");
  assert.equal(paneAfter("rooms", { type: "room-opened" }), "rooms");
});

test("the last chat dismissed goes back to the lists; an empty My chats chosen on purpose stays", () => {
  assert.equal(paneAfter("rooms", { type: "rooms", before: 1, count: 0 }), "lists");
  assert.equal(paneAfter("rooms", { type: "rooms", before: 0, count: 0 }), "rooms");
  assert.equal(paneAfter("rooms", { type: "rooms", before: 2, count: 1 }), "rooms");
  // A chat given to me while I look at the lists does not pull me away from them.
  assert.equal(paneAfter("lists", { type: "rooms", before: 0, count: 1 }), "lists");
});

test("an event it does not know changes nothing", () => {
  assert.equal(paneAfter("rooms", { type: "tick" }), "rooms");
});
