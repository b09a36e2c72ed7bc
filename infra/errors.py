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


class Invalid(ChatError):
    """What was given cannot be stored as it is (an email address that is none)."""

    code = "invalid"
