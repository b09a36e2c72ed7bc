"""Django admin for operators: created in one form, listed with their presence, and
deactivated (unticking "active" or the action) with the same effect as a logout, at once."""

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from chat.models import Room
from conftest import PASSWORD
from operators.models import Operator
from operators.tests.test_logout import chat_with
from tests.owners import admin_client, make_staff
from tests.sockets import ask_to_chat, of_type, wait_closed

pytestmark = pytest.mark.django_db

CLOSE_LOGGED_OUT = 4001


@pytest.fixture
def owner(site):
    return make_staff("owner", site)


@pytest.fixture(params=["superuser", "owner"])
def manager(request, site, owner):
    return make_staff("root", superuser=True) if request.param == "superuser" else owner


def operator_form(operator: Operator | None = None, **changes) -> dict:
    data = {"password1": "", "password2": ""}
    if operator is not None:
        user = operator.user
        data |= {
            "username": user.username,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "email": user.email,
            "sites": [site.pk for site in operator.sites.all()],
        }
        if user.is_active:
            data["is_active"] = "on"
    return data | changes


def test_operator_pages_load_for_superuser_and_owner(manager, site, peter):
    client = admin_client(manager)
    for url in [
        "/admin/operators/operator/",
        f"/admin/operators/operator/?sites__id__exact={site.pk}&online__exact=0",
        "/admin/operators/operator/?q=pet",
        "/admin/operators/operator/add/",
        f"/admin/operators/operator/{peter.pk}/change/",
    ]:
        assert client.get(url).status_code == 200, url


def test_owner_can_only_give_their_own_sites(site, other_site, owner):
    response = admin_client(owner).post(
        "/admin/operators/operator/add/",
        {"username": "sneaky", "email": "sneaky@example.com", "is_active": "on", "sites": [other_site.pk]},
    )

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not get_user_model().objects.filter(username="sneaky").exists()


def test_add_operator_needs_an_email_and_a_free_username(manager, site, peter):
    client = admin_client(manager)
    form = {"is_active": "on", "sites": [site.pk]}

    no_email = client.post("/admin/operators/operator/add/", form | {"username": "anna"})
    taken = client.post("/admin/operators/operator/add/", form | {"username": "peter", "email": "p2@example.com"})

    assert (no_email.status_code, no_email.context["adminform"].form.errors) == (
        200,
        {"email": ["This field is required."]},
    )
    assert "already exists" in taken.content.decode()
    assert not Operator.objects.filter(user__username="anna").exists()
    assert not mail.outbox


def test_operator_list_shows_presence_and_sites(manager, peter, jane):
    Operator.objects.filter(pk=peter.pk).update(online=True)

    page = admin_client(manager).get("/admin/operators/operator/?online__exact=1").content.decode()

    assert ">peter<" in page
    assert ">jane<" not in page
    assert ">Shop<" in page  # the sites column


def test_owner_cannot_change_an_operator_who_also_serves_another_owners_site(site, other_site, owner, make_operator):
    shared = make_operator("sam", site, other_site)
    make_staff("other-owner", other_site)
    client = admin_client(owner)

    page = client.get(f"/admin/operators/operator/{shared.pk}/change/")
    refused = client.post(f"/admin/operators/operator/{shared.pk}/change/", operator_form(shared, is_active=""))

    assert page.status_code == 200  # they may see who serves their site
    assert refused.status_code == 403
    shared.user.refresh_from_db()
    assert shared.user.is_active


@pytest.mark.parametrize("target", ["superuser", "co-owner", "staff"])
def test_owner_cannot_take_over_a_more_powerful_account_that_operates_their_site(site, owner, make_operator, target):
    """Issue 21, case 1: an owner of `demo` set the password of a superuser who also operates
    `demo`, logged in as them, and could deactivate them. Nobody manages an account with more
    power than their own: a superuser, another owner, any staff account."""
    victim = make_operator("vic", site)
    get_user_model().objects.filter(pk=victim.user_id).update(is_staff=True, is_superuser=target == "superuser")
    if target == "co-owner":
        site.owners.add(victim.user)
    victim.refresh_from_db()
    client = admin_client(owner)
    url = f"/admin/operators/operator/{victim.pk}/change/"

    taken = client.post(url, operator_form(victim, password1="Owned-by-owner-1", password2="Owned-by-owner-1"))
    renamed = client.post(url, operator_form(victim, username="vic2"))
    client.post("/admin/operators/operator/", {"action": "deactivate", "_selected_action": [victim.pk]})

    assert (taken.status_code, renamed.status_code) == (403, 403)
    victim.user.refresh_from_db()
    assert victim.user.check_password(PASSWORD)
    assert not victim.user.check_password("Owned-by-owner-1")
    assert (victim.user.username, victim.user.is_active) == ("vic", True)
    assert Client().login(username="vic", password=PASSWORD)


def test_owner_changes_their_operator_but_never_their_password(site, owner, peter):
    client = admin_client(owner)
    url = f"/admin/operators/operator/{peter.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    assert b'name="password1"' not in page.content
    # A password posted anyway (a crafted form) is ignored; the rest is saved.
    response = client.post(
        url, operator_form(peter, first_name="Pete", password1="Set-by-owner-1", password2="Set-by-owner-1")
    )
    assert response.status_code == 302
    peter.user.refresh_from_db()
    assert peter.user.first_name == "Pete"
    assert peter.user.check_password(PASSWORD)
    # A superuser still may.
    root = admin_client(make_staff("root", superuser=True))
    root.post(url, operator_form(peter, password1="Set-by-root-22", password2="Set-by-root-22"))
    peter.user.refresh_from_db()
    assert peter.user.check_password("Set-by-root-22")


def test_owner_does_not_see_operators_of_other_sites(site, owner, olga):
    client = admin_client(owner)
    assert ">olga<" not in client.get("/admin/operators/operator/").content.decode()
    assert client.get(f"/admin/operators/operator/{olga.pk}/change/").status_code == 302


# Deactivation ----------------------------------------------------------------------


def from_now_on(client, match):
    seen = {id(frame) for frame in client.frames}
    return lambda frame: id(frame) not in seen and match(frame)


def post(user, url: str, data: dict) -> int:
    return admin_client(user).post(url, data).status_code


def room_state(room_id: int) -> tuple[str, str]:
    room = Room.objects.get(pk=room_id)
    return room.status, room.reason


async def assert_shift_ended(peter, peter_panel, jane_panel, linda, room, peter_offline) -> None:
    """What a deactivation must do at once: Peter's panel closes, his room ends, Linda is free
    and Jane sees him go offline; he cannot come back."""
    assert await wait_closed(peter_panel) == CLOSE_LOGGED_OUT
    ended = await linda.expect(of_type("room", room__id=room["id"], room__status="expired"))
    assert ended["room"]["reason"] == "operator_logout"
    assert await database_sync_to_async(room_state)(room["id"]) == ("expired", "operator_logout")
    await jane_panel.expect(peter_offline)
    assert not await database_sync_to_async(Client().login)(username="peter", password=PASSWORD)


@pytest.mark.django_db(transaction=True)
async def test_unticking_active_closes_the_operators_panel_and_releases_their_rooms(sockets, site, peter, jane):
    owner = await database_sync_to_async(make_staff)("owner", site)
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    linda = await sockets.visitor()
    room = await chat_with(linda, peter_panel, peter)
    peter_offline = from_now_on(jane_panel, of_type("operator", operator__id=peter.pk, operator__online=False))
    form = await database_sync_to_async(operator_form)(peter, is_active="")
    del form["is_active"]  # the box unticked: browsers send nothing for it

    status = await database_sync_to_async(post)(owner, f"/admin/operators/operator/{peter.pk}/change/", form)

    assert status == 302
    await assert_shift_ended(peter, peter_panel, jane_panel, linda, room, peter_offline)
    # Linda's next question goes to the pool, where Jane sees it.
    again = await ask_to_chat(linda, from_now_on(linda, of_type("room", room__status="pending")))
    assert again["room"]["id"] != room["id"]
    await jane_panel.expect(of_type("room", room__id=again["room"]["id"], room__status="pending"))


@pytest.mark.django_db(transaction=True)
async def test_deactivate_action_closes_the_operators_panel_and_releases_their_rooms(sockets, peter, jane):
    root = await database_sync_to_async(make_staff)("root", superuser=True)
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    linda = await sockets.visitor()
    room = await chat_with(linda, peter_panel, peter)
    peter_offline = from_now_on(jane_panel, of_type("operator", operator__id=peter.pk, operator__online=False))

    status = await database_sync_to_async(post)(
        root, "/admin/operators/operator/", {"action": "deactivate", "_selected_action": [peter.pk]}
    )

    assert status == 302
    await assert_shift_ended(peter, peter_panel, jane_panel, linda, room, peter_offline)
    await jane_panel.expect_none(of_type("operator", operator__id=jane.pk, operator__online=False), within=0.2)


@pytest.mark.django_db(transaction=True)
async def test_deactivating_in_the_user_admin_ends_the_shift_too(sockets, peter, jane):
    root = await database_sync_to_async(make_staff)("root", superuser=True)
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    linda = await sockets.visitor()
    room = await chat_with(linda, peter_panel, peter)
    peter_offline = from_now_on(jane_panel, of_type("operator", operator__id=peter.pk, operator__online=False))
    user = peter.user
    form = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": "",
        "email": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }

    status = await database_sync_to_async(post)(root, f"/admin/auth/user/{user.pk}/change/", form)

    assert status == 302
    await assert_shift_ended(peter, peter_panel, jane_panel, linda, room, peter_offline)
