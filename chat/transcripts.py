"""Transcripts as CSV: one row per message, streamed, safe to open in a spreadsheet."""

import csv
import unicodedata
from collections.abc import AsyncIterator

from channels.db import database_sync_to_async
from django.db.models import Q, QuerySet

from .models import Message, Room

# `event`: a system line's code (R15), empty for what people wrote; `file`: the name of the file
# a message carries (issue 23), empty for none. Last, so the columns before them keep their places.
CSV_COLUMNS = [
    "room", "site", "visitor", "operator", "status", "reason", "sender", "name", "body", "at", "event", "file",
]  # fmt: skip
# Rows read from the database per query: memory stays flat however many rooms are exported.
CHUNK = 1000
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection),
# their full-width and small forms included (some spreadsheets fold them to ASCII): such
# cells get a leading apostrophe, which spreadsheets show as text.
FORMULA_STARTS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\ufe63")
# Some spreadsheets skip leading white space and invisible characters before they look for
# a formula, so a cell that starts with any of them is neutralised too (issue 21): white space
# and line breaks (Z*), control characters (Cc) and format characters (Cf: zero-width spaces
# and joiners, bidirectional controls, the byte order mark, the soft hyphen).
INVISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})


def csv_cell(value) -> str:
    text = "" if value is None else str(value)
    if text and (text[0] in FORMULA_STARTS or unicodedata.category(text[0]) in INVISIBLE_CATEGORIES):
        return "'" + text
    return text


class _Line:
    """csv.writer's file: writerow() returns the line instead of writing it anywhere."""

    def write(self, text: str) -> str:
        return text


def _row(message: Message) -> list[str]:
    room = message.room
    return [
        csv_cell(value)
        for value in (
            room.pk,
            room.site.key,
            room.visitor_id,
            room.operator.name if room.operator else "",
            room.status,
            room.reason,
            message.sender,
            message.name,
            message.body,
            message.at.isoformat(),
            message.event,
            message.attachment.name if message.attachment_id is not None else "",
        )
    ]


def _messages_after(rooms: QuerySet[Room], room_id: int, message_id: int) -> list[Message]:
    # Keyset pagination in (room, id) order: each chunk is one cheap indexed query.
    return list(
        Message.objects.filter(room__in=rooms.values("pk"))
        .filter(Q(room_id__gt=room_id) | Q(room_id=room_id, id__gt=message_id))
        .select_related("room__site", "room__operator__user", "attachment")
        .order_by("room_id", "id")[:CHUNK]
    )


async def transcripts_csv(rooms: QuerySet[Room]) -> AsyncIterator[str]:
    """The messages of these rooms, room by room, oldest first, as CSV lines with a header.

    Asynchronous, so daphne streams it instead of collecting the whole file first."""
    writer = csv.writer(_Line())
    # The byte order mark makes spreadsheets read the file as UTF-8.
    yield "\ufeff" + writer.writerow(CSV_COLUMNS)
    room_id = message_id = 0
    while True:
        chunk = await database_sync_to_async(_messages_after)(rooms, room_id, message_id)
        if not chunk:
            return
        yield "".join(writer.writerow(_row(message)) for message in chunk)
        room_id, message_id = chunk[-1].room_id, chunk[-1].pk
