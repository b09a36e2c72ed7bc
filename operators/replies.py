"""Canned replies (issue 23): who sees which, who may change them, and their use count.

A site's replies are offered to every operator who serves the site and managed by its owners
(admin, API); an operator's own are theirs alone. Placeholders are filled in by the panel,
which knows the visitor and the page at the moment of use."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet

from infra.errors import Invalid, NotAllowed, NotFound
from visitors.owners import site_ids_owned_by

from .models import CannedReply
from .selectors import operator_of


def canned_replies_for(*, user) -> QuerySet[CannedReply]:
    """The replies this user is offered or manages: their own, their sites' (served or owned)."""
    if not user.is_authenticated or not user.is_active:
        return CannedReply.objects.none()
    operator = operator_of(user=user)
    sites = set(site_ids_owned_by(user=user)) | (set(operator.site_ids) if operator else set())
    mine = Q(operator=operator) if operator else Q(pk__in=[])
    return CannedReply.objects.filter(mine | Q(site_id__in=sites)).order_by("-uses", "shortcut", "id")


def _check_may_change(reply: CannedReply, user) -> None:
    if reply.operator_id is not None:
        operator = operator_of(user=user)
        if operator is None or operator.pk != reply.operator_id:
            raise NotAllowed("this reply is another operator's")
    elif reply.site_id not in site_ids_owned_by(user=user):
        raise NotAllowed("only the site's owners change its replies")


def _saved(reply: CannedReply) -> CannedReply:
    try:
        reply.full_clean(exclude=["site", "operator"])
    except ValidationError as error:
        raise Invalid("; ".join(f"{field}: {' '.join(m)}" for field, m in error.message_dict.items())) from None
    try:
        with transaction.atomic():
            reply.save()
    except IntegrityError:
        raise Invalid(f"there is already a reply /{reply.shortcut} here") from None
    return reply


def canned_reply_create(*, user, shortcut: str, body: str, site_id: int | None = None) -> CannedReply:
    """An operator's own reply, or (`site_id`) one of a site the user owns."""
    if site_id is None:
        operator = operator_of(user=user)
        if operator is None:
            raise NotAllowed("only operators have replies of their own; give a site")
        reply = CannedReply(operator=operator, shortcut=shortcut, body=body)
    else:
        reply = CannedReply(site_id=site_id, shortcut=shortcut, body=body)
    _check_may_change(reply, user)
    return _saved(reply)


def _visible(user, reply_id: int) -> CannedReply:
    reply = canned_replies_for(user=user).filter(pk=reply_id).first()
    if reply is None:
        raise NotFound("no such reply")
    return reply


def canned_reply_update(*, user, reply_id: int, shortcut: str | None = None, body: str | None = None) -> CannedReply:
    reply = _visible(user, reply_id)
    _check_may_change(reply, user)
    if shortcut is not None:
        reply.shortcut = shortcut
    if body is not None:
        reply.body = body
    return _saved(reply)


def canned_reply_save(*, user, reply: CannedReply) -> CannedReply:
    """A reply as admin's form filled it in (a site's)."""
    _check_may_change(reply, user)
    return _saved(reply)


def canned_reply_delete(*, user, reply_id: int) -> None:
    reply = _visible(user, reply_id)
    _check_may_change(reply, user)
    reply.delete()


def canned_reply_use(*, user, reply_id: int) -> CannedReply:
    """An operator put the reply in a message: counted (the panel offers the most used first)."""
    reply = _visible(user, reply_id)
    CannedReply.objects.filter(pk=reply.pk).update(uses=F("uses") + 1)
    reply.refresh_from_db(fields=["uses"])
    return reply
