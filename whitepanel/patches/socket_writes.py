"""Sends what a connection writes at the end of the event loop's turn, without asking epoll first.

Twisted's TCP connection buffers each write and registers the socket for writability; on
the next turn of the loop it sends, and unregisters it once the buffer is empty. Under
asyncio's loop (daphne's reactor) that is two `epoll_ctl` calls and a turn through the
reactor for every frame: a fifth of daphne's event loop at 2,000 visitors, where most
frames (a handshake's answer, a `welcome`, an event) are small and the socket's buffer has
room for them (docs/benchmarks.md). asyncio's own transports send at once and register
only what the kernel did not take.

Here a connection with nothing waiting to be sent schedules one send for the end of the
turn (every frame it writes meanwhile goes in the same `send`), made by twisted's own
`doWrite`; whatever the kernel does not take is left to twisted's usual way (the socket
registered until it drains). A connection already registered (data waiting, or closing)
buffers as before. TLS connections and other reactors are untouched.
"""

from twisted.internet import tcp
from twisted.internet.asyncioreactor import AsyncioSelectorReactor

_write = tcp.Connection.write


def _flush(connection: tcp.Connection) -> None:
    connection._send_scheduled = False
    reactor = connection.reactor
    if not connection.connected or connection in reactor._writers:
        return  # closed meanwhile (its buffer went with it), or twisted sends it when writable
    # doWrite with the reactor's own handling of a failed send or a finished close.
    reactor._readOrWrite(connection, False)
    if connection.connected and (connection._tempDataLen or connection.offset < len(connection.dataBuffer)):
        connection.startWriting()  # the kernel's buffer is full: the rest when it drains


def write(self: tcp.Connection, data: bytes) -> None:
    reactor = self.reactor
    if (
        self.TLS
        or type(data) is not bytes
        or not isinstance(reactor, AsyncioSelectorReactor)
        or self in reactor._writers
        or not self.connected
        or self._writeDisconnected
    ):
        _write(self, data)
        return
    if not data:
        return
    self._tempDataBuffer.append(data)
    self._tempDataLen += len(data)
    self._maybePauseProducer()
    if not self._send_scheduled:
        self._send_scheduled = True
        reactor._asyncioEventloop.call_soon(_flush, self)


def install() -> None:
    if tcp.Connection.write is not write:
        tcp.Connection._send_scheduled = False
        tcp.Connection.write = write
