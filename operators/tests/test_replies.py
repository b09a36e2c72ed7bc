"""Canned replies over the REST API (issue 23): an operator's own, a site's for everyone who
serves it and managed by its owners, counted when used; never another operator's or another
site's."""

import pytest

from operators.models import CannedReply
from tests.api import client_for, make_user
from tests.owners import admin_client, make_staff

pytestmark = pytest.mark.django_db


def shortcuts(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [reply["shortcut"] for reply in response.json()]


def test_an_operator_sees_their_own_replies_and_their_sites_but_nobody_elses(site, other_site, peter, jane, olga):
    owner = make_user("owner", staff=True, owns=(site,))
    CannedReply.objects.create(site=site, shortcut="shipping", body="We ship in 2 days.")
    CannedReply.objects.create(site=other_site, shortcut="returns", body="Other shop's returns.")
    CannedReply.objects.create(operator=jane, shortcut="jane-hi", body="Hi, Jane here")
    mine = client_for(peter.user).post("/api/replies/", {"shortcut": "hi", "body": "Hi {visitor.name}!"}, format="json")
    assert mine.status_code == 201, mine.content
    assert mine.json() | {"id": 0} == {
        "id": 0,
        "site": None,
        "operator": peter.pk,
        "shortcut": "hi",
        "body": "Hi {visitor.name}!",
        "uses": 0,
    }

    assert sorted(shortcuts(client_for(peter.user).get("/api/replies/"))) == ["hi", "shipping"]
    assert shortcuts(client_for(olga.user).get("/api/replies/")) == ["returns"]
    assert shortcuts(client_for(owner).get("/api/replies/")) == ["shipping"]  # not the operators' own


def test_owners_manage_their_sites_replies_and_operators_only_their_own(site, other_site, peter, jane):
    owner = make_user("owner", staff=True, owns=(site,))
    created = client_for(owner).post(
        "/api/replies/", {"site": site.pk, "shortcut": "hours", "body": "We answer 9-17."}, format="json"
    )
    assert created.status_code == 201, created.content
    reply_id = created.json()["id"]
    # An operator may use a site's reply, not change it; nor may anyone touch another site's.
    refused = client_for(peter.user).patch(f"/api/replies/{reply_id}/", {"body": "Always open!"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "not_allowed"
    foreign = client_for(owner).post(
        "/api/replies/", {"site": other_site.pk, "shortcut": "x", "body": "x"}, format="json"
    )
    assert foreign.status_code == 403
    # Jane cannot see, change or delete Peter's own reply: it does not exist for her.
    own = client_for(peter.user).post("/api/replies/", {"shortcut": "bye", "body": "Bye!"}, format="json").json()
    assert client_for(jane.user).delete(f"/api/replies/{own['id']}/").status_code == 404
    assert client_for(jane.user).post(f"/api/replies/{own['id']}/use/").status_code == 404

    changed = client_for(owner).patch(f"/api/replies/{reply_id}/", {"body": "We answer 8-18."}, format="json")
    assert changed.json()["body"] == "We answer 8-18."
    assert client_for(peter.user).delete(f"/api/replies/{own['id']}/").status_code == 204
    assert CannedReply.objects.filter(pk=own["id"]).count() == 0
    assert CannedReply.objects.get(pk=reply_id).body == "We answer 8-18."


def test_a_used_reply_is_counted_and_offered_first(site, peter):
    CannedReply.objects.create(site=site, shortcut="a-rare", body="rare")
    often = CannedReply.objects.create(site=site, shortcut="b-often", body="often")
    client = client_for(peter.user)
    for _ in range(3):
        assert client.post(f"/api/replies/{often.pk}/use/").status_code == 200
    assert client.post(f"/api/replies/{often.pk}/use/").json()["uses"] == 4
    assert shortcuts(client.get("/api/replies/")) == ["b-often", "a-rare"]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"shortcut": "has space", "body": "x"}, "invalid"),
        ({"shortcut": "x" * 41, "body": "x"}, "too_long"),
        ({"shortcut": "ok", "body": "x" * 4001}, "too_long"),
        ({"shortcut": "ok"}, "required"),
        ({"shortcut": "dup", "body": "again"}, "invalid"),
    ],
)
def test_bad_replies_are_refused_with_a_clear_error_and_nothing_stored_is_lost(peter, fields, code):
    client = client_for(peter.user)
    assert client.post("/api/replies/", {"shortcut": "dup", "body": "first"}, format="json").status_code == 201
    response = client.post("/api/replies/", fields, format="json")
    assert response.status_code == 400, response.content
    assert code in str(response.json()["error"])
    assert list(CannedReply.objects.values_list("shortcut", "body")) == [("dup", "first")]


def test_a_user_who_is_not_an_operator_has_no_replies_of_their_own(site):
    nobody = make_user("nobody")
    response = client_for(nobody).post("/api/replies/", {"shortcut": "hi", "body": "Hi"}, format="json")
    assert response.status_code == 403
    assert shortcuts(client_for(nobody).get("/api/replies/")) == []


def test_owners_manage_their_sites_replies_in_admin_and_see_no_one_elses(site, other_site, peter):
    owner = make_staff("owner", site)
    client = admin_client(owner)
    added = client.post(
        "/admin/operators/cannedreply/add/", {"site": site.pk, "shortcut": "shipping", "body": "Two days."}
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    assert CannedReply.objects.get(shortcut="shipping").site == site
    # Another site's is not a choice, and operators' own replies are not shown.
    refused = client.post("/admin/operators/cannedreply/add/", {"site": other_site.pk, "shortcut": "x", "body": "x"})
    assert refused.status_code == 200
    assert not CannedReply.objects.filter(shortcut="x").exists()
    CannedReply.objects.create(operator=peter, shortcut="peters-own", body="mine")
    CannedReply.objects.create(site=other_site, shortcut="theirs", body="theirs")
    listing = client.get("/admin/operators/cannedreply/").content.decode()
    assert "shipping" in listing
    assert "peters-own" not in listing
    assert "theirs" not in listing
