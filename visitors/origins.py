"""A site's allowed origins: what an owner may type, and the form browsers send.

A browser's `Origin` header is `scheme://host[:port]`, lower-case, the host in
punycode, the default port left out. The visitor socket compares origins as
strings (`Site.allows_origin`), so each origin is stored exactly that way: an
owner who types `https://Shop.example.com:443/` gets `https://shop.example.com`,
which matches, instead of a line that never would.
"""

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

DEFAULT_PORTS = {"http": 80, "https": 443}

# Host syntax (names, IPv4, [IPv6]) is Django's; the rest is checked here.
_url_validator = URLValidator(schemes=list(DEFAULT_PORTS))


def parse_origin(value: str) -> str:
    """`scheme://host[:port]` normalised as a browser sends it, or ValidationError."""
    text = value.strip()
    if not text:
        raise ValidationError("An origin is empty.")
    if text == "*" or "*" in text:
        raise ValidationError(f"{text!r}: wildcards are not allowed; list each origin.")
    if any(c.isspace() for c in text):
        raise ValidationError(f"{text!r}: an origin has no spaces.")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not text.lower().startswith(f"{scheme}://"):
        raise ValidationError(f"{text!r}: an origin starts with http:// or https://.")
    if parts.username is not None or parts.password is not None:
        raise ValidationError(f"{text!r}: an origin has no user name or password.")
    if parts.path not in ("", "/") or parts.query or parts.fragment or text.endswith(("?", "#")):
        raise ValidationError(f"{text!r}: an origin has no path, query or fragment (scheme://host[:port]).")
    if not parts.hostname:
        raise ValidationError(f"{text!r}: the host is missing.")
    try:
        port = parts.port
    except ValueError:
        raise ValidationError(f"{text!r}: the port must be a number from 1 to 65535.") from None
    if port == 0:
        raise ValidationError(f"{text!r}: the port must be a number from 1 to 65535.")
    try:
        _url_validator(f"{scheme}://{parts.netloc}")
    except ValidationError:
        raise ValidationError(f"{text!r}: not a valid host name or address.") from None
    host = parts.hostname  # lower-cased, without the brackets of an IPv6 address
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValidationError(f"{text!r}: not a valid host name.") from None
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return f"{scheme}://{host}"


def parse_origins(text: str) -> list[str]:
    """One origin a line (blank lines ignored), normalised and without duplicates.

    Raises one ValidationError listing every bad line."""
    origins: list[str] = []
    errors: list[ValidationError] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            origin = parse_origin(line)
        except ValidationError as error:
            errors.extend(ValidationError(f"Line {number}: {message}") for message in error.messages)
            continue
        if origin not in origins:
            origins.append(origin)
    if errors:
        raise ValidationError(errors)
    return origins


def validate_origins(text: str) -> None:
    """Model field validator of `Site.allowed_origins`."""
    parse_origins(text)
