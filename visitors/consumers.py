"""The visitor socket, `/ws/visitor/?site=<key>` (SPEC §3): one per open page."""

import asyncio
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from chat import events, selectors, services
from chat.sockets import CLOSE_NO_HELLO, FrameError, JsonSocket, header, id_field, message_fields, now_ts, text_field

from . import services as visitor_services
from .models import Site
from .presence import visitor_presence


@database_sync_to_async
def _site(key: str) -> Site | None:
    return Site.objects.filter(key=key).first() if key else None


class VisitorConsumer(JsonSocket):
    frame_types = frozenset({"hello", "page", "open", "close", "message", "history", "ping"})
    forbidden_types = frozenset({"accept", "start", "reopen", "snapshot"})

    visitor_id: int | None = None
    _hello_timer: asyncio.Task | None = None

    async def connect(self) -> None:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        self.site = await _site(query.get("site", [""])[0][:64])
        if self.site is None or not self.site.allows_origin(header(self.scope, b"origin")):
            await self.close()  # before accept: the handshake is refused (403)
            return
        await self.accept()
        self._hello_timer = asyncio.create_task(self._close_without_hello())

    async def _close_without_hello(self) -> None:
        await asyncio.sleep(settings.WP_HELLO_TIMEOUT)
        await self.close(code=CLOSE_NO_HELLO)

    async def disconnect(self, code: int) -> None:
        if self._hello_timer is not None:
            self._hello_timer.cancel()
        if self.visitor_id is not None:
            await self.channel_layer.group_discard(events.visitor_group(self.visitor_id), self.channel_name)
            await visitor_presence.disconnected(self.visitor_id, self.channel_name, now=now_ts())

    def _parse(self, text_data: str | None) -> dict:
        frame = super()._parse(text_data)
        if self.visitor_id is None and frame["type"] != "hello":
            raise FrameError("hello_first", "say hello first")
        return frame

    async def on_hello(self, frame: dict) -> dict:
        if self.visitor_id is not None:
            raise FrameError("not_allowed", "hello was already said on this connection")
        token = text_field(frame, "token", max_length=100, required=False)
        visitor, token = await database_sync_to_async(visitor_services.visitor_identify)(site=self.site, token=token)
        # Presence first, then online in the database: the sweep checks presence
        # under the same row lock, so a visitor coming back is never marked gone.
        await visitor_presence.connected(visitor.pk, self.channel_name, now=now_ts())
        self.visitor_id = visitor.pk
        self._hello_timer.cancel()
        await self.channel_layer.group_add(events.visitor_group(visitor.pk), self.channel_name)
        visitor, room = await database_sync_to_async(visitor_services.visitor_arrive)(visitor_id=visitor.pk)
        return {
            "type": "welcome",
            "token": token,
            "visitor": visitor.pk,
            "room": events.room_payload(room) if room else None,
            "server_time": timezone.now().isoformat(),
        }

    async def on_page(self, frame: dict) -> None:
        url = text_field(frame, "url", max_length=settings.WP_MAX_URL_LENGTH)
        title = text_field(frame, "title", max_length=settings.WP_MAX_TITLE_LENGTH, required=False)
        referrer = text_field(frame, "referrer", max_length=settings.WP_MAX_URL_LENGTH, required=False)
        await database_sync_to_async(visitor_services.visitor_page_view)(
            visitor_id=self.visitor_id, url=url, title=title, referrer=referrer
        )

    async def on_open(self, frame: dict) -> dict:
        room = await database_sync_to_async(services.room_open)(visitor_id=self.visitor_id)
        return {"type": "room", "room": events.room_payload(room)}

    async def on_close(self, frame: dict) -> dict:
        room = await database_sync_to_async(services.room_leave_window)(visitor_id=self.visitor_id)
        return {"type": "room", "room": events.room_payload(room) if room else None}

    async def on_message(self, frame: dict) -> dict:
        body, client_id = message_fields(frame)
        message = await database_sync_to_async(services.message_send_by_visitor)(
            visitor_id=self.visitor_id, body=body, client_id=client_id
        )
        return {"type": "ack", "client_id": client_id or None, "id": message.pk}

    async def on_history(self, frame: dict) -> dict:
        after = id_field(frame, "after", required=False)
        messages = await database_sync_to_async(selectors.visitor_history)(visitor_id=self.visitor_id, after=after)
        return {"type": "history", "messages": messages}
