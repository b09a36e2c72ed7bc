"""Patches of other projects' internals, each bought by a measured gain (bench/analysis.md),
and each written for exact versions of the libraries it touches.

`install()` (whitepanel/asgi.py, at startup) checks the installed versions first, then the
source of every internal the patch replaces or relies on (a hash each): a patch whose
libraries are not the versions, or whose internals not the code, it was written for is left
out, with a warning, and
the library keeps its own behaviour (slower, never wrong). Upgrading one of these libraries
means reading the patch again against the new version, then moving its pin here and in the
lock files. chat/layers.py, built on channels-redis's private classes, is checked the same
way (a warning: the layer is the product's, it cannot be left out).

Each patch's own tests (whitepanel/tests/test_socket_writes.py, test_closed_connections.py,
test_autobahn_logs.py) run it on the real library and fail if the internals it relies on change.
"""

import hashlib
import importlib
import inspect
import logging
from dataclasses import dataclass, field
from importlib import metadata

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Patch:
    name: str
    # The patch module's function that installs it.
    entry: str
    # Distribution name -> the exact version the patch was written for.
    versions: dict[str, str]
    # The internals it replaces or relies on ("module:qualname") -> the first 16 hex digits
    # of the SHA-256 of their source as the patch was written against: a library rebuilt or
    # patched under the same version number is caught too.
    sources: dict[str, str] = field(default_factory=dict)


PATCHES = [
    # Frames sent at the end of the loop's turn, without registering for writability first.
    Patch(
        "socket_writes",
        "install",
        {"twisted": "26.10.0"},
        {
            # Replaced (and called for what the patch leaves to it: TLS, other reactors).
            "twisted.internet._newtls:ConnectionMixin.write": "ea311df0946d3f99",
            # Its buffering, which the patch repeats, and the send it schedules.
            "twisted.internet.abstract:FileDescriptor.write": "3e46c97fc173bc7e",
            "twisted.internet.abstract:FileDescriptor._maybePauseProducer": "529bd8438e1a279f",
            "twisted.internet.abstract:FileDescriptor.doWrite": "a986d7b1b1054e43",
            "twisted.internet.abstract:FileDescriptor.startWriting": "8e2f899b7d73a0f5",
            "twisted.internet.asyncioreactor:AsyncioSelectorReactor._readOrWrite": "df202ad63297273d",
        },
    ),
    # Closed connections' objects freed by refcounting, not left in cycles for the collector.
    Patch(
        "closed_connections",
        "install",
        {"daphne": "4.2.3", "twisted": "26.10.0", "autobahn": "26.11.1"},
        # Wrapped: what it drops from `connections` is what the patch frees.
        {"daphne.server:Server.application_checker": "ccb688341a7d0bc1"},
    ),
    # autobahn's debug log values not even made while debug logging is off.
    Patch(
        "autobahn_logs",
        "quiet",
        {"autobahn": "26.11.1", "txaio": "26.6.1"},
        # Replaced in autobahn's websocket modules by lazy versions of themselves.
        {"autobahn.util:hltype": "7db6418e1bc5e63a", "autobahn.util:hlval": "c6a73ec8e6664a13"},
    ),
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


def source_hash(name: str) -> str:
    """The source hash of "module:qualname" (see Patch.sources); "missing" if it is gone."""
    module, _, qualname = name.partition(":")
    try:
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        # A patch installed already wraps the original (`__wrapped__`): the original is hashed.
        return hashlib.sha256(inspect.getsource(inspect.unwrap(obj)).encode()).hexdigest()[:16]
    except (ImportError, AttributeError, OSError, TypeError):
        return "missing"


def changed_sources(sources: dict[str, str]) -> list[tuple[str, str, str]]:
    """(internal, expected hash, hash now) for each internal whose source is not as written for."""
    return [(name, expected, now) for name, expected in sources.items() if (now := source_hash(name)) != expected]


def _warn(what: str, wrong: list[tuple[str, str, str]], consequence: str) -> None:
    listed = ", ".join(f"{name} {installed} (written for {expected})" for name, expected, installed in wrong)
    logger.warning("%s: %s; %s", what, listed, consequence)


def install() -> list[str]:
    """Install every patch whose libraries are the versions it was written for; the names installed.
    None with WP_PATCHES off."""
    from django.conf import settings

    installed = []
    if not settings.WP_PATCHES:
        logger.info("WP_PATCHES is off: no patch of other projects' internals installed")
        return installed
    for patch in PATCHES:
        wrong = mismatches(patch.versions)
        if wrong:
            _warn(f"patch {patch.name} left out", wrong, "that library keeps its own behaviour")
            continue
        changed = changed_sources(patch.sources)
        if changed:
            listed = ", ".join(f"{name} (source {now}, written for {expected})" for name, expected, now in changed)
            logger.warning(
                "patch %s left out: internals changed: %s; the library keeps its own behaviour", patch.name, listed
            )
            continue
        module = importlib.import_module(f"{__name__}.{patch.name}")
        getattr(module, patch.entry)()
        installed.append(patch.name)
    wrong = mismatches(LAYER_VERSIONS)
    if wrong:
        _warn("chat/layers.py uses channels-redis's private classes", wrong, "check the layer against it")
    return installed
