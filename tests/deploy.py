"""The deployment files of deploy/, read and rendered for tests: the systemd units'
command lines and nginx's site configuration with test ports and a test certificate."""

import configparser
import contextlib
import shlex
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNITS = DEPLOY / "systemd"
NGINX_CONF = DEPLOY / "nginx.conf"
NGINX = "/usr/sbin/nginx"
# Where the units expect the checkout and the settings file (docs/deployment.md).
INSTALL_DIR = "/srv/whitepanel"
ENV_FILE = "/etc/whitepanel/env"
CERTIFICATE = "/etc/letsencrypt/live/chat.example.com/fullchain.pem"
CERTIFICATE_KEY = "/etc/letsencrypt/live/chat.example.com/privkey.pem"


def read_unit(name: str) -> configparser.ConfigParser:
    # systemd's continuation lines end with a backslash; configparser knows indentation instead.
    text = (UNITS / name).read_text().replace("\\\n", " ")
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # keys are case-sensitive
    unit.read_string(text)
    return unit


def exec_start(name: str, instance: str = "") -> list[str]:
    return [arg.replace("%i", instance) for arg in shlex.split(read_unit(name)["Service"]["ExecStart"])]


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (and chat.example.com), as a CA of its own."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=chat.example.com",
         "-addext", "subjectAltName=DNS:chat.example.com,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def replace_all(text: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        assert old in text, f"deploy/nginx.conf no longer contains {old!r}: update the tests"
        text = text.replace(old, new)
    return text


def local_site_config(
    upstreams: tuple[str, str], *, http_port: int, https_port: int, cert: Path, key: Path, static: Path | None = None
) -> str:
    """deploy/nginx.conf on these loopback ports, before these two upstreams ("host:port"), with
    this certificate, and serving `static` for /static/ when given."""
    replacements = {
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen [::]:80;": "",
        "listen 443 ssl;": f"listen 127.0.0.1:{https_port} ssl;",
        "listen [::]:443 ssl;": "",
        "server 127.0.0.1:8001;": f"server {upstreams[0]};",
        "server 127.0.0.1:8002;": f"server {upstreams[1]};",
        CERTIFICATE: str(cert),
        CERTIFICATE_KEY: str(key),
    }
    if static is not None:
        replacements["alias /var/lib/whitepanel/static/;"] = f"alias {static}/;"
    return replace_all(NGINX_CONF.read_text(), replacements)


def nginx_main_config(directory: Path, site_config: str, *, foreground: bool) -> Path:
    """A main nginx.conf around the site's configuration, everything kept in `directory`; like
    Debian's own, it gives files their types (mime.types): a browser runs no ES module served
    as text/plain."""
    site = directory / "whitepanel.conf"
    site.write_text(site_config)
    temp = "\n".join(
        f"    {kind}_temp_path {directory / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = directory / "nginx.conf"
    main.write_text(
        ("daemon off;\nmaster_process off;\n" if foreground else "")
        + f"pid {directory / 'nginx.pid'};\n"
        + f"error_log {directory / 'error.log'} warn;\n"
        + "events { worker_connections 512; }\n"
        + "http {\n    access_log off;\n"
        + "    include /etc/nginx/mime.types;\n    default_type application/octet-stream;\n"
        + temp
        + f"\n    include {site};\n}}\n"
    )
    return main


@contextlib.contextmanager
def running_nginx(directory: Path, site_config: str, port: int) -> Iterator[subprocess.Popen]:
    """nginx in the foreground with this site configuration, once it listens on `port`; stopped after."""
    main = nginx_main_config(directory, site_config, foreground=True)
    nginx = subprocess.Popen(
        [NGINX, "-p", str(directory), "-c", str(main), "-e", str(directory / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=(directory / "nginx.out").open("w"),
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert nginx.poll() is None, (directory / "nginx.out").read_text() + (directory / "error.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "nginx did not listen"
                time.sleep(0.1)
        yield nginx
    finally:
        nginx.terminate()
        nginx.wait(10)
