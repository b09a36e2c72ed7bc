"""What both sockets share: JSON frames in and out, field checks, errors, and events.

A frame that cannot be acted on gets `{"type":"error","code","detail"}` and the
socket stays open; only a frame above WP_MAX_FRAME_BYTES closes it (1009).
"""

import json
import logging
from collections.abc import Awaitable

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError
from django.http.request import split_domain_port, validate_host
from django.utils import timezone
from redis import RedisError

from infra.errors import ChatError
from infra.ratelimit import rate_limiter, scope_ip

logger = logging.getLogger(__name__)

CLOSE_TOO_BIG = 1009
CLOSE_NO_HELLO = 4008
CLOSE_LOGGED_OUT = 4001
CLOSE_SERVER_ERROR = 1011
# Reconnect and resync (snapshot, history): events may have been lost; see chat/layers.py.
# (1012, "service restart", would say it too, but daphne sends only 1000 and 3000-4999.)
CLOSE_RESYNC = 4012


class FrameError(Exception):
    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


def text_field(frame: dict, name: str, *, max_length: int, required: bool = True) -> str:
    value = frame.get(name)
    if value is None:
        if required:
            raise FrameError("invalid", f"'{name}' is required")
        return ""
    if not isinstance(value, str):
        raise FrameError("invalid", f"'{name}' must be a string")
    if len(value) > max_length:
        raise FrameError("too_long", f"'{name}' is longer than {max_length} characters")
    if not value.isascii():
        # JSON's \ud800 escapes make strings no database, log or browser can store or show
        # (a lone UTF-16 surrogate): refused here, before anything is written.
        try:
            value.encode()
        except UnicodeEncodeError:
            raise FrameError("invalid", f"'{name}' is not valid Unicode text") from None
    return value


def id_field(frame: dict, name: str, *, required: bool = True) -> int:
    value = frame.get(name)
    if value is None and not required:
        return 0
    # bool is an int in Python, never an id.
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise FrameError("invalid", f"'{name}' must be a non-negative integer id")
    return value


def message_fields(frame: dict) -> tuple[str, str]:
    body = text_field(frame, "body", max_length=settings.WP_MAX_MESSAGE_LENGTH)
    if not body.strip():
        raise FrameError("invalid", "'body' is empty")
    client_id = text_field(frame, "client_id", max_length=settings.WP_MAX_CLIENT_ID_LENGTH, required=False)
    return body, client_id


def now_ts() -> float:
    return timezone.now().timestamp()


async def best_effort(what: str, step: Awaitable) -> None:
    """A cleanup step that must not stop the ones after it when Redis is down: a socket's
    presence lease runs out on its own, but only once nothing renews it any more."""
    try:
        await step
    except RedisError as error:
        logger.warning("could not %s: %s", what, error)


def header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def host_allowed(scope: dict, *, required: bool) -> bool:
    """The handshake's Host names this server (ALLOWED_HOSTS), as Django checks it for every
    HTTP request (issue 21: a handshake with `Host: evil.example` opened the panel). A socket
    with no Host at all passes unless `required`: no browser leaves it out."""
    host = header(scope, b"host")
    if not host:
        return not required
    domain, _ = split_domain_port(host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


class JsonSocket(AsyncWebsocketConsumer):
    """Dispatches `{"type": T, ...}` to `on_T(frame)`; an answer it returns is sent back."""

    frame_types: frozenset[str] = frozenset()
    # The other side's actions: known, but not for this socket.
    forbidden_types: frozenset[str] = frozenset()
    # Copied from a refused frame into its error.
    echoed_fields = ("client_id", "room", "visitor")

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # However this consumer ends (its socket closing, an exception, or daphne
            # cancelling a handler still busy at application_close_timeout), it no longer keeps
            # anyone present: before issue 21 only disconnect() stopped the renewal of its
            # presence lease, and a consumer that died without it left a ghost visitor online,
            # with their pool request pending, for ever. The one place a socket is left.
            await self.ended()

    async def ended(self) -> None:
        """The consumer is gone: its presence and its groups left (idempotent)."""

    async def dispatch(self, message: dict) -> None:
        # Channels' dispatch first closes old database connections, by a hop to the
        # process's one thread-sensitive thread and back, for every frame and every event
        # of every socket: one line all the process's messages waited in (page events
        # took seconds to reach panels at 1,500 visitors, docs/benchmarks.md). No handler
        # here uses the database from the event loop; infra.db manages its threads'
        # connections around each call, as channels' database_sync_to_async does (auth).
        await self._handle(message)
        if message["type"] == "wp.event":
            await self._handle_queued_events()

    async def websocket_disconnect(self, message: dict) -> None:
        # Channels' own ends with the same hop to close old connections (see dispatch), on
        # every closing socket: a navigation is one. These sockets join no `groups` of
        # Channels' own to leave; each leaves its own in ended(), which __call__ runs next.
        raise StopConsumer()

    async def _handle(self, message: dict) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def _handle_queued_events(self) -> None:
        # Channels hands a socket one event at a time, each in a new task and a wait on it:
        # a few turns of the process's event loop per event. A panel sees every event of
        # its sites, and under load (each turn of a loop serving 1,500 sockets taking
        # milliseconds) its events queued faster than it took them, seconds behind
        # (docs/benchmarks.md). The events already waiting are sent now, in order; a
        # control message among them (close, resync) ends the run after it is handled.
        for message in self.channel_layer.receive_queued(self.channel_name):
            await self._handle(message)
            if message["type"] != "wp.event":
                break

    async def rate_limit(self, action: str, *, also: tuple[str, ...] = (), **subjects: object) -> None:
        """Counts this action against its limits (per subject, and per client IP address);
        over one, the frame is refused with `rate_limited` and nothing is stored. `also`:
        actions the frame does too, counted against the address's limits of each."""
        checks = [(kind, action, str(subject)) for kind, subject in subjects.items()]
        checks += [("ip", name, scope_ip(self.scope)) for name in (action, *also)]
        if await rate_limiter.ahit(checks):
            raise FrameError("rate_limited", f"too many '{action}' frames; slow down and try again later")

    async def send_json(self, payload: dict) -> None:
        await self.send(text_data=json.dumps(payload, separators=(",", ":")))

    async def send_error(self, code: str, detail: str, frame: dict | None = None) -> None:
        error = {"type": "error", "code": code, "detail": detail}
        if frame is not None:
            # Say which request this answers, so a client can match it to what it sent.
            error["for"] = frame["type"]
            for name in self.echoed_fields:
                value = frame.get(name)
                if isinstance(value, str | int) and not isinstance(value, bool) and len(str(value)) <= 64:
                    error[name] = value
        await self.send_json(error)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        size = len(text_data.encode()) if text_data is not None else len(bytes_data or b"")
        if size > settings.WP_MAX_FRAME_BYTES:
            await self.close(code=CLOSE_TOO_BIG)
            return
        frame = None
        try:
            frame = self._parse(text_data)
            answer = await getattr(self, f"on_{frame['type']}")(frame)
        except (FrameError, ChatError) as error:
            await self.send_error(error.code, error.detail, frame)
        except (DatabaseError, RedisError):
            logger.exception("storage error handling a %s frame", type(self).__name__)
            await self.send_error("unavailable", "the server could not store this; try again", frame)
        except Exception:
            logger.exception("error handling a %s frame", type(self).__name__)
            await self.send_error("server_error", "something went wrong on the server", frame)
        else:
            if answer is not None:
                await self.send_json(answer)

    def _parse(self, text_data: str | None) -> dict:
        if text_data is None:
            raise FrameError("bad_json", "frames must be JSON text, not binary")
        try:
            frame = json.loads(text_data)
        except (ValueError, RecursionError):
            raise FrameError("bad_json", "the frame is not valid JSON") from None
        if not isinstance(frame, dict):
            raise FrameError("bad_json", "a frame must be a JSON object")
        kind = frame.get("type")
        if not isinstance(kind, str):
            raise FrameError("unknown_type", "'type' must be a string")
        if kind in self.forbidden_types:
            raise FrameError("not_allowed", f"'{kind}' is not allowed on this socket")
        if kind not in self.frame_types:
            raise FrameError("unknown_type", f"unknown frame type {kind[:40]!r}")
        return frame

    async def on_ping(self, frame: dict) -> dict:
        return {"type": "pong"}

    # Channel layer handlers: events are JSON already (chat/events.py).

    async def wp_event(self, message: dict) -> None:
        await self.send(text_data=message["text"])

    async def wp_close(self, message: dict) -> None:
        await self.close(code=CLOSE_LOGGED_OUT)

    async def wp_resync(self, message: dict) -> None:
        # This process's events may have been lost while Redis was away: the client
        # reconnects and reads what it missed from the database (the panel: a snapshot).
        await self.close(code=CLOSE_RESYNC)
