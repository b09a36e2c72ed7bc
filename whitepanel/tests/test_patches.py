"""Patches of other projects' internals go in only on the versions they were written for."""

import importlib
import logging
from importlib import metadata

from whitepanel import patches
from whitepanel.patches import LAYER_VERSIONS, PATCHES, Patch


def test_the_installed_libraries_are_the_versions_every_patch_was_written_for():
    """The lock files and the patches agree: on this install every patch goes in."""
    for patch in PATCHES:
        assert patches.mismatches(patch.versions) == [], patch.name
    assert patches.mismatches(LAYER_VERSIONS) == []


def test_every_patch_is_installed_on_its_versions(monkeypatch):
    calls = []
    for patch in PATCHES:
        module = importlib.import_module(f"whitepanel.patches.{patch.name}")
        monkeypatch.setattr(module, patch.entry, lambda name=patch.name: calls.append(name))

    assert patches.install() == [patch.name for patch in PATCHES]
    assert calls == [patch.name for patch in PATCHES]


def test_a_patch_on_another_version_is_left_out_with_a_warning(monkeypatch, caplog):
    calls = []
    module = importlib.import_module("whitepanel.patches.socket_writes")
    monkeypatch.setattr(module, "install", lambda: calls.append("socket_writes"))
    monkeypatch.setattr(patches, "PATCHES", [Patch("socket_writes", "install", {"twisted": "1.0.0"})])

    with caplog.at_level(logging.WARNING, logger="whitepanel.patches"):
        assert patches.install() == []

    assert calls == []
    [warning] = [record.getMessage() for record in caplog.records]
    assert "socket_writes left out" in warning
    assert f"twisted {metadata.version('twisted')} (written for 1.0.0)" in warning


def test_a_channels_redis_the_layer_was_not_written_for_is_reported(monkeypatch, caplog):
    monkeypatch.setattr(patches, "PATCHES", [])
    monkeypatch.setattr(patches, "LAYER_VERSIONS", {"channels-redis": "0.1"})

    with caplog.at_level(logging.WARNING, logger="whitepanel.patches"):
        patches.install()

    assert "chat/layers.py uses channels-redis's private classes" in caplog.text


def test_a_missing_library_counts_as_a_mismatch():
    assert patches.mismatches({"no-such-distribution-here": "1.0"}) == [
        ("no-such-distribution-here", "1.0", "not installed")
    ]
