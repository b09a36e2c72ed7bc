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


def test_the_internals_every_patch_touches_are_the_code_it_was_written_against():
    """Fails when a library's internals a patch replaces or relies on change (a new version,
    or a rebuild under the same one): read the patch again, then record the new hashes."""
    for patch in PATCHES:
        assert patch.sources, f"{patch.name} lists no internals"
        assert patches.changed_sources(patch.sources) == [], patch.name


def test_a_patch_whose_internals_changed_is_left_out_with_a_warning(monkeypatch, caplog):
    calls = []
    module = importlib.import_module("whitepanel.patches.closed_connections")
    monkeypatch.setattr(module, "install", lambda: calls.append("closed_connections"))
    touched = {"daphne.server:Server.application_checker": "0" * 16}
    monkeypatch.setattr(patches, "PATCHES", [Patch("closed_connections", "install", {}, touched)])

    with caplog.at_level(logging.WARNING, logger="whitepanel.patches"):
        assert patches.install() == []

    assert calls == []
    [warning] = [record.getMessage() for record in caplog.records]
    assert "closed_connections left out: internals changed: daphne.server:Server.application_checker" in warning


def test_no_patch_goes_in_with_wp_patches_off(monkeypatch, settings):
    settings.WP_PATCHES = False
    calls = []
    for patch in PATCHES:
        module = importlib.import_module(f"whitepanel.patches.{patch.name}")
        monkeypatch.setattr(module, patch.entry, lambda name=patch.name: calls.append(name))
    assert patches.install() == []
    assert calls == []


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
