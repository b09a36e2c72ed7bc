"""Closed websocket connections are freed by reference counting (whitepanel/closed_connections.py),
and nothing of a connection still open is touched."""

import gc
import weakref

import pytest
from daphne.http_protocol import WebRequest
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol

from whitepanel.patches import closed_connections


class Transport:
    def __init__(self, protocol):
        self.protocol, self.disconnected = protocol, False


def upgraded_connection() -> tuple[WebRequest, WebSocketProtocol, Transport]:
    """A websocket upgraded from an HTTP request, linked as daphne and twisted link them."""
    request, websocket = WebRequest.__new__(WebRequest), WebSocketProtocol.__new__(WebSocketProtocol)
    channel = type("Channel", (), {})()
    transport = Transport(websocket)
    websocket.transport, channel.transport = transport, transport
    request.channel, request.transport, channel.requests = channel, None, [request]
    return request, websocket, transport


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setattr(closed_connections, "_dropped", closed_connections.collections.deque())

    def daphnes_checker(self):
        # daphne's own drops the connections whose socket and application have ended.
        for protocol in self.ended:
            del self.connections[protocol]
        self.ended = []

    monkeypatch.setattr(Server, "application_checker", daphnes_checker)
    closed_connections.install()
    server = Server.__new__(Server)
    server.connections, server.ended = {}, []
    return server


def test_a_closed_connection_is_freed_without_the_collector_and_an_open_one_is_left_alone(server, monkeypatch):
    closed_request, closed, closed_transport = upgraded_connection()
    open_request, still_open, _ = upgraded_connection()
    server.connections = {closed_request: {}, closed: {}, open_request: {}, still_open: {}}
    clock = [1000.0]
    monkeypatch.setattr(closed_connections.time, "monotonic", lambda: clock[0])

    # daphne drops both upgraded requests at once, then the websocket that closed.
    server.ended = [closed_request, open_request]
    server.application_checker()
    closed_transport.disconnected = True
    server.ended = [closed]
    server.application_checker()
    freed = weakref.ref(closed)
    del closed, closed_request, closed_transport

    gc.disable()
    try:
        clock[0] += closed_connections.GRACE / 2
        server.application_checker()
        assert freed() is not None  # not before the grace period: a late timer may still fire
        clock[0] += closed_connections.GRACE
        server.application_checker()
        assert freed() is None  # gone by reference counting alone: no cycle was left
    finally:
        gc.enable()
    assert still_open.transport.protocol is still_open
    assert open_request.channel.requests == [open_request]
