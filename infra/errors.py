"""Domain errors: services raise them, consumers and views turn `code` into an error frame."""


class ChatError(Exception):
    code = "not_allowed"

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class NotAllowed(ChatError):
    code = "not_allowed"


class NotFound(ChatError):
    code = "not_found"


class RoomTaken(ChatError):
    code = "taken"


class RoomExpired(ChatError):
    code = "expired"


class DetailsRequired(ChatError):
    """The site asks for a name and email before a first message (its pre-chat form)."""

    code = "details_required"


class Invalid(ChatError):
    """Input a service refuses as it stands (a duplicate name, a value out of its rules)."""

    code = "invalid"


class EmailRequired(ChatError):
    """Mail asked for with no address to send it to (issue 23: the transcript by email)."""

    code = "email_required"


class TooLarge(ChatError):
    """A file over WP_UPLOAD_MAX_BYTES, or an image of more pixels than WP_UPLOAD_MAX_PIXELS."""

    code = "too_large"


class TypeNotAllowed(ChatError):
    """A file whose type is not among WP_UPLOAD_TYPES, or that is not what its name says (an
    "image" that does not decode as one)."""

    code = "type_not_allowed"


class RateLimited(ChatError):
    """Over a rate limit (infra/ratelimit.py): the same action later is fine."""

    code = "rate_limited"


class TooLong(ChatError):
    """Input over one of its limits (a text's length, a count of keys)."""

    code = "too_long"


class InvalidSignature(ChatError):
    """A visitor's `identify` whose hash is not the site's signature of the id (issue 25)."""

    code = "invalid_signature"
