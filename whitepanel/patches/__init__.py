"""Patches of other projects' internals, each bought by a measured gain (bench/analysis.md),
and each written for exact versions of the libraries it touches.

`install()` (whitepanel/asgi.py, at startup) checks the installed versions first: a patch
whose libraries are not the versions it was written for is left out, with a warning, and
the library keeps its own behaviour (slower, never wrong). Upgrading one of these libraries
means reading the patch again against the new version, then moving its pin here and in the
lock files. chat/layers.py, built on channels-redis's private classes, is checked the same
way (a warning: the layer is the product's, it cannot be left out).

Each patch's own tests (whitepanel/tests/test_socket_writes.py, test_closed_connections.py,
test_autobahn_logs.py) run it on the real library and fail if the internals it relies on change.
"""

import importlib
import logging
from dataclasses import dataclass
from importlib import metadata

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Patch:
    name: str
    # The patch module's function that installs it.
    entry: str
    # Distribution name -> the exact version the patch was written for.
    versions: dict[str, str]


PATCHES = [
    # Frames sent at the end of the loop's turn, without registering for writability first.
    Patch("socket_writes", "install", {"twisted": "26.10.0"}),
    # Closed connections' objects freed by refcounting, not left in cycles for the collector.
    Patch("closed_connections", "install", {"daphne": "4.2.3", "twisted": "26.10.0", "autobahn": "26.11.1"}),
    # autobahn's debug log values not even made while debug logging is off.
    Patch("autobahn_logs", "quiet", {"autobahn": "26.11.1", "txaio": "26.6.1"}),
]

# Not a patch, but built on private classes of channels-redis (chat/layers.py).
LAYER_VERSIONS = {"channels-redis": "4.3.0"}


def mismatches(versions: dict[str, str]) -> list[tuple[str, str, str]]:
    """(distribution, expected, installed) for each library not at the version given."""
    found = []
    for distribution, expected in versions.items():
        try:
            installed = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            installed = "not installed"
        if installed != expected:
            found.append((distribution, expected, installed))
    return found


def _warn(what: str, wrong: list[tuple[str, str, str]], consequence: str) -> None:
    listed = ", ".join(f"{name} {installed} (written for {expected})" for name, expected, installed in wrong)
    logger.warning("%s: %s; %s", what, listed, consequence)


def install() -> list[str]:
    """Install every patch whose libraries are the versions it was written for; the names installed."""
    installed = []
    for patch in PATCHES:
        wrong = mismatches(patch.versions)
        if wrong:
            _warn(f"patch {patch.name} left out", wrong, "that library keeps its own behaviour")
            continue
        module = importlib.import_module(f"{__name__}.{patch.name}")
        getattr(module, patch.entry)()
        installed.append(patch.name)
    wrong = mismatches(LAYER_VERSIONS)
    if wrong:
        _warn("chat/layers.py uses channels-redis's private classes", wrong, "check the layer against it")
    return installed
