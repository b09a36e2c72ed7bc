"""Issue 25, the snippet's API over the visitor socket: a verified identity (`identify`, the id
signed by the site's server), the site's attributes of the visitor and the events it tracks,
and what operators see of them (GET /api/visitors/{id}/). On the real Redis and database."""

import pytest
from channels.db import database_sync_to_async

from chat.tests.test_stranded import says
from tests.api import client_for, make_user
from tests.sockets import of_type
from visitors.models import Site, Visitor
from visitors.services import site_rotate_identity_secret
from visitors.verified import identity_hash

live = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def secret_of(site: Site) -> str:
    return site_rotate_identity_secret(site_id=site.pk)


@database_sync_to_async
def visitor(pk: int) -> Visitor:
    return Visitor.objects.get(pk=pk)


@database_sync_to_async
def detail(user, visitor_id: int) -> dict:
    response = client_for(user).get(f"/api/visitors/{visitor_id}/")
    assert response.status_code == 200, response.content
    return response.json()


async def identify(client, external_id: str, signature: str, **fields) -> dict:
    return await client.ask(
        lambda f: f["type"] in ("identified", "error"), type="identify", id=external_id, hash=signature, **fields
    )


# Verified identity -------------------------------------------------------------------------


@live
async def test_a_signed_id_makes_the_visitor_verified_with_their_name_for_operators(sockets, site, peter):
    secret = await secret_of(site)
    panel = await sockets.operator(peter)
    laptop = await sockets.visitor()
    anna_id = laptop.welcome["visitor"]

    answer = await identify(laptop, "user-42", identity_hash(secret, "user-42"), name="Anna", email="anna@example.com")
    assert answer["type"] == "identified"
    assert (answer["verified"], answer["visitor"], answer["switched"]) == (True, anna_id, False)
    assert (answer["name"], answer["email"]) == ("Anna", "anna@example.com")
    assert answer["token"] != laptop.welcome["token"]  # a verified visitor's token, the same on each device
    seen = await panel.expect(of_type("visitor", visitor__id=anna_id, visitor__name="Anna"))
    assert seen["visitor"]["email"] == "anna@example.com"
    shown = await detail(peter.user, anna_id)
    assert (shown["verified"], shown["external_id"]) == (True, "user-42")

    # This socket stays hers; a new page with the token she was given is her too.
    await says(laptop, "Still me", "v-1")
    again = await sockets.visitor(token=answer["token"])
    assert again.welcome["visitor"] == anna_id
    # Identifying again changes nothing (a page's script calling identify() on each load).
    same = await identify(again, "user-42", identity_hash(secret, "user-42"))
    assert (same["visitor"], same["token"], same["switched"]) == (anna_id, answer["token"], False)


@live
async def test_a_wrong_or_missing_hash_is_refused_and_changes_nothing(sockets, site, peter):
    secret = await secret_of(site)
    linda = await sockets.visitor()
    linda_id = linda.welcome["visitor"]
    for frame, code in [
        ({"id": "user-42", "hash": identity_hash(secret, "user-43")}, "invalid_signature"),
        ({"id": "user-42", "hash": identity_hash("another secret", "user-42")}, "invalid_signature"),
        ({"id": "user-42", "hash": "zz"}, "invalid_signature"),
        ({"id": "user-42"}, "invalid_signature"),
        ({"id": "user-42", "hash": ""}, "invalid_signature"),
        ({"id": "", "hash": identity_hash(secret, "")}, "invalid"),
        ({"id": "x" * 101, "hash": identity_hash(secret, "x" * 101)}, "too_long"),
        ({"id": 42, "hash": identity_hash(secret, "42")}, "invalid"),
        ({"id": "user-42", "hash": ["a"]}, "invalid"),
        ({"id": "user-42", "hash": identity_hash(secret, "user-42"), "email": "not an address"}, "invalid"),
    ]:
        error = await linda.ask(of_type("error", **{"for": "identify"}), type="identify", **frame)
        assert error["code"] == code, frame
    stored = await visitor(linda_id)
    assert (stored.external_id, stored.verified, stored.given_name, stored.email) == ("", False, "", "")
    # Her token still names her.
    assert (await sockets.visitor(token=linda.welcome["token"])).welcome["visitor"] == linda_id


@live
async def test_a_site_without_an_identity_secret_verifies_nobody(sockets, site):
    linda = await sockets.visitor()
    error = await identify(linda, "user-42", identity_hash("", "user-42"))
    assert error["type"] == "error"
    assert error["code"] == "not_allowed"
    assert "not set up" in error["detail"]
    assert not (await visitor(linda.welcome["visitor"])).verified


@live
async def test_the_conversation_follows_the_person_to_another_device_and_both_keep_working(sockets, site, peter):
    secret = await secret_of(site)
    signed = identity_hash(secret, "user-42")
    panel = await sockets.operator(peter)
    laptop = await sockets.visitor()
    anna_id = laptop.welcome["visitor"]
    token = (await identify(laptop, "user-42", signed))["token"]
    await says(laptop, "Do you ship to Norway?", "v-1")
    room = (await panel.expect(of_type("room", room__visitor=anna_id, room__status="pending")))["room"]
    await panel.ask(of_type("room", room__id=room["id"], room__status="active"), type="accept", room=room["id"])
    await says(panel, "We do, in three days.", "o-1", room=room["id"])

    # Her phone: another browser, another visitor until she logs in there.
    phone = await sockets.visitor()
    assert phone.welcome["visitor"] != anna_id
    switched = await identify(phone, "user-42", signed)
    assert (switched["visitor"], switched["switched"], switched["token"]) == (anna_id, True, token)
    # The snippet reconnects with the token: the phone is Anna, in her room, with her conversation.
    phone = await sockets.visitor(token=switched["token"])
    assert phone.welcome["visitor"] == anna_id
    assert phone.welcome["room"]["id"] == room["id"]
    history = await phone.ask("history", type="history")
    assert [m["body"] for m in history["messages"] if m["event"] is None][-2:] == [
        "Do you ship to Norway?",
        "We do, in three days.",
    ]

    # Both devices are hers and both work: a message from each reaches Peter; his reaches both.
    for client, body, client_id in [(laptop, "From the laptop", "v-2"), (phone, "From the phone", "v-3")]:
        await says(client, body, client_id)
        await panel.expect(of_type("message", message__body=body))
    await says(panel, "Got both", "o-2", room=room["id"])
    for client in (laptop, phone):
        await client.expect(of_type("message", message__body="Got both"))
    # And a new page of the laptop still says hello with its token.
    assert (await sockets.visitor(token=token)).welcome["visitor"] == anna_id


@live
async def test_an_id_is_never_joined_without_its_signature(sockets, site):
    secret = await secret_of(site)
    laptop = await sockets.visitor()
    await identify(laptop, "user-42", identity_hash(secret, "user-42"))
    await says(laptop, "My address is 1 Main St", "v-1")
    mallory = await sockets.visitor()
    right = identity_hash(secret, "user-42")
    almost = right[:-1] + ("1" if right[-1] == "0" else "0")
    for signature in ("", identity_hash(secret, "user-4"), almost, right.upper()[:-1]):
        error = await identify(mallory, "user-42", signature)
        assert error["code"] == "invalid_signature"
    history = await mallory.ask("history", type="history")
    assert history["messages"] == []
    assert history["room"] is None


@live
async def test_another_user_on_the_same_browser_gets_a_visitor_of_their_own(sockets, site):
    secret = await secret_of(site)
    browser = await sockets.visitor()
    anna = await identify(browser, "anna", identity_hash(secret, "anna"))
    await says(browser, "Anna's question", "v-1")
    bob = await identify(browser, "bob", identity_hash(secret, "bob"))
    assert bob["switched"] is True
    assert bob["visitor"] not in (anna["visitor"], None)
    as_bob = await sockets.visitor(token=bob["token"])
    assert as_bob.welcome["visitor"] == bob["visitor"]
    assert (await as_bob.ask("history", type="history"))["messages"] == []


@live
async def test_a_rotated_secret_verifies_with_the_new_one_only(sockets, site):
    old = await secret_of(site)
    new = await secret_of(site)
    linda = await sockets.visitor()
    assert (await identify(linda, "user-7", identity_hash(old, "user-7")))["code"] == "invalid_signature"
    assert (await identify(linda, "user-7", identity_hash(new, "user-7")))["type"] == "identified"


@live
async def test_rotating_a_verified_visitors_token_logs_out_every_device_until_it_identifies_again(sockets, site):
    secret = await secret_of(site)
    laptop = await sockets.visitor()
    anna_id = laptop.welcome["visitor"]
    token = (await identify(laptop, "user-42", identity_hash(secret, "user-42")))["token"]
    rotated = (await laptop.ask("token", type="rotate"))["token"]
    assert rotated != token
    assert (await sockets.visitor(token=token)).welcome["visitor"] != anna_id
    phone = await sockets.visitor()
    again = await identify(phone, "user-42", identity_hash(secret, "user-42"))
    assert (again["visitor"], again["token"]) == (anna_id, rotated)
    assert (await sockets.visitor(token=rotated)).welcome["visitor"] == anna_id


# Attributes and tracked events --------------------------------------------------------------


@live
async def test_attributes_and_events_are_kept_and_shown_to_operators(sockets, site, peter):
    linda = await sockets.visitor()
    linda_id = linda.welcome["visitor"]
    answer = await linda.ask(
        "attributes", type="attributes", attributes={"plan": "pro", "cart_total": 42.5, "vip": True, "seats": 3}
    )
    assert answer["attributes"] == {"plan": "pro", "cart_total": 42.5, "vip": True, "seats": 3}
    # Merged; null removes one.
    answer = await linda.ask("attributes", type="attributes", attributes={"vip": None, "plan": "team"})
    assert answer["attributes"] == {"plan": "team", "cart_total": 42.5, "seats": 3}
    for name in ("added_to_cart", "checkout started"):
        await linda.send(type="track", name=name)
    await linda.ask("pong", type="ping")  # frames are handled in order: the tracks are stored

    shown = await detail(peter.user, linda_id)
    assert list(shown["attributes"].items()) == [("cart_total", 42.5), ("plan", "team"), ("seats", 3)]
    assert [event["name"] for event in shown["events"]] == ["added_to_cart", "checkout started"]
    assert all(event["at"] for event in shown["events"])
    assert (shown["verified"], shown["external_id"]) == (False, None)


@live
async def test_only_the_last_events_are_kept(sockets, site, settings):
    settings.WP_VISITOR_EVENTS_KEPT = 3
    linda = await sockets.visitor()
    for n in range(5):
        await linda.send(type="track", name=f"step {n}")
    await linda.ask("pong", type="ping")
    assert [e["name"] for e in (await visitor(linda.welcome["visitor"])).events] == ["step 2", "step 3", "step 4"]


@live
async def test_bad_attributes_and_event_names_are_refused_and_change_nothing(sockets, site, settings):
    settings.WP_MAX_VISITOR_ATTRIBUTES = 3
    linda = await sockets.visitor()
    linda_id = linda.welcome["visitor"]
    await linda.ask("attributes", type="attributes", attributes={"plan": "pro", "seats": 2})
    for attributes, code in [
        ("plan=pro", "invalid"),
        (["plan"], "invalid"),
        (None, "invalid"),
        ({"a": 1, "b": 2, "c": 3, "d": 4}, "too_long"),
        ({"x": 1, "y": 2}, "too_long"),  # four in all
        ({"bad key": 1}, "invalid"),
        ({"k" * 41: 1}, "invalid"),
        ({"": 1}, "invalid"),
        ({"plan": "p" * 201}, "too_long"),
        ({"plan": "a\x00b"}, "invalid"),
        ({"plan": "\ud800"}, "invalid"),
        ({"plan": {"nested": 1}}, "invalid"),
        ({"plan": [1]}, "invalid"),
        ({"seats": 2**60}, "invalid"),
    ]:
        error = await linda.ask(of_type("error", **{"for": "attributes"}), type="attributes", attributes=attributes)
        assert error["code"] == code, attributes
    for name, code in [
        ("", "invalid"),
        ("x" * 61, "too_long"),
        ("<b>cart</b>", "invalid"),
        (7, "invalid"),
        (None, "invalid"),
    ]:
        error = await linda.ask(of_type("error", **{"for": "track"}), type="track", name=name)
        assert error["code"] == code, name
    stored = await visitor(linda_id)
    assert (stored.attributes, stored.events) == ({"plan": "pro", "seats": 2}, [])


@live
async def test_identify_is_rate_limited_like_details(sockets, site, settings):
    settings.WP_RATE_VISITOR_OPENS = "2/60"
    secret = await secret_of(site)
    linda = await sockets.visitor()
    for _ in range(2):
        assert (await identify(linda, "user-1", identity_hash(secret, "user-1")))["type"] == "identified"
    assert (await identify(linda, "user-1", identity_hash(secret, "user-1")))["code"] == "rate_limited"


# The identity secret over the API --------------------------------------------------------------


@pytest.mark.django_db
def test_only_owners_see_and_rotate_the_identity_secret(site, peter):
    owner = make_user("owner", staff=True, owns=(site,))
    client = client_for(owner)
    url = f"/api/sites/{site.pk}/identity-secret/"
    assert client.get(url).json() == {"identity_secret": None}
    first = client.post(url).json()["identity_secret"]
    assert len(first) == 64
    assert client.get(url).json() == {"identity_secret": first}
    second = client.post(url).json()["identity_secret"]
    assert second != first
    site.refresh_from_db()
    assert site.identity_secret == second
    # An operator of the site may not; a stranger does not see the site at all.
    assert client_for(peter.user).post(url).status_code == 403
    assert client_for(peter.user).get(url).status_code == 403
    assert client_for(make_user("stranger", staff=True)).post(url).status_code == 404
    site.refresh_from_db()
    assert site.identity_secret == second
    # Nor does the site's own API give it away.
    assert "identity_secret" not in client_for(owner).get(f"/api/sites/{site.pk}/").json()


@pytest.mark.django_db(transaction=True)
def test_two_devices_identifying_at_the_same_instant_become_one_visitor(site):
    """Her laptop and her phone log in at once: the database's unique constraint settles it,
    both end up the same visitor with the same token, nobody sees an error."""
    from functools import partial

    from chat.identity import visitor_identify_verified
    from chat.tests.test_concurrency import ROUNDS, race
    from visitors.services import visitor_identify

    secret = site_rotate_identity_secret(site_id=site.pk)
    for n in range(ROUNDS):
        external_id = f"user-{n}"
        devices = [visitor_identify(site=site, token=None)[0] for _ in range(2)]
        results = race(
            *(
                partial(
                    visitor_identify_verified,
                    visitor_id=device.pk,
                    external_id=external_id,
                    signature=identity_hash(secret, external_id),
                )
                for device in devices
            )
        )
        assert [kind for kind, _ in results] == ["ok", "ok"], results
        people = {identified.visitor.pk for _, identified in results}
        tokens = {identified.token for _, identified in results}
        assert len(people) == 1
        assert len(tokens) == 1
        assert Visitor.objects.filter(site=site, external_id=external_id).count() == 1
        assert sorted(identified.switched for _, identified in results) == [False, True]
