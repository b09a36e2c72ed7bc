"""Issue 21: the embedded setup's secret key and SQLite database are readable by the account
that runs White Panel alone, from the moment they exist; its state folder lists for no one else."""

import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_fresh_install_keeps_its_key_and_database_from_other_accounts(tmp_path):
    var = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY")}
    env.update(WP_VAR_DIR=str(var), DJANGO_SETTINGS_MODULE="whitepanel.settings")
    script = "import django; django.setup(); from django.db import connection; connection.ensure_connection()"
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, timeout=60)

    assert mode(var) == 0o711
    assert mode(var / "secret_key") == 0o600
    assert mode(var / "whitepanel.sqlite3") == 0o600
    # SQLite gives its journal files the database file's mode.
    for journal in var.glob("whitepanel.sqlite3-*"):
        assert mode(journal) == 0o600


def test_an_older_install_is_made_private_when_it_starts(tmp_path):
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    var.chmod(0o755)
    database = var / "whitepanel.sqlite3"
    database.touch()
    database.chmod(0o644)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY")}
    env.update(WP_VAR_DIR=str(var), DJANGO_SETTINGS_MODULE="whitepanel.settings")
    subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=env, check=True, timeout=60)

    assert mode(var) == 0o711
    assert mode(database) == 0o600
