"""The snippet on someone else's website, as docs/embedding.md describes it: a page on another
origin, sending the Content-Security-Policy the page recommends, in a legacy encoding."""

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import expect

from chat import shifts
from tests.e2e.test_files import png_bytes
from visitors.models import Site

pytestmark = pytest.mark.django_db(transaction=True)

EMBEDDING = Path(__file__).resolve().parents[2] / "docs" / "embedding.md"
DOC_SERVER = "chat.example.com"


def documented(pattern: str) -> str:
    found = re.search(pattern, EMBEDDING.read_text(), re.M)
    assert found, f"docs/embedding.md has no {pattern!r}"
    return found.group(1)


@pytest.fixture
def host_page(web_server):
    """The owner's own web server: one page with the documented snippet and policy, on another origin."""
    csp = documented(r"^Content-Security-Policy: (.+)$")
    snippet = documented(r'^(<script src="https://chat\.example\.com/widget\.js".*</script>)$')
    # The documented server is https://chat.example.com; this one is the test's daphne, on http.
    csp = csp.replace(f"https://{DOC_SERVER}", f"http://{web_server}").replace(
        f"wss://{DOC_SERVER}", f"ws://{web_server}"
    )
    snippet = snippet.replace(f"https://{DOC_SERVER}", f"http://{web_server}").replace('"KEY"', '"demo"')
    # No charset declared: the browser reads the page as windows-1252, the widget must still be UTF-8.
    page = f"<!doctype html><title>Caf\xe9 shop</title><h1>Caf\xe9</h1>{snippet}".encode("cp1252")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Security-Policy", csp)
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


@pytest.fixture
def embedded(web_server, site, host_page, peter):
    """The demo site allows the owner's page (set before the browser starts, see test_widget_branding),
    and an operator of it is online (R16: with nobody, the window says so instead of waiting)."""
    Site.objects.filter(pk=site.pk).update(allowed_origins=f"http://{web_server}\n{host_page}", color="#0a7d3b")
    shifts.operator_connect(operator=peter)
    return host_page


def test_snippet_works_on_a_page_with_the_documented_content_security_policy(embedded, open_page):
    host_page = embedded
    page = open_page(host_page + "/")
    violations = []
    page.on("console", lambda message: "Content Security Policy" in message.text and violations.append(message.text))
    page.reload()

    launcher = page.locator("[data-testid=wp-launcher]")
    # Styled (its own stylesheet got past style-src) and in the site's colour (the socket got past connect-src).
    expect(launcher).to_have_css("background-color", "rgb(10, 125, 59)")
    expect(launcher).to_have_css("border-radius", "50%")
    launcher.click()
    # The first message is the request (R4): it went through the socket.
    page.locator("[data-testid=wp-input]").fill("Hello?")
    page.locator("[data-testid=wp-input]").press("Enter")
    expect(page.locator("[data-testid=wp-status]")).to_have_text("Waiting for an operator…")
    # A photo from the owner's page: uploaded across origins (CORS, connect-src), its thumbnail
    # shown (img-src).
    page.locator("[data-testid=wp-file]").set_input_files(
        files=[{"name": "receipt.png", "mimeType": "image/png", "buffer": png_bytes(400, 300)}]
    )
    image = page.locator("[data-testid=wp-image]")
    expect(image).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    assert violations == []
