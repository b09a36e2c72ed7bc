"""Every event's payload is built here, once, and published after the transaction commits.

The shapes are SPEC §3's objects; the snapshot, the sockets and the API all use
these builders. Events go only to those who may see them:

- `visitor-<id>`: every socket (tab) of one visitor: their room and messages;
- `operator-<id>`: every panel of one operator: their rooms and messages;
- `site-<id>-operators`: every operator serving the site: visitors, the pool,
  operator presence;
- `site-<id>-visitors`: every visitor socket of the site: whether anyone is online (R16).

Each event is serialised to JSON once, here, and the consumers pass the text
through: no query and no encoding per event per operator.
"""

import contextlib
import contextvars
import json
import logging
from collections.abc import Iterable
from datetime import datetime
from operator import attrgetter

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from integrations.services import deliveries_add
from operators.models import Operator
from visitors import hours
from visitors.clients import UTM_FIELDS
from visitors.models import Site, Visitor
from visitors.visits import visits

from . import files
from .models import Ban, Message, Room, visitor_sees

logger = logging.getLogger(__name__)


def visitor_group(visitor_id: int) -> str:
    return f"visitor-{visitor_id}"


def operator_group(operator_id: int) -> str:
    return f"operator-{operator_id}"


def site_group(site_id: int) -> str:
    return f"site-{site_id}-operators"


def site_visitors_group(site_id: int) -> str:
    return f"site-{site_id}-visitors"


# Payloads ------------------------------------------------------------------


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def operator_payload(operator: Operator) -> dict:
    # `status` (extension, issue 23): available, away or busy, as the operator says.
    return {"id": operator.pk, "name": operator.name, "online": operator.online, "status": operator.status}


def room_payload(room: Room) -> dict:
    """A room; `room.visitor` is read with it (select_related) wherever one is sent."""
    operator = room.operator
    visitor = room.visitor
    return {
        "id": room.pk,
        "site": room.site_id,
        "status": room.status,
        "visitor": room.visitor_id,
        "operator": {"id": operator.pk, "name": operator.name} if operator else None,
        "visitor_in_room": room.visitor_in_room,
        "window_opened": room.window_opened,
        # Issue 23: the newest message of the room each side has seen (0: none).
        "visitor_seen": room.visitor_seen_id,
        "operator_seen": room.operator_seen_id,
        # Given to its operator by the site's routing, not taken from the pool (issue 23).
        "routed": room.routed,
        # SPEC §3: null or 1-5; the comment is an extension (issue 23).
        "rating": room.rating,
        "rating_comment": room.rating_comment or None,
        "expires_at": _time(room.expires_at),
        "reason": room.reason or None,
        "created_at": _time(room.created_at),
        # R14 (extension): a request back in the pool by itself, and why.
        "returned": (
            {"reason": room.return_reason, "operator": room.return_operator_name or None}
            if room.return_reason
            else None
        ),
        # Issue 25 (extension): made outside its site's business hours; the panel does not alert.
        "after_hours": room.after_hours,
        # R16 (extension): an offline request since when, and how its visitor can be answered
        # once they have left (operators see it with the request even then).
        "offline_at": _time(room.offline_at),
        "contact": _contact(visitor.given_name, visitor.email),
        # Issue 23 (extension): the visitor asked for the conversation by email; `sent_at` once mailed.
        "transcript": (
            {
                "email": room.transcript_email,
                "asked_at": _time(room.transcript_asked_at),
                "sent_at": _time(room.transcript_sent_at),
            }
            if room.transcript_asked_at
            else None
        ),
    }


def _contact(name: str, email: str) -> dict | None:
    return {"name": name, "email": email} if name or email else None


def message_payload(message: Message) -> dict:
    return {
        "id": message.pk,
        "room": message.room_id,
        "sender": message.sender,
        "name": message.name,
        "body": message.body,
        "at": _time(message.at),
        "client_id": message.client_id or None,
        # A system line's code (R15: models.Message.Event), null for what people wrote.
        "event": message.event or None,
        # The file it carries (issue 23), with links made now (chat/files.py), or null. A message
        # without one is told by its column: no query.
        "file": files.file_payload(message.attachment) if message.attachment_id is not None else None,
    }


def site_state(site: Site, now: datetime | None = None) -> tuple[bool, str | None]:
    """Whether the snippet says someone can answer (R16: an operator online, and, issue 25, the
    site within its hours) and, outside its hours, when it opens next (ISO time)."""
    back_at = None if site.hours_open else hours.next_open(site, now or timezone.now())
    return site.available, _time(back_at)


def site_payload(site: Site, *, online: bool, back_at: str | None = None) -> dict:
    """The site as its snippet knows it: `welcome`'s and the `site` event's. `online`: whether
    anyone can answer now (`site_state`); `back_at`: when the site opens next while it is
    outside its business hours, else null (issue 25); the rest is what the snippet shows
    (extension)."""
    return {
        "key": site.key,
        "online": online,
        "back_at": back_at,
        "name": site.name,
        # The default greeting is the snippet's own, in the visitor's language (issue 24).
        "greeting": "" if site.greeting == Site._meta.get_field("greeting").default else site.greeting,
        "color": site.color,
        # Issue 24: the window's language (empty: the browser's), the site's own words, the
        # button's lift above the page's bottom.
        "language": site.language,
        "texts": site.texts,
        "offset": site.launcher_offset,
        # The pre-chat form (issue 23): off, optional or required.
        "prechat": site.prechat,
        # Whether the visitor may ask for the conversation by email (issue 23).
        "transcripts": site.transcripts,
        # Files in messages (issue 23): the extensions and largest size taken, null when none.
        "uploads": files.upload_limits(),
    }


# A visitor's columns for visitor_row_payload: a panel's snapshot reads thousands of them,
# as tuples, not model instances (docs/benchmarks.md).
VISITOR_ROW = (
    "id",
    "site_id",
    "url",
    "title",
    "referrer",
    "online",
    "since",
    "pages",
    # Issue 23: set when the visit starts, the same on every page of it.
    "browser",
    "os",
    "device",
    "language",
    "visits",
    # R16: what the visitor gave to be answered by email (`details`).
    "given_name",
    "email",
)
_visitor_row = attrgetter(*VISITOR_ROW)


def visitor_payload(visitor: Visitor, room: Room | None, **presence) -> dict:
    return visitor_row_payload(_visitor_row(visitor), room, **presence)


def visitor_row_payload(row: tuple, room: Room | None, **presence) -> dict:
    """A visitor's payload from their VISITOR_ROW values. `lost` (extension), when the caller
    knows it: null for a visitor here now, else when their last socket closed (chat/departures.py)."""
    (visitor_id, site_id, url, title, referrer, online, since, pages,
     browser, os, device, language, visits, name, email) = row  # fmt: skip
    payload = {
        "id": visitor_id,
        "site": site_id,
        "url": url,
        "title": title,
        "referrer": referrer,
        "online": online,
        "since": _time(since),
        "pages": pages,
        "browser": browser,
        "os": os,
        "device": device,
        "language": language,
        "visits": visits,
        "room": room_payload(room) if room else None,
        "name": name,
        "email": email,
    }
    payload.update(presence)
    return payload


def visitor_detail_payload(visitor: Visitor, room: Room | None, trail: list[dict]) -> dict:
    """Everything the panel's side panel shows of one visitor (issue 23): their payload, and what
    no event carries, read for one visitor at a time (GET /api/visitors/{id}/)."""
    return {
        **visitor_payload(visitor, room),
        "first_seen": _time(visitor.first_seen),
        "last_seen": _time(visitor.last_seen),
        "landing_url": visitor.landing_url,
        "landing_referrer": visitor.landing_referrer,
        "utm": {field.removeprefix("utm_"): getattr(visitor, field) for field in UTM_FIELDS},
        "note": visitor.note,
        "note_by": visitor.note_by or None,
        "note_at": _time(visitor.note_at),
        "trail": [{**page, "at": _time(page["at"])} for page in trail],
        # Issue 25: what the site's own code said of them through the snippet's API.
        "verified": visitor.verified,
        "external_id": visitor.external_id or None,
        "attributes": attributes_payload(visitor.attributes),
        "events": visitor.events,
    }


def visitor_export_payload(
    visitor: Visitor, *, page_views: list, rooms: list[Room], messages: list[Message], now: datetime
) -> dict:
    """Everything stored about one visitor, as one JSON document for them (issue 25, GET
    /api/visitors/{id}/export/ and admin): who they are, every page view, every conversation
    with its messages, rating, transcript request and files (fresh signed links). The
    operators' notes in their conversations are data about them too: included, marked
    `"internal": true`."""
    by_room: dict[int, list[dict]] = {room.pk: [] for room in rooms}
    for message in messages:
        by_room[message.room_id].append({**message_payload(message), "internal": message.sender == Message.Sender.NOTE})
    detail = visitor_detail_payload(visitor, None, [])
    del detail["trail"], detail["room"]
    return {
        "exported_at": _time(now),
        "site": {"id": visitor.site_id, "key": visitor.site.key, "name": visitor.site.name},
        "visitor": detail,
        "page_views": [
            {"url": view.url, "title": view.title, "referrer": view.referrer, "at": _time(view.at)}
            for view in page_views
        ],
        "conversations": [
            {
                **room_payload(room),
                "accepted_at": _time(room.accepted_at),
                "ended_at": _time(room.ended_at),
                "rated_at": _time(room.rated_at),
                "messages": by_room[room.pk],
            }
            for room in rooms
        ],
    }


def ban_payload(ban: Ban) -> dict:
    """A ban (issue 25), as the operator who made it and the API see it."""
    lifted_by = ban.lifted_by if ban.lifted_by_id is not None else None
    return {
        "id": ban.pk,
        "site": ban.site_id,
        "visitor": ban.visitor_id,
        "address": ban.address or None,
        "reason": ban.reason,
        "created_by": {"id": ban.created_by_id, "name": ban.created_by_name} if ban.created_by_id else None,
        "created_at": _time(ban.created_at),
        "active": ban.lifted_at is None,
        "lifted_at": _time(ban.lifted_at),
        "lifted_by": (lifted_by.get_full_name() or lifted_by.get_username()) if lifted_by else None,
    }


def attributes_payload(attributes: dict) -> dict:
    """A visitor's attributes (issue 25) by name: PostgreSQL's jsonb keeps no order of keys, so
    every database shows them in this one."""
    return dict(sorted(attributes.items()))


# Publishing ----------------------------------------------------------------


def _encode(event: dict) -> str:
    return json.dumps(event, separators=(",", ":"))


def _publish(sends: Iterable[tuple[str, dict]]) -> None:
    batch = [(group, {"type": "wp.event", "text": _encode(event)}) for group, event in sends]
    transaction.on_commit(lambda: _deliver(batch))


# Set by chat.db while a socket's call runs in a database thread: the events its
# commits publish are kept here and sent by the socket's own event loop once the call
# returns (publish_deferred), instead of each commit blocking its thread on a hop to the
# loop and back (async_to_sync).
deferred: contextvars.ContextVar[list[tuple[str, dict]] | None] = contextvars.ContextVar("deferred", default=None)


def _deliver(batch: list[tuple[str, dict]]) -> None:
    kept = deferred.get()
    if kept is not None:
        kept.extend(batch)
        return
    # At most once: the database already holds the change, and clients resync
    # from it (snapshot, history), so a failed publish is logged, not raised.
    try:
        async_to_sync(_group_send_all)(batch)
    except Exception:
        logger.exception("could not publish %d event(s)", len(batch))


@contextlib.contextmanager
def published_together():
    """The events of the commits made inside are sent in one go at the end: the sweep's
    thousands of expiries cost one trip to the channel layer, not one each."""
    batch: list[tuple[str, dict]] = []
    rooms: list[tuple[int, int, bool]] = []
    token, rooms_token = deferred.set(batch), kept_rooms.set(rooms)
    try:
        # The queues of the pools that changed, once each, their events in this batch.
        with queues_together():
            yield
    finally:
        deferred.reset(token)
        kept_rooms.reset(rooms_token)
        if batch:
            _deliver(batch)
        if rooms:
            _keep_rooms(rooms)


async def publish_deferred(batch: list[tuple[str, dict]]) -> None:
    """Send what a call kept in `deferred`, from the event loop; failures logged, as above."""
    try:
        await _group_send_all(batch)
    except Exception:
        logger.exception("could not publish %d event(s)", len(batch))


async def _group_send_all(batch: list[tuple[str, dict]]) -> None:
    layer = get_channel_layer()
    for group, message in batch:
        await layer.group_send(group, message)


def visitor_changed(visitor: Visitor, room: Room | None) -> None:
    """A visitor arrived or moved: they are here, whatever their last socket did before."""
    payload = visitor_payload(visitor, room, lost=None)
    _publish([(site_group(visitor.site_id), {"type": "visitor", "visitor": payload})])


def visitors_lost(lost: Iterable[tuple[int, int, datetime]]) -> list[tuple[str, dict]]:
    """(visitor, site, since) whose last socket closed and stayed closed for WP_RECONNECT_GRACE:
    their operators see "connection lost — may have left" until they come back or leave (R3).
    A batch for publish_deferred."""
    return [
        (
            site_group(site_id),
            {
                "type": "wp.event",
                "text": _encode({"type": "visitor_lost", "visitor": visitor_id, "since": _time(since)}),
            },
        )
        for visitor_id, site_id, since in lost
    ]


def visitor_gone(visitor: Visitor) -> None:
    _publish([(site_group(visitor.site_id), {"type": "visitor_gone", "visitor": visitor.pk})])


def visitor_erased(visitor: Visitor) -> None:
    """A visitor erased (chat/privacy.py): their line leaves every panel, and their open pages'
    sockets close (a page still open starts anew as a visitor nobody knows)."""
    visitor_gone(visitor)
    _publish_control(visitor_group(visitor.pk), {"type": "wp.close"})


def room_changed(room: Room, *, visitor: Visitor, pooled: bool, also_operator: int | None = None) -> None:
    """A room changed: its visitor, its operator (or the whole site while pooled) hear of it,
    and every operator of the site sees the visitor's new chat state. `also_operator`: the
    operator it was handed over from (a transfer)."""
    payload = room_payload(room)
    event = {"type": "room", "room": payload}
    sends = [(visitor_group(room.visitor_id), event)]
    if pooled:
        sends.append((site_group(room.site_id), event))
    elif room.operator_id:
        sends.append((operator_group(room.operator_id), event))
    if also_operator is not None and also_operator != room.operator_id:
        sends.append((operator_group(also_operator), event))
    live_room = room if room.status != Room.Status.EXPIRED else None
    sends.append((site_group(room.site_id), {"type": "visitor", "visitor": visitor_payload(visitor, live_room)}))
    _publish(sends)
    transaction.on_commit(lambda: _keep_room((room.visitor_id, room.pk, live_room is not None)))
    if pooled:
        _pool_changed(room.site_id)


# The queue (R16) -------------------------------------------------------------

# Set by queues_together: the sites whose pool changed meanwhile, their queues read and sent
# once at its end. A sweep ending thousands of requests reads each site's queue once.
changed_pools: contextvars.ContextVar[set[int] | None] = contextvars.ContextVar("changed_pools", default=None)


def _pool_changed(site_id: int) -> None:
    changed = changed_pools.get()
    if changed is not None:
        changed.add(site_id)
    else:
        transaction.on_commit(lambda: queues_publish(site_ids=[site_id]))


@contextlib.contextmanager
def queues_together():
    """The pools changed inside (a request made, accepted, ended, handed back) have their queues
    sent once each at the end: after the commit, or when the transaction around commits. Inside
    another, the outer one sends them."""
    if changed_pools.get() is not None:
        yield
        return
    sites: set[int] = set()
    token = changed_pools.set(sites)
    try:
        yield
    finally:
        changed_pools.reset(token)
        if sites:
            if transaction.get_connection().in_atomic_block:
                transaction.on_commit(lambda: queues_publish(site_ids=sites))
            else:
                queues_publish(site_ids=sites)


def queues_publish(*, site_ids: Iterable[int]) -> None:
    """Every waiting visitor of these sites hears where they stand now: a `queue` event to their
    group (their tabs), in two reads for a site however many wait. Run once the pool's change
    has committed; at most once, like every event: a visitor missing one has it on their next
    hello or history."""
    from .selectors import site_queues  # selectors build their frames with this module

    try:
        queues = site_queues(site_ids=site_ids)
    except Exception:
        logger.exception("could not read the queues of sites %s", sorted(site_ids))
        return
    if queues:
        _publish([(visitor_group(visitor_id), {"type": "queue", **queue}) for visitor_id, queue in queues])


# Set by published_together: the room changes its commits make, kept in Redis together at the end.
kept_rooms: contextvars.ContextVar[list[tuple[int, int, bool]] | None] = contextvars.ContextVar(
    "kept_rooms", default=None
)


def _keep_room(change: tuple[int, int, bool]) -> None:
    kept = kept_rooms.get()
    if kept is not None:
        kept.append(change)
    else:
        _keep_rooms([change])


def _keep_rooms(changes: list[tuple[int, int, bool]]) -> None:
    # The visit's state in Redis knows the visitor's rooms, so their next page needs no query
    # to find them (visitors/visits.py). Missed (Redis away that moment), the visitor's page
    # events show the room as it was until it changes again or the visit ends.
    try:
        visits.rooms_changed(changes)
    except redis.RedisError:
        logger.warning("could not keep %d room change(s) in Redis", len(changes), exc_info=True)


async def visitor_moved(visit, *, url: str, title: str, referrer: str, room: Room | None) -> None:
    """A visitor's page event, from the visit's state in Redis (visitors/visits.py): sent by
    the socket's event loop at once, no transaction involved."""
    row = (
        visit.visitor_id,
        visit.site_id,
        url,
        title,
        referrer,
        True,
        visit.since,
        visit.pages,
        visit.browser,
        visit.os,
        visit.device,
        visit.language,
        visit.visits,
        visit.name,
        visit.email,
    )
    event = {"type": "visitor", "visitor": visitor_row_payload(row, room, lost=None)}
    await publish_deferred([(site_group(visit.site_id), {"type": "wp.event", "text": _encode(event)})])


def message_sent(message: Message, room: Room, *, also_operator: int | None = None) -> None:
    """A message to the room's operator (the site's operators while it is pooled) and to its
    visitor's tabs, unless it is a system line for operators only (R15) or a note (issue 23).
    `also_operator`: a colleague who wrote a note in it."""
    event = {"type": "message", "message": message_payload(message)}
    listeners = operator_group(room.operator_id) if room.operator_id else site_group(room.site_id)
    sends = [(listeners, event)]
    if also_operator is not None and room.operator_id and also_operator != room.operator_id:
        sends.append((operator_group(also_operator), event))
    if visitor_sees(message):
        sends.insert(0, (visitor_group(room.visitor_id), event))
    _publish(sends)


def room_rated(room: Room) -> None:
    """The visitor rated the chat: their tabs and its operator hear of it (nobody else: a rating
    changes nobody's chat state)."""
    event = {"type": "room", "room": room_payload(room)}
    sends = [(visitor_group(room.visitor_id), event)]
    if room.operator_id:
        sends.append((operator_group(room.operator_id), event))
    _publish(sends)


# The owners' webhooks (issue 25) ---------------------------------------------------


def webhook(event: str, *, site_id: int, room_id: int | None, data) -> None:
    """The site's webhooks subscribed to `event` hear of the change: their deliveries are
    written in its transaction and sent after the commit (integrations/services.py). `data`
    builds the payload from this module's builders, only when someone listens."""
    deliveries_add(site_id=site_id, event=event, room_id=room_id, data=data)


def room_webhook(event: str, room: Room) -> None:
    """room.created, room.accepted, room.ended, rating.created: the room as every client sees it."""
    webhook(event, site_id=room.site_id, room_id=room.pk, data=lambda: {"room": room_payload(room)})


def message_webhook(message: Message, room: Room) -> None:
    """message.created, for what people wrote (the visitor, an operator): never a note, nor a
    system line (docs/api.md)."""
    if message.sender in (Message.Sender.VISITOR, Message.Sender.OPERATOR):
        webhook(
            "message.created",
            site_id=room.site_id,
            room_id=room.pk,
            data=lambda: {"message": message_payload(message), "visitor": room.visitor_id},
        )


def details_webhook(visitor: Visitor, room: Room | None) -> None:
    """visitor.details: the visitor left or changed their name and email."""
    webhook(
        "visitor.details",
        site_id=visitor.site_id,
        room_id=room.pk if room else None,
        data=lambda: {"visitor": visitor_payload(visitor, room)},
    )


def seen(*, room_id: int, by: str, message_id: int, to_group: str) -> None:
    """One side saw the room's messages up to this id (issue 23): the other side hears of it."""
    _publish([(to_group, {"type": "seen", "room": room_id, "sender": by, "id": message_id})])


def typing_batch(*, room_id: int, by: str, name: str | None, to_group: str) -> list[tuple[str, dict]]:
    """One side is typing in the room (issue 23): never stored, only to the other side. A batch
    for publish_deferred (no transaction: nothing is written)."""
    event = {"type": "typing", "room": room_id, "sender": by}
    if name is not None:
        event["name"] = name
    return [(to_group, {"type": "wp.event", "text": _encode(event)})]


def operator_changed(operator: Operator, site_ids: Iterable[int]) -> None:
    event = {"type": "operator", "operator": operator_payload(operator)}
    _publish([(site_group(site_id), event) for site_id in site_ids])


def site_availability_changed(sites: Iterable[Site], *, now: datetime | None = None) -> None:
    """Whether anyone can answer changed for these sites (chat/availability.py: an operator came
    or went, or the site opened or closed): one `site` event each, to the site's visitor sockets.
    Sent as `wp.site` with the state beside the text: a socket keeps it for its welcome, even
    before its hello."""
    batch = []
    for site in sites:
        online, back_at = site_state(site, now)
        text = _encode({"type": "site", "site": site_payload(site, online=online, back_at=back_at)})
        batch.append(
            (site_visitors_group(site.pk), {"type": "wp.site", "online": online, "back_at": back_at, "text": text})
        )
    transaction.on_commit(lambda: _deliver(batch))


def operator_sockets_close(operator_id: int) -> None:
    """Close every open panel of an operator (logout)."""
    _publish_control(operator_group(operator_id), {"type": "wp.close"})


def operator_sockets_resync(operator_id: int) -> None:
    """Every open panel of an operator reconnects (4012) and so reads its snapshot and joins
    its sites' groups anew: after a change of the sites they serve."""
    _publish_control(operator_group(operator_id), {"type": "wp.resync"})


def visitor_sockets_ban(visitor_id: int) -> None:
    """Every socket of a visitor an operator blocked is told `banned` and closed (4003)."""
    _publish_control(visitor_group(visitor_id), {"type": "wp.banned"})


def _publish_control(group: str, message: dict) -> None:
    transaction.on_commit(lambda: _deliver([(group, message)]))
