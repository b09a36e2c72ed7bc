"""Clients that behave like the snippet and the panel, at the socket level, for fault tests.

What static/widget/widget.js and the panel (static/panel/socket.js, store.js) do about faults, and nothing
else: reconnect with a short backoff (to the next server when one is down), keep
every message by id (a frame that arrives twice counts once), ask `history` after
the last id seen on every (re)connect and on `resync`, and resend unacknowledged
messages with their `client_id` until the server acknowledges them (again after an
`unavailable` error). The panel also keeps the
state the Zulip way: built from the snapshot and then from events only, so a test
can compare it with a fresh snapshot.
"""

import asyncio
import contextlib
import itertools
import json
import random
import weakref
from http.cookies import SimpleCookie

import websockets

LIVE = ("pending", "active", "closing")
RETRY_CODES = ("unavailable", "server_error")

# Clients still running; the `faults` fixtures stop them after each test.
running: weakref.WeakSet = weakref.WeakSet()


class Emulated:
    """One socket's worth of client: it reconnects on its own until stopped."""

    path = ""

    def __init__(self, bases: list[str], *, origin: str, cookies: dict[str, str] | None = None, name: str = "c"):
        self.bases = list(bases)
        self.origin = origin
        self.cookies = cookies or {}
        self.name = name
        self.ws = None
        self.ready = asyncio.Event()  # greeted (welcome or snapshot) on the current socket
        self.stopped = False
        self.paused = False  # off the network: no reconnect until resumed
        self.outbox: dict[str, dict] = {}  # client_id -> message frame, unacknowledged, in sending order
        self.acked: dict[str, int] = {}  # client_id -> stored message id
        self.sent: list[str] = []  # client_ids in the order the user sent them
        self.written: dict[str, str] = {}  # client_id -> body
        self.errors: list[dict] = []
        self.refused: dict[str, str] = {}  # client_id -> error code: not stored, and the user was told
        self.frames: list[dict] = []  # every frame received, in order
        self.close_codes: list[int | None] = []
        self.connects = 0
        self._counter = itertools.count(1)
        self._server = 0
        self._task: asyncio.Task | None = None
        self._timers: set[asyncio.Task] = set()

    # Life cycle -------------------------------------------------------------

    def start(self) -> "Emulated":
        self._task = asyncio.create_task(self._run())
        running.add(self)
        return self

    async def started(self, timeout: float = 10.0) -> "Emulated":
        self.start()
        await asyncio.wait_for(self.ready.wait(), timeout)
        return self

    async def stop(self) -> None:
        """The page goes away for good: no reconnect, even one under way."""
        self.stopped = True
        for timer in self._timers:
            timer.cancel()
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 5)  # cancelled if it takes longer

    async def drop(self, *, abort: bool = True) -> None:
        """The network goes away under the socket (abort: no close handshake at all)."""
        ws = self.ws
        if ws is None:
            return
        if abort:
            ws.transport.abort()
        else:
            with contextlib.suppress(Exception):
                await ws.close()

    def url(self, base: str) -> str:
        return f"ws://{base}{self.path}"

    async def _connect(self):
        headers = {}
        if self.cookies:
            cookie = SimpleCookie(self.cookies)
            headers["Cookie"] = "; ".join(f"{k}={m.value}" for k, m in cookie.items())
        base = self.bases[self._server % len(self.bases)]
        return await websockets.connect(
            self.url(base),
            origin=self.origin,
            additional_headers=headers,
            open_timeout=30,  # a browser waits for a busy server
            max_size=2**24,
            proxy=None,
        )

    async def _run(self) -> None:
        attempt = 0
        while not self.stopped:
            if self.paused:
                await asyncio.sleep(0.05)
                continue
            try:
                ws = await self._connect()
            except (OSError, TimeoutError, websockets.InvalidHandshake):
                # That server is down or refused: the next one, after a backoff (as the clients do).
                self._server += 1
                attempt += 1
                await asyncio.sleep(min(1.0, 0.05 * 2**attempt) * (0.5 + random.random()))
                continue
            if self.stopped:  # stopped while connecting
                await ws.close()
                break
            self.ws = ws
            self.connects += 1
            try:
                await self.greet(ws)
                async for text in ws:
                    await self.on_frame(json.loads(text))
                    if self.ready.is_set():
                        attempt = 0
            except websockets.ConnectionClosed:
                pass
            finally:
                self.ready.clear()
                self.ws = None
                self.close_codes.append(ws.close_code)
            if not self.stopped:
                attempt += 1
                await asyncio.sleep(min(1.0, 0.05 * 2**attempt) * (0.5 + random.random()))

    # Sending ----------------------------------------------------------------

    async def send(self, frame: dict) -> bool:
        ws = self.ws
        if ws is None or not self.ready.is_set():
            return False
        try:
            await ws.send(json.dumps(frame))
        except websockets.ConnectionClosed:
            return False
        return True

    async def say(self, body: str, **fields) -> str:
        """The user sends a message: it waits in the outbox until acknowledged."""
        client_id = f"{self.name}-{next(self._counter)}"
        frame = {"type": "message", "body": body, "client_id": client_id, **fields}
        self.outbox[client_id] = frame
        self.sent.append(client_id)
        self.written[client_id] = body
        await self.send(frame)
        return client_id

    async def resend_outbox(self) -> None:
        for frame in list(self.outbox.values()):
            await self.send(frame)

    def later(self, delay: float, action) -> None:
        async def run():
            await asyncio.sleep(delay)
            if not self.stopped:
                await action()

        timer = asyncio.create_task(run())
        self._timers.add(timer)
        timer.add_done_callback(self._timers.discard)

    # Receiving --------------------------------------------------------------

    async def greet(self, ws) -> None:
        raise NotImplementedError

    async def on_frame(self, frame: dict) -> None:
        self.frames.append(frame)
        kind = frame.get("type")
        if kind == "ack":
            self.outbox.pop(frame["client_id"], None)
            self.acked[frame["client_id"]] = frame["id"]
        elif kind == "error":
            await self.on_error(frame)
        else:
            await getattr(self, f"on_{kind}", self.ignore)(frame)

    async def ignore(self, frame: dict) -> None:
        pass

    async def on_error(self, frame: dict) -> None:
        self.errors.append(frame)
        if frame.get("code") not in RETRY_CODES:
            if frame.get("for") == "message" and self.outbox.pop(frame.get("client_id"), None):
                self.refused[frame["client_id"]] = frame["code"]  # e.g. `expired`: the panel says "not sent"
            return
        # The server could not do it right now: try again shortly, as the clients do.
        if frame.get("for") == "message":
            self.later(0.5, lambda: self.resend(frame.get("client_id")))
        elif frame.get("for") == "hello" and self.ws is not None:
            await self.ws.close()
        elif frame.get("for") == "history":
            self.later(0.5, lambda: self.resync(frame))

    async def resend(self, client_id: str) -> None:
        if client_id in self.outbox:
            await self.send(self.outbox[client_id])

    async def resync(self, frame: dict) -> None:
        raise NotImplementedError

    # Waiting ----------------------------------------------------------------

    async def settled(self, timeout: float = 15.0) -> None:
        """Connected and greeted, with every message acknowledged."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (self.ready.is_set() and not self.outbox):
            if loop.time() > deadline:
                raise AssertionError(
                    f"{self.name} not settled: ready={self.ready.is_set()} unacked={list(self.outbox)} "
                    f"errors={self.errors[-5:]} closes={self.close_codes[-5:]}"
                )
            await asyncio.sleep(0.05)


class VisitorTab(Emulated):
    """One page of a visitor: the snippet's socket."""

    def __init__(self, bases, *, site_key: str = "shop", token: str | None = None, **kwargs):
        super().__init__(bases, **kwargs)
        self.path = f"/ws/visitor/?site={site_key}"
        self.token = token
        self.visitor_id: int | None = None
        self.room: dict | None = None
        self.messages: dict[int, dict] = {}
        self.synced = 0  # the newest id a history answer brought, as the snippet keeps it
        self.page: dict | None = None

    async def greet(self, ws) -> None:
        await ws.send(json.dumps({"type": "hello", "token": self.token}))

    async def on_welcome(self, frame: dict) -> None:
        self.token, self.visitor_id, self.room = frame["token"], frame["visitor"], frame["room"]
        self.ready.set()
        if self.page:
            await self.send({"type": "page", **self.page})
        await self.resync(frame)
        await self.resend_outbox()

    async def resync(self, frame: dict) -> None:
        # After the newest id a history answer brought, not the newest heard live: events published
        # by two processes may come out of order, and the socket may close before the earlier one.
        await self.send({"type": "history", "after": self.synced})

    async def on_room(self, frame: dict) -> None:
        self.room = frame["room"]

    async def on_message(self, frame: dict) -> None:
        message = frame["message"]
        self.messages[message["id"]] = message

    async def on_history(self, frame: dict) -> None:
        for message in frame["messages"]:
            self.messages[message["id"]] = message
            self.synced = max(self.synced, message["id"])
        if "room" in frame:
            self.room = frame["room"]
        if frame["more"]:  # a page: the rest after its last id
            await self.resync(frame)

    async def on_resync(self, frame: dict) -> None:
        await self.resync(frame)  # the server may have missed events for this socket

    async def visit(self, url: str, title: str = "") -> None:
        self.page = {"url": url, "title": title, "referrer": ""}
        await self.send({"type": "page", **self.page})


class Panel(Emulated):
    """An operator's panel: the state it shows is built from the snapshot and events only."""

    path = "/ws/operator/"

    def __init__(self, bases, **kwargs):
        super().__init__(bases, origin="", **kwargs)
        self.me: dict | None = None
        self.operators: dict[int, dict] = {}
        self.visitors: dict[int, dict] = {}
        self.rooms: dict[int, dict] = {}
        self.logs: dict[int, dict[int, dict]] = {}
        self.synced: dict[int, int] = {}  # room id -> the newest id a history answer brought

    async def _connect(self):
        # The panel's Origin is the server it talks to.
        self.origin = f"http://{self.bases[self._server % len(self.bases)]}"
        return await super()._connect()

    async def greet(self, ws) -> None:
        pass  # the server speaks first: the snapshot

    async def on_snapshot(self, frame: dict) -> None:
        self.me = frame["operator"]
        self.operators, self.visitors, self.rooms = {}, {}, {}
        await self.on_snapshot_more(frame)

    async def on_snapshot_more(self, frame: dict) -> None:
        self.operators |= {o["id"]: o for o in frame["operators"]}
        self.visitors |= {v["id"]: v for v in frame["visitors"]}
        self.rooms |= {r["id"]: r for r in frame["rooms"]}
        if frame["more"]:
            return
        self.ready.set()
        for room_id in self.rooms:
            await self.send({"type": "history", "room": room_id, "after": self.last_id(room_id)})
        await self.resend_outbox()

    async def resync(self, frame: dict) -> None:
        if frame.get("room") in self.rooms:
            await self.send({"type": "history", "room": frame["room"], "after": self.last_id(frame["room"])})

    def last_id(self, room_id: int) -> int:
        """Where history resumes: as the panel's store (static/panel/store.js), after the newest id
        a history answer brought."""
        return self.synced.get(room_id, 0)

    def mine(self, room: dict) -> bool:
        return bool(room["operator"] and self.me and room["operator"]["id"] == self.me["id"])

    async def on_visitor(self, frame: dict) -> None:
        visitor = frame["visitor"]
        if visitor["online"]:
            if "lost" not in visitor:  # a room's change: the connection is as it was (docs/protocol.md)
                visitor = visitor | {"lost": self.visitors.get(visitor["id"], {}).get("lost")}
            self.visitors[visitor["id"]] = visitor
        else:
            self.visitors.pop(visitor["id"], None)

    async def on_visitor_lost(self, frame: dict) -> None:
        if frame["visitor"] in self.visitors:
            self.visitors[frame["visitor"]] = self.visitors[frame["visitor"]] | {"lost": frame["since"]}

    async def on_visitor_gone(self, frame: dict) -> None:
        self.visitors.pop(frame["visitor"], None)

    async def on_room(self, frame: dict) -> None:
        room = frame["room"]
        if room["status"] in LIVE and (room["status"] == "pending" or self.mine(room)):
            self.rooms[room["id"]] = room
        else:
            self.rooms.pop(room["id"], None)

    async def on_message(self, frame: dict) -> None:
        message = frame["message"]
        self.logs.setdefault(message["room"], {})[message["id"]] = message

    async def on_history(self, frame: dict) -> None:
        log = self.logs.setdefault(frame["room"], {})
        for message in frame["messages"]:
            log[message["id"]] = message
            self.synced[frame["room"]] = max(self.synced.get(frame["room"], 0), message["id"])
        if frame["more"]:  # a page: the rest after its last id
            await self.resync(frame)

    async def on_operator(self, frame: dict) -> None:
        self.operators[frame["operator"]["id"]] = frame["operator"]

    def view(self) -> dict:
        """What the panel shows, in the snapshot's shape (keyed by id)."""
        return {"operators": self.operators, "visitors": self.visitors, "rooms": self.rooms}


def snapshot_view(snapshot: dict) -> dict:
    return {
        "operators": {o["id"]: o for o in snapshot["operators"]},
        "visitors": {v["id"]: v for v in snapshot["visitors"]},
        "rooms": {r["id"]: r for r in snapshot["rooms"]},
    }
