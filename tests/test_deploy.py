"""deploy/nginx.conf in front of two daphne processes started with deploy/systemd/daphne@.service's
command line, as docs/deployment.md sets them up: HTTPS, both websockets through the proxy, a login
that passes Django's CSRF checks (so daphne sees the scheme and host the browser used), secure
cookies, static files, and the redirect from HTTP."""

import asyncio
import csv
import http.cookiejar
import io
import re
import shutil
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
import websockets
from django.conf import settings

from conftest import PASSWORD, ROOT, SITE_ORIGIN, Child, free_port
from tests.deploy import exec_start, local_site_config, make_certificate, running_nginx
from tests.owners import make_chat, make_staff
from tests.sockets import LiveClient, ask_to_chat, of_type

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(url: str, *, context: ssl.SSLContext | None = None, process: Child | None = None) -> None:
    deadline = time.monotonic() + 30
    while True:
        if process is not None:
            process.check_alive()
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as response:  # noqa: S310 - ours
                if response.status == 200:
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"{url} did not answer 200"
        time.sleep(0.2)


def start_daphne_from_unit(name: str, log_dir) -> tuple[Child, str]:
    port = free_port()
    command = exec_start("daphne@.service", str(port))
    assert command[0].endswith("/.venv/bin/python")
    child = Child(name, command[1:], log_dir)  # the unit's arguments, on this checkout's Python
    wait_for(f"http://127.0.0.1:{port}/healthz", process=child)
    return child, f"127.0.0.1:{port}"


@pytest.fixture(scope="module")
def proxied(django_db_setup, django_db_blocker, tmp_path_factory):
    """nginx with deploy/nginx.conf on free ports before two daphne processes: (https base, http base, TLS context)."""
    assert sys.platform.startswith("linux")
    directory = tmp_path_factory.mktemp("nginx")
    directory.chmod(0o755)
    static = directory / "static"
    static.mkdir()
    (static / "probe.txt").write_text("served by nginx")
    shutil.copytree(ROOT / "static" / "panel", static / "panel")
    cert, key = make_certificate(directory)
    with django_db_blocker.unblock():
        daphnes = [start_daphne_from_unit(f"daphne-unit-{n}", directory) for n in (1, 2)]
    http_port, https_port = free_port(), free_port()
    site_config = local_site_config(
        (daphnes[0][1], daphnes[1][1]), http_port=http_port, https_port=https_port, cert=cert, key=key, static=static
    )
    context = ssl.create_default_context(cafile=str(cert))
    try:
        with running_nginx(directory, site_config, https_port):
            yield f"127.0.0.1:{https_port}", f"127.0.0.1:{http_port}", context
    finally:
        for child, _ in daphnes:
            child.stop()


class TlsClient(LiveClient):
    """The socket test client over wss://, trusting the test certificate."""

    def __init__(self, url: str, *, origin: str, context: ssl.SSLContext, cookies: dict[str, str] | None = None):
        super().__init__(url, origin=origin, cookies=cookies)
        self.context = context

    async def connect(self) -> bool:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        try:
            self.ws = await websockets.connect(
                self.url, origin=self.origin, additional_headers=headers, ssl=self.context
            )
        except websockets.InvalidStatus as error:
            self.closed_code = error.response.status_code
            return False
        return True


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """Cookies, CSRF tokens and HTTPS as a browser handles them, through the proxy."""

    def __init__(self, base: str, context: ssl.SSLContext):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=context), urllib.request.HTTPCookieProcessor(self.jar)
        )
        self.set_cookies: list[str] = []

    def get(self, path: str) -> str:
        with self.opener.open(f"https://{self.base}{path}", timeout=10) as response:
            self.set_cookies += response.headers.get_all("Set-Cookie") or []
            return response.read().decode()

    def post(self, path: str, form_page: str, data: dict) -> tuple[str, dict, bytes]:
        """Submit a form of `form_page` (its CSRF token) to `path`: the final URL, headers and body."""
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form_page).group(1)
        request = urllib.request.Request(
            f"https://{self.base}{path}",
            data=urllib.parse.urlencode({**data, "csrfmiddlewaretoken": token}, doseq=True).encode(),
            headers={"Origin": f"https://{self.base}", "Referer": f"https://{self.base}{path}"},
        )
        with self.opener.open(request, timeout=30) as response:
            return response.url, dict(response.headers), response.read()

    def cookie(self, name: str) -> str:
        return {c.name: c.value for c in self.jar}[name]


def browser_login(base: str, context: ssl.SSLContext) -> tuple[str, Browser]:
    """Peter logs in through the proxy as a browser does: the page it lands on, and the browser."""
    browser = Browser(base, context)
    form = browser.get("/operators/login/")
    landed, _, _ = browser.post("/operators/login/", form, {"username": "peter", "password": PASSWORD})
    return landed, browser


def fetch(url: str, context: ssl.SSLContext | None = None) -> tuple[int, dict, bytes]:
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), NoRedirect())
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


async def test_nginx_serves_https_static_files_and_redirects_plain_http(proxied):
    https_base, http_base, context = proxied

    health = await asyncio.to_thread(fetch, f"https://{https_base}/healthz", context)
    probe = await asyncio.to_thread(fetch, f"https://{https_base}/static/probe.txt", context)
    plain = await asyncio.to_thread(fetch, f"http://{http_base}/panel/")

    assert health[0] == 200, health
    assert health[1]["Strict-Transport-Security"] == "max-age=31536000"
    assert probe[0] == 200
    assert probe[2] == b"served by nginx"
    assert probe[1]["Cache-Control"] == "max-age=604800"
    # The panel's ES modules: a JavaScript type (browsers refuse a module of any other), and
    # asked again on every load, so no browser mixes modules of two releases.
    for module in ("panel/panel.js", "panel/views/rooms.js"):
        status, headers, _ = await asyncio.to_thread(fetch, f"https://{https_base}/static/{module}", context)
        assert status == 200, module
        assert (headers["Content-Type"], headers["Cache-Control"]) == ("application/javascript", "no-cache"), module
    assert plain[0] == 301
    assert plain[1]["Location"] == "https://127.0.0.1/panel/"


async def test_operator_and_visitor_chat_through_nginx(proxied, site, peter):
    https_base, _, context = proxied
    landed, browser = await asyncio.to_thread(browser_login, https_base, context)

    # The CSRF check passed: daphne saw https and the browser's host and port.
    assert landed == f"https://{https_base}/panel/"
    assert any(c.startswith("csrftoken=") and "; Secure" in c for c in browser.set_cookies), browser.set_cookies
    session = browser.cookie(settings.SESSION_COOKIE_NAME)
    panel = TlsClient(
        f"wss://{https_base}/ws/operator/",
        origin=f"https://{https_base}",
        context=context,
        cookies={settings.SESSION_COOKIE_NAME: session},
    )
    linda = TlsClient(f"wss://{https_base}/ws/visitor/?site=shop", origin=SITE_ORIGIN, context=context)
    stranger = TlsClient(f"wss://{https_base}/ws/visitor/?site=shop", origin="https://evil.test", context=context)
    try:
        assert await panel.connect()
        await panel.expect("snapshot")
        assert await linda.connect()
        await linda.ask("welcome", type="hello", token=None)
        assert not await stranger.connect()  # the Origin check works behind the proxy too

        room = (await ask_to_chat(linda, of_type("room", room__status="pending")))["room"]
        await panel.expect(of_type("room", room__id=room["id"], room__status="pending"))
        await panel.ask(of_type("room", room__id=room["id"], room__status="active"), type="accept", room=room["id"])
        await linda.ask("ack", type="message", body="Does it come in blue?", client_id="v-1")
        await panel.expect(of_type("message", message__body="Does it come in blue?"))
        await panel.ask("ack", type="message", room=room["id"], body="It does!", client_id="o-1")
        await linda.expect(of_type("message", message__body="It does!"))
    finally:
        for client in (panel, linda):
            await client.close()


def export_through_proxy(base: str, context: ssl.SSLContext, room_ids: list[int]) -> tuple[dict, bytes]:
    browser = Browser(base, context)
    login = browser.get("/admin/login/?next=/admin/")
    landed, _, _ = browser.post("/admin/login/?next=/admin/", login, {"username": "root", "password": PASSWORD})
    assert landed == f"https://{base}/admin/"
    rooms = browser.get("/admin/chat/room/")
    _, headers, body = browser.post(
        "/admin/chat/room/", rooms, {"action": "export_transcripts", "_selected_action": [str(i) for i in room_ids]}
    )
    return headers, body


def test_transcript_export_streams_through_daphne_and_nginx(proxied, site, peter):
    https_base, _, context = proxied
    make_staff("root", superuser=True)
    room = make_chat(site, peter, tuple(f"line {n}" for n in range(2500)))

    headers, body = export_through_proxy(https_base, context, [room.pk])

    assert headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "Content-Length" not in headers  # streamed, not collected first
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert [row["body"] for row in rows] == [f"line {n}" for n in range(2500)]


async def test_nginx_limits_how_fast_one_address_opens_sockets(proxied, site):
    """Issue 21, case 4: 250 handshakes at once from one address through deploy/nginx.conf: its
    burst (100, and the one the rate allows) gets through, the rest 429 before reaching daphne;
    the server stays healthy and the address opens sockets again a moment later."""
    base, _, context = proxied

    async def handshake() -> int:
        try:
            ws = await websockets.connect(f"wss://{base}/ws/visitor/?site=shop", origin=SITE_ORIGIN, ssl=context)
        except websockets.InvalidStatus as refused:
            return refused.response.status_code
        await ws.close()
        return 101

    statuses = await asyncio.gather(*(handshake() for _ in range(250)))
    assert set(statuses) == {101, 429}, set(statuses)
    assert 100 <= statuses.count(101) <= 130, statuses.count(101)
    health = await asyncio.to_thread(urllib.request.urlopen, f"https://{base}/healthz", context=context, timeout=5)
    assert health.status == 200
    await asyncio.sleep(1)
    assert await handshake() == 101


def post_multipart(url: str, fields: dict[str, str], file: tuple[str, bytes], *, origin: str, context) -> tuple:
    """A form with a file, as the snippet's XHR sends it: (status, headers, body)."""
    boundary = "wp-boundary-7f3a9c"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    name, content = file
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + content
        + b"\r\n"
    )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(  # noqa: S310 - ours
        url, data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}", "Origin": origin}
    )
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_files_go_through_nginx_up_to_the_upload_limit(proxied, site):
    """Issue 23: a visitor's file of a few MB passes the proxy (whose limit is 1 MB elsewhere) and
    comes back through its signed link as a download; one over the upload limit is refused there."""
    import json

    from chat.models import Attachment
    from chat.tests.test_files import TOKEN, visitor_with_token

    https_base, _, context = proxied
    visitor_with_token(site)
    content = b"size chart\n" * 300_000  # 3.3 MB
    url = f"https://{https_base}/files/visitor/?site=shop"
    status, headers, body = post_multipart(
        url, {"token": TOKEN}, ("chart.txt", content), origin=SITE_ORIGIN, context=context
    )
    assert status == 201, body[:300]
    assert headers["Access-Control-Allow-Origin"] == SITE_ORIGIN
    link = json.loads(body)["file"]["url"]
    status, headers, served = fetch(f"https://{https_base}{link}", context)
    assert status == 200
    assert served == content
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Disposition"] == 'attachment; filename="chart.txt"'
    assert headers["X-Content-Type-Options"] == "nosniff"

    try:
        status, _, _ = post_multipart(
            url, {"token": TOKEN}, ("big.txt", b"x" * (12 * 1024 * 1024)), origin=SITE_ORIGIN, context=context
        )
    except (BrokenPipeError, ConnectionResetError):
        status = 413  # nginx answered and closed before the body was all sent
    assert status == 413
    assert Attachment.objects.count() == 1
