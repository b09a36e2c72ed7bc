"""Issue 25: what an owner's site may say of its visitor through the snippet's API, and how it is
believed. Pure functions; the writes are visitors.services' and chat.identity's.

- A verified identity: the site's server signs its user's id with the site's identity secret
  (hex HMAC-SHA256 of the id); a hash that matches is the owner vouching for who this is.
- A verified visitor's token is derived from SECRET_KEY, the visitor and a count of rotations,
  not random: every device of theirs that identifies gets the same token, so the conversation
  follows them and no device logs another out. Only its digest is stored, as for any token;
  the `rotate` frame counts one more rotation (all their devices identify again).
- Attributes (a flat object of short values) and tracked event names, checked here once for
  the socket and anything else that writes them.
"""

import base64
import hashlib
import hmac
import math
import re
import secrets

from django.conf import settings
from django.utils.crypto import salted_hmac

from infra.errors import Invalid, TooLong

EXTERNAL_ID_LENGTH = 100
ATTRIBUTE_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,40}")
ATTRIBUTE_VALUE_LENGTH = 200
EVENT_NAME = re.compile(r"[A-Za-z0-9_.\- ]{1,60}")
# Numbers a browser's JavaScript holds exactly, and every database's JSON.
MAX_SAFE_INTEGER = 2**53 - 1


def new_identity_secret() -> str:
    return secrets.token_hex(32)


def identity_hash(secret: str, external_id: str) -> str:
    """What the owner's server computes: hex HMAC-SHA256 of the id, keyed with the site's secret."""
    return hmac.new(secret.encode(), external_id.encode(), hashlib.sha256).hexdigest()


def signature_valid(secret: str, external_id: str, signature: str) -> bool:
    if not secret or not signature.isascii():
        return False
    return hmac.compare_digest(identity_hash(secret, external_id), signature.lower())


def verified_token(*, visitor_id: int, generation: int) -> str:
    """A verified visitor's token: the same on each of their devices until it is rotated."""
    digest = salted_hmac(
        "whitepanel.visitors.verified_token", f"{visitor_id}:{generation}", algorithm="sha256"
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def clean_attributes(attributes: object) -> dict:
    """The `attributes` object as stored: keys of ATTRIBUTE_KEY, values a string of at most
    ATTRIBUTE_VALUE_LENGTH, a number, a boolean, or null (which removes the key)."""
    if not isinstance(attributes, dict):
        raise Invalid("'attributes' must be an object")
    if len(attributes) > settings.WP_MAX_VISITOR_ATTRIBUTES:
        raise TooLong(f"'attributes' has more than {settings.WP_MAX_VISITOR_ATTRIBUTES} keys")
    for key, value in attributes.items():
        if not ATTRIBUTE_KEY.fullmatch(key):
            raise Invalid(f"attribute names are 1 to 40 letters, digits, '_', '.' or '-', not {key[:40]!r}")
        if isinstance(value, str):
            if len(value) > ATTRIBUTE_VALUE_LENGTH:
                raise TooLong(f"attribute {key!r} is longer than {ATTRIBUTE_VALUE_LENGTH} characters")
            if "\x00" in value or not _encodable(value):
                raise Invalid(f"attribute {key!r} is not text")
        elif isinstance(value, bool) or value is None:
            pass
        elif isinstance(value, int):
            if abs(value) > MAX_SAFE_INTEGER:
                raise Invalid(f"attribute {key!r} is too large a number")
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise Invalid(f"attribute {key!r} is not a number")
        else:
            raise Invalid(f"attribute {key!r} must be a string, a number, true, false or null")
    return attributes


def clean_event_name(name: object) -> str:
    if not isinstance(name, str):
        raise Invalid("'name' must be a string")
    name = name.strip()
    if len(name) > 60:
        raise TooLong("'name' is longer than 60 characters")
    if not EVENT_NAME.fullmatch(name):
        raise Invalid("an event's name is 1 to 60 letters, digits, spaces, '_', '.' or '-'")
    return name


def _encodable(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True
