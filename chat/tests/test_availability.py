"""R16, the first half: the snippet knows whether any operator of its site is online (`site.online`
in `welcome`) and hears when that changes: one `site` event per site and change, never to
another site's visitors. Over the sockets, on the real Redis, with the sweep of the tests' timings."""

import pytest
from channels.db import database_sync_to_async
from django.conf import settings

from chat import events, shifts
from chat.availability import sites_availability_update
from chat.tests.test_concurrency import race
from conftest import OTHER_ORIGIN
from operators.models import Operator
from operators.tests.test_logout import post_logout
from tests.sockets import of_type
from visitors.models import Site

pytestmark = pytest.mark.django_db(transaction=True)


def site_frames(client) -> list[bool]:
    return [frame["site"]["online"] for frame in client.frames if frame["type"] == "site"]


def site_online(key: str = "shop") -> bool:
    return Site.objects.get(key=key).operators_online


async def test_the_snippet_hears_once_when_the_first_operator_comes_and_the_last_goes(
    sockets, peter, jane, other_site, sweeper
):
    linda = await sockets.visitor()
    olaf = await sockets.visitor("other", origin=OTHER_ORIGIN)
    assert linda.welcome["site"]["online"] is False

    await sockets.operator(peter)
    event = await linda.expect(of_type("site", site__online=True))
    assert event["site"]["key"] == "shop"
    # A second operator coming changes nothing; a visitor arriving now is told in the welcome.
    jane_panel = await sockets.operator(jane)
    mary = await sockets.visitor()
    assert mary.welcome["site"]["online"] is True

    # Peter logs out: Jane is still there.
    assert await database_sync_to_async(post_logout)(peter.user) == 302
    await linda.expect_none("site", within=1.0)
    # Jane closes her panel and does not come back: gone at her timeout (R11, by the sweep).
    await jane_panel.close()
    wait = settings.WP_OPERATOR_TIMEOUT + settings.WP_SWEEP_INTERVAL + 3
    await linda.expect(of_type("site", site__online=False), timeout=wait)
    await mary.expect(of_type("site", site__online=False))

    assert site_frames(linda) == [True, False]
    assert site_frames(mary) == [False]
    assert not await database_sync_to_async(site_online)()
    # The other site's visitors heard nothing of it.
    await olaf.expect_none("site", within=0.5)
    assert site_frames(olaf) == []


async def test_every_tab_of_a_visitor_hears_it_and_a_socket_not_welcomed_yet_learns_it_in_its_welcome(sockets, peter):
    first = await sockets.visitor()
    second = await sockets.visitor(token=first.welcome["token"])
    quiet = await sockets.visitor(hello=False)  # connected, no hello yet

    await sockets.operator(peter)

    for tab in (first, second):
        await tab.expect(of_type("site", site__online=True))
    welcome = await quiet.ask("welcome", type="hello", token=None)
    assert welcome["site"]["online"] is True
    # Nothing was sent to it before its welcome, and nothing twice after.
    await quiet.expect_none("site", within=0.5)
    assert site_frames(quiet) == []


def test_operators_going_and_coming_at_once_change_the_site_once_each_way(site, peter, jane, monkeypatch):
    """Two daphne processes (threads here, each with its own connection) handle Peter's and Jane's
    logouts at the same instant: the site goes offline once, whichever commits last; both
    connecting at once bring it back once."""
    announced: list[bool] = []
    announce = events.site_availability_changed
    monkeypatch.setattr(
        events,
        "site_availability_changed",
        lambda sites: announced.extend(s.operators_online for s in sites) or announce(sites),
    )
    operators = [peter, jane]
    for _ in range(5):
        come = [lambda o=o: shifts.operator_connect(operator=Operator.objects.get(pk=o.pk)) for o in operators]
        assert [kind for kind, _ in race(*come)] == ["ok", "ok"]
        assert site_online()
        go = [lambda o=o: shifts.operator_logout(operator=o) for o in operators]
        assert [kind for kind, _ in race(*go)] == ["ok", "ok"]
        assert not site_online()
    assert announced == [True, False] * 5


def test_a_site_given_to_an_online_operator_is_online_and_taken_from_the_last_one_is_not(site, other_site, peter):
    shifts.operator_connect(operator=Operator.objects.get(pk=peter.pk))
    assert (site_online("shop"), site_online("other")) == (True, False)

    peter.sites.add(other_site)
    assert site_online("other")
    peter.sites.remove(site)
    assert not site_online("shop")
    # Nothing is left to change: set right already.
    assert sites_availability_update(site_ids=[site.pk, other_site.pk]) == []
