"""Operator accounts as the services keep them (admin calls these): a new operator can log
in, one made inactive is deactivated at once, and deleting one ends their shift first."""

import pytest
from django.contrib.auth import authenticate, get_user_model

from chat.models import Room
from chat.shifts import operator_delete, operator_save, user_delete
from operators.models import Operator
from tests.api import make_room, make_visitor

pytestmark = pytest.mark.django_db


def test_a_new_operator_gets_a_login_they_can_use(site):
    operator = operator_save(operator=Operator(), username="rosa", first_name="Rosa", password="a-long-passphrase-1")
    operator.sites.add(site)

    assert authenticate(username="rosa", password="a-long-passphrase-1") == operator.user
    assert (operator.name, operator.user.is_active) == ("Rosa", True)


def test_a_new_operator_without_a_password_has_none_anyone_could_log_in_with(site):
    """Invited operators (operators/invitations.py): not even an empty password works."""
    operator = operator_save(operator=Operator(), username="rosa", email="rosa@example.com")

    assert not operator.user.has_usable_password()
    assert authenticate(username="rosa", password="") is None


def test_an_empty_password_keeps_the_current_one(peter):
    operator_save(operator=peter, username=peter.user.username, first_name="Pete")

    assert authenticate(username=peter.user.username, password="operator-password-1") == peter.user
    assert Operator.objects.get(pk=peter.pk).name == "Pete"


def test_an_operator_made_inactive_loses_their_rooms_at_once(site, peter):
    room = make_room(make_visitor(site), operator=peter)

    operator_save(operator=peter, username=peter.user.username, is_active=False)

    room.refresh_from_db()
    assert (room.status, room.reason) == (Room.Status.EXPIRED, Room.Reason.OPERATOR_LOGOUT)
    assert not get_user_model().objects.get(pk=peter.user_id).is_active


@pytest.mark.parametrize("delete", ["operator", "user"])
def test_deleting_an_operator_or_their_login_ends_their_rooms_first(site, peter, delete):
    room = make_room(make_visitor(site), operator=peter)

    if delete == "operator":
        operator_delete(operator=peter)
    else:
        user_delete(user=peter.user)

    room.refresh_from_db()
    assert (room.status, room.reason, room.operator_id) == (Room.Status.EXPIRED, Room.Reason.OPERATOR_LOGOUT, None)
    assert not Operator.objects.filter(pk=peter.pk).exists()
