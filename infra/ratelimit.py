"""Rate limits: how often a visitor, an address or an account may do a thing.

Each limit is "count per seconds" (a setting, e.g. `WP_RATE_VISITOR_MESSAGES=30/60`),
counted in Redis under the install's prefix, per subject (a visitor id, an IP address,
a user name). A sliding window, approximated the usual way from two fixed windows:

    used = this window's count + last window's count * (part of last window still in view)

One script call per action checks every limit that applies (INCR this window's key, GET
last window's): no database, nothing kept in the process, so every daphne process and
Celery worker shares the same counts. (It was a pipeline of three commands per limit: a
page view's six cost a daphne process more to build and parse than the rest of its
Redis work, docs/benchmarks.md.)

A refused action counts too: a client that keeps flooding stays refused until it
slows down below the limit.
"""

import functools
import ipaddress
import logging
import math
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.dispatch import receiver
from django.utils import timezone
from redis import RedisError

from infra.redis_clients import RedisClients

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: float

    @classmethod
    def parse(cls, text: str) -> "Rate":
        """`"30/60"`: 30 per 60 seconds."""
        count, _, seconds = str(text).partition("/")
        try:
            rate = cls(int(count), float(seconds or 60))
        except ValueError:
            raise ImproperlyConfigured(f"a rate is 'count/seconds', like '30/60', not {text!r}") from None
        if rate.count < 1 or rate.seconds <= 0:
            raise ImproperlyConfigured(f"a rate needs a count >= 1 and seconds > 0, not {text!r}")
        return rate


# What is limited, and the setting of each (subject kind, action) pair.
SETTINGS = {
    ("visitor", "message"): "WP_RATE_VISITOR_MESSAGES",
    ("ip", "message"): "WP_RATE_IP_MESSAGES",
    ("visitor", "open"): "WP_RATE_VISITOR_OPENS",
    ("ip", "open"): "WP_RATE_IP_OPENS",
    ("visitor", "page"): "WP_RATE_VISITOR_PAGES",
    ("ip", "page"): "WP_RATE_IP_PAGES",
    ("ip", "hello"): "WP_RATE_IP_HELLOS",
    # Token rotation writes to the database: as often as a chat request at most.
    ("visitor", "rotate"): "WP_RATE_VISITOR_OPENS",
    ("ip", "rotate"): "WP_RATE_IP_OPENS",
    # A rating writes once a chat: as often as a chat request at most (issue 23).
    ("visitor", "rate"): "WP_RATE_VISITOR_OPENS",
    ("ip", "rate"): "WP_RATE_IP_OPENS",
    # A seen mark writes to the database: as often as a message at most (issue 23).
    ("visitor", "seen"): "WP_RATE_VISITOR_MESSAGES",
    ("ip", "seen"): "WP_RATE_IP_MESSAGES",
    # A visitor's name and email (R16): a write, and what an operator's answer is mailed to.
    ("visitor", "details"): "WP_RATE_VISITOR_OPENS",
    ("ip", "details"): "WP_RATE_IP_OPENS",
    # Issue 25: a verified identity (an HMAC checked, maybe a visitor made) as often as `details`;
    # the site's attributes and tracked events, each a write, as often as pages.
    ("visitor", "identify"): "WP_RATE_VISITOR_OPENS",
    ("ip", "identify"): "WP_RATE_IP_OPENS",
    ("visitor", "attributes"): "WP_RATE_VISITOR_PAGES",
    ("ip", "attributes"): "WP_RATE_IP_PAGES",
    ("visitor", "track"): "WP_RATE_VISITOR_PAGES",
    ("ip", "track"): "WP_RATE_IP_PAGES",
    # The transcript by email (issue 23): a write, and a mail: as often as a chat request at most.
    ("visitor", "transcript"): "WP_RATE_VISITOR_OPENS",
    ("ip", "transcript"): "WP_RATE_IP_OPENS",
    # A file in a message (issue 23): a write of up to WP_UPLOAD_MAX_BYTES.
    ("visitor", "upload"): "WP_RATE_VISITOR_UPLOADS",
    ("ip", "upload"): "WP_RATE_IP_UPLOADS",
    ("operator", "upload"): "WP_RATE_OPERATOR_UPLOADS",
    ("account", "login"): "WP_RATE_ACCOUNT_LOGINS",
    ("account_ip", "login"): "WP_RATE_ACCOUNT_IP_LOGINS",
    ("ip", "login"): "WP_RATE_IP_LOGINS",
    ("ip", "password_reset"): "WP_RATE_IP_PASSWORD_RESETS",
    ("email", "password_reset"): "WP_RATE_EMAIL_PASSWORD_RESETS",
}


def rate(kind: str, action: str) -> Rate:
    # Read at each call: settings may change under tests.
    return Rate.parse(getattr(settings, SETTINGS[kind, action]))


def _keys(kind: str, action: str, subject: str, now: float) -> tuple[str, str, Rate, float]:
    limit = rate(kind, action)
    window = math.floor(now / limit.seconds)
    # Part of the last window still inside the sliding window that ends now.
    weight = 1 - (now / limit.seconds - window)
    base = f"{settings.WP_REDIS_PREFIX}:rate:{action}:{kind}:{subject}:{limit.seconds:g}"
    return f"{base}:{window}", f"{base}:{window - 1}", limit, weight


# KEYS: per limit, this window's key then the last window's. ARGV[1]: 1 counts this action,
# 0 only looks; then per limit: its count, the last window's weight, this window's key's life.
# Every limit counts the action, even past one that is over.
_HIT = """
local counting = ARGV[1] == '1'
local over = 0
for i = 1, #KEYS, 2 do
  local a = 2 + (i - 1) / 2 * 3
  local current
  if counting then
    current = redis.call('INCR', KEYS[i])
    redis.call('EXPIRE', KEYS[i], ARGV[a + 2])
  else
    current = tonumber(redis.call('GET', KEYS[i]) or '0')
  end
  local used = current + tonumber(redis.call('GET', KEYS[i + 1]) or '0') * tonumber(ARGV[a + 1])
  local limit = tonumber(ARGV[a])
  if used > limit or (not counting and used >= limit) then
    over = 1
  end
end
return over
"""


def _script_args(checks: list[tuple[str, str, str]], now: float, *, count: bool) -> list:
    """The arguments of an EVAL of _HIT: the number of keys, the keys, then ARGV."""
    keys, argv = [], ["1" if count else "0"]
    for kind, action, subject in checks:
        current, previous, limit, weight = _keys(kind, action, subject, now)
        keys += [current, previous]
        # Kept while it still weighs in the next window.
        argv += [limit.count, repr(weight), math.ceil(2 * limit.seconds) + 1]
    return [len(keys), *keys, *argv]


class RateLimiter:
    """`hit` counts an action against its limits; True means it is over one of them."""

    def __init__(self):
        self._clients = RedisClients()

    # Fail open: without Redis nothing is counted and everything is let through, so an outage
    # costs the limits for a moment, never the chat (what needs only the database still works,
    # docs/reliability.md).

    async def ahit(self, checks: list[tuple[str, str, str]]) -> bool:
        """Sockets: `checks` are (subject kind, action, subject), e.g. ("visitor", "message", "42")."""
        args = _script_args(checks, timezone.now().timestamp(), count=True)
        try:
            return bool(await self._clients.aredis().eval(_HIT, *args))
        except RedisError as error:
            return _let_through(error)

    def hit(self, checks: list[tuple[str, str, str]]) -> bool:
        return self._sync(checks, count=True)

    def over(self, checks: list[tuple[str, str, str]]) -> bool:
        """Already over a limit, without counting this one (login: only failures count)."""
        return self._sync(checks, count=False)

    def _sync(self, checks: list[tuple[str, str, str]], *, count: bool) -> bool:
        args = _script_args(checks, timezone.now().timestamp(), count=count)
        try:
            return bool(self._clients.redis().eval(_HIT, *args))
        except RedisError as error:
            return _let_through(error)


def _let_through(error: RedisError) -> bool:
    # Fail open: without Redis nothing is counted and everything is let through, so an outage
    # costs the limits for a moment, never the chat (what needs only the database still works,
    # docs/reliability.md).
    logger.warning("rate limits not checked, Redis failed: %s", error)
    return False


rate_limiter = RateLimiter()


@functools.lru_cache(maxsize=8192)
def address_subject(address: str) -> str:
    """What one address's limits are counted under: an IPv4 address as it is, an IPv6 address
    as its /64 network. One IPv6 subscriber, home or phone, is given a whole /64 and can send
    from any of its 2^64 addresses, so counting each alone would limit nobody (issue 21). An
    IPv4 address mapped into IPv6 (::ffff:a.b.c.d) is the IPv4 address. Anything else (no
    address: a Unix socket, a test client) is counted as given."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def scope_ip(scope: dict) -> str:
    """The client's address, as its limits count it (address_subject): daphne runs with
    --proxy-headers, so behind nginx it is the visitor's, not the proxy's."""
    client = scope.get("client") or ("unknown", 0)
    return address_subject(str(client[0]))


# Login attempts -------------------------------------------------------------------
#
# Every way in (the login form, admin's login, the API's token endpoint) goes through
# django.contrib.auth.authenticate(): this backend, first in AUTHENTICATION_BACKENDS,
# refuses an attempt before any password is checked when
#
# - its address, or this account from this address, has too many recent failures (a hard
#   stop for the window), or
# - this account has too many recent failures from anywhere, and another attempt for it was
#   let through less than WP_LOGIN_SLOWDOWN seconds ago (a slowdown, not a stop).
#
# The account alone never stops: keyed on the name only, anyone anywhere could lock a named
# operator out by failing for them (issue 21). Every failure counts against all three.

LOCKED_OUT = "too many failed logins; try again in a few minutes"
SLOWED_DOWN = "too many attempts; try again in a few seconds"

# KEYS[1]: when an attempt for the account was last let through. ARGV: now, the slowdown, the
# key's life. 1: let this one through (and remember it), 0: too soon.
_SLOT = """
local last = redis.call('GET', KEYS[1])
if last and tonumber(ARGV[1]) - tonumber(last) < tonumber(ARGV[2]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1
"""


@dataclass(frozen=True)
class LoginChecks:
    hard: list[tuple[str, str, str]]  # over any of these: refused for the window
    account: list[tuple[str, str, str]]  # over this: slowed down

    @property
    def counted(self) -> list[tuple[str, str, str]]:
        return self.hard + self.account


def _login_checks(request, credentials: dict) -> LoginChecks:
    hard, account = [], []
    username = credentials.get("username")
    username = username.strip().lower()[:150] if isinstance(username, str) and username else ""
    address = address_subject(request.META.get("REMOTE_ADDR") or "unknown") if request is not None else ""
    if username:
        account.append(("account", "login", username))
        if address:
            hard.append(("account_ip", "login", f"{username}|{address}"))
    if address:
        hard.append(("ip", "login", address))
    return LoginChecks(hard=hard, account=account)


def login_slot_taken(username: str) -> bool:
    """For an account over its limit: True if another attempt for it was let through less than
    WP_LOGIN_SLOWDOWN seconds ago; else this attempt takes the slot. Fails open, like the rest."""
    slowdown = float(settings.WP_LOGIN_SLOWDOWN)
    key = f"{settings.WP_REDIS_PREFIX}:rate:login:slowdown:{username}"
    now = timezone.now().timestamp()
    try:
        return not rate_limiter._clients.redis().eval(_SLOT, 1, key, repr(now), repr(slowdown), math.ceil(slowdown) + 1)
    except RedisError as error:
        return _let_through(error)


def login_refusal(request, username) -> str | None:
    """Why an attempt to log in as `username` from `request`'s address is refused, or None."""
    checks = _login_checks(request, {"username": username})
    if checks.hard and rate_limiter.over(checks.hard):
        return LOCKED_OUT
    if checks.account and rate_limiter.over(checks.account) and login_slot_taken(checks.account[0][2]):
        return SLOWED_DOWN
    return None


def login_over_limit(request, *, username: str | None) -> bool:
    """The address, or the account from it, is over its hard limit: nothing may be checked for
    them (request.login_rate_limited tells the view why). Takes no slot of the account's
    slowdown: a check before another step (a second factor) that authenticate() made already."""
    checks = _login_checks(request, {"username": username})
    if checks.hard and rate_limiter.over(checks.hard):
        if request is not None:
            request.login_rate_limited = LOCKED_OUT
        return True
    return False


class LoginRateLimitBackend:
    """Authenticates nobody; stops authentication while an address, or an account from an
    address, is over its limit, and slows down an account over its own.

    No get_user(): it never owns a session (and force_login() skips it)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        refusal = login_refusal(request, username)
        if refusal is not None:
            if request is not None:
                # The login form and the token endpoint say why (with 429).
                request.login_rate_limited = refusal
            raise PermissionDenied(refusal)
        return None


@receiver(user_login_failed, dispatch_uid="infra.ratelimit.count_failed_login")
def count_failed_login(sender, credentials: dict, request=None, **kwargs) -> None:
    if getattr(request, "login_rate_limited", None) == SLOWED_DOWN:
        # Nothing was tried, and counting it would let whoever takes the account's slots run
        # the owner's own refused attempts up to their address's hard stop.
        return
    checks = _login_checks(request, credentials).counted
    if checks:
        rate_limiter.hit(checks)


# Password resets ------------------------------------------------------------------
#
# Each request may send a mail: limited per address and per email address asked for, the
# same whether an account has that email or not, so the limit tells nothing either.


def password_reset_refused(request, email: str) -> bool:
    """Counts a "forgot your password?" request; True if it is over a limit."""
    address = address_subject(request.META.get("REMOTE_ADDR") or "unknown")
    checks = [("ip", "password_reset", address), ("email", "password_reset", email.strip().lower()[:254])]
    return rate_limiter.hit(checks)
