// socket.js against a fake WebSocket and a fake clock: answers matched by what they carry,
// reconnects with backoff, and a silent connection found dead by its ping.

import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";

import { CLOSE_LOGGED_OUT, createSocket } from "../socket.js";
import { fakeClock, fakeWebSocket, settled } from "./fakes.mjs";

const quiet = { warn() {}, error() {} };
let open = [];

function connected(options = {}) {
  const WebSocket = fakeWebSocket();
  const clock = fakeClock();
  const seen = { frames: [], statuses: [], unmatched: [], loggedOut: 0, refused: 0 };
  const socket = createSocket({
    url: "ws://panel.test/ws/operator/",
    WebSocket,
    clock,
    random: () => 0.5,
    log: quiet,
    onFrame: (frame) => seen.frames.push(frame),
    onStatus: (status) => seen.statuses.push(status),
    onUnmatchedError: (frame) => seen.unmatched.push(frame),
    onLoggedOut: () => (seen.loggedOut += 1),
    onRefused: () => (seen.refused += 1),
    ...options,
  });
  open.push(socket);
  socket.connect();
  WebSocket.last.accept();
  return { socket, WebSocket, clock, seen, server: () => WebSocket.last };
}

afterEach(() => {
  for (const socket of open) socket.stop();
  open = [];
});

const room = (id, fields = {}) => ({ id, visitor: 7, status: "active", operator: { id: 2, name: "Peter" }, ...fields });

describe("answers are matched to their requests by what they carry", () => {
  test("answers of different kinds out of order each settle their own request", async () => {
    const { socket, server } = connected();
    const sent = socket.request({ type: "message", room: 12, body: "Hello", client_id: "c-1" });
    const history = socket.request({ type: "history", room: 12, after: 0 });
    const accepted = socket.request({ type: "accept", room: 30 });
    assert.deepEqual(
      server().sent.map((f) => f.type),
      ["message", "history", "accept"],
    );

    server().reply({ type: "room", room: room(30) });
    server().reply({ type: "history", room: 12, messages: [] });
    assert.equal(await settled(sent), "pending");
    server().reply({ type: "ack", client_id: "c-1", id: 301 });

    assert.deepEqual((await settled(accepted)).value.room.id, 30);
    assert.deepEqual((await settled(history)).value.messages, []);
    assert.deepEqual((await settled(sent)).value, { type: "ack", client_id: "c-1", id: 301 });
    assert.equal(socket.waiting, 0);
  });

  test("an error rejects the request it names by `for` and client_id, not the oldest one", async () => {
    const { socket, server } = connected();
    const history = socket.request({ type: "history", room: 12, after: 0 });
    const first = socket.request({ type: "message", room: 12, body: "one", client_id: "c-1" });
    const second = socket.request({ type: "message", room: 12, body: "two", client_id: "c-2" });

    server().reply({ type: "error", code: "too_long", detail: "too long", for: "message", room: 12, client_id: "c-2" });

    const refused = await settled(second);
    assert.equal(refused.error.code, "too_long");
    assert.equal(refused.error.request.client_id, "c-2");
    assert.equal(refused.error.frame.detail, "too long");
    assert.equal(await settled(history), "pending");
    assert.equal(await settled(first), "pending");
  });

  test("an error for one room's request leaves another room's request of the same type waiting", async () => {
    const { socket, server } = connected();
    const accept12 = socket.request({ type: "accept", room: 12 });
    const accept13 = socket.request({ type: "accept", room: 13 });

    server().reply({ type: "error", code: "taken", for: "accept", room: 13 });
    server().reply({ type: "room", room: room(12) });

    assert.equal((await settled(accept13)).error.code, "taken");
    assert.equal((await settled(accept12)).value.room.id, 12);
  });

  test("history answers go to the request for their room, whichever comes first", async () => {
    const { socket, server } = connected();
    const one = socket.request({ type: "history", room: 1, after: 0 });
    const two = socket.request({ type: "history", room: 2, after: 0 });

    server().reply({ type: "history", room: 2, messages: [{ id: 9 }] });

    assert.equal(await settled(one), "pending");
    assert.deepEqual((await settled(two)).value.messages, [{ id: 9 }]);
  });

  test("a room event that is not the answer does not settle an accept", async () => {
    const store = { me: 2 };
    const { socket, server } = connected();
    const accepted = socket.request({ type: "accept", room: 12 }, { accepts: (frame) => frame.room.operator.id === store.me });

    server().reply({ type: "room", room: room(12, { status: "pending", operator: null }) }); // still in the pool
    server().reply({ type: "room", room: room(12, { operator: { id: 3, name: "Jane" } }) }); // Jane was first
    assert.equal(await settled(accepted), "pending");

    server().reply({ type: "error", code: "taken", for: "accept", room: 12 });
    assert.equal((await settled(accepted)).error.code, "taken");
  });

  test("a start is answered by the room of its visitor", async () => {
    const { socket, server } = connected();
    const started = socket.request({ type: "start", visitor: 8 });

    server().reply({ type: "room", room: room(40, { visitor: 7 }) });
    assert.equal(await settled(started), "pending");
    server().reply({ type: "room", room: room(41, { visitor: 8 }) });

    assert.equal((await settled(started)).value.room.id, 41);
  });

  test("a ban is answered by the ban of its visitor; its error names the visitor", async () => {
    const { socket, server } = connected();
    const blocked = socket.request({ type: "ban", visitor: 8, reason: "spam", address: false, network: false });
    const refused = socket.request({ type: "ban", visitor: 9, reason: "", address: true, network: false });

    server().reply({ type: "ban", ban: { id: 1, visitor: 7 } });
    assert.equal(await settled(blocked), "pending");
    server().reply({ type: "error", code: "not_found", for: "ban", visitor: 9 });
    assert.equal((await settled(refused)).error.code, "not_found");
    assert.equal(await settled(blocked), "pending");
    server().reply({ type: "ban", ban: { id: 2, visitor: 8 } });
    assert.equal((await settled(blocked)).value.ban.id, 2);
  });

  test("close and reopen are answered by the room in the state they asked for", async () => {
    const { socket, server } = connected();
    const closed = socket.request({ type: "close", room: 12 });

    server().reply({ type: "room", room: room(12, { visitor_in_room: false }) }); // an event: still active
    assert.equal(await settled(closed), "pending");
    server().reply({ type: "room", room: room(12, { status: "closing" }) });
    assert.equal((await settled(closed)).value.room.status, "closing");

    const reopened = socket.request({ type: "reopen", room: 12 });
    server().reply({ type: "room", room: room(12) });
    assert.equal((await settled(reopened)).value.room.status, "active");
  });

  test("every frame reaches onFrame first, answers included", async () => {
    const { socket, server, seen } = connected();
    const pinged = socket.request({ type: "ping" });
    server().reply({ type: "pong" });
    server().reply({ type: "visitor_gone", visitor: 7 });

    assert.deepEqual(await settled(pinged), { value: { type: "pong" } });
    assert.deepEqual(
      seen.frames.map((f) => f.type),
      ["pong", "visitor_gone"],
    );
  });

  test("an error that names no waiting request goes to onUnmatchedError", async () => {
    const { socket, server, seen } = connected();
    const history = socket.request({ type: "history", room: 1, after: 0 });

    server().reply({ type: "error", code: "bad_json", detail: "not JSON" }); // no `for`: answers nothing sent
    server().reply({ type: "error", code: "not_found", for: "close", room: 1 }); // nothing like it waiting

    assert.deepEqual(
      seen.unmatched.map((f) => f.code),
      ["bad_json", "not_found"],
    );
    assert.equal(await settled(history), "pending");
  });

  test("frames that are not JSON objects are dropped", () => {
    const { server, seen } = connected();
    server().reply("not json");
    server().reply("[1, 2]");
    server().reply("null");
    assert.deepEqual(seen.frames, []);
  });
});

describe("sending", () => {
  test("a request with no open socket is refused at once, as offline", async () => {
    const WebSocket = fakeWebSocket();
    const socket = createSocket({ url: "ws://x/", WebSocket, clock: fakeClock(), log: quiet });
    open.push(socket);
    socket.connect(); // not open yet
    const result = await settled(socket.request({ type: "accept", room: 1 }));
    assert.equal(result.error.code, "offline");
    assert.deepEqual(WebSocket.last.sent, []);
  });

  test("a frame over the server's frame limit is not sent", async () => {
    const { socket, server } = connected({ maxFrameBytes: () => 100 });
    const result = await settled(socket.request({ type: "message", room: 1, body: "é".repeat(60), client_id: "c-1" }));
    assert.equal(result.error.code, "too_big");
    assert.deepEqual(server().sent, []);

    socket.request({ type: "message", room: 1, body: "short", client_id: "c-2" }).catch(() => {});
    assert.equal(server().sent.length, 1);
  });

  test("a frame type without a known answer is a programming error", async () => {
    const { socket } = connected();
    await assert.rejects(socket.request({ type: "hello" }), TypeError);
  });
});

describe("reconnecting", () => {
  test("a dropped socket fails its waiting requests and reconnects with growing backoff", async () => {
    const { socket, WebSocket, clock, seen } = connected();
    const waiting = socket.request({ type: "history", room: 1, after: 0 });
    WebSocket.last.drop(1006);

    assert.equal((await settled(waiting)).error.code, "disconnected");
    let status = seen.statuses.at(-1);
    assert.equal(status.state, "reconnecting");
    assert.equal(status.retryAt - clock.now(), 375); // 0.5 s ceiling, jitter 0.5: 250 + 125

    clock.advance(374);
    assert.equal(WebSocket.made.length, 1);
    clock.advance(1);
    assert.equal(WebSocket.made.length, 2);
    assert.equal(seen.statuses.at(-1).state, "connecting");

    WebSocket.last.drop(1006); // the handshake failed: the server is still down
    status = seen.statuses.at(-1);
    assert.equal(status.retryAt - clock.now(), 750); // 1 s ceiling
    assert.equal(seen.refused, 1, "two failed tries in a row: check the session");

    clock.advance(750);
    WebSocket.last.accept();
    WebSocket.last.reply({ type: "snapshot" });
    assert.equal(seen.statuses.at(-1).state, "online");
    assert.ok(socket.open);

    WebSocket.last.drop(1011);
    assert.equal(seen.statuses.at(-1).retryAt - clock.now(), 375, "the snapshot reset the backoff");
  });

  test("the backoff stops growing at 30 s", () => {
    const { WebSocket, clock, seen } = connected();
    for (let i = 0; i < 12; i += 1) {
      WebSocket.last.drop(1006);
      const wait = seen.statuses.at(-1).retryAt - clock.now();
      clock.advance(wait);
    }
    WebSocket.last.drop(1006);
    assert.equal(seen.statuses.at(-1).retryAt - clock.now(), 22500); // 15 s + 0.5 × 15 s
  });

  test("a request on the new socket is matched there; the old socket's frames are ignored", async () => {
    const { socket, WebSocket, clock, seen } = connected();
    const before = WebSocket.last;
    before.drop(1006);
    clock.advance(1000);
    WebSocket.last.accept();

    const history = socket.request({ type: "history", room: 1, after: 0 });
    before.reply({ type: "history", room: 1, messages: [] }); // a late frame on the closed socket
    assert.equal(await settled(history), "pending");
    assert.equal(seen.frames.length, 0);

    WebSocket.last.reply({ type: "history", room: 1, messages: [] });
    assert.ok((await settled(history)).value);
  });

  test("closed for logout (4001): no reconnect", () => {
    const { WebSocket, clock, seen } = connected();
    WebSocket.last.drop(CLOSE_LOGGED_OUT);
    clock.advance(60_000);
    assert.equal(WebSocket.made.length, 1);
    assert.equal(seen.loggedOut, 1);
    assert.equal(seen.statuses.at(-1).state, "offline");
  });

  test("closed for logout while this page logs out: no second navigation to the login page", () => {
    const { socket, WebSocket, seen } = connected();
    socket.leave(); // the logout form is being sent: its answer navigates
    WebSocket.last.drop(CLOSE_LOGGED_OUT);
    assert.equal(seen.loggedOut || 0, 0);
    assert.equal(seen.statuses.at(-1).state, "offline");
  });

  test("a page that is leaving does not reconnect; back from the cache it does", () => {
    const { socket, WebSocket, clock } = connected();
    socket.leave();
    WebSocket.last.drop(1001);
    clock.advance(60_000);
    assert.equal(WebSocket.made.length, 1);
    socket.resume();
    assert.equal(WebSocket.made.length, 2);
  });

  test("reconnectNow tries at once, one step back on the backoff", () => {
    const { socket, WebSocket, clock, seen } = connected();
    WebSocket.last.drop(1006);
    clock.advance(375);
    WebSocket.last.drop(1006); // attempt 2: waiting 0.75 s
    socket.reconnectNow();
    assert.equal(WebSocket.made.length, 3);
    WebSocket.last.drop(1006);
    assert.equal(seen.statuses.at(-1).retryAt - clock.now(), 750, "attempt 2 again, not 3");
    socket.reconnectNow();
    socket.reconnectNow(); // already connecting: nothing more
    assert.equal(WebSocket.made.length, 4);
  });
});

describe("liveness", () => {
  test("a quiet socket is pinged, and one that stays silent is dropped and reconnected", async () => {
    const { WebSocket, clock, seen } = connected();
    const first = WebSocket.last;

    clock.advance(25_000);
    assert.deepEqual(first.sent, []);
    clock.advance(5_000); // quiet for more than 25 s: ping at the next check
    assert.deepEqual(first.sent, [{ type: "ping" }]);

    clock.advance(20_000);
    assert.equal(first.closedByClient, false, "20 s is still within the limit");
    clock.advance(5_000);
    assert.equal(first.closedByClient, true);
    assert.equal(seen.statuses.at(-1).state, "reconnecting");

    clock.advance(1_000);
    assert.equal(WebSocket.made.length, 2);
  });

  test("a pong keeps the socket", () => {
    const { WebSocket, clock } = connected();
    clock.advance(30_000);
    assert.deepEqual(WebSocket.last.sent, [{ type: "ping" }]);
    WebSocket.last.reply({ type: "pong" });
    clock.advance(25_000);
    assert.equal(WebSocket.last.closedByClient, false);
    assert.equal(WebSocket.made.length, 1);
  });

  test("any frame counts as a sign of life, and a busy socket is not pinged", () => {
    const { socket, WebSocket, clock } = connected();
    for (let i = 0; i < 12; i += 1) {
      clock.advance(5_000);
      WebSocket.last.reply({ type: "visitor", visitor: { id: i } });
    }
    assert.deepEqual(WebSocket.last.sent, []);
    assert.ok(socket.open);
  });
});
