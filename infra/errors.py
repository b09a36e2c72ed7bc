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
