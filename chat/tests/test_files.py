"""Files and images in messages (issue 23, part 4): an upload is a message, from the panel's
operator (`POST /api/rooms/{id}/files/`) or the snippet's visitor (`POST /files/visitor/`,
cross-origin); its type and size are White Panel's to decide; it is served only by signed,
expiring links, images inline, everything else as a download that never runs."""

import asyncio
import io
import struct
import zlib
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from django.core import signing
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from chat import files, transcripts
from chat.models import Attachment, Message, Room
from chat.tests.test_rooms import chat_with
from conftest import OTHER_ORIGIN, SITE_ORIGIN
from tests.api import client_for, error_of, make_room, make_user, make_visitor
from tests.owners import admin_client, make_staff
from tests.sockets import of_type
from visitors.models import Site, Visitor, hash_token

pytestmark = pytest.mark.django_db


# Files -------------------------------------------------------------------------------------


def png(width: int = 40, height: int = 30, *, color=(200, 30, 30), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), color).save(out, "PNG")
    return out.getvalue()


def jpeg(width: int = 40, height: int = 30) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(out, "JPEG")
    return out.getvalue()


def png_bomb(width: int, height: int) -> bytes:
    """A small PNG file whose header says it holds width x height pixels (a decompression bomb):
    nothing past the header is ever decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + chunk(b"IEND", b"")
    )


HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def stored_files(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()) if root.exists() else []


def body_of(response) -> bytes:
    return b"".join(response)  # a streaming answer's async content too


# The world -----------------------------------------------------------------------------------

TOKEN = "linda-token-0123456789"


def visitor_with_token(site: Site, token: str = TOKEN) -> Visitor:
    visitor = make_visitor(site)
    Visitor.objects.filter(pk=visitor.pk).update(token_hash=hash_token(token))
    return visitor


@pytest.fixture
def linda(site):
    return visitor_with_token(site)


@pytest.fixture
def peters_room(site, peter):
    return make_room(make_visitor(site), operator=peter)


def operator_upload(operator, room_id: int, file, **fields):
    return client_for(operator.user).post(f"/api/rooms/{room_id}/files/", {"file": file, **fields}, format="multipart")


def visitor_upload(file=None, *, site_key="shop", origin=SITE_ORIGIN, token=TOKEN, client=None, **fields):
    data = {"token": token, **fields}
    if file is not None:
        data["file"] = file
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    return (client or Client()).post(f"/files/visitor/?site={site_key}", data, **headers)


# The operator sends ---------------------------------------------------------------------------


def test_an_operator_sends_an_image_which_is_served_inline_with_a_thumbnail(peter, peters_room, media_root):
    original = png(1000, 500)
    response = operator_upload(peter, peters_room.pk, upload("Shoes in blue.PNG", original, "text/html"),
                               body="Here they are", client_id="f-1")  # fmt: skip
    assert response.status_code == 201, response.content
    message = response.json()
    assert (message["sender"], message["body"], message["client_id"]) == ("operator", "Here they are", "f-1")
    file = message["file"]
    # The type is what the file is, not what the client said.
    assert file["name"] == "Shoes in blue.PNG"
    assert (file["type"], file["image"], file["size"]) == ("image/png", True, len(original))
    assert (file["width"], file["height"]) == (1000, 500)
    assert file["url"].startswith("/files/")
    assert file["thumb"] == file["url"] + "thumb/"

    served = Client().get(file["url"])
    assert served.status_code == 200
    assert body_of(served) == original
    assert served["Content-Type"] == "image/png"
    assert served["Content-Disposition"].startswith("inline")
    assert served["X-Content-Type-Options"] == "nosniff"
    assert served["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert served["Cache-Control"].startswith("private")

    thumb = Client().get(file["thumb"])
    assert thumb.status_code == 200
    assert thumb["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(body_of(thumb))) as image:
        assert image.size == (320, 160)

    # Stored under random names, never the sender's.
    names = stored_files(media_root)
    assert len(names) == 2
    assert not any("Shoes" in name for name in names)
    attachment = Attachment.objects.get()
    assert Message.objects.get(pk=message["id"]).attachment == attachment


def test_a_caption_is_optional_and_the_api_reads_the_file_back(peter, peters_room, media_root):
    response = operator_upload(peter, peters_room.pk, upload("price list.pdf", b"%PDF-1.4 a price list"))
    assert response.status_code == 201, response.content
    assert response.json()["body"] == ""
    listed = client_for(peter.user).get(f"/api/rooms/{peters_room.pk}/messages/").json()["results"]
    [file] = [m["file"] for m in listed if m["file"]]
    assert (file["name"], file["type"], file["image"], file["thumb"]) == (
        "price list.pdf",
        "application/pdf",
        False,
        None,
    )
    assert [m["file"] for m in listed if not m["file"]] == [None] * (len(listed) - 1)


def test_a_file_over_the_limit_is_refused_and_nothing_is_stored(peter, peters_room, media_root, settings):
    settings.WP_UPLOAD_MAX_BYTES = 1000
    response = operator_upload(peter, peters_room.pk, upload("notes.txt", b"x" * 1001))
    assert response.status_code == 413
    assert error_of(response)["code"] == "too_large"
    # Past the limit and its form's overhead, refused before the body is read.
    response = operator_upload(peter, peters_room.pk, upload("notes.txt", b"x" * (files.FORM_OVERHEAD + 2000)))
    assert response.status_code == 413
    assert error_of(response)["code"] == "too_large"
    assert stored_files(media_root) == []
    assert not Message.objects.filter(room=peters_room).exists()


@pytest.mark.parametrize("name", ["setup.exe", "page.html", "drawing.svg", "script.js", "no-extension", ".png"])
def test_types_not_allowed_are_refused(peter, peters_room, media_root, name):
    response = operator_upload(peter, peters_room.pk, upload(name, b"MZ whatever"))
    assert response.status_code == 415
    assert error_of(response)["code"] == "type_not_allowed"
    assert stored_files(media_root) == []


def test_an_owner_turns_files_off_with_an_empty_list(peter, peters_room, media_root, settings):
    settings.WP_UPLOAD_TYPES = ""
    response = operator_upload(peter, peters_room.pk, upload("photo.png", png()))
    assert response.status_code == 415
    assert "no files" in error_of(response)["detail"]
    assert files.upload_limits() is None


@pytest.mark.parametrize("content", [HTML, SVG, b"GIF89a<script>alert(1)</script>", png()[:60]])
def test_something_else_named_as_an_image_is_refused(peter, peters_room, media_root, content):
    """An HTML page, an SVG drawing with script, a GIF header with script, a truncated PNG: named
    .png, none of them is an image, and none is stored to be served as one."""
    response = operator_upload(peter, peters_room.pk, upload("cute-cat.png", content, "image/png"))
    assert response.status_code == 415
    assert error_of(response)["code"] == "type_not_allowed"
    assert stored_files(media_root) == []


def test_a_jpeg_named_png_is_the_jpeg_it_is(peter, peters_room, media_root):
    response = operator_upload(peter, peters_room.pk, upload("photo.png", jpeg()))
    assert response.status_code == 201
    assert response.json()["file"]["type"] == "image/jpeg"
    assert Client().get(response.json()["file"]["url"])["Content-Type"] == "image/jpeg"


@pytest.mark.parametrize(("name", "content"), [("page.txt", HTML), ("drawing.svg", SVG), ("page.html", HTML)])
def test_anything_that_could_run_is_served_as_a_download(peter, peters_room, media_root, settings, name, content):
    """Even where an owner allows SVG or HTML files, they are downloads: never a page on this origin."""
    settings.WP_UPLOAD_TYPES = "txt,svg,html"
    response = operator_upload(peter, peters_room.pk, upload(name, content, "text/html"))
    assert response.status_code == 201, response.content
    file = response.json()["file"]
    assert (file["image"], file["thumb"]) == (False, None)
    served = Client().get(file["url"])
    assert served.status_code == 200
    assert served["Content-Type"] == "application/octet-stream"
    assert served["Content-Disposition"] == f'attachment; filename="{name}"'
    assert served["X-Content-Type-Options"] == "nosniff"
    assert served["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert body_of(served) == content
    assert Client().get(file["url"] + "thumb/").status_code == 404


def test_a_decompression_bomb_is_refused_cleanly(peter, peters_room, media_root, settings):
    for bomb in (png_bomb(30_000, 30_000), png_bomb(10_000, 9_000)):
        response = operator_upload(peter, peters_room.pk, upload("bomb.png", bomb, "image/png"))
        assert response.status_code == 413, response.content
        assert error_of(response)["code"] == "too_large"
    settings.WP_UPLOAD_MAX_PIXELS = 100
    response = operator_upload(peter, peters_room.pk, upload("small.png", png(20, 20)))
    assert response.status_code == 413
    assert stored_files(media_root) == []


def test_a_file_name_is_cleaned_and_never_used_on_disk(peter, peters_room, media_root):
    name = "../../etc/\u202egnp.exe\u0000 report " + "x" * 300 + ".pdf"
    response = operator_upload(peter, peters_room.pk, upload(name, b"%PDF-1.4"))
    assert response.status_code == 201, response.content
    shown = response.json()["file"]["name"]
    assert len(shown) == 200
    assert shown.startswith("gnp.exe report xx")
    assert shown.endswith("x.pdf")
    assert "\u202e" not in shown
    assert "/" not in shown
    assert all("etc" not in path and "report" not in path for path in stored_files(media_root))
    assert files.clean_name("  ..hidden  ") == "hidden"
    assert files.clean_name("C:\\Users\\me\\photo.PNG") == "photo.PNG"
    assert files.clean_name("\u200b") == "file"


def test_the_same_client_id_stores_one_message_and_one_file(peter, peters_room, media_root):
    first = operator_upload(peter, peters_room.pk, upload("a.txt", b"one"), client_id="f-9")
    again = operator_upload(peter, peters_room.pk, upload("a.txt", b"one"), client_id="f-9")
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert Attachment.objects.count() == 1
    assert len(stored_files(media_root)) == 1  # the resend's copy was removed


def test_only_the_rooms_operator_sends_files_in_it(site, peter, jane, olga, peters_room, media_root):
    assert operator_upload(jane, peters_room.pk, upload("a.txt", b"x")).status_code == 403
    assert operator_upload(olga, peters_room.pk, upload("a.txt", b"x")).status_code == 404
    owner = make_user("owner", staff=True, owns=(site,))
    assert operator_upload(type("Owner", (), {"user": owner}), peters_room.pk, upload("a.txt", b"x")).status_code == 403
    ended = make_room(make_visitor(site), operator=peter, status=Room.Status.EXPIRED)
    response = operator_upload(peter, ended.pk, upload("a.txt", b"x"))
    assert response.status_code == 409
    assert error_of(response)["code"] == "expired"
    assert stored_files(media_root) == []
    assert Attachment.objects.count() == 0


def test_bad_forms_are_4xx(peter, peters_room, media_root):
    api = client_for(peter.user)
    path = f"/api/rooms/{peters_room.pk}/files/"
    assert error_of(api.post(path, {"body": "no file"}, format="multipart"))["code"] == "invalid"
    two = {"file": [upload("a.txt", b"a"), upload("b.txt", b"b")]}
    response = api.post(path, two, format="multipart")
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid"
    response = api.post(path, {"file": upload("a.txt", b"a"), "body": "x" * 5000}, format="multipart")
    assert response.status_code == 400
    assert error_of(response)["code"] == "too_long"
    response = api.post(path, {"file": upload("a.txt", b"")}, format="multipart")
    assert response.status_code == 400
    response = api.post(path, {"body": "json"}, format="json")
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"
    assert stored_files(media_root) == []


def test_a_session_upload_needs_its_csrf_token(peter, peters_room, media_root):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(peter.user)
    path = f"/api/rooms/{peters_room.pk}/files/"
    refused = browser.post(path, {"file": upload("a.txt", b"forged")})
    assert refused.status_code == 403
    assert Attachment.objects.count() == 0
    browser.get("/panel/")
    token = browser.cookies["csrftoken"].value
    sent = browser.post(path, {"file": upload("a.txt", b"mine")}, HTTP_X_CSRFTOKEN=token)
    assert sent.status_code == 201, sent.content


def test_operator_uploads_are_rate_limited(peter, peters_room, media_root, settings):
    settings.WP_RATE_OPERATOR_UPLOADS = "2/60"
    codes = [operator_upload(peter, peters_room.pk, upload("a.txt", b"x")).status_code for _ in range(3)]
    assert codes == [201, 201, 429]


# Links -------------------------------------------------------------------------------------------


def test_forged_garbled_and_expired_links_are_refused(peter, peters_room, media_root, settings):
    file = operator_upload(peter, peters_room.pk, upload("a.txt", b"secret")).json()["file"]
    attachment = Attachment.objects.get()
    token = file["url"].split("/")[2]
    for forged in (
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # another signature
        f"{attachment.pk + 1}:{token.split(':', 1)[1]}",  # another file, the same signature
        signing.TimestampSigner(salt="another").sign(str(attachment.pk)),
        signing.TimestampSigner(salt="chat.files", key="not-the-key").sign(str(attachment.pk)),
        "not-a-token",
        files.file_token(10**15),  # signed, but names nothing
    ):
        response = Client().get(f"/files/{forged}/")
        assert response.status_code == 404, forged
        assert error_of(response)["code"] == "not_found"
    settings.WP_FILE_URL_TTL = -1  # every link is older than that
    response = Client().get(file["url"])
    assert response.status_code == 403
    assert error_of(response)["code"] == "link_expired"
    assert Client().post(file["url"]).status_code in (403, 405)


def test_a_file_gone_from_storage_is_a_404_not_a_500(peter, peters_room, media_root):
    file = operator_upload(peter, peters_room.pk, upload("a.txt", b"x")).json()["file"]
    default_storage.delete(Attachment.objects.get().file.name)
    response = Client().get(file["url"])
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_files_leave_the_storage_with_their_room(peter, peters_room, media_root, django_capture_on_commit_callbacks):
    operator_upload(peter, peters_room.pk, upload("photo.png", png()))
    assert len(stored_files(media_root)) == 2
    with django_capture_on_commit_callbacks(execute=True):
        peters_room.visitor.delete()  # the visitor, their rooms, their messages, their files
    assert stored_files(media_root) == []
    assert Attachment.objects.count() == 0


# The visitor sends ------------------------------------------------------------------------------


def test_a_visitor_sends_a_file_cross_origin_and_it_makes_their_request(site, linda, media_root):
    response = visitor_upload(upload("receipt.jpg", jpeg()), body="My order", client_id="v-1")
    assert response.status_code == 201, response.content
    assert response["Access-Control-Allow-Origin"] == SITE_ORIGIN
    assert "Origin" in response["Vary"]
    assert "Access-Control-Allow-Credentials" not in response
    message = response.json()
    assert (message["sender"], message["body"], message["file"]["type"]) == ("visitor", "My order", "image/jpeg")
    # No live room: the message made a request in the pool (R9), as a `message` frame does.
    room = Room.objects.get(visitor=linda)
    assert room.status == Room.Status.PENDING
    assert message["room"] == room.pk


def test_the_preflight_allows_the_sites_origins_only(site, other_site, linda):
    allowed = Client().options("/files/visitor/?site=shop", HTTP_ORIGIN=SITE_ORIGIN,
                               HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")  # fmt: skip
    assert allowed.status_code == 204
    assert allowed["Access-Control-Allow-Origin"] == SITE_ORIGIN
    assert allowed["Access-Control-Allow-Methods"] == "POST"
    assert "Origin" in allowed["Vary"]
    assert "Access-Control-Allow-Credentials" not in allowed
    for key, origin in (("shop", OTHER_ORIGIN), ("shop", "http://evil.test"), ("nope", SITE_ORIGIN), ("shop", "")):
        refused = Client().options(f"/files/visitor/?site={key}", **({"HTTP_ORIGIN": origin} if origin else {}))
        assert "Access-Control-Allow-Origin" not in refused, (key, origin)


def test_a_foreign_origin_gets_no_cors_allow_and_stores_nothing(site, linda, media_root):
    response = visitor_upload(upload("a.txt", b"x"), origin="http://evil.test")
    assert response.status_code == 403
    assert error_of(response)["code"] == "not_allowed"
    assert "Access-Control-Allow-Origin" not in response
    assert visitor_upload(upload("a.txt", b"x"), origin="").status_code == 403
    assert visitor_upload(upload("a.txt", b"x"), site_key="nope").status_code == 404
    assert stored_files(media_root) == []
    assert Message.objects.count() == 0


def test_a_token_works_only_on_its_own_site(site, other_site, linda, media_root):
    # Linda's token on the other site's key (from a page of the other site): nobody there.
    response = visitor_upload(upload("a.txt", b"x"), site_key="other", origin=OTHER_ORIGIN)
    assert response.status_code == 403
    assert error_of(response)["code"] == "not_allowed"
    assert response["Access-Control-Allow-Origin"] == OTHER_ORIGIN  # an answer the page may read
    assert visitor_upload(upload("a.txt", b"x"), token="made-up").status_code == 403
    assert visitor_upload(upload("a.txt", b"x"), token="").status_code == 400
    assert stored_files(media_root) == []
    assert Message.objects.count() == 0


def test_a_visitor_writes_only_into_their_own_room(site, peter, linda, media_root):
    toms = make_room(make_visitor(site), operator=peter)
    lindas = make_room(linda, operator=peter)
    response = visitor_upload(upload("a.txt", b"x"), room=str(toms.pk))  # a `room` field means nothing
    assert response.status_code == 201
    assert response.json()["room"] == lindas.pk
    assert not Message.objects.filter(room=toms).exists()


def test_a_visitors_resend_is_stored_once(site, linda, media_root):
    first = visitor_upload(upload("a.txt", b"x"), client_id="v-7")
    again = visitor_upload(upload("a.txt", b"x"), client_id="v-7")
    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert Attachment.objects.count() == 1
    assert len(stored_files(media_root)) == 1


def test_the_pre_chat_form_comes_first_as_for_a_message(site, linda, media_root):
    site.prechat = Site.Prechat.REQUIRED
    site.save()
    response = visitor_upload(upload("a.txt", b"x"))
    assert response.status_code == 403
    assert error_of(response)["code"] == "details_required"
    assert response["Access-Control-Allow-Origin"] == SITE_ORIGIN
    assert stored_files(media_root) == []
    assert not Room.objects.exists()


def test_visitor_refusals_are_clear_4xx(site, linda, media_root, settings):
    assert error_of(visitor_upload(None))["code"] == "invalid"
    assert error_of(visitor_upload(upload("x.exe", b"MZ")))["code"] == "type_not_allowed"
    assert error_of(visitor_upload(upload("x.png", HTML)))["code"] == "type_not_allowed"
    settings.WP_UPLOAD_MAX_BYTES = 10
    response = visitor_upload(upload("x.txt", b"x" * 11))
    assert response.status_code == 413
    assert error_of(response)["code"] == "too_large"
    assert response["Access-Control-Allow-Origin"] == SITE_ORIGIN


def test_visitor_uploads_are_rate_limited_per_visitor_and_address(site, linda, media_root, settings):
    settings.WP_RATE_VISITOR_UPLOADS = "1/60"
    assert visitor_upload(upload("x.txt", b"x")).status_code == 201
    response = visitor_upload(upload("x.txt", b"x"))
    assert response.status_code == 429
    assert error_of(response)["code"] == "rate_limited"
    assert response["Access-Control-Allow-Origin"] == SITE_ORIGIN
    settings.WP_RATE_IP_UPLOADS = "2/60"
    visitor_with_token(site, "tom-token-0123456789")
    response = visitor_upload(upload("x.txt", b"x"), token="tom-token-0123456789")
    assert response.status_code == 429  # the address's third


def test_the_snippet_and_the_panel_are_told_the_limits(site, settings):
    from chat import events
    from chat.selectors import snapshot_limits

    settings.WP_UPLOAD_TYPES = "PNG, .pdf  txt,png"
    settings.WP_UPLOAD_MAX_BYTES = 5000
    assert events.site_payload(site, online=True)["uploads"] == {"types": ["png", "pdf", "txt"], "max_bytes": 5000}
    limits = snapshot_limits()
    assert (limits["upload_bytes"], limits["upload_types"]) == (5000, ["png", "pdf", "txt"])


# Both sides hear of it -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_the_file_reaches_both_sides_and_history_has_fresh_links(sockets, peter, site, media_root):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    room = await chat_with(linda, panel, peter)
    token = linda.welcome["token"]

    sent = await database_sync_to_async(visitor_upload)(upload("photo.png", png()), token=token, client_id="v-1")
    assert sent.status_code == 201, sent.content
    for side in (panel, linda):
        event = await side.expect(of_type("message", message__id=sent.json()["id"]))
        assert event["message"]["file"]["image"] is True
        assert event["message"]["file"]["thumb"].endswith("/thumb/")

    reply = await database_sync_to_async(operator_upload)(peter, room["id"], upload("sizes.pdf", b"%PDF-1.4"))
    assert reply.status_code == 201, reply.content
    for side in (panel, linda):
        event = await side.expect(of_type("message", message__id=reply.json()["id"]))
        assert event["message"]["file"]["name"] == "sizes.pdf"

    # A page opened later reads the files with links made then.
    await asyncio.sleep(1.1)  # the signature's clock counts seconds
    history = await linda.ask(of_type("history"), type="history", after=0)
    [later] = [m["file"] for m in history["messages"] if m["id"] == sent.json()["id"]]
    assert later["url"] != sent.json()["file"]["url"]
    served = await database_sync_to_async(Client().get)(later["url"])
    assert served.status_code == 200
    panel_history = await panel.ask(of_type("history", room=room["id"]), type="history", room=room["id"], after=0)
    assert [m["file"]["name"] for m in panel_history["messages"] if m["file"]] == ["photo.png", "sizes.pdf"]


# Admin ---------------------------------------------------------------------------------------


def test_admin_shows_a_messages_file_with_a_link_and_the_csv_names_it(site, peter, peters_room, media_root):
    file = operator_upload(peter, peters_room.pk, upload("sizes <chart>.pdf", b"%PDF"), body="chart").json()["file"]
    owner = admin_client(make_staff("owner", site))
    page = owner.get(f"/admin/chat/room/{peters_room.pk}/change/").content.decode()
    assert "sizes &lt;chart&gt;.pdf" in page
    assert 'class="wp-file"' in page
    assert 'rel="noopener noreferrer"' in page
    link = page.split('class="wp-file" href="', 1)[1].split('"', 1)[0]
    assert link.startswith("/files/")
    assert body_of(Client().get(link)) == b"%PDF"
    message = Message.objects.get(attachment__isnull=False)
    assert owner.get(f"/admin/chat/message/{message.pk}/change/").status_code == 200
    # The CSV export's last column names it.
    assert transcripts.CSV_COLUMNS[-1] == "file"
    assert transcripts._row(Message.objects.select_related("room__site").get(pk=message.pk))[-1] == file["name"]


def test_a_message_deleted_in_admin_takes_its_file(
    site, peter, peters_room, media_root, django_capture_on_commit_callbacks
):
    operator_upload(peter, peters_room.pk, upload("a.txt", b"x"))
    root = admin_client(make_staff("root", superuser=True))
    message = Message.objects.get(attachment__isnull=False)
    with django_capture_on_commit_callbacks(execute=True):
        response = root.post(f"/admin/chat/message/{message.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert Attachment.objects.count() == 0
    assert stored_files(media_root) == []


def test_the_reply_mail_to_a_visitor_who_left_names_a_file(site, peter, peters_room, media_root, mailoutbox):
    Visitor.objects.filter(pk=peters_room.visitor_id).update(email="linda@example.com")
    sent = operator_upload(peter, peters_room.pk, upload("sizes.pdf", b"%PDF")).json()
    from chat import offline

    assert offline.replies_send(room_id=peters_room.pk, message_ids=[sent["id"]]) == 1
    assert "[A file: sizes.pdf. Open the chat to see it.]" in mailoutbox[0].body
