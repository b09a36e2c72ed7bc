"""One signed POST to a webhook's URL, with the standard library's http.client.

Safety (docs/security.md, issue 25): only http(s); the host is resolved here and every
address it has must be public (not private, loopback, link-local, multicast, reserved or
shared), unless WP_WEBHOOK_ALLOW_PRIVATE; the connection goes to the address that was
checked, so a DNS answer changed in between (rebinding) is never used; no redirect is
followed (a 3xx is a failure); every connect and read waits WP_WEBHOOK_TIMEOUT at most; at
most RESPONSE_BYTES of the answer are read."""

import hashlib
import hmac
import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

RESPONSE_BYTES = 4096


class Refused(Exception):
    """A URL White Panel will not send to (its scheme, or its host's addresses)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def target(url: str) -> Target:
    """Where `url` is sent: its parts and the address checked. Raises Refused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused("not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("only http:// and https:// URLs")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        raise Refused(f"{parts.hostname} cannot be resolved") from None
    addresses = [info[4][0] for info in found]
    if not settings.WP_WEBHOOK_ALLOW_PRIVATE:
        private = [address for address in addresses if not _public(address)]
        if private:
            raise Refused(f"{parts.hostname} has a private or reserved address ({private[0]})")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, parts.hostname, port, path, addresses[0])


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The X-WhitePanel-Signature header: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class _Pinned(http.client.HTTPConnection):
    """Connects to the address checked, not to what the host resolves to by then."""

    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedTLS(_Pinned):
    def connect(self):
        super().connect()
        # The certificate is checked against the URL's host name (SNI too), as usual.
        self.sock = ssl.create_default_context().wrap_socket(self.sock, server_hostname=self.host)


def post(url: str, *, body: bytes, headers: dict[str, str]) -> int:
    """POST `body` to `url`; the answer's status code. Raises Refused, OSError (timeouts
    included) or http.client.HTTPException."""
    where = target(url)
    kind = _PinnedTLS if where.scheme == "https" else _Pinned
    connection = kind(where, timeout=settings.WP_WEBHOOK_TIMEOUT)
    try:
        connection.request(
            "POST",
            where.path,
            body=body,
            headers={"Content-Type": "application/json", "User-Agent": "WhitePanel-Webhook/1", **headers},
        )
        response = connection.getresponse()
        response.read(RESPONSE_BYTES)
        return response.status
    finally:
        connection.close()
