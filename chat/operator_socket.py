"""The operator socket, `/ws/operator/` (SPEC §3): one per open panel."""

import logging
from urllib.parse import urlsplit

from operators.models import Operator
from operators.two_factor import State, two_factor_state
from visitors.presence import operator_presence

from . import bans, events, selectors, services, shifts
from .db import database
from .sockets import (
    CLOSE_SERVER_ERROR,
    TYPING_EVERY,
    FrameError,
    JsonSocket,
    best_effort,
    header,
    history_frame,
    host_allowed,
    id_field,
    json_frames,
    message_fields,
    now_ts,
    text_field,
)

logger = logging.getLogger(__name__)

# The snapshot's lists, in the order its frames carry them (docs/protocol.md).
SNAPSHOT_LISTS = ("operators", "rooms", "visitors")


@database
def _operator(user, session) -> Operator | None:
    if not user or not user.is_authenticated or not user.is_active:
        return None
    # A session that never gave the code of the account's device (logged in before it was set
    # up), or a staff user who must still set one up, opens no panel (operators/two_factor.py).
    if session is None or two_factor_state(user=user, session=session) != State.PASSED:
        return None
    operator = Operator.objects.select_related("user").filter(user=user).first()
    if operator is not None:
        operator.site_ids  # noqa: B018 - read here, in a thread, not later in the event loop
    return operator


def same_origin(scope: dict) -> bool:
    """The panel is served by this server: its Origin must name the Host it connected to."""
    origin, host = header(scope, b"origin"), header(scope, b"host")
    if not origin or not host:
        return False
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc == host and not parts.path


class OperatorConsumer(JsonSocket):
    frame_types = frozenset(
        {
            "accept",
            "start",
            "message",
            "close",
            "reopen",
            "transfer",
            "history",
            "ping",
            "typing",
            "seen",
            "status",
            "note",
            "ban",
        }
    )
    forbidden_types = frozenset({"hello", "page", "open", "welcome"})
    # A panel asks the history of every room it shows at once (the pool's too), after each
    # reconnect: a larger budget than a visitor's, still one a flood runs out of.
    frame_budget_setting = "WP_RATE_PANEL_FRAMES"

    operator: Operator | None = None
    _typing_at: dict[int, float]  # room → when this panel's last typing frame in it was relayed

    async def connect(self) -> None:
        if not host_allowed(self.scope, required=True) or not same_origin(self.scope):
            await self.close()
            return
        operator = await _operator(self.scope.get("user"), self.scope.get("session"))
        if operator is None:
            await self.close()
            return
        await self.accept()
        self.operator = operator
        self._typing_at = {}
        try:
            for group in self._groups():
                await self.channel_layer.group_add(group, self.channel_name)
            await operator_presence.connected(operator.pk, self.channel_name, now=now_ts())
            await database(shifts.operator_connect)(operator=operator)
            snapshot = await database(selectors.operator_snapshot)(operator=operator)
            # Thousands of visitors are more than a frame holds: the snapshot comes in parts,
            # all sent before any event (this socket handles none until connect() returns).
            lists = {name: snapshot.pop(name) for name in SNAPSHOT_LISTS}
            for text in json_frames(snapshot, lists, next_type="snapshot_more"):
                await self.send(text_data=text)
        except Exception:
            # A panel that never got its snapshot must not stay counted as present.
            logger.exception("could not open the panel of operator %s", operator.pk)
            await self._leave()
            await self.close(code=CLOSE_SERVER_ERROR)

    def _groups(self) -> list[str]:
        return [events.operator_group(self.operator.pk), *map(events.site_group, self.operator.site_ids)]

    async def ended(self) -> None:
        await self._leave()

    async def _leave(self) -> None:
        operator, self.operator = self.operator, None
        if operator is None:
            return
        # Presence first, whatever happens to the groups: a closed panel still renewed
        # would keep its operator online, holding their rooms, for ever.
        await best_effort(
            "record a panel closing", operator_presence.disconnected(operator.pk, self.channel_name, now=now_ts())
        )
        for group in [events.operator_group(operator.pk), *map(events.site_group, operator.site_ids)]:
            await best_effort("leave a panel group", self.channel_layer.group_discard(group, self.channel_name))

    async def on_accept(self, frame: dict) -> dict:
        room_id = id_field(frame, "room")
        room = await database(services.room_accept)(room_id=room_id, operator=self.operator)
        return {"type": "room", "room": events.room_payload(room)}

    async def on_start(self, frame: dict) -> dict:
        visitor_id = id_field(frame, "visitor")
        room = await database(services.room_start)(visitor_id=visitor_id, operator=self.operator)
        return {"type": "room", "room": events.room_payload(room)}

    async def on_message(self, frame: dict) -> dict:
        room_id = id_field(frame, "room")
        body, client_id = message_fields(frame)
        message = await database(services.message_send_by_operator)(
            room_id=room_id, operator=self.operator, body=body, client_id=client_id
        )
        return {"type": "ack", "client_id": client_id or None, "id": message.pk}

    async def on_close(self, frame: dict) -> dict:
        room_id = id_field(frame, "room")
        room = await database(services.room_close)(room_id=room_id, operator=self.operator)
        return {"type": "room", "room": events.room_payload(room)}

    async def on_reopen(self, frame: dict) -> dict:
        room_id = id_field(frame, "room")
        room = await database(services.room_reopen)(room_id=room_id, operator=self.operator)
        return {"type": "room", "room": events.room_payload(room)}

    async def on_transfer(self, frame: dict) -> dict:
        room_id = id_field(frame, "room")
        if "operator" not in frame:
            raise FrameError("invalid", "'operator' is required: an operator id, or null for the pool")
        to = None if frame["operator"] is None else id_field(frame, "operator")
        room = await database(services.room_transfer)(room_id=room_id, operator=self.operator, to_operator_id=to)
        return {"type": "room", "room": events.room_payload(room)}

    async def on_typing(self, frame: dict) -> None:
        """The operator is typing in one of their rooms (issue 23): its visitor sees it, by name;
        nothing is stored, one a second at most is relayed."""
        room_id = id_field(frame, "room")
        now = now_ts()
        if now - self._typing_at.get(room_id, 0.0) < TYPING_EVERY:
            return
        self._typing_at[room_id] = now
        visitor_id = await database(selectors.typing_target_of_operator)(room_id=room_id, operator=self.operator)
        await events.publish_deferred(
            events.typing_batch(
                room_id=room_id, by="operator", name=self.operator.name, to_group=events.visitor_group(visitor_id)
            )
        )

    async def on_seen(self, frame: dict) -> None:
        """The operator has the room in view up to this message (issue 23): the visitor hears of it."""
        room_id = id_field(frame, "room")
        message_id = id_field(frame, "id")
        await database(services.room_seen_by_operator)(room_id=room_id, operator=self.operator, message_id=message_id)

    async def on_note(self, frame: dict) -> dict:
        """An internal note on a room (issue 23): operators only, never the visitor; answered by `ack`."""
        room_id = id_field(frame, "room")
        body, client_id = message_fields(frame)
        note = await database(services.note_add)(
            room_id=room_id, operator=self.operator, body=body, client_id=client_id
        )
        return {"type": "ack", "client_id": client_id or None, "id": note.pk}

    async def on_ban(self, frame: dict) -> dict:
        """Block a visitor of my sites (issue 25), maybe their address or network too: their room
        ends, their sockets close. Answered by `ban`."""
        visitor_id = id_field(frame, "visitor")
        reason = text_field(frame, "reason", max_length=bans.REASON_LENGTH, required=False)
        address, network = frame.get("address", False), frame.get("network", False)
        if not isinstance(address, bool) or not isinstance(network, bool):
            raise FrameError("invalid", "'address' and 'network' must be true or false")
        ban = await database(bans.visitor_ban)(
            operator=self.operator, visitor_id=visitor_id, reason=reason, address=address, network=network
        )
        return {"type": "ban", "ban": events.ban_payload(ban)}

    async def on_status(self, frame: dict) -> dict:
        """Available, away or busy (issue 23): answered by this operator's `operator`."""
        status = text_field(frame, "status", max_length=20)
        operator = await database(shifts.operator_set_status)(operator=self.operator, status=status)
        return {"type": "operator", "operator": events.operator_payload(operator)}

    async def on_history(self, frame: dict) -> str:
        room_id = id_field(frame, "room")
        after = id_field(frame, "after", required=False)
        messages = await database(selectors.operator_room_history)(room_id=room_id, operator=self.operator, after=after)
        return history_frame({"type": "history", "room": room_id}, messages)
