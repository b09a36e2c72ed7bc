"""What both sockets share: JSON frames in and out, field checks, errors, and events.

A frame that cannot be acted on gets `{"type":"error","code","detail"}` and the
socket stays open; only a message above WP_MAX_FRAME_BYTES closes it (4009). The server
sends nothing larger either: lists too long for one frame are paged (json_frames).
"""

import functools
import json
import logging
import time
from collections.abc import Awaitable, Iterator

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError
from django.http.request import split_domain_port, validate_host
from django.utils import timezone
from redis import RedisError

from infra.errors import ChatError
from infra.ratelimit import Rate, rate_limiter, scope_ip

logger = logging.getLogger(__name__)

# Typing frames (issue 23) relayed per socket (and room) at most this often, in seconds: the
# snippet and the panel send one every few seconds while someone types.
TYPING_EVERY = 1.0

# 1009 ("message too big") is what autobahn itself sends for a fragmented message over daphne's
# --websocket-max-message-size; a consumer may close only with 1000 or 3000-4999 (daphne raises
# on any other code, and the client got 1011 instead, issue 21).
CLOSE_TOO_BIG = 4009
CLOSE_NO_HELLO = 4008
# Extension: this visitor has WP_MAX_SOCKETS_PER_VISITOR sockets open already (after an
# error `too_many_sockets` answering the hello).
CLOSE_TOO_MANY_SOCKETS = 4029
CLOSE_LOGGED_OUT = 4001
# Extension (issue 25): an operator blocked this visitor (after `banned`, or an error `banned`
# answering the hello). The snippet does not come back.
CLOSE_BANNED = 4003
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
    if "\x00" in value:
        # PostgreSQL stores no NUL in text: refused here on every database alike, not failed as
        # "unavailable" there (which a client retries for ever) or in a page-view batch later.
        raise FrameError("invalid", f"'{name}' contains a NUL character")
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


def encode(payload: object) -> str:
    """A frame's JSON text: ASCII only (escapes), so its length is its size in bytes."""
    return json.dumps(payload, separators=(",", ":"))


def json_frames(head: dict, lists: dict[str, list], *, next_type: str, more: bool = False) -> Iterator[str]:
    """`head` with the items of `lists`, in frames of at most WP_MAX_FRAME_BYTES: the first is
    `head`, the next ones `{"type": next_type}`, each with every list (its part of it, maybe
    empty) and `"more"`: true on all but the last (or on the last too, when `more` says the
    lists themselves were cut short). daphne refuses to send a message above its limit, and
    that limit is also what it accepts from clients (issue 21: raised to 8 MiB for the panel's
    snapshot, it let unauthenticated sockets hold 8 MiB each): so the server pages instead."""
    limit = settings.WP_MAX_FRAME_BYTES
    items = [(name, encode(item)) for name, values in lists.items() for item in values]
    frame_head, position = head, 0
    while True:
        start = encode(frame_head)[:-1]
        # Room for every list's brackets and the `more` flag at its longest.
        size = len(start) + sum(len(f',"{name}":[]') for name in lists) + len(',"more":false}')
        parts: dict[str, list[str]] = {name: [] for name in lists}
        while position < len(items):
            name, text = items[position]
            grown = size + len(text) + (1 if parts[name] else 0)
            if grown > limit:
                if not any(parts.values()):
                    raise ValueError(f"one {name} item ({len(text)} bytes) is over the frame limit ({limit})")
                break
            parts[name].append(text)
            size, position = grown, position + 1
        rest = position < len(items)
        lists_text = "".join(f',"{name}":[{",".join(texts)}]' for name, texts in parts.items())
        yield f'{start}{lists_text},"more":{"true" if rest or more else "false"}}}'
        if not rest:
            return
        frame_head = {"type": next_type}


def history_frame(head: dict, messages: list[dict]) -> str:
    """`head` with as many of `messages` (oldest first) as fit one frame, and `more`: true when
    the rest is to be asked for after the last one sent (cut to fit, or a full page)."""
    from chat.selectors import HISTORY_LIMIT

    return next(json_frames(head, {"messages": messages}, next_type=head["type"], more=len(messages) >= HISTORY_LIMIT))


@functools.lru_cache(maxsize=4)
def _socket_frames(text: str) -> Rate:
    return Rate.parse(text)


def now_ts() -> float:
    return timezone.now().timestamp()


async def best_effort(what: str, step: Awaitable):
    """A cleanup step that must not stop the ones after it when Redis is down: a socket's
    presence lease runs out on its own, but only once nothing renews it any more. Its
    result, or None when it failed."""
    try:
        return await step
    except RedisError as error:
        logger.warning("could not %s: %s", what, error)
        return None


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
    # Set by a handler whose error ends the socket: closed with this code once it is sent.
    close_after_error: int | None = None

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
        await self.send(text_data=encode(payload))

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

    # The socket's frame budget (WP_RATE_SOCKET_FRAMES; a panel's, WP_RATE_PANEL_FRAMES): what
    # is left, and when it was counted.
    frame_budget_setting = "WP_RATE_SOCKET_FRAMES"
    _budget: float | None = None
    _budget_at = 0.0

    def _within_budget(self) -> bool:
        """Takes one frame from this socket's budget: `count` at once, then `count` per
        `seconds`. Frames of every type, the ones no other limit counts (history, close, ping,
        malformed ones) too: a flood of them on one socket slowed everyone's (issue 21). In the
        consumer, not Redis: it is one socket's, and every frame pays for it."""
        limit = _socket_frames(getattr(settings, self.frame_budget_setting))
        now = time.monotonic()
        budget = limit.count if self._budget is None else self._budget
        budget = min(limit.count, budget + (now - self._budget_at) * limit.count / limit.seconds)
        self._budget_at = now
        if budget < 1:
            self._budget = budget
            return False
        self._budget = budget - 1
        return True

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        size = len(text_data.encode()) if text_data is not None else len(bytes_data or b"")
        if size > settings.WP_MAX_FRAME_BYTES:
            await self.close(code=CLOSE_TOO_BIG)
            return
        if not self._within_budget():
            await self.send_error("rate_limited", "too many frames on this socket; slow down and try again later")
            return
        frame = None
        try:
            frame = self._parse(text_data)
            answer = await getattr(self, f"on_{frame['type']}")(frame)
        except (FrameError, ChatError) as error:
            await self.send_error(error.code, error.detail, frame)
            if self.close_after_error:
                await self.close(code=self.close_after_error)
        except (DatabaseError, RedisError):
            logger.exception("storage error handling a %s frame", type(self).__name__)
            await self.send_error("unavailable", "the server could not store this; try again", frame)
        except Exception:
            logger.exception("error handling a %s frame", type(self).__name__)
            await self.send_error("server_error", "something went wrong on the server", frame)
        else:
            if isinstance(answer, str):  # encoded already (json_frames)
                await self.send(text_data=answer)
            elif answer is not None:
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
