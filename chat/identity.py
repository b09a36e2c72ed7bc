"""A visitor's verified identity (issue 25, the `identify` frame): the site's server vouches for
who this is by signing its user's id with the site's identity secret (visitors/verified.py).

One visitor per id and site: the first verified identify of an id makes this browser's visitor
that person's (an anonymous visitor gains the id in place, their conversation kept); any later
one, on another device or browser, makes that browser the same visitor, so the conversation
follows them. Both get the visitor's token, which is derived (every device the same one): no
device logs another out. An id whose hash does not match is refused and changes nothing; an id
is never taken without its hash.

A browser that becomes another visitor (`switched`) reconnects with the token it was given; the
anonymous visitor it was leaves the site as any visitor whose sockets close (R3): a room of
theirs expires like any other, its messages stay theirs (they are not moved to the person's
conversation: whose they were, only the browser knew).
"""

import secrets
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from infra.errors import InvalidSignature, NotAllowed
from visitors.models import Site, Visitor, hash_token
from visitors.verified import signature_valid, verified_token
from visitors.visits import visits

from .visiting import email_check, visitor_details_save


@dataclass(frozen=True)
class Identified:
    visitor: Visitor  # the verified visitor this browser is from now on
    token: str  # theirs, for the browser to keep
    switched: bool  # another visitor than the socket's: the browser reconnects with `token`


def visitor_identify_verified(
    *, visitor_id: int, external_id: str, signature: str, name: str = "", email: str = ""
) -> Identified:
    """The socket's visitor says they are the site's user `external_id`, `signature` being the
    site's hex HMAC-SHA256 of it. NotAllowed if the site has no identity secret yet,
    InvalidSignature if the hash is not the site's, Invalid for an email that is none: then
    nothing changes. `name`, `email`: set on the visitor as `details` does ('' keeps theirs)."""
    email_check(email)
    with transaction.atomic():
        visitor = Visitor.objects.select_for_update().get(pk=visitor_id)
        secret = Site.objects.filter(pk=visitor.site_id).values_list("identity_secret", flat=True).first()
        if not secret:
            raise NotAllowed("identity verification is not set up for this site")
        if not signature_valid(secret, external_id, signature):
            raise InvalidSignature("the hash is not this site's signature of the id")
        person = _person(visitor, external_id)
        token = verified_token(visitor_id=person.pk, generation=person.token_generation)
        token_hash = hash_token(token)
        if person.token_hash != token_hash:
            Visitor.objects.filter(pk=person.pk).update(token_hash=token_hash)
            person.token_hash = token_hash
            # The visit's state in Redis checks a hello's token (visitors/visits.py).
            transaction.on_commit(lambda: visits.retoken(person.pk, token_hash))
        if (name and name != person.given_name) or (email and email != person.email):
            name, email = name or person.given_name, email or person.email
            if person.online:
                # Operators see it at once, as if the visitor had given them (and webhooks hear of it).
                person = visitor_details_save(visitor_id=person.pk, name=name, email=email)
            else:
                Visitor.objects.filter(pk=person.pk).update(given_name=name, email=email)
                person.given_name, person.email = name, email
    return Identified(visitor=person, token=token, switched=person.pk != visitor_id)


def _person(visitor: Visitor, external_id: str) -> Visitor:
    """The site's visitor with this verified id: this one, one that has it, or a new one."""
    if visitor.external_id == external_id:
        return visitor
    existing = _with_id(visitor.site_id, external_id)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            if not visitor.external_id:
                # Anonymous until now: they are that person, with their conversation so far.
                Visitor.objects.filter(pk=visitor.pk).update(external_id=external_id)
                visitor.external_id = external_id
                return visitor
            # Someone else's verified visitor (another user of the site on this browser): a new
            # visitor, never theirs. Its token is set by the caller (derived from its id).
            now = timezone.now()
            return Visitor.objects.create(
                site_id=visitor.site_id,
                external_id=external_id,
                token_hash=hash_token(secrets.token_urlsafe(32)),
                first_seen=now,
                since=now,
                last_seen=now,
            )
    except IntegrityError:
        # Another device of theirs made the id's visitor meanwhile (the unique constraint).
        return _with_id(visitor.site_id, external_id)


def _with_id(site_id: int, external_id: str) -> Visitor | None:
    return Visitor.objects.select_for_update().filter(site_id=site_id, external_id=external_id).first()
