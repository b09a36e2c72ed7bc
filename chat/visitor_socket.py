"""The visitor socket, `/ws/visitor/?site=<key>` (SPEC §3): one per open page."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from urllib.parse import parse_qs

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from infra.ratelimit import scope_ip
from infra.socket_caps import sockets_per_address
from visitors import services as visitor_services
from visitors import verified
from visitors.identities import known_visitors
from visitors.models import hash_token
from visitors.presence import visitor_presence
from visitors.sites import kept_site_id, site_by_key
from visitors.visits import Visit, visits
from visitors.windows import chat_windows

from . import events, identity, selectors, services, transcript_mail, visiting
from .bans import client_address, site_bans
from .db import database
from .departures import departures
from .models import Room
from .sockets import (
    CLOSE_BANNED,
    CLOSE_NO_HELLO,
    CLOSE_TOO_MANY_SOCKETS,
    TYPING_EVERY,
    FrameError,
    JsonSocket,
    best_effort,
    header,
    history_frame,
    host_allowed,
    id_field,
    message_fields,
    now_ts,
    text_field,
)

logger = logging.getLogger(__name__)

# Typing (issue 23): whom a visitor's typing goes to is looked up this often (seconds).
TYPING_TARGET_KEPT = 5.0

# Errors answering a hello that end the socket: said, then closed, since a hello again would
# be refused the same way.
CLOSE_AFTER_HELLO = {"too_many_sockets": CLOSE_TOO_MANY_SOCKETS, "banned": CLOSE_BANNED}
BANNED = "this visitor may not chat on this site"


@database
def _history(*, visitor_id: int, after: int):
    room = selectors.live_room(visitor_id=visitor_id)
    return selectors.visitor_history(visitor_id=visitor_id, after=after), room, selectors.room_queue(room=room)


_queue = database(selectors.room_queue)


@database
def _visit_rooms(*, visit: Visit, history: int | None) -> tuple[Room | None, list[dict] | None]:
    """What a page of a visit in Redis needs from the database: nothing for a visitor who
    never chatted (most); their live room, and the history asked for, for one who has."""
    room = selectors.live_room(visitor_id=visit.visitor_id, room_id=visit.live_room_id) if visit.live_room_id else None
    messages = None
    if history is not None:
        last = visit.last_room_id
        messages = (
            selectors.visitor_room_history(visitor_id=visit.visitor_id, room_id=last, after=history) if last else []
        )
    return room, messages


def _page_fields(frame: dict) -> dict:
    """What a `page` frame says, or a hello's `page` object."""
    return {
        "url": text_field(frame, "url", max_length=settings.WP_MAX_URL_LENGTH),
        "title": text_field(frame, "title", max_length=settings.WP_MAX_TITLE_LENGTH, required=False),
        "referrer": text_field(frame, "referrer", max_length=settings.WP_MAX_URL_LENGTH, required=False),
    }


def _by_id(arrival: tuple) -> tuple:
    visitor, room, messages = arrival
    return visitor.pk, room, messages


class VisitorConsumer(JsonSocket):
    frame_types = frozenset(
        "hello page open close message history ping rotate typing seen rate details transcript "
        "identify attributes track".split()
    )
    forbidden_types = frozenset({"accept", "start", "reopen", "transfer", "snapshot"})

    visitor_id: int | None = None
    window_open = False  # this tab has the chat window open (visitors/windows.py)
    _typing_at = 0.0  # when this socket's last typing frame was relayed
    _typing_target: tuple[float, tuple[int, int] | None] | None = None  # when looked up, (room, operator)
    _hello_timer: asyncio.Task | None = None
    _site_group: str | None = None  # the site's visitor group, joined at the handshake
    site_online = False  # whether any operator of the site is online (R16), kept from its events
    site_back_at = None  # outside the site's hours, when it opens (issue 25), kept likewise
    _address: str | None = None  # counted against its address's sockets (infra/socket_caps.py)

    async def connect(self) -> None:
        if not host_allowed(self.scope, required=False):
            await self.close()
            return
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        key = query.get("site", [""])[0][:64]
        # The site's group first, then the site with its state read: a change of whether anyone
        # is online committed after that read is an event this socket gets (chat/availability.py).
        # Known to the process (nearly every handshake), the group is joined without a trip to
        # Redis, and the read is the one the handshake made anyway.
        known = kept_site_id(key)
        if known is not None:
            await self._join_site(known)
        self.site = await site_by_key(key)
        if self.site is None or not self.site.allows_origin(header(self.scope, b"origin")):
            await self.close()  # before accept: the handshake is refused (403)
            return
        if self.site.pk != known:
            # The first handshake of this site in this process: read once more, in the group.
            await self._join_site(self.site.pk)
            self.site = await site_by_key(key) or self.site
        self.site_online, self.site_back_at = events.site_state(self.site)
        address = scope_ip(self.scope)
        if not await sockets_per_address.admit(address, self.channel_name, now=now_ts()):
            # An address holding WP_MAX_SOCKETS_PER_IP sockets opens no more (issue 21: 1,000
            # silent ones from one address took a process to its file limit).
            await self.close()
            return
        self._address = address
        await self.accept()
        self._hello_timer = asyncio.create_task(self._close_without_hello())

    async def _close_without_hello(self) -> None:
        await asyncio.sleep(settings.WP_HELLO_TIMEOUT)
        await self.close(code=CLOSE_NO_HELLO)

    async def _join_site(self, site_id: int) -> None:
        await self._leave_site()
        self._site_group = events.site_visitors_group(site_id)
        await self.channel_layer.group_add(self._site_group, self.channel_name)

    async def _leave_site(self) -> None:
        group, self._site_group = self._site_group, None
        if group is not None:
            await best_effort("leave the site's group", self.channel_layer.group_discard(group, self.channel_name))

    async def ended(self) -> None:
        await self._leave_site()
        if self._hello_timer is not None:
            self._hello_timer.cancel()
            self._hello_timer = None
        address, self._address = self._address, None
        if address is not None:
            await sockets_per_address.release(address, self.channel_name)
        visitor_id, self.visitor_id = self.visitor_id, None
        if visitor_id is not None:
            await self._leave(visitor_id)

    async def _leave(self, visitor_id: int) -> None:
        # Presence first, whatever happens to the group: a closed socket still renewed
        # would keep its visitor online for ever.
        now = now_ts()
        left = await best_effort(
            "record a visitor socket closing", visitor_presence.disconnected(visitor_id, self.channel_name, now=now)
        )
        window = False
        if self.window_open:
            self.window_open = False
            others = await best_effort(
                "record a chat window closing", chat_windows.closed(visitor_id, self.channel_name)
            )
            window = others == 0
        # Told to the operators only if no socket (or window) comes back soon: a page change.
        departures.socket_closed(visitor_id=visitor_id, site_id=self.site.pk, at=now, last=left == 0, window=window)
        await best_effort(
            "leave the visitor's group",
            self.channel_layer.group_discard(events.visitor_group(visitor_id), self.channel_name),
        )

    def _parse(self, text_data: str | None) -> dict:
        frame = super()._parse(text_data)
        if self.visitor_id is None and frame["type"] != "hello":
            raise FrameError("hello_first", "say hello first")
        return frame

    async def on_hello(self, frame: dict) -> dict | str:
        if self.visitor_id is not None:
            raise FrameError("not_allowed", "hello was already said on this connection")
        token = text_field(frame, "token", max_length=100, required=False)
        # Extensions (docs/protocol.md): the page it was opened on, and the history after a
        # message id, each saving the snippet a frame and the server a trip to the database.
        page = frame.get("page")
        if page is not None:
            if not isinstance(page, dict):
                raise FrameError("invalid", "'page' must be an object with 'url', 'title' and 'referrer'")
            page = _page_fields(page)
        history = id_field(frame, "history") if frame.get("history") is not None else None
        # Each hello may create a visitor: one address may not make them up by the thousand.
        # Its page counts as the address's page view too (one script call for both).
        await self.rate_limit("hello", also=("page",) if page is not None else ())
        # The client said hello: however long a busy database takes to answer it, this is
        # no silent socket (closing it would only make the client come back and queue again).
        self._hello_timer.cancel()
        # Not kept: a cancelled task holds its exception, traceback and frame (a few KB a socket).
        self._hello_timer = None
        try:
            return await self._welcome(token, page=page, history=history)
        except Exception as error:
            if isinstance(error, FrameError) and error.code in CLOSE_AFTER_HELLO:
                self.close_after_error = CLOSE_AFTER_HELLO[error.code]
                raise
            # Not welcomed (the answer is an error): it may say hello again, in time.
            self._hello_timer = asyncio.create_task(self._close_without_hello())
            raise

    async def _welcome(self, token: str, *, page: dict | None, history: int | None) -> dict | str:
        # Bans (issue 25), as this process keeps them with the site: no query.
        bans = await site_bans(self.site)
        if bans.refuses_address(client_address(self.scope)):
            raise FrameError("banned", BANNED)
        arrival = None
        known = known_visitors.get(self.site.pk, token) if page is not None else None
        if known is not None and bans.refuses_visitor(known):
            raise FrameError("banned", BANNED)
        if known is not None:
            # A visitor this process has identified before, on a new page (nearly every hello):
            # their visit's state in Redis checks the token is still theirs, and no database
            # is asked, unless the visit is not there (visitors/visits.py): then one trip, whose
            # statement checks the token (visitors/identities.py).
            arrival = await self._arrive(
                known, partial(self._welcome_known, visitor_id=known, token=token, page=page, history=history)
            )
            if arrival is None:
                known_visitors.forget(self.site.pk, token)
        if arrival is None:
            visitor, token = await database(visitor_services.visitor_identify)(site=self.site, token=token)
            if bans.refuses_visitor(visitor.pk):
                raise FrameError("banned", BANNED)
            welcome_identified = database(visiting.visitor_welcome)

            async def welcome() -> tuple:
                return _by_id(
                    await welcome_identified(visitor=visitor, page=page, history=history, client=self._client())
                )

            arrival = await self._arrive(visitor.pk, welcome)
            known_visitors.remember(self.site.pk, token, visitor.pk)
        visitor_id, room, messages = arrival
        self.visitor_id = visitor_id
        # A waiting visitor's place in line at once (R16); the others cost nothing for it.
        queue = await self._queue(room) if room is not None and room.status == Room.Status.PENDING else None
        welcome = {
            "type": "welcome",
            "token": token,
            "visitor": visitor_id,
            "room": events.room_payload(room) if room else None,
            "queue": queue,
            "server_time": timezone.now().isoformat(),
            "site": events.site_payload(self.site, online=self.site_online, back_at=self.site_back_at),
        }
        # The messages asked for in the hello: a page of them, as a `history` answer has.
        return welcome if messages is None else history_frame(welcome, messages)

    def _client(self) -> dict:
        """What the handshake's headers say of the visitor, for a visit's start (parsed there,
        only then: visitors/clients.py)."""
        return {
            "user_agent": header(self.scope, b"user-agent"),
            "accept_language": header(self.scope, b"accept-language"),
            "address": client_address(self.scope),
        }

    async def _queue(self, room: Room) -> dict | None:
        try:
            return await _queue(room=room)
        except DatabaseError:
            # Welcomed all the same (the arrival is done): the next change of the pool brings it.
            logger.warning("could not read the queue of room %s", room.pk, exc_info=True)
            return None

    async def _welcome_known(self, *, visitor_id: int, token: str, page: dict, history: int | None) -> tuple | None:
        visit = await visits.page(visitor_id, page=page, now=timezone.now(), token_hash=hash_token(token))
        if visit is None:
            arrival = await database(visiting.visitor_welcome_known)(
                visitor_id=visitor_id, token=token, page=page, history=history, client=self._client()
            )
            return None if arrival is None else _by_id(arrival)
        room, messages = await self._visit_moved(visit, page=page, history=history)
        return visitor_id, room, messages

    async def _visit_moved(
        self, visit: Visit, *, page: dict, history: int | None = None
    ) -> tuple[Room | None, list[dict] | None]:
        """The panel hears of a page of a visit in Redis (its live room read, if it has one)."""
        room, messages = None, ([] if history is not None else None)
        if visit.live_room_id or (history is not None and visit.last_room_id):
            room, messages = await _visit_rooms(visit=visit, history=history)
            if visit.live_room_id and room is None:
                await visits.room_ended(visit.visitor_id, visit.live_room_id)
        await events.visitor_moved(visit, room=room, **page)
        return room, messages

    async def _arrive(self, visitor_id: int, welcome: Callable[[], Awaitable[tuple | None]]) -> tuple | None:
        """Presence and the visitor's group, then `welcome` (the arrival, its page and the history
        in one trip to a database thread). None if `welcome` found the token is not the visitor's."""
        # Presence first, then online in the database: the sweep checks presence
        # under the same row lock, so a visitor coming back is never marked gone.
        cap = settings.WP_MAX_SOCKETS_PER_VISITOR
        if not await visitor_presence.connected(visitor_id, self.channel_name, now=now_ts(), cap=cap):
            # One token's hundreds of sockets (issue 21: 891, from two addresses) hold what
            # hundreds of visitors would: more tabs than anyone keeps open are refused.
            raise FrameError("too_many_sockets", f"this visitor has {cap} sockets open already; close one")
        try:
            await self.channel_layer.group_add(events.visitor_group(visitor_id), self.channel_name)
            arrival = await welcome()
        except BaseException:
            # Not welcomed: nothing of this socket stays behind (a renewed lease would keep
            # the visitor online for ever).
            await self._leave(visitor_id)
            raise
        if arrival is None:
            await self._leave(visitor_id)
            # Events of that visitor's group that reached this socket meanwhile are not for it.
            for _ in self.channel_layer.receive_queued(self.channel_name):
                pass
        return arrival

    async def on_page(self, frame: dict) -> None:
        page = _page_fields(frame)
        await self.rate_limit("page", visitor=self.visitor_id)
        # Redis only, for a visit in progress (visitors/visits.py); the database records it
        # otherwise (the visit was ended by the sweep meanwhile, or Redis lost it).
        visit = await visits.page(self.visitor_id, page=page, now=timezone.now())
        if visit is None:
            await database(visiting.visitor_page_view)(visitor_id=self.visitor_id, client=self._client(), **page)
        else:
            await self._visit_moved(visit, page=page)

    async def on_open(self, frame: dict) -> dict:
        await self.rate_limit("open", visitor=self.visitor_id)
        # Recorded before the room: a tab closing the window meanwhile sees this one open.
        await chat_windows.opened(self.visitor_id, self.channel_name)
        self.window_open = True
        room = await database(services.room_open)(visitor_id=self.visitor_id)
        # None with no live room: the visitor's first message makes the request, not the window.
        return {"type": "room", "room": events.room_payload(room) if room else None}

    async def on_close(self, frame: dict) -> dict:
        self.window_open = False
        await chat_windows.closed(self.visitor_id, self.channel_name)
        room = await database(services.room_leave_window)(visitor_id=self.visitor_id)
        return {"type": "room", "room": events.room_payload(room) if room else None}

    async def on_message(self, frame: dict) -> dict:
        body, client_id = message_fields(frame)
        await self.rate_limit("message", visitor=self.visitor_id)
        message = await database(services.message_send_by_visitor)(
            visitor_id=self.visitor_id, body=body, client_id=client_id
        )
        return {"type": "ack", "client_id": client_id or None, "id": message.pk}

    async def on_typing(self, frame: dict) -> None:
        """The visitor is typing (issue 23): their room's operator sees it, nobody else; nothing
        is stored. One a second at most is relayed (the snippet sends one every few seconds);
        the room's operator is looked up once every few seconds, not per frame."""
        now = now_ts()
        if now - self._typing_at < TYPING_EVERY:
            return
        self._typing_at = now
        if self._typing_target is None or now - self._typing_target[0] > TYPING_TARGET_KEPT:
            target = await database(selectors.typing_target_of_visitor)(visitor_id=self.visitor_id)
            self._typing_target = (now, target)
        target = self._typing_target[1]
        if target is not None:
            room_id, operator_id = target
            await events.publish_deferred(
                events.typing_batch(
                    room_id=room_id, by="visitor", name=None, to_group=events.operator_group(operator_id)
                )
            )

    async def on_seen(self, frame: dict) -> None:
        """The visitor saw their conversation up to this message (issue 23): the operator hears of it."""
        message_id = id_field(frame, "id")
        await self.rate_limit("seen", visitor=self.visitor_id)
        await database(services.room_seen_by_visitor)(visitor_id=self.visitor_id, message_id=message_id)

    async def on_rate(self, frame: dict) -> dict:
        """The visitor rates a chat of theirs, once (issue 23): answered by its `room`."""
        room_id = id_field(frame, "room")
        rating = frame.get("rating")
        if not isinstance(rating, int) or isinstance(rating, bool):
            raise FrameError("invalid", "'rating' must be a whole number from 1 to 5")
        comment = text_field(frame, "comment", max_length=settings.WP_MAX_RATING_COMMENT_LENGTH, required=False)
        await self.rate_limit("rate", visitor=self.visitor_id)
        room = await database(services.room_rate)(
            visitor_id=self.visitor_id, room_id=room_id, rating=rating, comment=comment
        )
        return {"type": "room", "room": events.room_payload(room)}

    async def on_rotate(self, frame: dict) -> dict:
        """A new token for this visitor (the snippet stores it in place of the old one):
        a token that leaked, from a shared computer or a copied localStorage, stops working."""
        await self.rate_limit("rotate", visitor=self.visitor_id)
        token = await database(visitor_services.visitor_rotate_token)(visitor_id=self.visitor_id)
        return {"type": "token", "token": token}

    async def on_history(self, frame: dict) -> str:
        after = id_field(frame, "after", required=False)
        messages, room, queue = await _history(visitor_id=self.visitor_id, after=after)
        # The room too (extension): after a `resync` it is all the snippet needs to catch up.
        frame = {"type": "history", "room": events.room_payload(room) if room else None, "queue": queue}
        return history_frame(frame, messages)

    async def on_details(self, frame: dict) -> dict:
        """The visitor's name and email, to be answered by email once they have left (R16)."""
        name = text_field(frame, "name", max_length=visiting.NAME_LENGTH, required=False).strip()
        email = text_field(frame, "email", max_length=visiting.EMAIL_LENGTH, required=False).strip()
        await self.rate_limit("details", visitor=self.visitor_id)
        visitor = await database(visiting.visitor_details_save)(visitor_id=self.visitor_id, name=name, email=email)
        return {"type": "details", "name": visitor.given_name, "email": visitor.email}

    async def on_identify(self, frame: dict) -> dict:
        """The site's user, vouched for by its server (issue 25, chat/identity.py): this visitor
        becomes verified, or, the person being a visitor already (another device), this browser
        is to reconnect as them with the token answered (`switched`)."""
        external_id = text_field(frame, "id", max_length=verified.EXTERNAL_ID_LENGTH).strip()
        if not external_id:
            raise FrameError("invalid", "'id' is empty")
        signature = text_field(frame, "hash", max_length=128, required=False).strip()
        name = text_field(frame, "name", max_length=visiting.NAME_LENGTH, required=False).strip()
        email = text_field(frame, "email", max_length=visiting.EMAIL_LENGTH, required=False).strip()
        await self.rate_limit("identify", visitor=self.visitor_id)
        identified = await database(identity.visitor_identify_verified)(
            visitor_id=self.visitor_id, external_id=external_id, signature=signature, name=name, email=email
        )
        person = identified.visitor
        # The reconnect's hello is then one this process knows (no read of the visitor).
        known_visitors.remember(self.site.pk, identified.token, person.pk)
        return {
            "type": "identified",
            "verified": True,
            "visitor": person.pk,
            "token": identified.token,
            "switched": identified.switched,
            "name": person.given_name,
            "email": person.email,
        }

    async def on_attributes(self, frame: dict) -> dict:
        """What the site says of the visitor (issue 25): merged into theirs, shown to operators."""
        attributes = frame.get("attributes")
        await self.rate_limit("attributes", visitor=self.visitor_id)
        visitor = await database(visitor_services.visitor_attributes_update)(
            visitor_id=self.visitor_id, attributes=attributes
        )
        return {"type": "attributes", "attributes": events.attributes_payload(visitor.attributes)}

    async def on_track(self, frame: dict) -> None:
        """An event the site tracked (issue 25): kept with its time among the visitor's last ones."""
        name = frame.get("name")
        await self.rate_limit("track", visitor=self.visitor_id)
        await database(visitor_services.visitor_event_track)(visitor_id=self.visitor_id, name=name)

    async def on_transcript(self, frame: dict) -> dict:
        """The visitor asks for the conversation of a room of theirs by email (issue 23): mailed
        once, when the room has ended. Asked again, the same answer."""
        room_id = id_field(frame, "room")
        email = text_field(frame, "email", max_length=visiting.EMAIL_LENGTH, required=False).strip()
        await self.rate_limit("transcript", visitor=self.visitor_id)
        room = await database(transcript_mail.transcript_ask)(visitor_id=self.visitor_id, room_id=room_id, email=email)
        return {
            "type": "transcript",
            "room": room.pk,
            "email": room.transcript_email,
            "status": transcript_mail.transcript_status(room),
        }

    async def wp_site(self, message: dict) -> None:
        # Whether anyone is online changed (R16): kept for the welcome, sent once welcomed.
        self.site_online, self.site_back_at = message["online"], message.get("back_at")
        if self.visitor_id is not None:
            await self.send(text_data=message["text"])

    async def wp_banned(self, message: dict) -> None:
        # An operator blocked this visitor (issue 25): told, then closed.
        await self.send_json({"type": "banned"})
        await self.close(code=CLOSE_BANNED)

    async def wp_resync(self, message: dict) -> None:
        # Events for this socket may have been lost while Redis was away (chat/layers.py):
        # the snippet asks for history, which brings the room too. Cheaper than a reconnect.
        if self.visitor_id is not None:
            await self.send_json({"type": "resync"})
