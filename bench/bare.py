"""The baseline (scenario e): the same relay through a bare Channels consumer, with no White Panel
logic (no database, no checks, no presence), on the same daphne flags and the same channel layer
(settings.CHANNEL_LAYERS) on the same Redis.

    daphne ... bench.bare:application

`/ws/bare/?role=visitor&rooms=<id>` or `?role=operator&rooms=<id>,<id>,...` joins one group per
room and side; a `message` frame is acknowledged and sent to both sides of its room, as White
Panel sends a message to the visitor's and the operator's groups. `?role=idle` only holds a socket.

Presence (scenario p): `?role=presence` is a visitor's socket: its `hello` (carrying the page, as the
snippet sends it) is answered with a `welcome`, and it and every `page` frame after it are sent to
the site's operators as a `visitor` event of White Panel's shape; `?role=watch` is an operator's
panel, in the site's group. No database, no presence, no checks: what a page event costs the same
daphne and Redis with nothing else to do.
"""

import json
import os
from urllib.parse import parse_qs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whitepanel.settings")

import django

django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

SIDES = ("visitor", "operator")
SITE_GROUP = "bare-site"


class BareRelay(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        query = parse_qs(self.scope["query_string"].decode())
        self.role = query.get("role", ["idle"])[0]
        self.rooms = [int(room) for room in query.get("rooms", [""])[0].split(",") if room]
        await self.accept()
        if self.role == "watch":
            await self.channel_layer.group_add(SITE_GROUP, self.channel_name)
        for room in self.rooms:
            await self.channel_layer.group_add(f"bare-{self.role}-{room}", self.channel_name)

    async def disconnect(self, code: int) -> None:
        if self.role == "watch":
            await self.channel_layer.group_discard(SITE_GROUP, self.channel_name)
        for room in self.rooms:
            await self.channel_layer.group_discard(f"bare-{self.role}-{room}", self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        frame = json.loads(text_data or "{}")
        if frame.get("type") == "ping":
            await self.send('{"type":"pong"}')
            return
        if frame.get("type") == "hello":
            await self.send(json.dumps({"type": "welcome", "token": "bare", "visitor": 1, "room": None}))
            await self.page(frame.get("page") or {})
            return
        if frame.get("type") == "page":
            await self.page(frame)
            return
        room = frame.get("room") or self.rooms[0]
        await self.send(json.dumps({"type": "ack", "client_id": frame.get("client_id")}))
        event = json.dumps({"type": "message", "message": {"room": room, "sender": self.role, "body": frame["body"]}})
        for side in SIDES:
            await self.channel_layer.group_send(f"bare-{side}-{room}", {"type": "bare.relay", "text": event})

    async def page(self, page: dict) -> None:
        self.serial = getattr(self, "serial", 0) + 1
        visitor = {
            "id": 1,
            "site": 1,
            "url": page.get("url", ""),
            "title": page.get("title", ""),
            "referrer": page.get("referrer", ""),
            "online": True,
            "since": "2026-12-04T00:00:00+00:00",
            "pages": self.serial,
            "room": None,
        }
        event = json.dumps({"type": "visitor", "visitor": visitor}, separators=(",", ":"))
        await self.channel_layer.group_send(SITE_GROUP, {"type": "bare.relay", "text": event})

    async def bare_relay(self, message: dict) -> None:
        await self.send(text_data=message["text"])


application = ProtocolTypeRouter({"websocket": URLRouter([path("ws/bare/", BareRelay.as_asgi())])})
