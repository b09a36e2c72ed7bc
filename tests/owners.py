"""Helpers for admin tests: superusers and site owners, logged-in admin clients, and
rooms with a transcript written straight to the database."""

import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from chat.models import Message, Room
from conftest import password_hash
from visitors.models import PageView, Site, Visitor, hash_token


def make_staff(username: str, *sites: Site, superuser: bool = False):
    """A staff user who owns these sites (or a superuser)."""
    user = get_user_model().objects.create(
        username=username, password=password_hash(), is_staff=True, is_superuser=superuser
    )
    for site in sites:
        site.owners.add(user)
    return user


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make_visitor(site: Site, *, url: str = "http://shop.test/", title: str = "Home", online: bool = True) -> Visitor:
    now = timezone.now()
    return Visitor.objects.create(
        site=site,
        token_hash=hash_token(secrets.token_urlsafe(16)),
        first_seen=now,
        since=now,
        last_seen=now,
        online=online,
        url=url,
        title=title,
        pages=1,
    )


def make_page_views(visitor: Visitor, count: int) -> list[PageView]:
    start = timezone.now() - timedelta(hours=1)
    return PageView.objects.bulk_create(
        PageView(visitor=visitor, url=f"http://shop.test/page-{n}", title=f"Page {n}", at=start + timedelta(seconds=n))
        for n in range(count)
    )


def make_chat(site: Site, operator=None, bodies: tuple[str, ...] = (), *, status: str = Room.Status.ACTIVE) -> Room:
    """A room of a new visitor, with messages alternating visitor / operator."""
    visitor = make_visitor(site)
    now = timezone.now()
    room = Room.objects.create(site=site, visitor=visitor, operator=operator, status=status, created_at=now)
    for n, body in enumerate(bodies):
        by_visitor = n % 2 == 0 or operator is None
        Message.objects.create(
            room=room,
            sender=Message.Sender.VISITOR if by_visitor else Message.Sender.OPERATOR,
            operator=None if by_visitor else operator,
            name=visitor.name if by_visitor else operator.name,
            body=body,
            at=now + timedelta(seconds=n),
        )
    return room
