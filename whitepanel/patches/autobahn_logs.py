"""autobahn (daphne's websocket protocol) formats its debug log lines' values whether or not
debug is logged: a pretty-printed table of its ~40 options for every connection opened,
and coloured function names (click.style, inspect) for every frame sent and received. At
800 visitors that was 4-5 % of a daphne process's time (docs/benchmarks.md).

`quiet()` has those values formatted only when a line is written: the same text if debug
logging is switched on (txaio formats a line only if it logs it), and with it off not even
an object kept for them (its making was still 2-3 % at 2,000 visitors).
"""

from pprint import pformat

import autobahn.twisted.websocket
import autobahn.util
import autobahn.websocket.protocol
import txaio


class _Deferred(str):
    """A log value formatted when the line is."""

    def __new__(cls, formatter, *args):
        value = super().__new__(cls)
        value._formatter, value._args = formatter, args
        return value

    def __str__(self) -> str:
        return self._formatter(*self._args)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    __repr__ = __str__


def _deferring(formatter):
    def deferred(*args):
        # Debug lines are all these values go in: with debug off, nothing is kept for them.
        if txaio.get_global_log_level() in _DEBUG_LEVELS:
            return _Deferred(formatter, *args)
        return ""

    return deferred


_DEBUG_LEVELS = frozenset({"debug", "trace"})
_FORMATTERS = {"hltype": autobahn.util.hltype, "hlval": autobahn.util.hlval, "pformat": pformat}


def quiet() -> None:
    for module in (autobahn.websocket.protocol, autobahn.twisted.websocket):
        for name, formatter in _FORMATTERS.items():
            if hasattr(module, name):
                setattr(module, name, _deferring(formatter))
