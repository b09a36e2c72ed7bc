"""A visit in progress, kept in Redis: a page event's hot path reads and writes nothing else.

Every open page reports itself (R1): at 3,000 visitors on the site that is hundreds of page
events a second, and a database write each queued them behind SQLite's one lock (11 s at the
panel, docs/benchmarks.md). So while a visit is in progress its current page, its page count
and its start live here, in one hash per visitor; the page event is built from it, and the
page views reach the database in batches (write-behind): each is appended to one Redis stream,
which `visitors.services.page_views_flush` drains every WP_PAGE_VIEW_FLUSH_INTERVAL.

Keys, under the install's prefix P:

- `P:visitor:state:<id>`  hash: `visiting` ("1" while the visit is in progress), `token`
  (the digest of the visitor's token), `site`, `since`, `pages`, `url`, `title`, `referrer`;
  who the visitor is, as the visit's start recorded it (issue 23: `browser`, `os`, `device`,
  `language`, `visits`), which every page event carries and nothing here changes; `name` and
  `email` (what the visitor gave, R16: their page events show it);
  and what the visitor's rooms are: `live` (their live room's id, 0: none) and `last` (their
  newest room's id, 0: none). Kept STATE_TTL after its last write.
- `P:pageviews`            stream of page views not yet in the database.

What the database still does, once a visit and not once a page: the visit's first page (the
visitor marked online, `chat.visiting._view_page`) fills the hash from the row it wrote;
the sweep ends the visit (`end`). A hash missing, or with `visiting` not "1", or a field it
needs missing, sends the caller to the database: Redis restarted empty, a visit that just
began, a token rotated. Nothing here is the only copy of anything but the page views waiting
in the stream (docs/reliability.md).

Room ids are kept by `rooms_changed`, which every room change calls after its commit: a newer
room id always wins and an expiry clears only its own id, so changes applied out of order
(two threads' commits) leave at worst a live id of a room that has ended meanwhile. Callers
read that room from the database anyway (the panel shows it), and `room_ended` forgets it then.
A live room is missing only if Redis missed its change (logged): a room made before the hash
existed was read with the visitor's row that filled it.
"""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from infra.redis_clients import RedisClients

# A visitor's hash is dropped a day after its last write (a visit in progress writes it every
# page): Redis holds the visitors of the last day, not every visitor ever seen.
STATE_TTL = 24 * 3600

# Page views drained per transaction.
FLUSH_BATCH = 2_000

# KEYS: state, stream. ARGV: token digest ('' : not checked), url, title, referrer, time (ISO),
# ttl, visitor id, stream length kept at most.
# The visit in progress moves to this page: its count goes up and the view joins the stream.
# Nil if the visit is not known here (the caller goes to the database).
_PAGE = """
local s = redis.call('HMGET', KEYS[1], 'visiting', 'token', 'since', 'site', 'live', 'last',
  'browser', 'os', 'device', 'language', 'visits', 'name', 'email')
if s[1] ~= '1' or not s[3] or not s[4] or not s[5] or not s[6] or not s[12] or not s[13] then return false end
if ARGV[1] ~= '' and s[2] ~= ARGV[1] then return false end
local pages = redis.call('HINCRBY', KEYS[1], 'pages', 1)
redis.call('HSET', KEYS[1], 'url', ARGV[2], 'title', ARGV[3], 'referrer', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[8], '*',
  'v', ARGV[7], 'u', ARGV[2], 't', ARGV[3], 'r', ARGV[4], 'at', ARGV[5], 'p', pages)
return {pages, s[3], s[4], s[5], s[6], s[7] or '', s[8] or '', s[9] or '', s[10] or '', s[11] or '0', s[12], s[13]}
"""

# KEYS: state. ARGV: token digest, site, since, pages, url, title, referrer, live, last, ttl,
# browser, os, device, language, visits, name, email.
# A visit the database has just recorded (its first page, or one not known here). Room ids
# already kept are newer than (or as new as) the row's: kept.
_FILL = """
redis.call('HSET', KEYS[1], 'visiting', '1', 'token', ARGV[1], 'site', ARGV[2], 'since', ARGV[3],
  'pages', ARGV[4], 'url', ARGV[5], 'title', ARGV[6], 'referrer', ARGV[7],
  'browser', ARGV[11], 'os', ARGV[12], 'device', ARGV[13], 'language', ARGV[14], 'visits', ARGV[15],
  'name', ARGV[16], 'email', ARGV[17])
redis.call('HSETNX', KEYS[1], 'live', ARGV[8])
redis.call('HSETNX', KEYS[1], 'last', ARGV[9])
redis.call('EXPIRE', KEYS[1], ARGV[10])
"""

# KEYS: state. ARGV: room id, "1" if the room is live, ttl.
_ROOM = """
local id = tonumber(ARGV[1])
local last = redis.call('HGET', KEYS[1], 'last')
if not last or id > tonumber(last) then redis.call('HSET', KEYS[1], 'last', id) end
local live = redis.call('HGET', KEYS[1], 'live')
if ARGV[2] == '1' then
  if not live or id > tonumber(live) then redis.call('HSET', KEYS[1], 'live', id) end
elseif live and tonumber(live) == id then
  redis.call('HSET', KEYS[1], 'live', 0)
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
"""

# KEYS: state. ARGV: name, email.
_CONTACT = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'name', ARGV[1], 'email', ARGV[2]) end
"""

# KEYS: state. ARGV: token digest.
_RETOKEN = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'token', ARGV[1]) end
"""

# KEYS: states. Visits over: the next page is recorded by the database, as a new visit.
_END = """
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('HSET', KEYS[i], 'visiting', '0') end
end
"""


@dataclass(frozen=True)
class Visit:
    """A visit in progress as Redis holds it, after a page event."""

    visitor_id: int
    site_id: int
    since: datetime
    pages: int
    live_room_id: int | None
    last_room_id: int | None
    # Who the visitor is, as the visit's start recorded it.
    browser: str = ""
    os: str = ""
    device: str = ""
    language: str = ""
    visits: int = 0
    name: str = ""
    email: str = ""


@dataclass(frozen=True)
class PageViewEntry:
    """A page view waiting in the stream."""

    entry_id: str
    visitor_id: int
    url: str
    title: str
    referrer: str
    at: datetime
    pages: int


def _decode(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _entry(entry_id, fields: dict) -> PageViewEntry:
    return PageViewEntry(
        entry_id=_decode(entry_id),
        visitor_id=int(fields[b"v"]),
        url=fields[b"u"].decode(),
        title=fields[b"t"].decode(),
        referrer=fields[b"r"].decode(),
        at=datetime.fromisoformat(fields[b"at"].decode()),
        pages=int(fields[b"p"]),
    )


class Visits:
    def __init__(self):
        self._clients = RedisClients()

    def _state_key(self, visitor_id: int) -> str:
        return f"{settings.WP_REDIS_PREFIX}:visitor:state:{visitor_id}"

    @property
    def _stream_key(self) -> str:
        return f"{settings.WP_REDIS_PREFIX}:pageviews"

    @property
    def _flush_lock_key(self) -> str:
        return f"{settings.WP_REDIS_PREFIX}:pageviews:flush"

    # The hot path (a visitor's socket, async) ------------------------------

    async def page(self, visitor_id: int, *, page: dict, now: datetime, token_hash: str = "") -> Visit | None:
        """The visit moves to `page`; None if it is not in progress here (ask the database).
        With `token_hash`, only if the visitor's token is still that one."""
        answer = await self._clients.aredis().eval(
            _PAGE,
            2,
            self._state_key(visitor_id),
            self._stream_key,
            token_hash,
            page["url"],
            page["title"],
            page["referrer"],
            now.isoformat(),
            STATE_TTL,
            visitor_id,
            settings.WP_PAGE_VIEW_BACKLOG,
        )
        if not answer:
            return None
        pages, since, site, live, last, browser, os, device, language, visits_so_far, name, email = answer
        return Visit(
            visitor_id=visitor_id,
            site_id=int(site),
            since=datetime.fromisoformat(_decode(since)),
            pages=int(pages),
            live_room_id=int(live) or None,
            last_room_id=int(last) or None,
            browser=_decode(browser),
            os=_decode(os),
            device=_decode(device),
            language=_decode(language),
            visits=int(visits_so_far),
            name=_decode(name),
            email=_decode(email),
        )

    async def room_ended(self, visitor_id: int, room_id: int) -> None:
        """A live room id kept here was found ended: forget it."""
        await self._clients.aredis().eval(_ROOM, 1, self._state_key(visitor_id), room_id, "0", STATE_TTL)

    # The database's side (sync: database threads, Celery) --------------------

    def fill(self, visitor, *, live_room_id: int | None, last_room_id: int | None) -> None:
        """The visit as the database has just recorded it (a page view that went there)."""
        self._clients.redis().eval(
            _FILL,
            1,
            self._state_key(visitor.pk),
            visitor.token_hash,
            visitor.site_id,
            visitor.since.isoformat(),
            visitor.pages,
            visitor.url,
            visitor.title,
            visitor.referrer,
            live_room_id or 0,
            last_room_id or 0,
            STATE_TTL,
            visitor.browser,
            visitor.os,
            visitor.device,
            visitor.language,
            visitor.visits,
            visitor.given_name,
            visitor.email,
        )

    def rooms_changed(self, changes: list[tuple[int, int, bool]]) -> None:
        """(visitor id, room id, live) of rooms that changed, in one round trip however many
        (the sweep expires thousands at once)."""
        client = self._clients.redis()
        pipe = client.pipeline(transaction=False)
        script = client.register_script(_ROOM)
        for visitor_id, room_id, live in changes:
            script(keys=[self._state_key(visitor_id)], args=[room_id, "1" if live else "0", STATE_TTL], client=pipe)
        pipe.execute()

    def end(self, visitor_ids: list[int]) -> None:
        """The visitors left the site (the sweep): their next page starts a new visit."""
        if visitor_ids:
            self._clients.redis().eval(_END, len(visitor_ids), *[self._state_key(v) for v in visitor_ids])

    def contact(self, visitor_id: int, *, name: str, email: str) -> None:
        """What the visitor gave (R16), for the page events of the visit in progress."""
        self._clients.redis().eval(_CONTACT, 1, self._state_key(visitor_id), name, email)

    def retoken(self, visitor_id: int, token_hash: str) -> None:
        """The visitor's token was rotated: a hello with the old one is no longer theirs."""
        self._clients.redis().eval(_RETOKEN, 1, self._state_key(visitor_id), token_hash)

    def forget(self, visitor_id: int) -> None:
        """Nothing of the visitor stays here (the visitor erased)."""
        self._clients.redis().delete(self._state_key(visitor_id))

    def current(self, visitor_ids: list[int]) -> dict[int, dict]:
        """The pages of these visitors' visits in progress (one round trip): what a snapshot
        or the API shows over the database's row, which is up to a flush behind."""
        if not visitor_ids:
            return {}
        pipe = self._clients.redis().pipeline(transaction=False)
        fields = ("visiting", "url", "title", "referrer", "pages", "since")
        for visitor_id in visitor_ids:
            pipe.hmget(self._state_key(visitor_id), fields)
        current = {}
        for visitor_id, values in zip(visitor_ids, pipe.execute(), strict=True):
            visiting, url, title, referrer, pages, since = (None if v is None else _decode(v) for v in values)
            if visiting == "1" and None not in (url, title, referrer, pages, since):
                current[visitor_id] = {
                    "url": url,
                    "title": title,
                    "referrer": referrer,
                    "pages": int(pages),
                    "since": datetime.fromisoformat(since),
                }
        return current

    def overlay(self, visitors: list) -> list:
        """Visitor rows with their visits' pages as Redis holds them (see `current`)."""
        current = self.current([visitor.pk for visitor in visitors])
        for visitor in visitors:
            for field, value in current.get(visitor.pk, {}).items():
                setattr(visitor, field, value)
        return visitors

    # The stream (drained by visitors.services.page_views_flush) --------------

    def flush_lock(self, *, wait: bool):
        """Held by one flush at a time, so no page view is stored twice by two flushes."""
        lock = self._clients.redis().lock(self._flush_lock_key, timeout=60, blocking_timeout=10 if wait else None)
        return lock if lock.acquire(blocking=wait) else None

    def waiting(self, *, limit: int = FLUSH_BATCH) -> list[PageViewEntry]:
        """The oldest page views not yet stored."""
        return [
            _entry(entry_id, fields) for entry_id, fields in self._clients.redis().xrange(self._stream_key, count=limit)
        ]

    def waiting_of(self, visitor_id: int, *, scan: int = FLUSH_BATCH) -> list[PageViewEntry]:
        """The visitor's page views not yet stored, newest first, among the `scan` newest of the
        stream (it holds about a flush interval's views; more only while the flush is down)."""
        entries = self._clients.redis().xrevrange(self._stream_key, count=scan)
        wanted = str(visitor_id).encode()
        return [_entry(entry_id, fields) for entry_id, fields in entries if fields[b"v"] == wanted]

    def stored(self, entries: list[PageViewEntry]) -> None:
        """These page views are in the database: off the stream."""
        if entries:
            self._clients.redis().xdel(self._stream_key, *[entry.entry_id for entry in entries])


visits = Visits()
