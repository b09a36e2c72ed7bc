"""Files and images in messages (issue 23): what is taken, how it is stored, named and served.

A file sent in a chat is a message carrying an `Attachment` (chat/models.py), made by the same
services as any message (chat/services.py). Before that, here:

- its type is decided by White Panel, never taken from the sender: the extension must be among
  WP_UPLOAD_TYPES; png, jpg/jpeg, gif and webp must also decode as such an image with Pillow
  (within WP_UPLOAD_MAX_PIXELS, its decompression-bomb limit), which makes a thumbnail of it.
  Anything else is a download, whatever it holds;
- it is stored through Django's storage API (`default_storage`: WP_MEDIA_ROOT, or any
  django-storages backend) under a random name, never the sender's;
- it is served only through a signed link (`file_url`) that expires after WP_FILE_URL_TTL, made
  anew whenever a payload carries it (chat/events.py): what the room's visitor and operators get.
  A verified image is served inline as what it is; everything else as a download
  (`application/octet-stream`, `Content-Disposition: attachment`), so nothing a browser could run
  (HTML, SVG, script) ever runs on this origin (docs/security.md).
"""

import contextlib
import io
import logging
import mimetypes
import re
import secrets
import unicodedata
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageOps

from infra.errors import Invalid, NotFound, TooLarge, TypeNotAllowed

from .models import Attachment, Room

logger = logging.getLogger(__name__)

# A thumbnail's longest side, in pixels.
THUMB_SIZE = 320
NAME_LENGTH = 200

# The images shown inline, as Pillow names their format: (content type, stored extension).
IMAGE_FORMATS = {
    "PNG": ("image/png", "png"),
    "JPEG": ("image/jpeg", "jpg"),
    "GIF": ("image/gif", "gif"),
    "WEBP": ("image/webp", "webp"),
}
# The extensions that say "image": such a file must decode as one of the formats above.
IMAGE_EXTENSIONS = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "gif": "GIF", "webp": "WEBP"}
# What a download's type is called in payloads (it is always served as application/octet-stream).
DOWNLOAD_TYPES = {
    "pdf": "application/pdf",
    "txt": "text/plain",
    "csv": "text/csv",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "zip": "application/zip",
}
_EXTENSION = re.compile(r"^[a-z0-9]{1,10}$")

# Pillow's decompression-bomb limit is ours: it refuses past twice it, and `_decode` past it (so
# Pillow's warning past it says nothing more: not logged).
Image.MAX_IMAGE_PIXELS = settings.WP_UPLOAD_MAX_PIXELS
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


# What is taken -------------------------------------------------------------------------


def allowed_extensions() -> list[str]:
    """WP_UPLOAD_TYPES, read at each call (tests change it): lower-case extensions, in order."""
    found: list[str] = []
    for part in re.split(r"[\s,]+", str(settings.WP_UPLOAD_TYPES or "").lower()):
        part = part.strip().lstrip(".")
        if _EXTENSION.match(part) and part not in found:
            found.append(part)
    return found


def upload_limits() -> dict | None:
    """What clients are told of uploads (the panel's snapshot, the snippet's site): the types and
    the largest size, or None when this server takes no files."""
    types = allowed_extensions()
    return {"types": types, "max_bytes": settings.WP_UPLOAD_MAX_BYTES} if types else None


def clean_name(name: str) -> str:
    """The sender's file name as it is shown and offered for download: its last path part only,
    without control or invisible formatting characters (a right-to-left override could make
    `exe.pdf` read `fdp.exe`), white space collapsed, no leading dot, at most NAME_LENGTH
    characters with its extension kept."""
    text = unicodedata.normalize("NFC", str(name or ""))
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(
        " " if unicodedata.category(c).startswith("Z") else c
        for c in text
        if not unicodedata.category(c).startswith("C")
    )
    text = " ".join(text.split()).strip(". ")
    if not text:
        return "file"
    if len(text) > NAME_LENGTH:
        stem, dot, extension = text.rpartition(".")
        if dot and stem and len(extension) <= 16:
            text = stem[: NAME_LENGTH - len(extension) - 1].rstrip() + "." + extension
        else:
            text = text[:NAME_LENGTH]
    return text


def extension_of(name: str) -> str:
    stem, dot, extension = name.rpartition(".")
    return extension.lower() if dot and stem else ""


# Stored, not yet in a message ------------------------------------------------------------


@dataclass
class Upload:
    """A file checked and in storage, waiting for its message: `attach` makes its Attachment in
    the message's transaction. An upload no message took (refused, or a resend of one stored
    before) is removed again by `stored`."""

    name: str
    size: int
    content_type: str
    is_image: bool
    file: str  # storage names
    thumbnail: str = ""
    width: int | None = None
    height: int | None = None
    attachment: Attachment | None = None


@dataclass
class _Decoded:
    format: str
    width: int
    height: int
    thumbnail: bytes
    thumbnail_extension: str


def _decode(data) -> _Decoded:
    """The image a file holds, or TypeNotAllowed / TooLarge: its format, size (as shown: turned
    by its EXIF orientation) and a thumbnail. Decoded for real, not trusted from a header: a
    file that is HTML, SVG, script or a broken image is not an image."""
    try:
        data.seek(0)
        with Image.open(data) as image:  # reads the header: DecompressionBombError past 2x the limit
            if image.format not in IMAGE_FORMATS:
                raise TypeNotAllowed(f"this is a {image.format} image; images are PNG, JPEG, GIF or WebP")
            width, height = image.size
            if width * height > settings.WP_UPLOAD_MAX_PIXELS:
                raise TooLarge(f"the image is {width}x{height} pixels, more than this server decodes")
            image.verify()  # the file's structure and checksums
        data.seek(0)
        with Image.open(data) as image:
            image_format = image.format
            if image.getexif().get(0x0112) in (5, 6, 7, 8):  # EXIF orientation: turned a quarter
                width, height = height, width
            image.draft("RGB", (THUMB_SIZE * 2, THUMB_SIZE * 2))  # JPEG: decoded at a smaller scale
            image.load()  # every pixel of the (first) frame: a truncated file fails here
            thumb = ImageOps.exif_transpose(image)
            thumb.thumbnail((THUMB_SIZE, THUMB_SIZE))
            out = io.BytesIO()
            if thumb.mode in ("RGBA", "LA", "PA") or (thumb.mode == "P" and "transparency" in thumb.info):
                thumb.convert("RGBA").save(out, "PNG", optimize=True)
                extension = "png"
            else:
                thumb.convert("RGB").save(out, "JPEG", quality=82)
                extension = "jpg"
    except (TooLarge, TypeNotAllowed):
        raise
    except Image.DecompressionBombError:
        raise TooLarge("the image has more pixels than this server decodes") from None
    except Exception as error:  # whatever a hostile or broken file makes the decoder raise
        logger.info("an upload named as an image did not decode: %r", error)
        raise TypeNotAllowed("this file is not an image White Panel can read, though its name says so") from None
    return _Decoded(image_format, width, height, out.getvalue(), extension)


def store(uploaded: UploadedFile) -> Upload:
    """Check an uploaded file and put it in storage: an Upload for a message to carry, or
    TooLarge / TypeNotAllowed / Invalid. Nothing is stored for a refused file."""
    types = allowed_extensions()
    if not types:
        raise TypeNotAllowed("this server takes no files")
    size = uploaded.size or 0
    if size > settings.WP_UPLOAD_MAX_BYTES:
        raise TooLarge(f"the file is larger than {settings.WP_UPLOAD_MAX_BYTES} bytes")
    if size == 0:
        raise Invalid("the file is empty")
    name = clean_name(uploaded.name)
    extension = extension_of(name)
    if extension not in types:
        kind = f".{extension} files" if extension else "files without an extension"
        raise TypeNotAllowed(f"{kind} are not taken here; these are: {', '.join(types)}")
    decoded = None
    if extension in IMAGE_EXTENSIONS:
        decoded = _decode(uploaded)
        content_type, extension = IMAGE_FORMATS[decoded.format]
        if not ({ext for ext, fmt in IMAGE_EXTENSIONS.items() if fmt == decoded.format} & set(types)):
            raise TypeNotAllowed(f"{decoded.format} images are not taken here")
    else:
        content_type = DOWNLOAD_TYPES.get(extension) or mimetypes.guess_type(f"x.{extension}")[0]
        content_type = content_type or "application/octet-stream"
    random = secrets.token_hex(16)
    base = f"files/{random[:2]}/{random}"
    uploaded.seek(0)
    stored = default_storage.save(f"{base}.{extension}", uploaded)
    upload = Upload(name=name, size=size, content_type=content_type, is_image=decoded is not None, file=stored)
    if decoded is not None:
        upload.width, upload.height = decoded.width, decoded.height
        try:
            upload.thumbnail = default_storage.save(
                f"{base}-thumb.{decoded.thumbnail_extension}", ContentFile(decoded.thumbnail)
            )
        except BaseException:
            remove_stored([stored])
            raise
    return upload


@contextlib.contextmanager
def stored(uploaded: UploadedFile) -> Iterator[Upload]:
    """`store`, then the caller's message: the stored files are removed again unless a message
    took them (refused, failed, or the resend of one stored before)."""
    upload = store(uploaded)
    try:
        yield upload
    finally:
        if upload.attachment is None:
            remove_stored([upload.file, upload.thumbnail])


def attach(upload: Upload, *, room: Room) -> Attachment:
    """The Attachment of a message being written in `room` (in its transaction, under its lock)."""
    attachment = Attachment(
        room=room,
        file=upload.file,
        thumbnail=upload.thumbnail,
        name=upload.name,
        size=upload.size,
        content_type=upload.content_type,
        is_image=upload.is_image,
        width=upload.width,
        height=upload.height,
        at=timezone.now(),
    )
    attachment.save()
    upload.attachment = attachment
    return attachment


def remove_stored(names: list[str]) -> None:
    for name in names:
        if not name:
            continue
        try:
            default_storage.delete(name)
        except Exception:
            logger.exception("could not delete %s from the file storage", name)


def attachment_deleted(sender, instance: Attachment, **kwargs) -> None:
    """post_delete: an attachment's files leave the storage once its deletion commits (its room,
    visitor or site deleted, or it alone in admin)."""
    names = [instance.file.name, instance.thumbnail.name]
    transaction.on_commit(lambda: remove_stored(names))


# Uploads over the size limit are not read to the end ----------------------------------


class SizeLimitHandler(FileUploadHandler):
    """First of a file view's upload handlers: a file past WP_UPLOAD_MAX_BYTES stops the upload
    (the request's `upload_too_large` says so) before any more of it is kept anywhere."""

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > settings.WP_UPLOAD_MAX_BYTES:
            self.request.upload_too_large = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def prepare_request(request) -> None:
    """Before anything reads the body (a session's CSRF check reads the form): the size limit
    first among the upload handlers."""
    request.upload_too_large = False
    request.upload_handlers.insert(0, SizeLimitHandler(request))


# Envelope overhead of a multipart body past the file itself: the other fields and boundaries.
FORM_OVERHEAD = 64 * 1024


def check_request_size(request) -> None:
    """A body larger than the largest file and its form refused before it is parsed, and one
    whose file was stopped by SizeLimitHandler after."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.WP_UPLOAD_MAX_BYTES + FORM_OVERHEAD or getattr(request, "upload_too_large", False):
        raise TooLarge(f"the file is larger than {settings.WP_UPLOAD_MAX_BYTES} bytes")


# Links ------------------------------------------------------------------------------------

_SIGNER_SALT = "chat.files"


class LinkExpired(Exception):
    pass


def file_token(attachment_id: int) -> str:
    return signing.TimestampSigner(salt=_SIGNER_SALT).sign(str(attachment_id))


def attachment_id_of(token: str) -> int:
    """The attachment a link names; NotFound for a forged or garbled one, LinkExpired for one
    older than WP_FILE_URL_TTL."""
    try:
        value = signing.TimestampSigner(salt=_SIGNER_SALT).unsign(token, max_age=settings.WP_FILE_URL_TTL)
    except signing.SignatureExpired:
        raise LinkExpired from None
    except signing.BadSignature:
        raise NotFound("no such file") from None
    try:
        return int(value)
    except ValueError:
        raise NotFound("no such file") from None


def file_url(attachment: Attachment, *, thumb: bool = False) -> str:
    """A fresh signed link to the file (or its thumbnail), relative to this server."""
    return f"/files/{file_token(attachment.pk)}/" + ("thumb/" if thumb else "")


def file_payload(attachment: Attachment) -> dict:
    """A message's `file` (chat/events.py): fresh links, relative to this server (the snippet
    puts its server's origin before them)."""
    token = file_token(attachment.pk)
    return {
        "name": attachment.name,
        "size": attachment.size,
        "type": attachment.content_type,
        "image": attachment.is_image,
        "url": f"/files/{token}/",
        "thumb": f"/files/{token}/thumb/" if attachment.thumbnail else None,
        "width": attachment.width,
        "height": attachment.height,
    }


# Serving ----------------------------------------------------------------------------------

CHUNK = 64 * 1024


async def chunks(handle) -> AsyncIterator[bytes]:
    """A stored file's content for a streaming answer, read in a worker thread a chunk at a time
    (a synchronous file would be read whole into memory under ASGI)."""
    read = sync_to_async(handle.read, thread_sensitive=False)
    try:
        while chunk := await read(CHUNK):
            yield chunk
    finally:
        await sync_to_async(handle.close, thread_sensitive=False)()
