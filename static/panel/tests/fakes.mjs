// Stand-ins for the browser's WebSocket and clock, for socket.js under Node's test runner.

// A clock whose time moves only when a test says so; timers fire in time order.
export function fakeClock(start = 1_000_000) {
  let now = start;
  let seq = 0;
  const timers = new Map();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      seq += 1;
      timers.set(seq, { at: now + Math.max(0, Number(ms) || 0), fn });
      return seq;
    },
    clearTimeout(id) {
      timers.delete(id);
    },
    advance(ms) {
      const end = now + ms;
      for (;;) {
        let next = null;
        for (const [id, timer] of timers) if (timer.at <= end && (!next || timer.at < next[1].at)) next = [id, timer];
        if (!next) break;
        timers.delete(next[0]);
        now = next[1].at;
        next[1].fn();
      }
      now = end;
    },
  };
}

// A WebSocket class that records every socket made; the test plays the server.
export function fakeWebSocket() {
  class FakeWebSocket {
    static OPEN = 1;
    static made = [];

    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      this.listeners = {};
      this.closedByClient = false;
      FakeWebSocket.made.push(this);
    }

    static get last() {
      return FakeWebSocket.made[FakeWebSocket.made.length - 1];
    }

    addEventListener(type, fn) {
      (this.listeners[type] ||= []).push(fn);
    }

    emit(type, event = {}) {
      for (const fn of this.listeners[type] || []) fn(event);
    }

    // The server side.
    accept() {
      this.readyState = 1;
      this.emit("open");
    }

    reply(frame) {
      this.emit("message", { data: typeof frame === "string" ? frame : JSON.stringify(frame) });
    }

    drop(code = 1006) {
      this.readyState = 3;
      this.emit("close", { code });
    }

    // The client side.
    send(text) {
      if (this.readyState !== 1) throw new Error("send on a socket that is not open");
      this.sent.push(JSON.parse(text));
    }

    close() {
      this.closedByClient = true;
      if (this.readyState === 3) return;
      this.readyState = 3;
      this.emit("close", { code: 1005 });
    }
  }
  return FakeWebSocket;
}

// The state of a promise once the microtasks queued so far have run: "pending",
// {value} or {error}.
export async function settled(promise) {
  let result = "pending";
  promise.then(
    (value) => {
      result = { value };
    },
    (error) => {
      result = { error };
    },
  );
  await new Promise((resolve) => setImmediate(resolve));
  return result;
}
