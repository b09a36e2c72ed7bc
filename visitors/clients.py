"""Who a visitor is, as their browser tells it: browser, OS and device type from the User-Agent
(the maintained `ua-parser` and its rules), their language from Accept-Language, and the UTM
parameters of the page they landed on.

Read once a visit, when the database records its first page (chat/visiting.py), never per page
event. Every value comes from the visitor and is untrusted: control and format characters are
dropped (a NUL cannot be stored on PostgreSQL; a bidi override would reorder the panel's line),
and each is cut to its column's length. The panel shows them as text.
"""

import re
import unicodedata
from functools import lru_cache
from urllib.parse import parse_qsl, urlsplit

import ua_parser

# The longest User-Agent parsed: real ones are a few hundred characters; the rules' regexes
# take longer the longer the text (a 3,000-character one: 10 ms).
MAX_USER_AGENT = 512
MAX_ACCEPT_LANGUAGE = 256

BROWSER_LENGTH = 100
OS_LENGTH = 100
LANGUAGE_LENGTH = 35
UTM_LENGTH = 200
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")

DESKTOP, PHONE, TABLET, BOT = "desktop", "phone", "tablet", "bot"

# A language tag as RFC 5646 writes it, loosely: "de", "de-CH", "zh-Hant-TW".
_LANGUAGE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8}){0,4}")
_BOT_WORDS = re.compile(r"bot\b|crawl|spider|slurp|headless|lighthouse|preview", re.IGNORECASE)
_TABLET_DEVICES = re.compile(r"ipad|tablet|kindle|nexus (?:7|9|10)|playbook|silk", re.IGNORECASE)


def clean(value: str | None, max_length: int) -> str:
    """Visitor-supplied header text as stored: no control or format characters, at most
    `max_length` characters, trimmed."""
    if not value:
        return ""
    value = value[: max_length * 2]
    kept = "".join(c for c in value if unicodedata.category(c) not in ("Cc", "Cf", "Cs"))
    return " ".join(kept.split())[:max_length].strip()


def _version(*parts: str | None) -> str:
    return ".".join(part for part in parts if part)


def _named(family: str | None, *version: str | None) -> str:
    if not family or family == "Other":
        return ""
    version_text = _version(*version)
    return f"{family} {version_text}" if version_text else family


@lru_cache(maxsize=4096)
def parse_user_agent(user_agent: str) -> tuple[str, str, str]:
    """(browser, OS, device type) of a User-Agent; '' for what it does not say. Cached: a
    site's visitors share a few hundred User-Agents."""
    user_agent = clean(user_agent, MAX_USER_AGENT)
    if not user_agent:
        return "", "", ""
    parsed = ua_parser.parse(user_agent)
    agent, os, device = parsed.user_agent, parsed.os, parsed.device
    browser = _named(agent and agent.family, agent and agent.major)
    os_name = _named(os and os.family, os and os.major, os and os.minor)
    device = _device_type(user_agent, parsed)
    if device != BOT and not browser and not os_name:
        device = ""  # nothing recognised: no guess
    return clean(browser, BROWSER_LENGTH), clean(os_name, OS_LENGTH), device


def _device_type(user_agent: str, parsed) -> str:
    device, os = parsed.device, parsed.os
    family = device.family if device else ""
    brand = (device.brand or "") if device else ""
    if family == "Spider" or _BOT_WORDS.search(user_agent):
        return BOT
    if _TABLET_DEVICES.search(family) or "Tablet" in brand or _TABLET_DEVICES.search(user_agent):
        return TABLET
    os_family = os.family if os else ""
    if os_family == "Android":
        # Android phones say "Mobile"; tablets do not.
        return PHONE if "Mobile" in user_agent else TABLET
    if os_family in ("iOS", "Windows Phone", "BlackBerry OS", "KaiOS") or "Mobi" in user_agent:
        return PHONE
    return DESKTOP


def first_language(accept_language: str | None) -> str:
    """The first language of an Accept-Language header ("de-CH,de;q=0.9" → "de-CH"); '' if it
    names none (or only "*")."""
    for item in clean(accept_language, MAX_ACCEPT_LANGUAGE).split(","):
        tag = item.split(";", 1)[0].strip()
        if _LANGUAGE.fullmatch(tag) and len(tag) <= LANGUAGE_LENGTH:
            return tag
    return ""


def utm_of(url: str) -> dict[str, str]:
    """The UTM parameters of a landing page's URL, each of UTM_FIELDS ('' if absent)."""
    try:
        query = urlsplit(url).query
    except ValueError:
        query = ""
    found = {}
    for name, value in parse_qsl(query, keep_blank_values=False, max_num_fields=100):
        if name in UTM_FIELDS and name not in found:
            found[name] = clean(value, UTM_LENGTH)
    return {name: found.get(name, "") for name in UTM_FIELDS}


def client_of(*, user_agent: str | None, accept_language: str | None) -> dict[str, str]:
    """What a visitor's socket's headers say of them: `browser`, `os`, `device`, `language`."""
    browser, os, device = parse_user_agent((user_agent or "")[: MAX_USER_AGENT * 2])
    return {"browser": browser, "os": os, "device": device, "language": first_language(accept_language)}
