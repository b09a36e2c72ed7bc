"""Case 7: a password change closes the operator's open panels at once, and the sessions
they were opened with no longer open one. (Logout: operators/tests/test_logout.py;
deactivation: operators/tests/test_admin.py.)"""

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model

from conftest import session_cookie_for
from tests.owners import admin_client, make_staff
from tests.sockets import wait_closed

pytestmark = pytest.mark.django_db(transaction=True)

CLOSE_LOGGED_OUT = 4001
NEW_PASSWORD = "a-brand-new-password-7"


def operator_headers(cookie: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()),
        (b"host", b"testserver"),
        (b"origin", b"http://testserver"),
    ]


def change_password_in_admin(user) -> int:
    """A superuser sets a new password on the user's admin page (Django's own form)."""
    root = admin_client(make_staff("root", superuser=True))
    response = root.post(
        f"/admin/auth/user/{user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    return response.status_code


async def test_password_change_closes_the_operators_panels_at_once(sockets, peter, jane):
    cookie = await database_sync_to_async(session_cookie_for)(peter.user)
    first, second = await sockets.operator(peter), await sockets.operator(peter)
    janes = await sockets.operator(jane)

    assert await database_sync_to_async(change_password_in_admin)(peter.user) == 302

    assert await wait_closed(first) == CLOSE_LOGGED_OUT
    assert await wait_closed(second) == CLOSE_LOGGED_OUT
    await janes.ask("pong", type="ping")  # another operator's panel stays
    # A session from before the change opens no panel any more.
    assert await sockets.refused("/ws/operator/", operator_headers(cookie))


async def test_password_saved_by_code_closes_the_panels_too(sockets, peter):
    panel = await sockets.operator(peter)

    def change():
        user = get_user_model().objects.get(pk=peter.user_id)
        user.set_password(NEW_PASSWORD)
        user.save()

    await database_sync_to_async(change)()
    assert await wait_closed(panel) == CLOSE_LOGGED_OUT


async def test_other_changes_to_the_user_leave_the_panel_open(sockets, peter):
    panel = await sockets.operator(peter)

    def rename():
        user = get_user_model().objects.get(pk=peter.user_id)
        user.first_name = "Pete"
        user.save()

    await database_sync_to_async(rename)()
    await panel.expect_none(lambda frame: False, within=0.5)
    await panel.ask("pong", type="ping")
