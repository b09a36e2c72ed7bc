// store.js: the panel's state from a snapshot and the events after it, applied by id.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { createStore, hasChanges } from "../store.js";

const PETER = { id: 2, name: "Peter", online: true };
const JANE = { id: 3, name: "Jane", online: true };
const LIMITS = { message_length: 4000, client_id_length: 64, history_page: 500, frame_bytes: 65536 };

const visitor = (id, fields = {}) => ({
  id,
  site: 1,
  url: "https://shop.example/" + id,
  title: "Page " + id,
  referrer: "",
  online: true,
  since: "2026-11-26T10:50:00+00:00",
  pages: 1,
  room: null,
  ...fields,
});
const room = (id, fields = {}) => ({
  id,
  site: 1,
  status: "pending",
  visitor: 7,
  operator: null,
  visitor_in_room: true,
  expires_at: null,
  reason: null,
  created_at: "2026-11-26T10:52:21.211458+00:00",
  ...fields,
});
const mine = (id, fields = {}) => room(id, { status: "active", operator: { id: PETER.id, name: PETER.name }, ...fields });
const message = (id, roomId, fields = {}) => ({ id, room: roomId, sender: "visitor", name: "", body: "message " + id, at: "2026-11-26T10:53:02+00:00", ...fields });

function snapshot(fields = {}) {
  return { type: "snapshot", operator: PETER, operators: [PETER, JANE], visitors: [], rooms: [], limits: LIMITS, ...fields };
}

function storeWith(fields) {
  const store = createStore();
  store.applySnapshot(snapshot(fields));
  return store;
}

describe("the snapshot", () => {
  test("a snapshot in parts is applied once, whole, when its last part arrives", () => {
    const store = storeWith({ visitors: [visitor(1)], rooms: [mine(11)] });
    let c = store.applyEvent({ ...snapshot({ visitors: [visitor(7)], rooms: [room(12)] }), more: true });
    assert.ok(!c.snapshot, "nothing changes on the first part");
    assert.ok(store.state.visitors.has(1) && !store.state.visitors.has(7));
    c = store.applyEvent({ type: "snapshot_more", operators: [], rooms: [mine(13, { visitor: 8 })], visitors: [visitor(8)], more: true });
    assert.ok(!c.snapshot);
    c = store.applyEvent({ type: "snapshot_more", operators: [], rooms: [], visitors: [visitor(9)], more: false });
    assert.ok(c.snapshot);
    assert.deepEqual([...store.state.visitors.keys()].sort(), [7, 8, 9], "every part's visitors, and only theirs");
    assert.ok(store.inPool(12));
    assert.ok(store.state.tabs.has(13), "a room of a later part is not taken for one that ended");
    assert.equal(store.state.rooms.get(11).status, "expired", "a room in no part has ended");
    assert.ok(!store.applyEvent({ type: "snapshot_more", visitors: [visitor(10)], more: false }).snapshot, "a part without its start is ignored");
    assert.ok(!store.state.visitors.has(10));
  });

  test("fills the state, and asks history for every room", () => {
    const store = createStore();
    const c = store.applySnapshot(
      snapshot({ visitors: [visitor(7), visitor(8, { online: false })], rooms: [room(12), mine(13, { visitor: 9 })] }),
    );
    assert.deepEqual([...store.state.visitors.keys()], [7], "visitors not online are left out");
    assert.ok(store.inPool(12));
    assert.deepEqual([...store.state.tabs], [13]);
    assert.equal(store.state.current, 13, "the first tab is in view");
    assert.deepEqual([...c.history].sort(), [12, 13]);
    assert.ok(c.snapshot);
    assert.deepEqual(store.limits, LIMITS);
    assert.ok(store.state.gone.has(7) === false);
  });

  test("a room of mine gone from a later snapshot stays as an expired tab; others go", () => {
    const store = storeWith({ visitors: [visitor(7)], rooms: [mine(13), room(12, { visitor: 8 })] });
    const c = store.applySnapshot(snapshot({ visitors: [], rooms: [] }));
    assert.equal(store.state.rooms.get(13).status, "expired");
    assert.deepEqual([...store.state.tabs], [13]);
    assert.ok(!store.state.rooms.has(12));
    assert.ok(c.pool.has(12));
    assert.ok(c.history.has(13), "the rest of its transcript is still worth reading");
    assert.ok(store.state.gone.has(7), "its visitor is no longer online: left the site");
  });

  test("a later snapshot redraws every pool item and tab, the same rooms too", () => {
    const store = storeWith({ visitors: [visitor(7)], rooms: [room(12), mine(13, { visitor: 8 })] });
    const c = store.applySnapshot(snapshot({ visitors: [visitor(7, { title: "Moved on" })], rooms: [room(12), mine(13, { visitor: 8 })] }));
    assert.deepEqual([...c.pool], [12]);
    assert.deepEqual([...c.tabs], [13]);
    assert.ok(store.state.gone.has(8), "visitor 8 is not online any more");
  });

  test("limits come from the server: unknown or bad values are ignored", () => {
    const store = storeWith({ limits: { message_length: 10, history_page: -1, frame_bytes: "big", other: 3 } });
    assert.deepEqual(store.limits, { message_length: 10 });
    const c = store.applySnapshot(snapshot({ limits: { message_length: 10, history_page: 50 } }));
    assert.ok(c.limits);
    assert.deepEqual(store.limits, { message_length: 10, history_page: 50 });
    assert.ok(!store.applySnapshot(snapshot({ limits: { message_length: 10, history_page: 50 } })).limits, "the same again: no change");
    store.applySnapshot(snapshot({ limits: { history_page: 20 } }));
    assert.deepEqual(store.limits, { history_page: 20 }, "each snapshot's limits replace the last ones");
  });
});

describe("visitors by id", () => {
  test("a visitor event adds or replaces one visitor; visitor_gone removes them", () => {
    const store = storeWith({ visitors: [visitor(7)] });
    let c = store.applyEvent({ type: "visitor", visitor: visitor(8) });
    assert.deepEqual([...c.visitors], [8]);
    c = store.applyEvent({ type: "visitor", visitor: visitor(7, { title: "Cart", pages: 2 }) });
    assert.deepEqual([...c.visitors], [7]);
    assert.equal(store.state.visitors.get(7).title, "Cart");
    assert.equal(store.state.visitors.size, 2);

    c = store.applyEvent({ type: "visitor_gone", visitor: 7 });
    assert.deepEqual([...c.visitors], [7]);
    assert.ok(!store.state.visitors.has(7));
    assert.ok(!store.state.gone.has(7), "no room needs to remember them");
    assert.ok(!hasChanges(store.applyEvent({ type: "visitor_gone", visitor: 7 })), "gone twice is gone once");
  });

  test("the same visitor event twice changes nothing the second time", () => {
    const store = storeWith({ visitors: [visitor(7)] });
    assert.ok(hasChanges(store.applyEvent({ type: "visitor", visitor: visitor(7, { pages: 2 }) })));
    assert.ok(!hasChanges(store.applyEvent({ type: "visitor", visitor: visitor(7, { pages: 2 }) })));
  });

  test("a visitor with a room on screen who leaves is remembered as gone until they return", () => {
    const store = storeWith({ visitors: [visitor(7)], rooms: [mine(13)] });
    const c = store.applyEvent({ type: "visitor_gone", visitor: 7 });
    assert.ok(store.state.gone.has(7));
    assert.ok(c.tabs.has(13), "the tab shows they left");
    store.applyEvent({ type: "visitor", visitor: visitor(7) });
    assert.ok(!store.state.gone.has(7));
  });

  test("a visitor event with online false is a visitor gone", () => {
    const store = storeWith({ visitors: [visitor(7)] });
    store.applyEvent({ type: "visitor", visitor: visitor(7, { online: false }) });
    assert.ok(!store.state.visitors.has(7));
  });

  test("a visitor whose connection was lost stays so through a room change, until a page of theirs arrives", () => {
    const store = storeWith({ visitors: [visitor(7)], rooms: [mine(13)] });
    const since = "2026-11-26T10:55:00+00:00";
    const c = store.applyEvent({ type: "visitor_lost", visitor: 7, since });
    assert.ok(c.visitors.has(7) && c.tabs.has(13), "the row and the tab show it");
    assert.equal(store.state.visitors.get(7).lost, since);
    // The operator closes the room meanwhile: the room's visitor event does not know of the connection.
    store.applyEvent({ type: "visitor", visitor: visitor(7, { room: mine(13, { status: "closing" }) }) });
    assert.equal(store.state.visitors.get(7).lost, since);
    // A page of theirs: they are back.
    store.applyEvent({ type: "visitor", visitor: visitor(7, { lost: null }) });
    assert.equal(store.state.visitors.get(7).lost, null);
    assert.ok(!hasChanges(store.applyEvent({ type: "visitor_lost", visitor: 8, since })), "an unknown visitor: nothing");
  });

  test("a snapshot carries who has lost their connection, the same as the events would", () => {
    const since = "2026-11-26T10:55:00+00:00";
    const fromEvents = storeWith({ visitors: [visitor(7), visitor(8)] });
    fromEvents.applyEvent({ type: "visitor_lost", visitor: 7, since });
    const fresh = storeWith({ visitors: [visitor(7, { lost: since }), visitor(8, { lost: null })] });
    assert.deepEqual([...fresh.state.visitors.entries()], [...fromEvents.state.visitors.entries()]);
  });

  test("a change of a pooled visitor updates their pool item", () => {
    const store = storeWith({ visitors: [visitor(7)], rooms: [room(12)] });
    const c = store.applyEvent({ type: "visitor", visitor: visitor(7, { title: "Checkout" }) });
    assert.ok(c.pool.has(12));
  });
});

describe("rooms: the pool and my tabs", () => {
  test("a new request joins the pool and alerts; the same room again does not", () => {
    const store = storeWith({});
    let c = store.applyEvent({ type: "room", room: room(12) });
    assert.ok(store.inPool(12));
    assert.deepEqual(c.alerts, [{ kind: "pool", room: 12, visitor: 7 }]);
    assert.equal(store.poolSize(), 1);
    c = store.applyEvent({ type: "room", room: room(12) });
    assert.ok(!hasChanges(c));
  });

  test("a request made outside the site's business hours joins the pool without an alert", () => {
    const store = storeWith({});
    const c = store.applyEvent({ type: "room", room: room(12, { after_hours: true }) });
    assert.ok(store.inPool(12));
    assert.deepEqual(c.alerts, []);
  });

  test("a room taken by another operator leaves the pool and this panel", () => {
    const store = storeWith({ rooms: [room(12)] });
    const c = store.applyEvent({ type: "room", room: room(12, { status: "active", operator: { id: JANE.id, name: "Jane" } }) });
    assert.ok(c.pool.has(12));
    assert.ok(!store.inPool(12));
    assert.ok(!store.state.rooms.has(12));
    assert.equal(store.poolSize(), 0);
    assert.equal(store.state.tabs.size, 0);
  });

  test("a room I accepted leaves the pool for a tab, in view when none was", () => {
    const store = storeWith({ rooms: [room(12)] });
    store.applyEvent({ type: "history", room: 12, messages: [message(1, 12)] });
    const c = store.applyEvent({ type: "room", room: mine(12) });
    assert.ok(c.pool.has(12) && !store.inPool(12));
    assert.ok(c.tabs.has(12));
    assert.ok(c.history.has(12));
    assert.equal(store.state.current, 12);
    assert.ok(c.current);
    assert.deepEqual(
      store.messagesOf(12).map((m) => m.id),
      [1],
      "messages seen in the pool are kept",
    );
  });

  test("a room expired while pooled goes", () => {
    const store = storeWith({ rooms: [room(12)] });
    store.applyEvent({ type: "room", room: room(12, { status: "expired", reason: "visitor_left" }) });
    assert.ok(!store.state.rooms.has(12));
  });

  test("expiry is final: a stale event of an expired room is ignored", () => {
    const store = storeWith({ rooms: [mine(12)] });
    store.applyEvent({ type: "room", room: mine(12, { status: "expired", reason: "operator_closed" }) });
    const c = store.applyEvent({ type: "room", room: mine(12, { status: "closing", expires_at: "2026-11-26T11:00:00+00:00" }) });
    assert.ok(!hasChanges(c));
    assert.equal(store.state.rooms.get(12).status, "expired");
  });

  test("the room answer and its group event: applied once", () => {
    const store = storeWith({ rooms: [room(12)] });
    assert.ok(hasChanges(store.applyEvent({ type: "room", room: mine(12) })));
    assert.ok(!hasChanges(store.applyEvent({ type: "room", room: mine(12) })));
  });

  test("an expired room of mine the panel never showed is not shown after a snapshot", () => {
    const store = createStore();
    store.applySnapshot(snapshot({ rooms: [mine(12, { status: "expired" })] }));
    assert.equal(store.state.tabs.size, 0);
  });

  test("dismissing a tab puts the last other tab in view", () => {
    const store = storeWith({ rooms: [mine(12), mine(13, { visitor: 8 }), mine(14, { visitor: 9 })] });
    store.selectRoom(12);
    const c = store.dismiss(12);
    assert.deepEqual([...store.state.tabs], [13, 14]);
    assert.equal(store.state.current, 14);
    assert.ok(c.current && c.tabs.has(12));
  });

  test("a refused accept drops the pool item", () => {
    const store = storeWith({ rooms: [room(12)] });
    const c = store.dropFromPool(12);
    assert.ok(c.pool.has(12));
    assert.equal(store.poolSize(), 0);
  });
});

describe("messages by id", () => {
  test("a message seen twice (event and history) is kept once", () => {
    const store = storeWith({ rooms: [mine(12)] });
    let c = store.applyEvent({ type: "message", message: message(5, 12) });
    assert.deepEqual(c.messages, [{ room: 12, id: 5 }]);
    c = store.applyEvent({ type: "history", room: 12, messages: [message(4, 12), message(5, 12), message(6, 12)] });
    assert.deepEqual(c.messages, [
      { room: 12, id: 4 },
      { room: 12, id: 6 },
    ]);
    assert.deepEqual(
      store.messagesOf(12).map((m) => m.id),
      [4, 5, 6],
    );
    assert.equal(store.historyAfter(12), 6);
  });

  test("history resumes after the last message a history answer brought, not one heard live before an earlier one", () => {
    const store = storeWith({ rooms: [mine(12)] });
    store.applyEvent({ type: "history", room: 12, messages: [message(3, 12), message(4, 12)] });
    // The visitor's 6 was published first; the operator's 5, stored before it, was published by a
    // process that was slower, or died: the socket closed before 5 came.
    store.applyEvent({ type: "message", message: message(6, 12) });
    assert.equal(store.historyAfter(12), 4);
    const c = store.applyEvent({ type: "history", room: 12, messages: [message(5, 12), message(6, 12)] });
    assert.deepEqual(c.messages, [{ room: 12, id: 5 }]);
    assert.deepEqual(
      store.messagesOf(12).map((m) => m.id),
      [3, 4, 5, 6],
    );
    assert.equal(store.historyAfter(12), 6);
  });

  test("messages of rooms this panel does not have are dropped", () => {
    const store = storeWith({});
    const c = store.applyEvent({ type: "message", message: message(5, 99) });
    assert.deepEqual(c.messages, []);
    assert.ok(!store.state.logs.has(99));
  });

  test("the first visitor message shows in the pool item", () => {
    const store = storeWith({ rooms: [room(12)] });
    const c = store.applyEvent({ type: "message", message: message(5, 12, { body: "Hi" }) });
    assert.ok(c.pool.has(12));
    store.applyEvent({ type: "message", message: message(3, 12, { body: "First" }) });
    assert.equal(store.firstVisitorMessage(12).body, "First");
  });

  test("a new chat with a visitor whose ended chat is still on screen takes its tab: one tab per visitor", () => {
    const store = storeWith({ rooms: [mine(12, { visitor: 7 })] });
    store.applyEvent({ type: "room", room: mine(12, { visitor: 7, status: "expired", reason: "operator_closed" }) });
    assert.deepEqual([...store.state.tabs], [12], "the ended chat stays until dismissed");
    store.applyEvent({ type: "room", room: mine(15, { visitor: 7 }) });
    assert.deepEqual([...store.state.tabs], [15]);
    store.applyEvent({ type: "room", room: mine(16, { visitor: 8 }) });
    assert.deepEqual([...store.state.tabs], [15, 16], "other visitors' tabs stay");
  });

  test("a request back in the pool (R14) reads the conversation before it, shown in its own log (R15)", () => {
    const store = storeWith({ rooms: [] });
    let c = store.applyEvent({ type: "room", room: room(20, { returned: { reason: "operator_logout", operator: "Jane" } }) });
    assert.ok(c.history.has(20), "its history is asked for at once: the pool item shows the question");
    c = store.applyEvent({
      type: "history",
      room: 20,
      messages: [message(3, 11, { body: "Blue?" }), message(4, 11, { sender: "operator", body: "Yes" }), message(5, 11, { body: "And 42?" })],
      more: false,
    });
    assert.deepEqual([...store.messagesOf(20)].map((m) => m.id), [3, 4, 5], "the earlier room's messages, in this room's log");
    assert.equal(store.firstVisitorMessage(20).body, "And 42?", "the question left unanswered");
    assert.equal(store.historyAfter(20), 5);
  });

  test("a history answer that says there is more asks for the next one; the last one does not", () => {
    const store = storeWith({ rooms: [mine(12)] });
    let c = store.applyEvent({ type: "history", room: 12, messages: [1, 2, 3].map((id) => message(id, 12)), more: true });
    assert.ok(c.history.has(12));
    assert.equal(store.historyAfter(12), 3, "the next one starts after the last message received");
    c = store.applyEvent({ type: "history", room: 12, messages: [message(4, 12)], more: false });
    assert.ok(!c.history.has(12));
  });

  test("the visitor's name comes from their messages", () => {
    const store = storeWith({ rooms: [mine(12)] });
    store.applyEvent({ type: "message", message: message(5, 12, { name: "Linda" }) });
    assert.equal(store.visitorName(12), "Linda");
  });
});

describe("unread counts", () => {
  test("a visitor's message in a tab not in view is unread until that tab is", () => {
    const store = storeWith({ rooms: [mine(12), mine(13, { visitor: 8 })] });
    assert.equal(store.state.current, 12);
    const c = store.applyEvent({ type: "message", message: message(5, 13) });
    assert.ok(c.unread.has(13));
    store.applyEvent({ type: "message", message: message(6, 13) });
    assert.equal(store.state.unread.get(13), 2);
    store.applyEvent({ type: "message", message: message(7, 12) });
    assert.equal(store.state.unread.get(12), undefined, "the tab in view is read");
    assert.equal(store.unreadTotal(), 2);

    const selected = store.selectRoom(13);
    assert.ok(selected.unread.has(13));
    assert.equal(store.unreadTotal(), 0);
  });

  test("my own messages and system messages are never unread", () => {
    const store = storeWith({ rooms: [mine(12), mine(13, { visitor: 8 })] });
    store.applyEvent({ type: "message", message: message(5, 13, { sender: "operator", name: "Peter" }) });
    store.applyEvent({ type: "message", message: message(6, 13, { sender: "system" }) });
    assert.equal(store.unreadTotal(), 0);
  });

  test("system lines (R15) are shown but never unread, never alert, never the visitor's words", () => {
    const store = storeWith({ rooms: [mine(12), mine(13, { visitor: 8 }), room(14, { visitor: 9 })] });
    store.setVisible(false);
    const line = (id, roomId, event, body, name = "Peter") => message(id, roomId, { sender: "system", event, name, body, client_id: null });
    // Live, in a tab not in view and in the one in view with the page hidden: all would be unread if they counted.
    for (const [id, roomId, event, body, name] of [
      [5, 13, "window_closed", "The visitor closed the chat window", "Visitor 8"],
      [6, 13, "left_site", "The visitor left the site", "Visitor 8"],
      [7, 12, "closed", "Peter closed the chat"],
      [8, 14, "window_opened", "The visitor opened the chat window", "Visitor 9"],
    ]) {
      const c = store.applyEvent({ type: "message", message: line(id, roomId, event, body, name) });
      assert.deepEqual(c.alerts, [], event + " plays no sound and shows no notification");
      assert.equal(c.unread.size, 0, event);
    }
    // A later history page brings them too (after the first, what it brings would be unread).
    store.applyEvent({ type: "history", room: 13, messages: [], more: false });
    store.applyEvent({ type: "history", room: 13, messages: [line(9, 13, "reopened", "Peter reopened the chat")], more: false });
    assert.equal(store.unreadTotal(), 0);
    assert.deepEqual(store.messagesOf(13).map((m) => m.event), ["window_closed", "left_site", "reopened"], "shown in the transcript, in order");
    assert.equal(store.historyAfter(13), 9, "history resumes after them");
    assert.equal(store.visitorName(13), "", "a line about the visitor does not name them");
    assert.equal(store.firstVisitorMessage(14), null, "a pool item's question is the visitor's, not a system line");
    // The visitor's own message still counts.
    store.applyEvent({ type: "message", message: message(10, 13) });
    assert.equal(store.state.unread.get(13), 1);
  });

  test("while the page is hidden the tab in view collects unread too, cleared when visible", () => {
    const store = storeWith({ rooms: [mine(12)] });
    store.setVisible(false);
    const c = store.applyEvent({ type: "message", message: message(5, 12) });
    assert.equal(store.state.unread.get(12), 1);
    assert.deepEqual(c.alerts, [{ kind: "message", room: 12, message: message(5, 12), inView: false }]);
    store.setVisible(true);
    assert.equal(store.unreadTotal(), 0);
  });

  test("the first history of a room is not unread; what a later one brings is", () => {
    const store = storeWith({ rooms: [mine(12), mine(13, { visitor: 8 })] });
    let c = store.applyEvent({ type: "history", room: 13, messages: [message(1, 13), message(2, 13)] });
    assert.equal(store.unreadTotal(), 0);
    assert.deepEqual(c.alerts, [], "history never alerts");
    c = store.applyEvent({ type: "history", room: 13, messages: [message(3, 13)] });
    assert.equal(store.state.unread.get(13), 1);
    assert.deepEqual(c.alerts, []);
  });

  test("a room forgotten takes its unread count with it", () => {
    const store = storeWith({ rooms: [mine(12), mine(13, { visitor: 8 })] });
    store.applyEvent({ type: "message", message: message(5, 13) });
    store.applyEvent({ type: "room", room: mine(13, { visitor: 8, status: "expired", reason: "visitor_left" }) });
    const c = store.dismiss(13);
    assert.ok(c.unread.has(13));
    assert.equal(store.unreadTotal(), 0);
  });
});

describe("my messages until their ack", () => {
  function withPending() {
    const store = storeWith({ rooms: [mine(12)] });
    const c = store.addPending({ room: 12, body: "Hello", clientId: "c-1", at: "2026-11-26T10:54:00Z" });
    assert.deepEqual([...c.pending], ["c-1"]);
    return store;
  }

  test("the ack replaces the pending message by client_id", () => {
    const store = withPending();
    assert.deepEqual(store.messageFrame("c-1"), { type: "message", room: 12, body: "Hello", client_id: "c-1" });
    const c = store.applyEvent({ type: "ack", client_id: "c-1", id: 301 });
    assert.ok(c.pending.has("c-1"));
    assert.ok(!store.state.pending.has("c-1"));
    assert.deepEqual(c.messages, [{ room: 12, id: 301 }]);
    const stored = store.state.logs.get(12).messages.get(301);
    assert.equal(stored.body, "Hello");
    assert.equal(stored.name, "Peter");
    assert.equal(store.historyAfter(12), 0, "an ack does not move where history resumes: an earlier message may be on its way");
  });

  test("the stored message first, then its ack: one message", () => {
    const store = withPending();
    let c = store.applyEvent({ type: "message", message: message(301, 12, { sender: "operator", name: "Peter", body: "Hello", client_id: "c-1" }) });
    assert.ok(c.pending.has("c-1"));
    c = store.applyEvent({ type: "ack", client_id: "c-1", id: 301 });
    assert.ok(!hasChanges(c));
    assert.equal(store.messagesOf(12).length, 1);
  });

  test("an ack for another client_id leaves mine pending", () => {
    const store = withPending();
    store.applyEvent({ type: "ack", client_id: "c-2", id: 302 });
    assert.ok(store.state.pending.has("c-1"));
  });

  test("an error naming my client_id marks that message failed; resending makes it pending again", () => {
    const store = withPending();
    store.addPending({ room: 12, body: "Second", clientId: "c-2", at: "2026-11-26T10:54:01Z" });
    const c = store.applyEvent({ type: "error", code: "unavailable", for: "message", room: 12, client_id: "c-2" });
    assert.deepEqual([...c.pending], ["c-2"]);
    assert.equal(store.state.pending.get("c-2").state, "failed");
    assert.equal(store.state.pending.get("c-2").error, "unavailable");
    assert.equal(store.state.pending.get("c-1").state, "sending");
    store.resending("c-2");
    assert.equal(store.state.pending.get("c-2").state, "sending");
  });

  test("after a reconnect the snapshot sends pending messages again, or fails those whose chat ended", () => {
    const store = storeWith({ rooms: [mine(12), mine(13, { visitor: 8 })] });
    store.addPending({ room: 12, body: "still on", clientId: "c-1", at: "x" });
    store.addPending({ room: 13, body: "too late", clientId: "c-2", at: "x" });
    store.applyEvent({ type: "error", code: "unavailable", for: "message", client_id: "c-1" });
    const c = store.applySnapshot(snapshot({ rooms: [mine(12)] }));
    assert.deepEqual(c.resend, ["c-1"]);
    assert.equal(store.state.pending.get("c-1").state, "sending");
    assert.equal(store.state.pending.get("c-2").state, "failed");
    assert.equal(store.state.pending.get("c-2").error, "expired");
  });

  test("nothing is pending for an expired room, and a dismissed room drops its pending messages", () => {
    const store = storeWith({ rooms: [mine(12)] });
    store.addPending({ room: 12, body: "one", clientId: "c-1", at: "x" });
    store.applyEvent({ type: "room", room: mine(12, { status: "expired", reason: "visitor_left" }) });
    assert.ok(!hasChanges(store.addPending({ room: 12, body: "two", clientId: "c-2", at: "x" })));
    const c = store.dismiss(12);
    assert.ok(c.pending.has("c-1"));
    assert.equal(store.state.pending.size, 0);
  });

  test("a body is checked against the server's message length", () => {
    const store = storeWith({ limits: { ...LIMITS, message_length: 5 } });
    assert.equal(store.messageProblem("   "), "empty");
    assert.equal(store.messageProblem("hello"), null);
    assert.equal(store.messageProblem("hello!"), "too_long");
  });
});

describe("operators", () => {
  test("an operator event replaces that operator; my own updates me", () => {
    const store = storeWith({});
    let c = store.applyEvent({ type: "operator", operator: { ...JANE, online: false } });
    assert.ok(c.operators && !c.me);
    assert.equal(store.state.operators.get(JANE.id).online, false);
    c = store.applyEvent({ type: "operator", operator: { ...PETER, name: "Peter P." } });
    assert.ok(c.me);
    assert.equal(store.me.name, "Peter P.");
  });
});

test("frames of unknown types and malformed objects change nothing", () => {
  const store = storeWith({ rooms: [room(12)] });
  for (const frame of [
    { type: "pong" },
    { type: "welcome" },
    { type: "room", room: { id: "12" } },
    { type: "visitor", visitor: null },
    { type: "message", message: { id: 1 } },
    { type: "history", room: 12, messages: "none" },
    null,
  ]) {
    assert.ok(!hasChanges(store.applyEvent(frame)), JSON.stringify(frame));
  }
});

describe("typing and seen (issue 23)", () => {
  test("the visitor typing shows in my tab for a few seconds, and goes when their message arrives", () => {
    const store = storeWith({ visitors: [visitor(7)], rooms: [mine(13)] });
    const c = store.applyEvent({ type: "typing", room: 13, sender: "visitor" });
    assert.ok(c.tabs.has(13));
    assert.ok(store.isTyping(13));
    assert.ok(!store.isTyping(13, Date.now() + 7000), "expires on its own");
    store.applyEvent({ type: "typing", room: 13, sender: "visitor" });
    store.applyEvent({ type: "message", message: message(40, 13) });
    assert.ok(!store.isTyping(13));
    assert.ok(!hasChanges(store.applyEvent({ type: "typing", room: 99, sender: "visitor" })), "not a room of mine");
  });

  test("a seen mark only moves forward, whatever order the room frame and the event come in", () => {
    const store = storeWith({ rooms: [mine(13, { visitor_seen: 0, operator_seen: 0 })] });
    assert.ok(store.applyEvent({ type: "seen", room: 13, sender: "visitor", id: 50 }).tabs.has(13));
    store.applyEvent({ type: "room", room: mine(13, { visitor_seen: 40, operator_seen: 0 }) });
    assert.equal(store.state.rooms.get(13).visitor_seen, 50);
    assert.ok(!hasChanges(store.applyEvent({ type: "seen", room: 13, sender: "visitor", id: 45 })));
  });

  test("the newest visitor message of my room is reported seen once", () => {
    const store = storeWith({ rooms: [mine(13, { visitor_seen: 0, operator_seen: 0 })] });
    store.applyEvent({ type: "history", room: 13, messages: [message(40, 13), message(41, 13, { sender: "operator" })], more: false });
    assert.equal(store.unseenByMe(13), 40);
    store.markSeenByMe(13, 40);
    assert.equal(store.unseenByMe(13), 0);
  });
});

describe("files (issue 23)", () => {
  test("the snapshot's upload limits are kept, the list of types too", () => {
    const store = storeWith({ limits: { ...LIMITS, upload_bytes: 10_485_760, upload_types: ["png", "pdf", 7] } });
    assert.equal(store.limits.upload_bytes, 10_485_760);
    assert.deepEqual(store.limits.upload_types, ["png", "pdf"]);
    const off = storeWith({ limits: { ...LIMITS, upload_types: [] } });
    assert.deepEqual(off.limits.upload_types, []);
  });

  test("a message with a file is kept with it, once, whether the answer or the event comes first", () => {
    const store = storeWith({ rooms: [mine(11)] });
    const withFile = message(40, 11, { sender: "operator", body: "", client_id: "c-1", file: { name: "a.pdf", url: "/files/x/" } });
    let c = store.applyEvent({ type: "message", message: withFile });
    assert.deepEqual(c.messages, [{ room: 11, id: 40 }]);
    c = store.applyEvent({ type: "message", message: withFile });
    assert.deepEqual(c.messages, []);
    assert.equal(store.messagesOf(11)[0].file.name, "a.pdf");
  });
});
