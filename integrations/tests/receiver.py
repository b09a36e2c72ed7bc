"""A real HTTP server on 127.0.0.1, in a thread, as the owners' webhook receiver in tests."""

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    answered: int

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def event(self) -> str:
        return self.headers["X-WhitePanel-Event"]


def verified(request: Received, secret: str, tolerance: float = 300) -> dict:
    """The body, if its signature is right and recent (docs/api.md's example, as a receiver would)."""
    parts = dict(part.split("=", 1) for part in request.headers["X-WhitePanel-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, parts["v1"]), "bad signature"
    assert abs(time.time() - int(parts["t"])) < tolerance, "stale signature"
    return json.loads(request.body)


@dataclass
class Receiver:
    """Answers each POST with what `answer(path, count)` says (`count`: that path's POSTs so
    far, this one included): a status, or (status, seconds to wait first, extra headers)."""

    answer: Callable[[str, int], int | tuple] = lambda path, count: 200
    received: list[Received] = field(default_factory=list)

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    count = 1 + sum(1 for r in receiver.received if r.path == self.path)
                    answer = receiver.answer(self.path, count)
                    status, wait, headers = answer if isinstance(answer, tuple) else (answer, 0, {})
                    receiver.received.append(Received(self.path, dict(self.headers), body, time.time(), status))
                time.sleep(wait)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the sender gave up waiting

            def log_message(self, *args):
                pass

        lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def at(self, path: str) -> list[Received]:
        return [request for request in self.received if request.path == path]

    def wait(self, path: str, count: int, timeout: float = 15.0) -> list[Received]:
        """The first `count` requests to `path`, once there are so many (fails after `timeout`)."""
        deadline = time.monotonic() + timeout
        while len(self.at(path)) < count:
            assert time.monotonic() < deadline, f"{len(self.at(path))} of {count} requests to {path}: {self.at(path)}"
            time.sleep(0.05)
        return self.at(path)[:count]
