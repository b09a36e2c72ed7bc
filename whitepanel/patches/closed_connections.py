"""Frees a closed connection's objects at once instead of at the next full garbage collection.

Each websocket connection daphne closes leaves about 60 objects in reference cycles (the
twisted transport and its protocol point at each other, as do the HTTP request and its
channel, with their headers, buffers and deferreds): only a full collection frees them.
With a navigation every 30 s per visitor that garbage made full collections frequent and
long (0.4-1 s at 1,500 visitors on one process: every socket of the process waited), and
the middle generation's collections slow (docs/benchmarks.md).

Once daphne has forgotten a connection (its `application_checker`, every second, drops it
when both the socket and its application have ended) and a grace period has passed for
any late timer, this empties the instance dictionaries of its protocol objects: nothing
references them any more, and the cycles go with the dictionaries, freed by reference
counting.
"""

import collections
import time

from daphne.http_protocol import WebRequest
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol

GRACE = 10.0  # seconds after daphne dropped a connection: autobahn's timers are 1-5 s

_dropped: collections.deque = collections.deque()  # (when, protocol), oldest first


def _parts(protocol: WebSocketProtocol) -> list:
    """The objects of a dropped websocket connection that hold its cycles: its protocol and
    TCP transport, and the HTTP request and channel it was upgraded from."""
    transport = getattr(protocol, "transport", None)
    if transport is None or not getattr(transport, "disconnected", False):
        return []
    request = getattr(protocol, "_upgraded_from", None)
    return [protocol, transport, *([request, getattr(request, "channel", None)] if request is not None else [])]


def _dropped_request(request: WebRequest) -> None:
    # daphne drops a request upgraded to a websocket at once (it handed its transport, now
    # the websocket's, over): it goes with the websocket.
    channel = getattr(request, "channel", None)
    websocket = getattr(getattr(channel, "transport", None), "protocol", None)
    if getattr(request, "transport", True) is None and isinstance(websocket, WebSocketProtocol):
        websocket._upgraded_from = request


def _free(now: float) -> None:
    while _dropped and now - _dropped[0][0] > GRACE:
        _, protocol = _dropped.popleft()
        for part in _parts(protocol):
            if part is not None and hasattr(part, "__dict__"):
                part.__dict__.clear()


def install() -> None:
    checker = Server.application_checker
    if getattr(checker, "frees_closed_connections", False):
        return

    def application_checker(self):
        before = set(self.connections)
        checker(self)
        now = time.monotonic()
        for protocol in before.difference(self.connections):
            if isinstance(protocol, WebSocketProtocol):
                _dropped.append((now, protocol))
            elif isinstance(protocol, WebRequest):
                _dropped_request(protocol)
        _free(now)

    application_checker.frees_closed_connections = True
    application_checker.__wrapped__ = checker  # daphne's own, for whitepanel.patches.source_hash
    Server.application_checker = application_checker
