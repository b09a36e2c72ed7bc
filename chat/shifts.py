"""An operator's shift: their panel connecting, and its end, which releases their rooms: logout
(R10), timeout (R11), deactivation. Their accounts (admin) too, since deactivating one ends
the shift."""

from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from infra.errors import Invalid
from operators.models import Operator
from operators.tokens import api_tokens_revoke
from visitors.presence import operator_presence

from . import events
from .availability import sites_availability_update
from .models import Room
from .services import rooms_expire


def operator_connect(*, operator: Operator) -> None:
    """A panel socket opened (presence already records it): online, if they were not."""
    with transaction.atomic():
        locked = Operator.objects.select_for_update().get(pk=operator.pk)
        operator.online = True
        if not locked.online:
            Operator.objects.filter(pk=operator.pk).update(online=True)
            events.operator_changed(operator, operator.site_ids)
            # The first of a site's operators in: its visitors' snippets hear it (R16).
            sites_availability_update(site_ids=operator.site_ids)


def operator_set_status(*, operator: Operator, status: str) -> Operator:
    """The operator says they are available, away (no new requests offered nor alerted) or busy
    (none offered by routing): the site's operators see it (issue 23)."""
    if status not in Operator.Status.values:
        raise Invalid(f"'status' is one of {', '.join(Operator.Status.values)}")
    with transaction.atomic():
        Operator.objects.filter(pk=operator.pk).update(status=status)
        operator.status = status
        events.operator_changed(operator, operator.site_ids)
    return operator


def _operator_release(operator: Operator, *, reason: str, now: datetime) -> None:
    # Their visitors are open to the public at once: next request to the pool, any operator may start.
    rooms_expire(Room.objects.filter(operator=operator), reason=reason, now=now)
    if operator.online:
        operator.online = False
        Operator.objects.filter(pk=operator.pk).update(online=False)
        events.operator_changed(operator, operator.site_ids)
        # The last of a site's operators out: its visitors' snippets hear it (R16).
        sites_availability_update(site_ids=operator.site_ids)


def operator_logout(*, operator: Operator) -> None:
    """Logout ends all of the operator's rooms at once and closes their panels (R10)."""
    with transaction.atomic():
        operator = Operator.objects.select_for_update().select_related("user").get(pk=operator.pk)
        _operator_release(operator, reason=Room.Reason.OPERATOR_LOGOUT, now=timezone.now())
        events.operator_sockets_close(operator.pk)


def operator_deactivate(*, operator: Operator) -> None:
    """A site owner deactivates an operator: they can no longer log in, their open panels close
    at once (4001) and their rooms are released exactly as on logout (R10, reason operator_logout)."""
    with transaction.atomic():
        operator = Operator.objects.select_for_update().select_related("user").get(pk=operator.pk)
        if operator.user.is_active:
            # Inactive users' sessions stop authenticating, so a panel cannot reconnect.
            type(operator.user).objects.filter(pk=operator.user_id).update(is_active=False)
            operator.user.is_active = False
        # Their API tokens go too: reactivated, the account starts with none (issue 21).
        api_tokens_revoke(user_id=operator.user_id)
        _operator_release(operator, reason=Room.Reason.OPERATOR_LOGOUT, now=timezone.now())
        events.operator_sockets_close(operator.pk)


def operator_timeout(*, operator_id: int, now: datetime) -> bool:
    """No panel connected for OPERATOR_TIMEOUT: treated as logged out (R11). False if back already."""
    with transaction.atomic():
        operator = Operator.objects.select_for_update().select_related("user").filter(pk=operator_id).first()
        if operator is None or not operator.online or operator_presence.is_connected(operator_id):
            return False
        _operator_release(operator, reason=Room.Reason.OPERATOR_TIMEOUT, now=now)
        return True


def operator_password_changed(*, user) -> None:
    """A user's password changed: Django stops authenticating their other sessions (the session
    holds a hash of the password), and the panels those sessions opened close at once (4001)."""
    operator = Operator.objects.filter(user_id=user.pk).first()
    if operator is not None:
        events.operator_sockets_close(operator.pk)


def operator_sites_changed(*, operator_ids: Iterable[int]) -> None:
    """Operators were given or taken sites (admin, code), or a site they serve was deleted: their
    open panels reconnect at once (4012), so a site taken from them stops reaching them and
    what they do is checked against their sites as they are now (issue 21: a panel kept
    receiving a removed site's messages and could answer its visitors). Sent when the change
    commits."""
    for operator_id in set(operator_ids):
        events.operator_sockets_resync(operator_id)


# Accounts (site owners, in admin) ---------------------------------------------


def operator_save(
    *,
    operator: Operator,
    username: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    is_active: bool = True,
    password: str = "",
) -> Operator:
    """Create an operator, their login (a Django user) with them, or change one. An active
    operator made inactive is deactivated (operator_deactivate: panels closed, rooms
    released); an empty password keeps the current one, and gives a new login none it can
    log in with (they set their own from an invitation, operators/invitations.py). The sites
    are the caller's to set."""
    with transaction.atomic():
        user = operator.user if operator.user_id else get_user_model()()
        deactivates = user.pk is not None and user.is_active and not is_active
        user.username, user.first_name, user.last_name, user.email = username, first_name, last_name, email
        # Deactivation goes through operator_deactivate, which has more to do than this flag.
        if not deactivates:
            user.is_active = is_active
        if password:
            user.set_password(password)
        elif user.pk is None:
            user.set_unusable_password()
        user.save()
        operator.user = user
        operator.save()
    if deactivates:
        operator_deactivate(operator=operator)
    return operator


def operator_delete(*, operator: Operator) -> None:
    """Deleting an operator first ends their shift: no room may keep a vanished operator."""
    operator_deactivate(operator=operator)
    operator.delete()


def user_delete(*, user) -> None:
    """Deleting a login deletes its operator, whose shift ends first (operator_delete)."""
    for operator in Operator.objects.filter(user=user):
        operator_deactivate(operator=operator)
    user.delete()
