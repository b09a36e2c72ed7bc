"""autobahn's debug values cost nothing with debug logging off, and read the same with it on
(whitepanel/autobahn_logs.py)."""

from pprint import pformat

import autobahn.websocket.protocol
import pytest
import txaio

from whitepanel.patches import autobahn_logs


@pytest.fixture
def log_level():
    before = txaio.get_global_log_level()
    yield txaio.set_global_log_level
    txaio.set_global_log_level(before)


def test_debug_values_are_not_made_with_debug_logging_off(log_level, monkeypatch):
    formatted = []
    monkeypatch.setitem(autobahn_logs._FORMATTERS, "pformat", lambda value: formatted.append(value) or "text")
    monkeypatch.setattr(autobahn.websocket.protocol, "pformat", autobahn.websocket.protocol.pformat)
    autobahn_logs.quiet()
    log_level("info")

    value = autobahn.websocket.protocol.pformat({"openHandshakeTimeout": 5})

    assert (type(value), str(value), f"{value}", formatted) == (str, "", "", [])


def test_debug_values_read_as_autobahn_formats_them_with_debug_logging_on(log_level):
    autobahn_logs.quiet()
    log_level("debug")
    options = {"openHandshakeTimeout": 5, "autoPingInterval": 20}

    value = autobahn.websocket.protocol.pformat(options)

    assert f"options: {value}" == f"options: {pformat(options)}"
