"""Mails the tests' child processes sent (the Celery worker above all): Django's file backend
writes them in conftest.mail_dir() (WP_EMAIL_FILE_PATH), one file per connection, each mail
followed by a line of 79 dashes. The test process's own mails are in django.core.mail.outbox."""

import asyncio
import email
import time
from email.message import Message

from django.core import mail

from conftest import mail_dir

SEPARATOR = b"\n" + b"-" * 79 + b"\n"


def mails_to(address: str) -> list[Message]:
    """Every mail sent to `address` so far (the tests give each person an address of their own)."""
    found = []
    for path in sorted(mail_dir().glob("*.log")) if mail_dir().exists() else []:
        for chunk in path.read_bytes().split(SEPARATOR):
            if not chunk.strip():
                continue
            message = email.message_from_bytes(chunk.lstrip(b"\n"))
            if address in (message["To"] or ""):
                found.append(message)
    return found


def body(message: Message, kind: str = "text/plain") -> str:
    """The mail's text (of a mail with alternatives, its part of that `kind`)."""
    part = next(part for part in message.walk() if part.get_content_type() == kind)
    return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")


async def wait_for_mails(address: str, count: int = 1, timeout: float = 15.0) -> list[Message]:
    """The mails to `address` once there are `count` of them (fails after `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        found = mails_to(address)
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(found)} mail(s) to {address} within {timeout}s, not {count}")
        await asyncio.sleep(0.2)


def fails_first(calls: list):
    """EmailMessage.send, its first call failing as when the mail server restarts (patch it in
    this process): `calls` gets whom each call was to."""
    send = mail.EmailMessage.send

    def sends(message, *args, **kwargs):
        calls.append(message.to)
        if len(calls) == 1:
            raise ConnectionRefusedError("the mail server is restarting")
        return send(message, *args, **kwargs)

    return sends
