"""The load generator: one process of asyncio websocket clients, driven by the benchmark
(bench/run.py) through JSON lines on stdin, each answered by one JSON line on stdout.

    python -m bench.load

Commands (`cmd`): `operators` (open panels), `visitors` (add presence visitors: connect, a hello
carrying the page, a navigation every `nav` seconds = reconnect + hello, a ping every 25 s), `chatters`
(visitors who open a chat), `accept`, `relay` (send messages at a rate), `close_rooms`, `drain`
(latencies and errors since the last drain), `quit`.

Every latency is measured across processes with the wall clock (one machine, one clock): the
sender writes time.time() into the page URL or the message body, the receiver subtracts it.
Protocol `wp` is White Panel's (docs/protocol.md); `bare` is bench/bare.py's minimal relay, and
`bare-presence` its page events (a hello answered and sent to the operators, nothing else).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import secrets
import sys
import time
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.client import connect

from bench import lean

ORIGIN = "http://bench.test"
PING_EVERY = 25.0  # the snippet's keep-alive ping (static/widget/widget.js)
CONNECTS_AT_ONCE = 32  # handshakes (connect, hello, welcome) in flight per generator process


def think_time(nav: float, think: str, *, first: bool = False) -> float:
    """How long a visitor stays on a page, `nav` seconds on average.

    `exponential`, the usual model of a user's think time (TPC-W's, for one): a page read for
    2 s is as likely to be followed by another as one read for 50, and visitors slowed down
    together by a busy moment go their own ways again after it. `even`, 0.9-1.1 times `nav`
    (the model of the first four sessions' runs): visitors delayed together stay together and
    navigate together `nav` seconds later, so one burst keeps coming back in waves
    (docs/benchmarks.md).

    `first`: the rest of the stay on the page a new visitor is found on, so that navigations
    come at the steady rate from the start (uniform over the interval for `even`; for
    `exponential` the rest of a stay is as long as a whole one)."""
    if not nav:
        return 0.0
    if think == "even":
        return random.uniform(0, nav) if first else nav * random.uniform(0.9, 1.1)
    return random.expovariate(1 / nav)


class Generator:
    def __init__(self):
        self.latencies: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}
        self.counts: dict[str, int] = {}
        self.running = True
        self.tasks: set[asyncio.Task] = set()
        self.operators: list = []  # websockets
        self.operator_rooms: dict[int, object] = {}  # room id -> operator websocket
        self.chatters: dict[int, object] = {}  # room id -> visitor websocket
        self.seen_urls: list[set[str]] = []
        self.closing: dict[int, float] = {}  # room id -> expires_at (epoch seconds)
        self.answers: dict[tuple[int, int], asyncio.Future] = {}
        self.connect_slots = asyncio.Semaphore(CONNECTS_AT_ONCE)
        self.waiting = 0  # page loads queued for a handshake slot
        self.serial = itertools.count(1)
        self.pages_sent: list[float] = []

    # bookkeeping ---------------------------------------------------------------

    def sample(self, kind: str, seconds: float) -> None:
        now = time.time()
        # With its send time: a drain can keep only what was sent inside a measuring window.
        self.latencies.setdefault(kind, []).append((now - seconds, seconds * 1000))

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def count(self, kind: str, n: int = 1) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + n

    def spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    # receiving ---------------------------------------------------------------------

    def on_frame(self, text: str, *, side: str, index: int) -> None:
        now = time.time()
        # Cheap first: presence visitors get pongs and nothing else.
        if text.startswith('{"type":"pong"'):
            return
        frame = json.loads(text)
        kind = frame.get("type")
        if kind == "error":
            self.error(f"{side}:{frame.get('code')}")
        elif kind == "message":
            message = frame["message"]
            if message["sender"] != side and message["sender"] != "system":
                sent = float(message["body"].split(" ", 1)[0])
                self.sample(f"relay:{side}", now - sent)
        elif kind == "visitor" and side == "operator":
            url = frame["visitor"]["url"]
            seen = self.seen_urls[index]
            if "t=" in url and url not in seen:
                seen.add(url)
                query = parse_qs(urlsplit(url).query)
                self.sample("page", now - float(query["t"][0]))
                # Kept by the `page` frame's send time too, so both count in the same windows.
                self.latencies.setdefault("navigation", []).append(
                    (float(query["t"][0]), (now - float(query["opened"][0])) * 1000)
                )
        elif kind == "room":
            room = frame["room"]
            if room and room["status"] == "expired" and side == "operator" and room["id"] in self.closing:
                self.sample("expiry_late", now - self.closing.pop(room["id"]))
        if kind == "room" and frame.get("room"):
            future = self.answers.pop((index, frame["room"]["id"], frame["room"]["status"]), None)
            if future is not None and not future.done():
                future.set_result(frame)

    async def reader(self, ws, *, side: str, index: int) -> None:
        try:
            async for text in ws:
                self.on_frame(text, side=side, index=index)
        except Exception:  # noqa: S110 - a closed socket ends its reader; the writer counts it
            pass

    # operators ----------------------------------------------------------------------

    async def cmd_operators(self, bases: list[str], cookies: list[str], protocol: str, rooms: list[list[int]]):
        took = []
        for i, cookie in enumerate(cookies):
            base = bases[i % len(bases)]
            started = time.time()
            if protocol == "wp":
                ws = await connect(
                    f"ws://{base}/ws/operator/",
                    origin=f"http://{base}",
                    additional_headers={"Cookie": f"sessionid={cookie}"},
                    compression=None,
                    max_size=64 * 1024 * 1024,
                    ping_interval=None,
                )
                snapshot = json.loads(await ws.recv())
                assert snapshot["type"] == "snapshot", snapshot
                while snapshot["more"]:  # thousands of visitors: the rest in snapshot_more frames
                    snapshot = json.loads(await ws.recv())
            elif protocol == "bare-presence":
                ws = await connect(f"ws://{base}/ws/bare/?role=watch", compression=None, ping_interval=None)
            else:
                ids = ",".join(map(str, rooms[i]))
                ws = await connect(f"ws://{base}/ws/bare/?role=operator&rooms={ids}", compression=None)
                for room in rooms[i]:
                    self.operator_rooms[room] = ws
            took.append((time.time() - started) * 1000)
            self.operators.append(ws)
            self.seen_urls.append(set())
            self.spawn(self.reader(ws, side="operator", index=i))
        return {"operators": len(self.operators), "connect_ms": took}

    async def cmd_accept(self, rooms: list[int]):
        async def take(room_id: int, index: int) -> None:
            ws = self.operators[index]
            future = asyncio.get_running_loop().create_future()
            self.answers[(index, room_id, "active")] = future
            await ws.send(json.dumps({"type": "accept", "room": room_id}))
            try:
                await asyncio.wait_for(future, 30)
            except TimeoutError:
                self.error("accept")
                return
            self.operator_rooms[room_id] = ws

        await asyncio.gather(*(take(room, i % len(self.operators)) for i, room in enumerate(rooms)))
        return {"accepted": len(self.operator_rooms)}

    async def cmd_close_rooms(self, n: int):
        """The operator closes rooms: each expires ROOM_EXPIRY later (R9); lateness measured on arrival."""
        picked = list(self.operator_rooms.items())[:n]
        for room_id, ws in picked:
            index = self.operators.index(ws)
            future = asyncio.get_running_loop().create_future()
            self.answers[(index, room_id, "closing")] = future
            await ws.send(json.dumps({"type": "close", "room": room_id}))
            answer = await asyncio.wait_for(future, 30)
            expires_at = answer["room"]["expires_at"]
            self.closing[room_id] = datetime.fromisoformat(expires_at).timestamp()
            del self.operator_rooms[room_id]
        return {"closing": [room_id for room_id, _ in picked]}

    async def cmd_forget(self, rooms: list[int]):
        """Stop writing in these rooms (their operator closed them)."""
        for room in rooms:
            self.chatters.pop(room, None)
        return {"chatters": len(self.chatters)}

    # visitors -----------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def connect_slot(self):
        """One of the CONNECTS_AT_ONCE handshake slots; `waiting` counts the page loads queued for one."""
        self.waiting += 1
        try:
            await self.connect_slots.acquire()
        finally:
            self.waiting -= 1
        try:
            yield
        finally:
            self.connect_slots.release()

    async def cmd_backlog(self):
        """How many page loads wait for a handshake slot (a burst of arrivals leaves a queue)."""
        return {"waiting": self.waiting}

    async def visit(
        self, base: str, site: str, protocol: str, token: str | None, *, route: str = "", room: int | None = None
    ):
        """One page load: connect (with the visitor's routing key, as the snippet does), hello with
        the page and history (as the snippet sends it), (welcome). Returns (ws, token, welcome)."""
        # The page opens now: a wait for a connection slot (a server falling behind keeps them
        # all busy) counts in the navigation's latency, as a browser's wait would.
        opened = time.time()
        async with self.connect_slot():
            started = time.time()
            self.sample("slot", started - opened)
            # Visitors are thousands: bench/lean.py's client, which leaves the cores to the server.
            host, _, port = base.rpartition(":")
            if protocol in ("wp", "bare-presence"):
                path = f"/ws/visitor/?site={site}&r={route}" if protocol == "wp" else "/ws/bare/?role=presence"
                ws = await lean.connect(host, int(port), path, origin=ORIGIN)
                n = next(self.serial)
                sent = time.time()
                self.sample("connect", sent - started)
                self.pages_sent.append(sent)
                url = f"{ORIGIN}/p/{n}?t={sent:.6f}&opened={opened:.6f}"
                page = {"url": url, "title": f"Page {n}", "referrer": ""}
                await ws.send(json.dumps({"type": "hello", "token": token, "page": page, "history": 0}))
                welcome = json.loads(await ws.recv())
                if welcome.get("type") != "welcome":
                    raise RuntimeError(f"no welcome: {welcome}")
                self.sample("hello", time.time() - started)
            else:
                query = f"role=visitor&rooms={room}" if room else "role=idle"
                ws = await lean.connect(host, int(port), f"/ws/bare/?{query}", origin=ORIGIN)
                welcome = {}
        return ws, welcome.get("token"), welcome

    async def open_page(self, base: str, site: str, protocol: str, token, route: str, ready: asyncio.Future):
        """visit() and the socket's reader; `ready` told whether the first one connected. None
        after a failed connect (and a pause before the next try)."""
        try:
            ws, token, _ = await self.visit(base, site, protocol, token, route=route)
        except Exception:
            self.error("connect")
            if not ready.done():
                ready.set_result(False)
            await asyncio.sleep(1 + random.random())
            return None
        if not ready.done():
            ready.set_result(True)
        return ws, token, self.spawn(self.reader(ws, side="visitor", index=-1))

    async def presence_visitor(
        self, base: str, site: str, protocol: str, nav: float, ready: asyncio.Future, think: str = "exponential"
    ):
        token, route = None, secrets.token_urlsafe(12)  # the snippet's routing key: 16 characters
        stay = think_time(nav, think, first=True)
        while self.running:
            opened = await self.open_page(base, site, protocol, token, route, ready)
            if opened is None:
                continue
            ws, token, reader = opened
            try:
                # Woken only to ping, to navigate or by the socket closing: a wake-up a second
                # per visitor cost the generators a quarter of their CPU at 2,000 visitors.
                waited, next_ping = 0.0, random.uniform(0, PING_EVERY)
                while self.running and (not nav or waited < stay) and not reader.done():
                    step = min(next_ping, stay - waited) if nav else next_ping
                    started = time.monotonic()
                    await asyncio.wait((reader,), timeout=step)
                    elapsed = time.monotonic() - started
                    waited += elapsed
                    next_ping -= elapsed
                    if next_ping <= 0 and not reader.done():
                        await ws.send('{"type":"ping"}')
                        next_ping = PING_EVERY
                if reader.done() and self.running:
                    self.error("dropped")
                elif self.running:
                    self.count("navigations")
            except Exception:
                self.error("dropped")
            with contextlib.suppress(Exception):
                await ws.close()
            reader.cancel()
            stay = think_time(nav, think)

    async def page_visitor(
        self, base: str, site: str, protocol: str, nav: float, ready: asyncio.Future, think: str = "exponential"
    ):
        """A visitor on a single-page shop: one socket, a `page` frame every `nav` seconds on
        it (the snippet reports each in-page navigation so), a ping every 25 s."""
        token, route = None, secrets.token_urlsafe(12)
        while self.running:
            opened = await self.open_page(base, site, protocol, token, route, ready)
            if opened is None:
                continue
            ws, token, reader = opened
            try:
                stay, next_ping = think_time(nav, think, first=True), random.uniform(0, PING_EVERY)
                while self.running and not reader.done():
                    step = min(stay, next_ping)
                    await asyncio.wait((reader,), timeout=step)
                    stay, next_ping = stay - step, next_ping - step
                    if reader.done() or not self.running:
                        break
                    if next_ping <= 0:
                        await ws.send('{"type":"ping"}')
                        next_ping = PING_EVERY
                    if stay <= 0:
                        n = next(self.serial)
                        sent = time.time()
                        self.pages_sent.append(sent)
                        url = f"{ORIGIN}/p/{n}?t={sent:.6f}&opened={sent:.6f}"
                        await ws.send(json.dumps({"type": "page", "url": url, "title": f"Page {n}", "referrer": ""}))
                        self.count("navigations")
                        stay = think_time(nav, think)
                if reader.done() and self.running:
                    self.error("dropped")
            except Exception:
                self.error("dropped")
            with contextlib.suppress(Exception):
                await ws.close()
            reader.cancel()

    async def cmd_visitors(
        self,
        bases: list[str],
        n: int,
        site: str,
        protocol: str,
        nav: float,
        think: str = "exponential",
        mode: str = "navigate",
    ):
        """`mode` "navigate": each page a new socket and hello (presence_visitor); "frames": one
        socket, a `page` frame each page (page_visitor)."""
        started = time.time()
        readies = []
        visitor = self.page_visitor if mode == "frames" else self.presence_visitor
        for i in range(n):
            ready = asyncio.get_running_loop().create_future()
            readies.append(ready)
            self.spawn(visitor(bases[i % len(bases)], site, protocol, nav, ready, think))
        results = await asyncio.gather(*readies)
        return {"connected": sum(results), "refused": len(results) - sum(results), "seconds": time.time() - started}

    async def cmd_chatters(self, bases: list[str], rooms: list[int], site: str, protocol: str):
        """Visitors who open the chat window and write, as the widget does (the message makes the
        request): wp returns their pending rooms; bare uses the given room ids."""
        opened = []
        for i, room in enumerate(rooms):
            ws, _, _ = await self.visit(
                bases[i % len(bases)], site, protocol, None, route=secrets.token_urlsafe(12), room=room
            )
            if protocol == "wp":
                await ws.send('{"type":"open"}')
                # Timed as the relay's are, and sent before the meter starts: never sampled.
                first = {"type": "message", "body": f"{time.time():.6f} hello", "client_id": f"b{next(self.serial)}"}
                await ws.send(json.dumps(first))
                # Read here, before the reader starts: the `room` event of the request names the room
                # (the answer to `open` has none yet).
                while True:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    if frame.get("type") == "room" and frame["room"] is not None:
                        room = frame["room"]["id"]
                        break
            self.spawn(self.reader(ws, side="visitor", index=-2))
            self.chatters[room] = ws
            opened.append(room)
        return {"rooms": opened}

    # relay --------------------------------------------------------------------------

    async def cmd_relay(self, side: str, rate: float, seconds: float):
        """Messages at `rate` per second for `seconds`, round-robin over this side's rooms."""
        targets = list(self.chatters.items() if side == "visitor" else self.operator_rooms.items())
        if not targets or rate <= 0:
            return {"sent": 0}
        interval = 1 / rate
        started = time.monotonic()
        sent = 0
        while (elapsed := time.monotonic() - started) < seconds:
            due = int(elapsed / interval) + 1
            while sent < due:
                room, ws = targets[sent % len(targets)]
                frame = {
                    "type": "message",
                    "body": f"{time.time():.6f} hello there",
                    "client_id": f"b{next(self.serial)}",
                }
                if side == "operator":
                    frame["room"] = room
                try:
                    await ws.send(json.dumps(frame))
                except Exception:
                    self.error("send")
                sent += 1
            await asyncio.sleep(max(0.0, started + sent * interval - time.monotonic()))
        return {"sent": sent, "seconds": time.monotonic() - started}

    # control ------------------------------------------------------------------------

    async def cmd_received(self):
        """How many latencies are waiting for the next drain (to tell when a queue has emptied)."""
        return {"n": sum(len(values) for values in self.latencies.values())}

    async def cmd_drain(self, since: float = 0, until: float = float("inf")):
        """What happened since the last drain; latencies only of what was sent in [since, until]."""
        latencies = {
            kind: [ms for sent, ms in values if since <= sent <= until] for kind, values in self.latencies.items()
        }
        pages = [sent for sent in self.pages_sent if since <= sent <= until]
        self.pages_sent = []
        out = {"latencies": latencies, "errors": self.errors, "counts": {**self.counts, "pages_sent": len(pages)}}
        if os.environ.get("BENCH_RAW"):  # every (sent, ms) pair, to look for stalls over time
            out["raw"] = {kind: values for kind, values in self.latencies.items()}
        self.latencies, self.errors, self.counts = {}, {}, {}
        return out

    async def cmd_quit(self):
        self.running = False
        for ws in [*self.operators, *self.chatters.values()]:
            with contextlib.suppress(Exception):
                await ws.close()
        return {"bye": True}


async def main() -> None:
    generator = Generator()
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        command = json.loads(line)
        name = command.pop("cmd")
        try:
            answer = await getattr(generator, f"cmd_{name}")(**command)
        except Exception as error:
            answer = {"failed": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
        if name == "quit":
            break


if __name__ == "__main__":
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    # The generators play the browsers, which cost a real site nothing: on uvloop they take less
    # of the 2 cores the server under test runs on (BENCH_LOOP=asyncio: asyncio's own loop).
    if os.environ.get("BENCH_LOOP", "uvloop") == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(main())
