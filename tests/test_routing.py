"""How deploy/nginx.conf spreads requests over the daphne processes: by the snippet's routing key
(`r`), so that every page of one visitor reaches the process that served the page before, and by
the client's address when there is no usable key. The shipped configuration runs in front of two
stand-in processes that answer with their own name."""

import ssl
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import free_port
from tests.deploy import local_site_config, make_certificate, running_nginx

# Fixed keys (of the snippet's shape), so which process each one lands on is the same every run.
KEYS = [f"visitor{n:02d}-AbCdEfGh" for n in range(15)]


class Named(BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.server.name.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def stand_in(name: str) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Named)
    server.name = name
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def proxy(tmp_path) -> Iterator[tuple[str, ssl.SSLContext, dict[str, ThreadingHTTPServer]]]:
    """deploy/nginx.conf before processes "a" and "b": (https base, TLS context, the processes)."""
    processes = {name: stand_in(name) for name in ("a", "b")}
    cert, key = make_certificate(tmp_path)
    https_port = free_port()
    site_config = local_site_config(
        tuple(f"127.0.0.1:{p.server_port}" for p in processes.values()),
        http_port=free_port(),
        https_port=https_port,
        cert=cert,
        key=key,
    )
    try:
        with running_nginx(tmp_path, site_config, https_port):
            yield f"127.0.0.1:{https_port}", ssl.create_default_context(cafile=str(cert)), processes
    finally:
        for server in processes.values():
            server.shutdown()
            server.server_close()


def served_by(base: str, context: ssl.SSLContext, query: str) -> str:
    with urllib.request.urlopen(f"https://{base}/ws/visitor/?site=shop{query}", timeout=10, context=context) as r:
        return r.read().decode()


def test_every_page_of_a_visitor_reaches_the_same_process(proxy):
    base, context, _ = proxy

    first = {key: served_by(base, context, f"&r={key}") for key in KEYS}
    # Later pages come in another order and mixed with other visitors', as they would.
    again = [
        {key: served_by(base, context, f"&r={key}") for key in order} for order in (KEYS[::-1], KEYS[1::2] + KEYS[::2])
    ]

    assert all(pages == first for pages in again)
    # Visitors spread over both processes (least_conn's even split is given up for this).
    assert sorted(set(first.values())) == ["a", "b"]
    assert 3 <= list(first.values()).count("a") <= 12


def test_without_a_usable_key_the_client_address_decides(proxy):
    base, context, _ = proxy

    # No key, or one the snippet never makes (too short, too long, other characters): one process
    # for this client address, as the address alone would choose it.
    queries = ["", "&r=", "&r=short", "&r=" + "x" * 33, "&r=visitor01%2FAbCdEfGh", "&r=visitor01.AbCdEfGh"]
    chosen = {served_by(base, context, query) for query in queries for _ in range(2)}

    assert len(chosen) == 1


def test_a_process_that_is_down_loses_only_its_own_visitors(proxy):
    base, context, processes = proxy
    before = {key: served_by(base, context, f"&r={key}") for key in KEYS}

    processes["b"].shutdown()
    processes["b"].server_close()
    after = {key: served_by(base, context, f"&r={key}") for key in KEYS}

    assert set(after.values()) == {"a"}  # b's visitors are served by a, none gets an error
    assert {key for key in KEYS if before[key] == "a"} <= {key for key in KEYS if after[key] == "a"}
