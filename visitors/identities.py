"""Which visitor a token names, as a daphne process has learnt it: a new page's hello skips reading it.

Every page a visitor opens says hello with their token, and nearly every hello is from a
visitor the same process identified a page or two before. Remembered here, the hello goes
straight to the arrival, whose UPDATE checks that the token is still the visitor's
(chat.visiting.visitor_welcome_known): one trip to a database thread a navigation
instead of two, and no read of the visitor first. A token rotated or a visitor erased since is caught by that
check, and the token is identified anew.

Only the tokens' digests are kept (as in the database), and at most KEPT_AT_MOST of them:
the oldest go first.
"""

from .models import hash_token

KEPT_AT_MOST = 100_000


class KnownVisitors:
    def __init__(self, kept_at_most: int = KEPT_AT_MOST):
        self.kept_at_most = kept_at_most
        self._ids: dict[tuple[int, str], int] = {}

    def get(self, site_id: int, token: str) -> int | None:
        return self._ids.get((site_id, hash_token(token))) if token else None

    def remember(self, site_id: int, token: str, visitor_id: int) -> None:
        key = (site_id, hash_token(token))
        if key not in self._ids and len(self._ids) >= self.kept_at_most:
            del self._ids[next(iter(self._ids))]
        self._ids[key] = visitor_id

    def forget(self, site_id: int, token: str) -> None:
        self._ids.pop((site_id, hash_token(token)), None)


known_visitors = KnownVisitors()
