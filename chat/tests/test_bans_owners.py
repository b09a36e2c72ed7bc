"""Bans (issue 25) for the sites' owners: they see their sites' bans, and lift them, in admin and
through the API; nobody else does."""

import pytest

from chat.bans import visitor_ban
from chat.models import Ban
from tests.api import client_for, make_user
from tests.owners import admin_client, make_visitor

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def bans(site, other_site, peter, olga) -> tuple[Ban, Ban]:
    """A ban on the shop (by Peter, with a reason) and one on the other site (by Olga)."""
    shop_visitor = make_visitor(site)
    shop_visitor.last_address = "203.0.113.7"
    shop_visitor.save()
    ours = visitor_ban(operator=peter, visitor_id=shop_visitor.pk, reason="<b>Rude</b>", address=True)
    theirs = visitor_ban(operator=olga, visitor_id=make_visitor(other_site).pk, reason="Spam")
    return ours, theirs


def test_owners_list_and_lift_their_sites_bans_through_the_api(site, other_site, peter, bans):
    ours, theirs = bans
    owner = make_user("owner", staff=True, owns=(site,))
    api = client_for(owner)

    listed = api.get(f"/api/sites/{site.pk}/bans/").json()["results"]
    assert [(b["id"], b["address"], b["reason"], b["active"]) for b in listed] == [
        (ours.pk, "203.0.113.7", "<b>Rude</b>", True)
    ]
    assert listed[0]["created_by"] == {"id": peter.pk, "name": "Peter"}
    assert api.get(f"/api/sites/{site.pk}/bans/?state=lifted").json()["results"] == []
    assert api.get(f"/api/sites/{site.pk}/bans/?state=gone").status_code == 400
    # Another site's bans do not exist for them.
    assert api.get(f"/api/sites/{other_site.pk}/bans/").status_code == 404
    assert api.post(f"/api/bans/{theirs.pk}/lift/").status_code == 404

    lifted = api.post(f"/api/bans/{ours.pk}/lift/")
    assert lifted.status_code == 200
    assert (lifted.json()["active"], lifted.json()["lifted_by"]) == (False, "owner")
    # Lifting again changes nothing.
    assert api.post(f"/api/bans/{ours.pk}/lift/").json()["lifted_at"] == lifted.json()["lifted_at"]
    assert api.get(f"/api/sites/{site.pk}/bans/?state=active").json()["results"] == []
    assert Ban.objects.get(pk=theirs.pk).lifted_at is None


def test_operators_who_do_not_own_the_site_cannot_read_or_lift_its_bans(site, peter, bans):
    ours, _ = bans
    api = client_for(peter.user)
    assert api.get(f"/api/sites/{site.pk}/bans/").status_code == 404
    assert api.post(f"/api/bans/{ours.pk}/lift/").status_code == 404
    assert Ban.objects.get(pk=ours.pk).lifted_at is None


def test_owners_see_their_sites_bans_in_admin_and_lift_them(site, other_site, bans):
    ours, theirs = bans
    owner = make_user("owner", staff=True, owns=(site,))
    client = admin_client(owner)

    page = client.get("/admin/chat/ban/").content.decode()
    assert "203.0.113.7" in page
    assert "&lt;b&gt;Rude&lt;/b&gt;" in page
    assert "<b>Rude</b>" not in page
    assert "Spam" not in page
    assert client.get(f"/admin/chat/ban/{theirs.pk}/change/").status_code in (302, 403, 404)
    assert "Spam" not in client.get("/admin/chat/ban/?state=active").content.decode()

    client.post("/admin/chat/ban/", {"action": "lift_bans", "_selected_action": [ours.pk, theirs.pk]})
    assert Ban.objects.get(pk=ours.pk).lifted_at is not None
    assert Ban.objects.get(pk=theirs.pk).lifted_at is None
    assert "203.0.113.7" not in client.get("/admin/chat/ban/?state=active").content.decode()
    assert "203.0.113.7" in client.get("/admin/chat/ban/?state=lifted").content.decode()


def test_an_operator_blocks_a_visitor_through_the_api_and_their_room_ends(site, other_site, peter, olga):
    from tests.api import make_room

    visitor = make_visitor(site)
    visitor.last_address = "203.0.113.7"
    visitor.save()
    room = make_room(visitor, operator=peter)
    api = client_for(peter.user)

    made = api.post(f"/api/visitors/{visitor.pk}/ban/", {"reason": "Spam", "network": True}, format="json")
    assert made.status_code == 201
    ban = made.json()
    assert (ban["visitor"], ban["address"], ban["reason"], ban["active"]) == (
        visitor.pk,
        "203.0.113.0/24",
        "Spam",
        True,
    )
    assert ban["created_by"] == {"id": peter.pk, "name": "Peter"}
    room.refresh_from_db()
    assert (room.status, room.reason) == ("expired", "banned")
    # Once is enough: a second ban of the same visitor is refused, and nothing changes.
    again = api.post(f"/api/visitors/{visitor.pk}/ban/", {"reason": "Again"}, format="json")
    assert (again.status_code, again.json()["error"]["code"]) == (403, "not_allowed")
    assert list(Ban.objects.filter(visitor=visitor).values_list("reason", flat=True)) == ["Spam"]


def test_only_operators_of_the_visitors_site_block_them_and_bad_input_is_refused(site, peter, olga):
    visitor = make_visitor(site)
    # Another site's operator does not see the visitor at all.
    assert client_for(olga.user).post(f"/api/visitors/{visitor.pk}/ban/", {}, format="json").status_code == 404
    # The site's owner sees them, but blocking is an operator's.
    owner = make_user("owner", staff=True, owns=(site,))
    refused = client_for(owner).post(f"/api/visitors/{visitor.pk}/ban/", {}, format="json")
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "not_allowed")
    api = client_for(peter.user)
    too_long = api.post(f"/api/visitors/{visitor.pk}/ban/", {"reason": "x" * 501}, format="json")
    assert (too_long.status_code, too_long.json()["error"]["code"]) == (400, "too_long")
    # Their address is not known: blocking it cannot be done.
    unknown = api.post(f"/api/visitors/{visitor.pk}/ban/", {"address": True}, format="json")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (400, "invalid")
    assert api.post("/api/visitors/99999999999/ban/", {}, format="json").status_code == 404
    assert not Ban.objects.exists()
