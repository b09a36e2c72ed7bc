"""What daphne writes on a connection arrives whole and in order, and closing still sends it
first, when writes skip twisted's wait for writability (whitepanel/socket_writes.py)."""

import asyncio
import socket

import pytest
from twisted.internet import error, protocol, tcp
from twisted.internet.asyncioreactor import AsyncioSelectorReactor
from twisted.python import failure

from whitepanel.patches import socket_writes


class Received(protocol.Protocol):
    def __init__(self):
        self.lost = False

    def connectionLost(self, reason=None):
        self.lost = True


@pytest.fixture
def connection():
    """A twisted TCP connection on an asyncio reactor (as daphne runs), and its peer's socket."""
    socket_writes.install()
    loop = asyncio.new_event_loop()
    reactor = AsyncioSelectorReactor(eventloop=loop)
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    received = Received()
    conn = tcp.Connection(ours, received, reactor)
    conn.connected = True
    received.makeConnection(conn)
    conn.startReading()
    yield conn, peer, loop, received
    peer.close()
    if conn.connected:
        conn.connectionLost(failure.Failure(error.ConnectionDone()))
    loop.close()


def turn(loop, seconds=0.0):
    loop.run_until_complete(asyncio.sleep(seconds))


def read_available(peer, timeout=1.0) -> bytes:
    peer.settimeout(timeout)
    chunks = []
    try:
        while chunk := peer.recv(1 << 20):
            chunks.append(chunk)
            peer.settimeout(0.05)
    except TimeoutError:
        pass
    return b"".join(chunks)


def test_frames_written_in_one_turn_arrive_in_order_without_waiting_for_writability(connection):
    conn, peer, loop, _ = connection
    for n in range(5):
        conn.write(b"frame %d;" % n)
    assert conn not in conn.reactor._writers

    turn(loop)

    assert read_available(peer) == b"frame 0;frame 1;frame 2;frame 3;frame 4;"
    assert conn not in conn.reactor._writers  # sent at once: epoll was never asked


def test_more_than_the_kernel_takes_arrives_whole_once_the_reader_catches_up(connection):
    conn, peer, loop, _ = connection
    big = bytes(range(256)) * (16 * 1024)  # 4 MB: more than a socket's buffers hold
    conn.write(big)
    conn.write(b"and after it")
    turn(loop)
    assert conn in conn.reactor._writers  # the rest waits for the socket to drain

    got = b""
    while len(got) < len(big) + len(b"and after it"):
        turn(loop, 0.01)
        got += read_available(peer, timeout=0.05)

    assert got == big + b"and after it"
    turn(loop, 0.01)
    assert conn not in conn.reactor._writers


def test_a_connection_closed_after_a_write_sends_it_first(connection):
    conn, peer, loop, received = connection
    conn.write(b"goodbye")
    conn.loseConnection()

    turn(loop, 0.05)

    assert read_available(peer) == b"goodbye"  # then the end of the stream
    assert received.lost
