"""Socket clients for tests: the same calls over an in-process WebsocketCommunicator
or a real websocket to a live daphne process."""

import asyncio
import json
import secrets
from collections.abc import Callable
from http.cookies import SimpleCookie

import pytest
import websockets
from channels.testing import WebsocketCommunicator

from whitepanel.asgi import application

Match = Callable[[dict], bool]


def of_type(kind: str, **fields) -> Match:
    """A frame of this type whose top-level fields (or nested object's, by `room__status`) match."""

    def match(frame: dict) -> bool:
        if frame.get("type") != kind:
            return False
        for path, expected in fields.items():
            value = frame
            for part in path.split("__"):
                value = value.get(part) if isinstance(value, dict) else None
            if value != expected:
                return False
        return True

    return match


def fresh(client: "SocketClient", match: Match) -> Match:
    """Matches only frames the client receives from now on (not one it has already)."""
    seen = {id(frame) for frame in client.frames}
    return lambda frame: id(frame) not in seen and match(frame)


async def ask_to_chat(
    visitor: "SocketClient", match: Match | None = None, *, body: str = "Hello?", timeout: float = 5.0
) -> dict:
    """The visitor opens the chat window and writes, as the snippet does: the first message is the
    request (R4), the window alone makes none. Returns the first `room` frame about the visitor
    after it (or the first one that matches `match`)."""
    made = fresh(visitor, match or of_type("room", room__visitor=visitor.welcome["visitor"]))
    await visitor.ask(fresh(visitor, of_type("room", room=None)), type="open")
    client_id = f"ask-{secrets.token_hex(4)}"
    await visitor.ask(of_type("ack", client_id=client_id), type="message", body=body, client_id=client_id)
    return await visitor.expect(made, timeout)


async def wait_closed(client: "SocketClient", timeout: float = 5.0) -> int | None:
    """The code the server closed this socket with, once it has (fails after `timeout`)."""
    with pytest.raises(AssertionError, match="socket closed"):
        await client.expect(lambda frame: False, timeout=timeout)
    return client.closed_code


async def whole_snapshot(client: "SocketClient", timeout: float = 5.0) -> dict:
    """A panel's snapshot with its parts put together (`snapshot_more` frames until one says
    `"more": false`, docs/protocol.md): one dict, as a snapshot that fits one frame is."""
    snapshot = await client.expect("snapshot", timeout)
    part = snapshot
    while part["more"]:
        part = await client.expect("snapshot_more", timeout)
        for name in ("operators", "rooms", "visitors"):
            snapshot[name] += part[name]
    snapshot["more"] = False
    return snapshot


class SocketClient:
    """Frames in arrival order; `expect` waits for one that matches, keeping the others."""

    def __init__(self):
        self.frames: list[dict] = []  # every frame received, in order
        self._unread: list[dict] = []
        self.closed_code: int | None = None

    # Transport, provided by subclasses.
    async def _send_text(self, text: str) -> None:
        raise NotImplementedError

    async def _receive_text(self, timeout: float) -> str | None:
        """One text frame, or None when the socket closed."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    # Calls.
    async def send(self, **frame) -> None:
        await self.send_raw(json.dumps(frame))

    async def send_raw(self, text: str) -> None:
        await self._send_text(text)

    async def expect(self, match: Match | str, timeout: float = 5.0) -> dict:
        if isinstance(match, str):
            match = of_type(match)
        for index, frame in enumerate(self._unread):
            if match(frame):
                return self._unread.pop(index)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"no matching frame within {timeout}s; unread: {self._unread[-10:]}")
            try:
                text = await self._receive_text(left)
            except TimeoutError:
                continue
            if text is None:
                raise AssertionError(f"socket closed ({self.closed_code}) while waiting; unread: {self._unread}")
            frame = json.loads(text)
            self.frames.append(frame)
            if match(frame):
                return frame
            self._unread.append(frame)

    async def expect_none(self, match: Match | str, within: float = 1.0) -> None:
        """No matching frame arrives within `within` seconds (for what must never be delivered)."""
        try:
            frame = await self.expect(match, timeout=within)
        except AssertionError as error:
            if "socket closed" in str(error):
                raise
            return
        raise AssertionError(f"unexpected frame {frame}")

    async def ask(self, match: Match | str, timeout: float = 5.0, **frame) -> dict:
        """Send a frame and wait for the answer that matches."""
        await self.send(**frame)
        return await self.expect(match, timeout=timeout)


class CommunicatorClient(SocketClient):
    def __init__(self, path: str, headers: list[tuple[bytes, bytes]]):
        super().__init__()
        self.communicator = WebsocketCommunicator(application, path, headers=headers)

    async def connect(self) -> bool:
        connected, self.closed_code = await self.communicator.connect(timeout=5)
        return connected

    async def _send_text(self, text: str) -> None:
        await self.communicator.send_to(text_data=text)

    async def send_bytes(self, data: bytes) -> None:
        await self.communicator.send_to(bytes_data=data)

    async def _receive_text(self, timeout: float) -> str | None:
        # Not receive_output(): on a timeout it cancels the application itself.
        if self.communicator.future.done():
            self.communicator.future.result()  # raises what the consumer raised
        message = await asyncio.wait_for(self.communicator.output_queue.get(), timeout)
        if message["type"] == "websocket.close":
            self.closed_code = message.get("code", 1000)
            return None
        return message["text"]

    async def close(self) -> None:
        await self.communicator.disconnect()


class LiveClient(SocketClient):
    """A real websocket client, for tests against daphne processes."""

    def __init__(self, url: str, *, origin: str | None, cookies: dict[str, str] | None = None):
        super().__init__()
        self.url, self.origin, self.cookies = url, origin, cookies or {}
        self.ws = None

    async def connect(self) -> bool:
        headers = {}
        if self.cookies:
            cookie = SimpleCookie(self.cookies)
            headers["Cookie"] = "; ".join(f"{k}={m.value}" for k, m in cookie.items())
        try:
            self.ws = await websockets.connect(self.url, origin=self.origin, additional_headers=headers)
        except websockets.InvalidStatus as error:
            self.closed_code = error.response.status_code
            return False
        return True

    async def _send_text(self, text: str) -> None:
        await self.ws.send(text)

    async def _receive_text(self, timeout: float) -> str | None:
        try:
            return await asyncio.wait_for(self.ws.recv(), timeout)
        except websockets.ConnectionClosed as closed:
            self.closed_code = closed.rcvd.code if closed.rcvd else None
            return None

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
