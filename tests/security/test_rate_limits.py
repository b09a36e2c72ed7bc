"""Case 8: floods are refused with `rate_limited`, per visitor and per IP address, and
failed logins are limited per account and per address; nobody else notices."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from chat.models import Message, Room
from conftest import PASSWORD
from infra.ratelimit import address_subject, rate_limiter
from infra.redis_clients import RedisClients
from tests.sockets import ask_to_chat, of_type
from visitors.models import PageView, Visitor
from visitors.services import page_views_flush

pytestmark = pytest.mark.django_db(transaction=True)

ATTACKER = "203.0.113.7"
NEIGHBOUR = "198.51.100.9"


def refused(client_id: str):
    return of_type("error", code="rate_limited", client_id=client_id)


@database_sync_to_async
def stored_bodies() -> list[str]:
    return list(Message.objects.order_by("id").values_list("body", flat=True))


async def test_message_flood_is_refused_but_the_socket_and_other_visitors_carry_on(
    sockets, visitor_from, peter, settings
):
    settings.WP_RATE_VISITOR_MESSAGES = "5/60"
    panel = await sockets.operator(peter)
    spammer = await visitor_from(ATTACKER)
    linda = await visitor_from(NEIGHBOUR)

    for n in range(12):
        await spammer.send(type="message", body=f"spam {n}", client_id=f"s{n}")
    for n in range(5):
        await spammer.expect(of_type("ack", client_id=f"s{n}"))
    for n in range(5, 12):
        error = await spammer.expect(refused(f"s{n}"))
        assert error["for"] == "message"
    await spammer.ask("pong", type="ping")  # the socket lives

    # Another visitor is not slowed down by the flood.
    await linda.ask(of_type("ack", client_id="hi"), type="message", body="hello there", client_id="hi")
    request = await panel.expect(of_type("room", room__visitor=linda.welcome["visitor"]))
    await panel.ask(of_type("room", room__id=request["room"]["id"]), type="accept", room=request["room"]["id"])

    assert await stored_bodies() == [f"spam {n}" for n in range(5)] + ["hello there", "Peter joined the chat"]


async def test_many_visitors_from_one_address_are_limited_together(sockets, visitor_from, site, settings):
    settings.WP_RATE_IP_MESSAGES = "6/60"
    first, second = await visitor_from(ATTACKER), await visitor_from(ATTACKER)
    neighbour = await visitor_from(NEIGHBOUR)

    for n in range(4):
        await first.ask(of_type("ack", client_id=f"a{n}"), type="message", body=f"a{n}", client_id=f"a{n}")
    for n in range(2):
        await second.ask(of_type("ack", client_id=f"b{n}"), type="message", body=f"b{n}", client_id=f"b{n}")
    # Each is far under the per-visitor limit; together they reached their address's.
    await second.ask(refused("b2"), type="message", body="b2", client_id="b2")
    await first.ask(refused("a4"), type="message", body="a4", client_id="a4")

    # An address of its own has a count of its own.
    for n in range(6):
        await neighbour.ask(of_type("ack", client_id=f"n{n}"), type="message", body=f"n{n}", client_id=f"n{n}")
    assert len(await stored_bodies()) == 6 + 6


async def test_chat_window_flood_is_refused(sockets, visitor_from, site, settings):
    settings.WP_RATE_VISITOR_OPENS = "3/60"
    spammer = await visitor_from(ATTACKER)
    for _ in range(3):
        assert (await spammer.ask("room", type="open"))["room"] is None  # no request: nothing written
        await spammer.ask("room", type="close")
    error = await spammer.ask("error", type="open")
    assert (error["code"], error["for"]) == ("rate_limited", "open")

    other = await visitor_from(ATTACKER)
    assert (await ask_to_chat(other))["room"]["status"] == "pending"
    assert await database_sync_to_async(Room.objects.count)() == 1


async def test_page_event_flood_is_refused_and_not_stored(sockets, visitor_from, peter, settings):
    settings.WP_RATE_VISITOR_PAGES = "5/60"
    panel = await sockets.operator(peter)
    spammer = await visitor_from(ATTACKER)
    visitor_id = spammer.welcome["visitor"]
    for n in range(9):
        await spammer.send(type="page", url=f"http://shop.test/{n}", title=f"page {n}", referrer="")
    errors = [await spammer.expect(of_type("error", code="rate_limited", **{"for": "page"})) for _ in range(4)]
    assert len(errors) == 4
    await spammer.ask("pong", type="ping")
    await panel.expect(of_type("visitor", visitor__id=visitor_id, visitor__url="http://shop.test/4"))
    await panel.expect_none(of_type("visitor", visitor__id=visitor_id, visitor__url="http://shop.test/5"), within=0.5)

    await database_sync_to_async(page_views_flush)(wait=True)  # the visit's pages wait in Redis
    visitor = await database_sync_to_async(Visitor.objects.get)(pk=visitor_id)
    assert (visitor.url, visitor.pages) == ("http://shop.test/4", 5)
    assert await database_sync_to_async(PageView.objects.filter(visitor_id=visitor_id).count)() == 5


async def test_one_address_cannot_make_up_visitors_by_the_thousand(sockets, visitor_from, site, settings):
    settings.WP_RATE_IP_HELLOS = "3/60"
    for _ in range(3):
        await visitor_from(ATTACKER)
    fourth = await visitor_from(ATTACKER, hello=False)
    error = await fourth.ask("error", type="hello", token=None)
    assert (error["code"], error["for"]) == ("rate_limited", "hello")
    await visitor_from(NEIGHBOUR)
    assert await database_sync_to_async(Visitor.objects.count)() == 4


async def test_an_ipv6_subscriber_is_one_address_whichever_of_their_addresses_they_use(
    sockets, visitor_from, site, settings
):
    """Issue 21: one subscriber gets a whole /64 and may send from any address in it; counted
    alone, each address would have had its own limit. Another /64 is someone else."""
    settings.WP_RATE_IP_HELLOS = "3/60"
    for n in range(3):
        await visitor_from(f"2001:db8:77:1::{n + 1:x}")
    fourth = await visitor_from("2001:db8:77:1:dead:beef:0:1", hello=False)
    error = await fourth.ask("error", type="hello", token=None)
    assert (error["code"], error["for"]) == ("rate_limited", "hello")
    await visitor_from("2001:db8:77:2::1")  # the next /64: a neighbour
    assert await database_sync_to_async(Visitor.objects.count)() == 4


def test_addresses_are_counted_by_ipv4_address_and_ipv6_network():
    assert address_subject("203.0.113.7") == "203.0.113.7"
    assert address_subject("2001:db8:77:1:dead:beef:0:1") == "2001:db8:77:1::/64"
    assert address_subject("2001:DB8:77:1::") == "2001:db8:77:1::/64"
    assert address_subject("::ffff:203.0.113.7") == "203.0.113.7"  # IPv4 seen through IPv6
    assert address_subject("unknown") == "unknown"


async def test_pages_carried_by_hellos_count_against_the_addresss_page_limit(sockets, visitor_from, peter, settings):
    settings.WP_RATE_IP_PAGES = "2/60"
    panel = await sockets.operator(peter)
    for n in range(2):
        page = await visitor_from(ATTACKER, hello=False)
        await page.ask("welcome", type="hello", token=None, page={"url": f"http://shop.test/{n}"})
    third = await visitor_from(ATTACKER, hello=False)
    error = await third.ask("error", type="hello", token=None, page={"url": "http://shop.test/2"})
    assert (error["code"], error["for"]) == ("rate_limited", "hello")
    await panel.expect_none(of_type("visitor", visitor__url="http://shop.test/2"), within=0.5)
    # Another address is not affected.
    neighbour = await visitor_from(NEIGHBOUR, hello=False)
    await neighbour.ask("welcome", type="hello", token=None, page={"url": "http://shop.test/next-door"})
    await database_sync_to_async(page_views_flush)(wait=True)
    assert await database_sync_to_async(PageView.objects.count)() == 3


async def test_limit_is_a_window_a_visitor_who_slows_down_may_write_again(sockets, visitor_from, site, settings):
    settings.WP_RATE_VISITOR_MESSAGES = "2/0.5"
    linda = await visitor_from(NEIGHBOUR)
    await linda.ask(of_type("ack", client_id="1"), type="message", body="one", client_id="1")
    await linda.ask(of_type("ack", client_id="2"), type="message", body="two", client_id="2")
    await linda.ask(refused("3"), type="message", body="three", client_id="3")
    await asyncio.sleep(1.1)  # two windows: the old counts no longer weigh in
    await linda.ask(of_type("ack", client_id="4"), type="message", body="four", client_id="4")
    assert await stored_bodies() == ["one", "two", "four"]


# Logins -------------------------------------------------------------------------------


def log_in(username: str, password: str, ip: str = ATTACKER, path: str = "/operators/login/"):
    client = Client(REMOTE_ADDR=ip)
    response = client.post(path, {"username": username, "password": password})
    return response, client


def logged_in(client: Client) -> bool:
    return settings.SESSION_COOKIE_NAME in client.cookies and client.get("/panel/").status_code == 200


def test_guessing_an_operators_password_is_stopped_even_with_the_right_one(peter, jane, settings, login_clock):
    settings.WP_RATE_ACCOUNT_IP_LOGINS = "3/300"
    for guess in ("123456", "password", "peter2024"):
        response, _ = log_in("peter", guess)
        assert response.status_code == 200  # the form again, with its error
    response, client = log_in("Peter", PASSWORD)  # the name in any case
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert not logged_in(client)
    # The API's token endpoint and admin's login are the same door.
    token = Client(REMOTE_ADDR=ATTACKER).post(
        "/api/token/", {"username": "peter", "password": PASSWORD}, content_type="application/json"
    )
    assert (token.status_code, token.json()["error"]["code"]) == (429, "throttled")
    _, admin = log_in("peter", PASSWORD, path="/admin/login/?next=/admin/")
    assert settings.SESSION_COOKIE_NAME not in admin.cookies

    # Another operator is not locked out by it, even from the same address.
    response, client = log_in("jane", PASSWORD)
    assert response.status_code == 302
    assert logged_in(client)


def test_an_attacker_failing_for_an_operator_does_not_lock_them_out_elsewhere(peter, settings, login_clock):
    """Issue 21: the account's limit was a hard stop from anywhere, so anyone could lock a named
    operator out for the whole window by failing for them. The stop is per account and address."""
    settings.WP_RATE_ACCOUNT_IP_LOGINS = settings.WP_RATE_ACCOUNT_LOGINS = "3/300"
    for guess in ("123456", "password", "peter2024", "letmein", "qwerty"):
        log_in("peter", guess)

    stopped, attacker = log_in("peter", PASSWORD)
    assert stopped.status_code == 429
    assert not logged_in(attacker)
    # Peter, at his own address, gets in at once: the stopped attacker took no turn from him.
    response, client = log_in("peter", PASSWORD, ip=NEIGHBOUR)
    assert response.status_code == 302
    assert logged_in(client)


def test_guesses_for_one_account_from_many_addresses_are_slowed_to_one_per_slowdown(peter, settings, login_clock):
    settings.WP_RATE_ACCOUNT_IP_LOGINS = settings.WP_RATE_ACCOUNT_LOGINS = "3/300"
    settings.WP_LOGIN_SLOWDOWN = 5
    for n in range(3):
        assert log_in("peter", "guess", ip=f"192.0.2.{n + 1}")[0].status_code == 200
    # The account is over its limit: one attempt per 5 seconds, from wherever it comes.
    assert log_in("peter", "guess", ip="192.0.2.10")[0].status_code == 200  # checked, and wrong
    for ip in ("192.0.2.11", NEIGHBOUR):  # a guesser elsewhere, and Peter, within the 5 s
        response, client = log_in("peter", PASSWORD, ip=ip)
        assert response.status_code == 429
        assert "try again in a few seconds" in response.content.decode()
        assert not logged_in(client)
    login_clock.advance(5)
    response, client = log_in("peter", PASSWORD, ip=NEIGHBOUR)
    assert response.status_code == 302
    assert logged_in(client)
    # Peter's refused attempts did not count against his address: a typo now is only a typo.
    login_clock.advance(5)
    assert log_in("peter", "typo", ip=NEIGHBOUR)[0].status_code == 200


def test_one_address_trying_many_accounts_is_stopped(peter, settings, login_clock):
    settings.WP_RATE_IP_LOGINS = "3/300"
    for name in ("admin", "root", "support"):
        assert log_in(name, "guess")[0].status_code == 200
    response, client = log_in("peter", PASSWORD)
    assert response.status_code == 429
    assert not logged_in(client)
    response, client = log_in("peter", PASSWORD, ip=NEIGHBOUR)
    assert response.status_code == 302
    assert logged_in(client)


def test_one_ipv6_subscriber_trying_many_accounts_from_many_addresses_is_stopped(peter, settings, login_clock):
    settings.WP_RATE_IP_LOGINS = "3/300"
    for n, name in enumerate(("admin", "root", "support")):
        assert log_in(name, "guess", ip=f"2001:db8:5::{n + 1}")[0].status_code == 200
    response, client = log_in("peter", PASSWORD, ip="2001:db8:5::99")
    assert response.status_code == 429
    assert not logged_in(client)


def test_successful_logins_do_not_count(peter, settings, login_clock):
    settings.WP_RATE_ACCOUNT_IP_LOGINS = settings.WP_RATE_ACCOUNT_LOGINS = "2/300"
    for _ in range(4):
        response, client = log_in("peter", PASSWORD)
        assert response.status_code == 302
        assert logged_in(client)
    assert log_in("peter", "typo")[0].status_code == 200  # a first mistake is only a mistake


def test_password_reset_requests_are_limited_per_address_and_per_email_alike_for_unknown_ones(peter, settings):
    """Each "forgot your password?" may send a mail: nobody may fill an operator's mailbox, and
    the limit treats an address with no account the same, so it tells nothing about accounts."""
    settings.WP_RATE_EMAIL_PASSWORD_RESETS = "2/3600"
    settings.WP_RATE_IP_PASSWORD_RESETS = "3/3600"
    get_user_model().objects.filter(pk=peter.user_id).update(email="peter@example.com")

    def forgot(email: str, ip: str) -> int:
        return Client(REMOTE_ADDR=ip).post("/operators/password/forgot/", {"email": email}).status_code

    # Per email address asked for, from anywhere; the same for one nobody has.
    assert [forgot("peter@example.com", f"192.0.2.{n}") for n in range(3)] == [302, 302, 429]
    assert [forgot("nobody@example.com", f"192.0.2.{n}") for n in range(3)] == [302, 302, 429]
    assert len(mail.outbox) == 2
    # Per address, whatever the email addresses.
    assert [forgot(f"guess{n}@example.com", ATTACKER) for n in range(4)] == [302, 302, 302, 429]
    response = Client(REMOTE_ADDR=ATTACKER).post("/operators/password/forgot/", {"email": "other@example.com"})
    assert "Too many requests" in response.content.decode()


async def test_without_redis_the_limits_let_the_chat_through(sockets, visitor_from, site, settings, monkeypatch):
    """Fail open: a Redis outage costs the limits for a moment, never the chat (docs/reliability.md)."""
    settings.WP_RATE_VISITOR_MESSAGES = "1/60"
    linda = await visitor_from(NEIGHBOUR)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there (the fixture restores it)
    monkeypatch.setattr(rate_limiter, "_clients", RedisClients())
    for n in range(3):
        await linda.ask(of_type("ack", client_id=f"{n}"), type="message", body=f"m{n}", client_id=f"{n}")
    assert await stored_bodies() == ["m0", "m1", "m2"]
