"""A site's business hours (issue 25): its time zone, weekly hours and closed days, checked here
once for admin and the API (the model fields' validators), and read here for whether the site is
open at a moment and when it opens next.

- `hours`: `{"mon": [["09:00", "17:00"]], "tue": [...], ...}`, each weekday a list of
  `[open, close]` ranges in the site's local time; a weekday left out is closed all day. Empty
  (`{}`, the default): always open, as every site was before. A range ends after it starts on
  the same day: `close` up to "24:00"; a night across midnight is two ranges,
  `"fri": [["22:00", "24:00"]], "sat": [["00:00", "02:00"]]`.
- `closed_days`: dates "YYYY-MM-DD", local, closed all day whatever the weekday says.
- `timezone`: an IANA name ("Europe/Paris"); wall times follow its daylight saving: 09:00 is
  09:00 on either side of a change. A range opening in the hour a spring change skips opens
  the same hour later on the clock (02:30 → 03:30); one in the hour an autumn change repeats
  opens the first time round.

Whether the site counts as open is kept on the site (`Site.hours_open`) by the sweep
(chat/availability.py), which announces each change to its snippets.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_RANGES_A_DAY = 10
MAX_CLOSED_DAYS = 400
# Far enough to pass a year of closed days.
_LOOK_AHEAD_DAYS = MAX_CLOSED_DAYS + 8

HOURS_HELP = _(
    'Opening hours in the site\'s time zone, e.g. {"mon": [["09:00", "12:30"], ["13:30", "18:00"]], '
    '"sat": [["10:00", "14:00"]]}: weekdays mon…sun, each a list of [open, close] times; a day left out '
    'is closed. A night across midnight is two ranges: "fri": [["22:00", "24:00"]], "sat": [["00:00", '
    '"02:00"]]. Empty ({}): always open. Outside the hours the chat offers to leave a message and email, '
    "and operators are not alerted."
)
CLOSED_DAYS_HELP = _('Dates closed all day, e.g. ["2026-12-25", "2027-01-01"]. Empty: none.')


def _minutes(value, *, where: str, close: bool) -> int:
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        raise ValidationError(f'{where}: "{value}" is not a time like "09:00".')
    hours, minutes = value[:2], value[3:]
    if not (hours.isdigit() and minutes.isdigit()):
        raise ValidationError(f'{where}: "{value}" is not a time like "09:00".')
    total = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or total > (24 * 60 if close else 24 * 60 - 1):
        raise ValidationError(f'{where}: "{value}" is not a time of day (00:00 to {"24:00" if close else "23:59"}).')
    return total


def validate_hours(value) -> None:
    if value in (None, {}):
        return
    if not isinstance(value, dict):
        raise ValidationError('Hours are an object of weekdays, e.g. {"mon": [["09:00", "17:00"]]}, or {}.')
    ranges = 0
    for day, day_ranges in value.items():
        if day not in WEEKDAYS:
            raise ValidationError(f'"{day}" is not a weekday: use {", ".join(WEEKDAYS)}.')
        if not isinstance(day_ranges, list) or len(day_ranges) > MAX_RANGES_A_DAY:
            raise ValidationError(f"{day}: a list of at most {MAX_RANGES_A_DAY} [open, close] ranges.")
        last_close = -1
        for item in day_ranges:
            if not isinstance(item, list) or len(item) != 2:
                raise ValidationError(f'{day}: each range is [open, close], e.g. ["09:00", "17:00"].')
            start = _minutes(item[0], where=day, close=False)
            end = _minutes(item[1], where=day, close=True)
            if end <= start:
                raise ValidationError(
                    f"{day}: {item[0]} to {item[1]} closes before it opens; a night across midnight is two "
                    'ranges, ["22:00", "24:00"] and the next day\'s ["00:00", "02:00"].'
                )
            if start < last_close:
                raise ValidationError(f"{day}: the ranges overlap or are out of order.")
            last_close = end
            ranges += 1
    if ranges == 0:
        raise ValidationError("Hours with no range at all would never open: give one, or {} to be always open.")


def validate_closed_days(value) -> None:
    if value in (None, []):
        return
    if not isinstance(value, list) or len(value) > MAX_CLOSED_DAYS:
        raise ValidationError(f'Closed days are a list of at most {MAX_CLOSED_DAYS} dates, e.g. ["2026-12-25"].')
    for item in value:
        try:
            if not isinstance(item, str) or len(item) != 10:
                raise ValueError
            date.fromisoformat(item)
        except ValueError:
            raise ValidationError(f'"{item}" is not a date like "2026-12-25".') from None


def validate_timezone(value) -> None:
    if not isinstance(value, str) or value not in _zones():
        raise ValidationError(f'"{value}" is not a time zone: an IANA name like "Europe/Paris" or "UTC".')


_zone_names: set[str] | None = None


def _zones() -> set[str]:
    global _zone_names
    if _zone_names is None:
        _zone_names = available_timezones() | {"UTC"}
    return _zone_names


def has_hours(site) -> bool:
    """Whether the site is ever closed: it has hours or closed days."""
    return bool(site.hours) or bool(site.closed_days)


def _zone(site) -> ZoneInfo:
    try:
        return ZoneInfo(site.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _ranges(site, day: date) -> list[tuple[int, int]]:
    if day.isoformat() in set(site.closed_days or ()):
        return []
    if not site.hours:
        return [(0, 24 * 60)]  # closed days alone: open all the other days
    return [
        (_minutes(start, where="", close=False), _minutes(end, where="", close=True))
        for start, end in site.hours.get(WEEKDAYS[day.weekday()], ())
    ]


def open_now(site, now: datetime) -> bool:
    """Whether the site is within its hours at `now` (always, without hours)."""
    if not has_hours(site):
        return True
    local = now.astimezone(_zone(site))
    minute = local.hour * 60 + local.minute
    return any(start <= minute < end for start, end in _ranges(site, local.date()))


def _at(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    if minutes >= 24 * 60:
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    # fold=0: in an hour a spring change skips, the offset before the change (the same hour
    # later on the clock); in an hour an autumn change repeats, the first time round.
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)


def next_open(site, now: datetime) -> datetime | None:
    """When the site opens next after `now` (UTC); None when it is open now or has no hours."""
    if open_now(site, now):
        return None
    zone = _zone(site)
    today = now.astimezone(zone).date()
    for offset in range(_LOOK_AHEAD_DAYS):
        day = today + timedelta(days=offset)
        for start, end in _ranges(site, day):
            opening = _at(day, start, zone).astimezone(UTC)
            closing = _at(day, end, zone).astimezone(UTC)
            if closing > now and opening <= now:
                return now  # within a range whose wall time the clock jumped into
            if opening > now:
                return opening
    return None
