"""The docs tell the truth: every command in a ```sh block of README.md and docs/*.md is one
that CI or a test runs (the allow-list below says where), the deployment files they show are
valid (nginx -t, systemd-analyze verify) and match the excerpts, and every link resolves."""

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from conftest import test_database_url
from tests.deploy import (
    CERTIFICATE,
    CERTIFICATE_KEY,
    DEPLOY,
    ENV_FILE,
    INSTALL_DIR,
    NGINX_CONF,
    UNITS,
    exec_start,
    make_certificate,
    nginx_main_config,
    read_unit,
    replace_all,
)
from whitepanel.launch import daphne_args

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```", re.S | re.M)


@dataclass(frozen=True)
class Ran:
    """Where a documented command is exercised.

    kind: "ci"   .ci/run or the Makefile runs it (`where` is a file, `proof` text in it);
          "test" a test runs it (`where` is a test file, `proof` the test's name);
          "here" test_documented_commands_run below runs it as written;
          "host" it changes the host (users, /etc, systemctl), which CI must not: the test
                 named in `where`/`proof` checks what it acts on.
    """

    kind: str
    where: str
    proof: str


HERE = Ran("here", "tests/test_docs.py", "test_documented_commands_run")
UNIT_CHECK = Ran("host", "tests/test_docs.py", "test_systemd_units_are_valid")
DEPLOY_CHECK = Ran("host", "tests/test_deploy.py", "test_operator_and_visitor_chat_through_nginx")

COMMANDS: dict[str, Ran] = {
    # The two commands (README.md, docs/install.md).
    "make run": Ran("test", "tests/test_run_command.py", "test_make_run_starts_everything_and_stops_cleanly"),
    "WP_DAPHNE_PROCESSES=2 make run": Ran(
        "test", "tests/test_run_command.py", "test_make_run_starts_everything_and_stops_cleanly"
    ),
    "make test": Ran("ci", ".ci/run", "make test"),
    "DATABASE_URL=postgres://postgres@127.0.0.1:5432/whitepanel REDIS_URL=redis://127.0.0.1:6379/0 make test": Ran(
        "ci", ".ci/run", "DATABASE_URL=postgres://postgres@127.0.0.1:5432/whitepanel REDIS_URL=redis://127.0.0.1:6379/0"
    ),
    "bash .ci/run": Ran("ci", ".ci/run", "CI entry point: `bash .ci/run`"),
    # The benchmark (docs/benchmarks.md): the full run is a developer's, the smoke run a test's.
    "make bench": Ran("ci", "Makefile", "$(BIN)/python -m bench --scale $(BENCH_SCALE) --out $(BENCH_OUT)"),
    "make bench BENCH_SCALE=smoke": Ran("test", "tests/test_bench.py", "test_smoke_run_writes_the_report_and_plots"),
    # Management commands (docs/install.md, docs/deployment.md): run by this file, as written.
    "DJANGO_SUPERUSER_PASSWORD=change-me-please .venv/bin/python manage.py createsuperuser --noinput "
    "--username admin --email admin@example.com": HERE,
    ".venv/bin/python manage.py migrate --noinput": HERE,
    ".venv/bin/python manage.py collectstatic --noinput": HERE,
    # Building .venv (docs/deployment.md): what `make` runs in a fresh clone, as CI's is.
    "python3 -m venv .venv": Ran("ci", "Makefile", "$(PYTHON) -m venv $(VENV)"),
    ".venv/bin/python -m pip install --require-hashes -r requirements-pip.lock": Ran(
        "ci", "Makefile", "$(BIN)/python -m pip install --require-hashes -r requirements-pip.lock"
    ),
    ".venv/bin/pip install --require-hashes -r requirements.lock": Ran(
        "ci", "Makefile", "$(BIN)/pip install --require-hashes -r requirements.lock"
    ),
    "make test-fast": Ran("ci", "Makefile", "test-fast: $(DEV)"),
    "make js-test": Ran("ci", "Makefile", "$(NODE) --test $(JS_TESTS)"),  # make test runs the same
    "make lock": Ran("ci", "Makefile", "lock: $(DEV)"),
    # The languages (README.md): the build compiles the catalogs (`make run` and `make test`
    # depend on it); extracting the strings again is a maintainer's, with GNU gettext.
    "make compile-messages": Ran("ci", "Makefile", "compile-messages: $(MO_FILES)"),
    "make messages": Ran("ci", "Makefile", "messages: $(RUNTIME)"),
    # nginx (docs/deployment.md).
    "sudo nginx -t": Ran("test", "tests/test_docs.py", "test_nginx_accepts_the_configuration"),
    "sudo install -m 644 deploy/nginx.conf /etc/nginx/conf.d/whitepanel.conf": DEPLOY_CHECK,
    "sudo systemctl reload nginx": DEPLOY_CHECK,
    # systemd (docs/deployment.md).
    "sudo install -m 644 deploy/systemd/daphne@.service deploy/systemd/celery-worker.service "
    "deploy/systemd/celery-beat.service /etc/systemd/system/": UNIT_CHECK,
    "sudo systemctl daemon-reload": UNIT_CHECK,
    "sudo systemctl enable --now daphne@8001 daphne@8002 celery-worker celery-beat": UNIT_CHECK,
    "sudo systemctl restart daphne@8001": UNIT_CHECK,
    "sudo systemctl restart daphne@8002": UNIT_CHECK,
    "sudo systemctl restart celery-worker celery-beat": UNIT_CHECK,
    # The host's user, database and settings file (docs/deployment.md).
    "sudo useradd --system --home-dir /var/lib/whitepanel --shell /usr/sbin/nologin whitepanel": UNIT_CHECK,
    "cd /srv/whitepanel": UNIT_CHECK,
    "sudo install -D -m 600 deploy/whitepanel.env /etc/whitepanel/env": UNIT_CHECK,
    "set -a; . /etc/whitepanel/env; set +a": UNIT_CHECK,
    "sudo -u postgres psql -c \"CREATE ROLE whitepanel LOGIN PASSWORD 'CHANGE-ME'\"": Ran(
        "host", ".ci/run", "CREATE DATABASE whitepanel"
    ),
    'sudo -u postgres psql -c "CREATE DATABASE whitepanel OWNER whitepanel"': Ran(
        "host", ".ci/run", "CREATE DATABASE whitepanel"
    ),
}

# Pages whose every sh block a test runs, in order, against a live server.
RUN_WHOLE = {"docs/api.md": "tests/test_api_docs.py"}


def sh_commands() -> list[tuple[str, str]]:
    """(page, command) for every command line of every ```sh block (comments and blank lines aside)."""
    found = []
    for page in DOCS:
        name = str(page.relative_to(ROOT))
        if name in RUN_WHOLE:
            continue
        for lang, block in FENCE.findall(page.read_text()):
            if lang not in {"sh", "bash", "shell", "console"}:
                continue
            for line in block.replace("\\\n", " ").splitlines():
                command = re.sub(r"\s+#\s.*$", "", line).strip()
                if command and not command.startswith("#"):
                    found.append((name, re.sub(r"\s+", " ", command)))
    return found


def test_every_documented_command_is_run_by_ci_or_a_test():
    documented = sh_commands()
    unknown = [f"{page}: {command}" for page, command in documented if command not in COMMANDS]
    assert not unknown, "commands in the docs that no test or CI runs (add them to COMMANDS):\n" + "\n".join(unknown)

    stale = set(COMMANDS) - {command for _, command in documented}
    assert not stale, f"COMMANDS lists commands no doc shows any more: {stale}"

    for command, ran in COMMANDS.items():
        text = (ROOT / ran.where).read_text()
        proof = f"def {ran.proof}(" if ran.kind in {"test", "here"} or ran.where.endswith(".py") else ran.proof
        assert proof in text, f"{command!r}: {ran.where} has no {proof!r}"
    for page, test in RUN_WHOLE.items():
        assert (ROOT / page).exists(), page
        assert (ROOT / test).exists(), test


@pytest.mark.django_db(transaction=True)
def test_documented_commands_run(tmp_path):
    """The management commands of docs/install.md and docs/deployment.md, as written, on the test database."""
    env = {**os.environ, "DATABASE_URL": test_database_url(), "WP_VAR_DIR": str(tmp_path / "var")}
    for command in [command for command, ran in COMMANDS.items() if ran is HERE]:
        done = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"

    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser
    assert admin.check_password("change-me-please")
    assert (tmp_path / "var" / "static" / "widget" / "widget.js").exists()
    assert (tmp_path / "var" / "static" / "admin" / "css" / "base.css").exists()
    # The panel's modules import each other by relative paths, kept as they are by collectstatic.
    panel = tmp_path / "var" / "static" / "panel"
    imports = {
        (module, target)
        for module in panel.rglob("*.js")
        for target in re.findall(r'^import .* from "(\.{1,2}/[^"]+)";$', module.read_text(), re.M)
    }
    assert any(module.name == "panel.js" for module, _ in imports)
    assert [(m.name, t) for m, t in imports if not (m.parent / t).resolve().is_file()] == []


# nginx -----------------------------------------------------------------------------


def test_nginx_accepts_the_configuration(tmp_path):
    """`nginx -t` on deploy/nginx.conf inside an http block, as Debian's nginx.conf includes it
    (make test installs nginx like chromium; only the certificate is a stand-in)."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert os.access(nginx, os.X_OK), "nginx is missing: `make test` installs it (apt-get install nginx)"
    cert, key = make_certificate(tmp_path)
    site = replace_all(NGINX_CONF.read_text(), {CERTIFICATE: str(cert), CERTIFICATE_KEY: str(key)})
    main = nginx_main_config(tmp_path, site, foreground=False)

    checked = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(main), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
    )

    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr
    assert "[warn]" not in checked.stderr, checked.stderr


# systemd ---------------------------------------------------------------------------


def unit_names() -> list[str]:
    return sorted(path.name for path in UNITS.glob("*.service"))


def test_systemd_units_are_valid(tmp_path):
    """systemd-analyze verify on the units, pointed at this checkout (it checks ExecStart's program
    exists, every key and value); where systemd is missing, the same units are read as ini."""
    assert unit_names() == ["celery-beat.service", "celery-worker.service", "daphne@.service"]
    for name in unit_names():
        text = (UNITS / name).read_text()
        assert INSTALL_DIR in text, name
        assert ENV_FILE in text, name
        here = text.replace(INSTALL_DIR, str(ROOT)).replace(ENV_FILE, str(DEPLOY / "whitepanel.env"))
        (tmp_path / name).write_text(here)
        unit = read_unit(name)
        assert set(unit.sections()) == {"Unit", "Service", "Install"}, name
        service = unit["Service"]
        assert (service["User"], service["WorkingDirectory"]) == ("whitepanel", INSTALL_DIR), name
        assert (service["EnvironmentFile"], service["Restart"]) == (ENV_FILE, "always"), name
        assert unit["Install"]["WantedBy"] == "multi-user.target", name

    analyze = shutil.which("systemd-analyze")
    if analyze:
        instances = [str(tmp_path / name.replace("@.", "@8001.")) for name in unit_names()]
        verified = subprocess.run([analyze, "verify", *instances], capture_output=True, text=True, cwd=tmp_path)
        complaints = [
            line
            for line in (verified.stdout + verified.stderr).splitlines()
            if str(tmp_path) in line or any(name.split("@")[0].split(".")[0] in line for name in unit_names())
        ]
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert not complaints, complaints


def test_units_start_what_make_run_starts():
    """The programs and flags of the units are the ones the tests run (whitepanel/launch.py)."""
    daphne = exec_start("daphne@.service", "8001")
    assert daphne[0] == f"{INSTALL_DIR}/.venv/bin/python"
    assert daphne[1:3] == ["-m", "daphne"]
    assert daphne[-1] == "whitepanel.asgi:application"
    assert "--proxy-headers" in daphne
    assert daphne[daphne.index("-b") + 1] == "127.0.0.1"  # only nginx reaches daphne
    assert daphne[daphne.index("-p") + 1] == "8001"
    launched = daphne_args(8001)
    for flag in ("--websocket_timeout", "--ping-interval", "--ping-timeout", "--websocket-max-frame-size"):
        assert daphne[daphne.index(flag) + 1] == launched[launched.index(flag) + 1], flag
    worker = exec_start("celery-worker.service")
    beat = exec_start("celery-beat.service")
    assert worker[1:6] == ["-m", "celery", "-A", "whitepanel", "worker"]
    assert beat[1:6] == ["-m", "celery", "-A", "whitepanel", "beat"]

    from chat.tasks import sweep
    from whitepanel.asgi import application
    from whitepanel.celery import app

    assert callable(application)
    assert app.main == "whitepanel"
    assert sweep.name == "chat.tasks.sweep"


def test_settings_file_names_real_settings():
    settings_source = (ROOT / "whitepanel" / "settings.py").read_text()
    lines = [line for line in (DEPLOY / "whitepanel.env").read_text().splitlines() if line and not line.startswith("#")]
    names = [line.split("=", 1)[0] for line in lines]
    assert names == ["DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS", "WP_VAR_DIR"]
    for name in names:
        assert f'"{name}"' in settings_source, name


# The pages themselves ----------------------------------------------------------------


def test_deployment_excerpts_match_the_deploy_files():
    page = (ROOT / "docs" / "deployment.md").read_text()
    blocks = dict.fromkeys(("nginx", "ini"), "")
    for lang, block in FENCE.findall(page):
        if lang in blocks:
            blocks[lang] += block
    for lang, source in (("nginx", NGINX_CONF), ("ini", UNITS / "daphne@.service")):
        assert blocks[lang], f"docs/deployment.md shows no {lang} block"
        real = {line.strip() for line in source.read_text().splitlines()}
        shown = [line.strip() for line in blocks[lang].splitlines() if line.strip() and not line.startswith("#")]
        missing = [line for line in shown if line not in real]
        assert not missing, f"docs/deployment.md shows lines {source.name} does not have: {missing}"


def test_links_between_pages_resolve():
    broken = []
    for page in DOCS:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", target) or target.startswith("/"):  # another site, or a URL of the server
                continue
            path = target.split("#")[0]
            if path and not (page.parent / path).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, broken


def test_readme_lists_the_owner_docs():
    readme = (ROOT / "README.md").read_text()
    for page in ("docs/install.md", "docs/embedding.md", "docs/deployment.md"):
        assert f"]({page})" in readme, page
