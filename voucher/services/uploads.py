"""Uploaded receipts and certificates: checked by content, cleaned, stored under random names.

A worker photographs a receipt or picks a PDF on a phone; an operator opens it later. So
every file is judged by its bytes, never by its name or the content type the browser
claims: only JPEG, PNG, HEIC and PDF pass. Images are decoded (after a pixel-count check,
so a small file cannot expand into gigabytes) and re-encoded as plain JPEG, which drops
EXIF (GPS position, device) and anything smuggled after the picture data. PDFs are stored
as uploaded, but only when they parse, are not encrypted, and carry no scripts, automatic
actions or attachments. A file that is also something else (a "polyglot": a photo with a
web page or an archive inside, a PDF that is also a ZIP) is refused whatever its picture,
and so is one whose compressed parts would expand far beyond what they claim to hold.

Every step reads at most ``max_bytes + 1`` bytes, files are written atomically (temporary
file in the same folder, then ``os.replace``) and private (mode 0o600), and a refused or
failed upload leaves nothing on disk. Nothing here uses ``current_app``: callers pass the
folder and the size limit from the configuration.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import re
import secrets
import tempfile
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import Any

import pillow_heif
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps
from pypdf import PdfReader, apply_configuration
from pypdf.errors import LimitReachedError
from pypdf.filters import ASCII85Decode, ASCIIHexDecode, LZWDecode, RunLengthDecode
from pypdf.generic import (
    ArrayObject,
    ByteStringObject,
    DictionaryObject,
    EncodedStreamObject,
    IndirectObject,
    NameObject,
    TextStringObject,
)
from werkzeug.datastructures import FileStorage
from werkzeug.utils import secure_filename

from voucher.services.errors import ValidationFailed

# Registering is idempotent; it teaches Pillow to open HEIC, the iPhone's default format.
pillow_heif.register_heif_opener()

logger = logging.getLogger(__name__)

# 50 megapixels admits the 48/50 MP modes of current phone cameras, while bounding the
# decoded bitmap (about 150 MB in RGB) whatever the size of the file on disk.
MAX_PIXELS = 50_000_000
MAX_SIDE = 2500  # long side of the stored image: receipts stay legible, files stay small
THUMBNAIL_SIDE = 320
JPEG_QUALITY = 85
MAX_PDF_PAGES = 30
# A receipt of up to 30 pages has tens or hundreds of objects; the cap keeps the check of
# every object (below) to well under a second whatever a hostile file declares.
MAX_PDF_OBJECTS = 20_000
# What the compressed streams of one PDF may expand to while they are checked: a stream
# that is not a picture (page contents, fonts, object streams) to 32 MB, all of them
# together to 256 MB (about ten full-page colour scans stored losslessly). A
# decompression bomb, 1 GB from 1 MB, stops the count long before it costs memory.
_MAX_PDF_STREAM_BYTES = 32 * 1024 * 1024
_MAX_PDF_INFLATED_BYTES = 256 * 1024 * 1024
_READ_CHUNK = 1024 * 1024

JPEG = "image/jpeg"
PDF = "application/pdf"
# The file-name extension of each stored type (downloads and the worker's data export).
EXTENSIONS = {JPEG: ".jpg", "image/png": ".png", PDF: ".pdf"}

# Our own names only: 32 hex digits, then the stored file's or the thumbnail's suffix.
# Anything else (a path, "..", another extension) cannot have come from store_upload.
_KEY = re.compile(r"[0-9a-f]{32}(?:\.jpg|\.pdf|-thumb\.jpg)")

# HEIF is an ISO-BMFF container; these brands say that the picture inside is HEVC (HEIC).
# AVIF and other members of the family are not accepted: we cannot decode them here.
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"}

# PDF names that run code, act without the reader asking, or carry other files.
_PDF_DANGEROUS_KEYS = {
    "/JS",
    "/JavaScript",
    "/AA",
    "/Launch",
    "/EmbeddedFile",
    "/EmbeddedFiles",
    "/EF",
    "/RichMedia",
    "/RichMediaContent",
    "/XFA",
}
_PDF_DANGEROUS_VALUES = {
    # action types (/S) that run code, open other files or send data away
    "/JavaScript",
    "/Launch",
    "/ImportData",
    "/SubmitForm",
    "/GoToR",
    "/GoToE",
    "/RichMediaExecute",
    "/Rendition",
    "/Movie",
    "/Sound",
    # annotation subtypes that embed media or files
    "/FileAttachment",
    "/RichMedia",
    "/Screen",
    "/3D",
    # object types
    "/EmbeddedFile",
}
# A document may open on a page (/GoTo); any other /OpenAction acts behind the reader's back.
_PDF_SAFE_OPEN_ACTIONS = {"/GoTo"}
_PDF_MAX_DEPTH = 64  # nesting of direct objects inside one object; deeper is hostile
# Backstop for objects that pypdf would not reach (say, left out of the cross-reference
# table but found by a viewer that rebuilds it). Only the longer names are searched in the
# whole file: two-letter names such as /JS turn up by chance in compressed binary streams,
# so those are searched outside stream data only.
_RAW_DANGEROUS = re.compile(
    rb"/(?:JavaScript|Launch|EmbeddedFiles?|RichMedia|XFA)(?=[\s/<>\[\]()%{}]|$)"
)
_RAW_DANGEROUS_OUTSIDE_STREAMS = re.compile(rb"/(?:JS|AA)(?=[\s/<>\[\]()%{}]|$)")
_RAW_STREAM = re.compile(rb"stream\r?\n.*?endstream", re.DOTALL)
_RAW_ENCRYPT = re.compile(rb"/Encrypt(?=[\s/<>\[\]()%{}]|$)")
# Link targets a PDF may carry: web pages and e-mail addresses. Anything else with a
# scheme (javascript:, file:, data:, smb:…) runs code or reaches the reader's machine.
_PDF_SAFE_URI_SCHEMES = {"http", "https", "mailto"}
_URI_SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):")

# Markup that makes a file a web page or a server script as well, when a browser sniffs
# it or a misconfigured server runs it. Photos and receipts never contain these
# sequences: each is long enough not to turn up by chance in compressed data.
_MARKUP = re.compile(
    rb"<(?:script|html|body|iframe|svg|object|embed|!doctype\s+html)[\s/>]|<\?php\s",
    re.IGNORECASE,
)
# A ZIP archive (and so JAR, APK, DOCX…) is found from its end: an end-of-central-directory
# record whose comment runs exactly to the last byte. Unzip tools open any file that ends
# so, whatever comes before it.
_ZIP_END = b"PK\x05\x06"
_ZIP_END_SIZE = 22
_ZIP_MAX_COMMENT = 0xFFFF


def accepted_hint(max_bytes: int) -> Any:
    """Help text for an upload field: the accepted kinds and the size limit."""
    return _l("A photo (JPEG, PNG, HEIC) or a PDF, up to %(mb)s MB.", mb=_megabytes(max_bytes))


# Forms that do not know the limit can show this one (it has no placeholder to fill).
ACCEPTED_HINT = _l("A photo (JPEG, PNG, HEIC) or a PDF.")


@dataclass(frozen=True)
class StoredFile:
    """A file that passed every check and is now on disk under a random name."""

    storage_key: str
    thumbnail_key: str | None
    content_type: str
    size_bytes: int
    sha256: str
    original_filename: str


@dataclass(frozen=True)
class _Clean:
    """What will be written: the main file, its optional preview, and the stored type."""

    data: bytes
    thumbnail: bytes | None
    content_type: str
    extension: str


def store_upload(
    file: FileStorage | None, folder: str, max_bytes: int, field: str = "file"
) -> StoredFile:
    """Check an upload by its content, clean it and store it; refuse with ValidationFailed."""
    if file is None or not file.filename:
        raise ValidationFailed.single(field, _l("Choose a file to upload."))
    data = _read_limited(file, max_bytes)
    if not data:
        raise ValidationFailed.single(field, _l("The file is empty."))
    if len(data) > max_bytes:
        raise ValidationFailed.single(
            field,
            _l(
                "The file is larger than %(mb)s MB: upload a smaller one.", mb=_megabytes(max_bytes)
            ),
        )

    kind = _sniff(data)
    if kind is None:
        raise ValidationFailed.single(field, _not_accepted())
    if _is_polyglot(data):
        raise ValidationFailed.single(field, _polyglot())
    if kind in ("jpeg", "png", "heic"):
        clean = _clean_image(data, kind, field)
    elif kind == "pdf":
        _check_pdf(data, field)
        clean = _Clean(data=data, thumbnail=None, content_type=PDF, extension=".pdf")

    token = secrets.token_hex(16)
    storage_key = token + clean.extension
    thumbnail_key = f"{token}-thumb.jpg" if clean.thumbnail is not None else None
    _write_all(folder, storage_key, clean.data, thumbnail_key, clean.thumbnail, field)
    return StoredFile(
        storage_key=storage_key,
        thumbnail_key=thumbnail_key,
        content_type=clean.content_type,
        size_bytes=len(clean.data),
        # Of the bytes as uploaded, so the same receipt sent twice is recognised even
        # though its re-encoded JPEG may differ between Pillow versions.
        sha256=hashlib.sha256(data).hexdigest(),
        original_filename=_safe_name(file.filename),
    )


def path_of(folder: str, key: str) -> Path:
    """The path of a stored file; ValueError for a key that store_upload could not have made."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValueError(f"not an upload key: {key!r}")
    return Path(folder) / key


def delete_stored(folder: str, key: str | None) -> None:
    """Remove a stored file if it is there; ``None`` (no thumbnail) does nothing."""
    if key is None:
        return
    with contextlib.suppress(FileNotFoundError):
        path_of(folder, key).unlink()


# --- reading and sniffing ---------------------------------------------------------------


def _read_limited(file: FileStorage, max_bytes: int) -> bytes:
    """At most max_bytes + 1 bytes of the upload: enough to know it is too large."""
    stream = file.stream
    # A form validator may have read the stream already; start from the beginning.
    with contextlib.suppress(AttributeError, OSError, ValueError):
        if stream.seekable():
            stream.seek(0)
    chunks: list[bytes] = []
    remaining = max_bytes + 1
    while remaining > 0:
        # A stream may return less than asked for before its end; loop until EOF or limit.
        chunk = stream.read(min(remaining, _READ_CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _sniff(data: bytes) -> str | None:
    """The kind of file from its magic bytes: "jpeg", "png", "heic", "pdf" or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"%PDF-"):
        # At offset 0 only: the format tolerates junk before the header, but a file that
        # starts as something else and is also a PDF is exactly a polyglot.
        return "pdf"
    if _is_heic(data):
        return "heic"
    return None


def _is_heic(data: bytes) -> bool:
    """Whether the data opens with an ISO-BMFF ``ftyp`` box naming an HEVC brand."""
    if len(data) < 16 or data[4:8] != b"ftyp":
        return False
    box_size = int.from_bytes(data[0:4], "big")
    if box_size < 16 or box_size > min(len(data), 4096):
        return False
    brands = {data[8:12]}
    brands.update(data[offset : offset + 4] for offset in range(16, box_size - 3, 4))
    return bool(brands & _HEIC_BRANDS)


def _not_accepted() -> Any:
    return _l("This file type is not accepted: upload a photo (JPEG, PNG, HEIC) or a PDF.")


def _polyglot() -> Any:
    return _l(
        "The file also contains web page code or an archive, which is not accepted: "
        "take the photo again or export the PDF again."
    )


def _is_polyglot(data: bytes) -> bool:
    """Whether the file is also a web page, a server script or a ZIP archive."""
    # Images are re-encoded and PDFs are served as downloads, so the extra content would
    # never reach a browser from here; but a file that is two things at once was made to
    # fool some program, and has no business being kept as someone's receipt.
    return bool(_MARKUP.search(data)) or _ends_as_zip(data)


def _ends_as_zip(data: bytes) -> bool:
    """Whether unzip tools would find an archive: an end record whose comment ends the data."""
    start = max(0, len(data) - _ZIP_END_SIZE - _ZIP_MAX_COMMENT)
    at = data.find(_ZIP_END, start)
    while at != -1:
        if at + _ZIP_END_SIZE <= len(data):
            comment = int.from_bytes(data[at + 20 : at + 22], "little")
            if at + _ZIP_END_SIZE + comment == len(data):
                return True
        at = data.find(_ZIP_END, at + 1)
    return False


# --- images -----------------------------------------------------------------------------

_PILLOW_FORMAT = {"jpeg": "JPEG", "png": "PNG", "heic": "HEIF"}


def _clean_image(data: bytes, kind: str, field: str) -> _Clean:
    """Decode (after the pixel check), rotate upright, flatten, shrink and re-encode as JPEG."""
    unreadable = _l(
        "The image could not be read: it may be damaged or incomplete. Please take the photo again."
    )
    too_many_pixels = _l(
        "The image is too large (more than %(mp)d megapixels): "
        "take the photo at a lower resolution.",
        mp=MAX_PIXELS // 1_000_000,
    )
    try:
        # Pillow warns, then fails, past its global MAX_IMAGE_PIXELS; that global is
        # shared and could be changed elsewhere, so our own limit below is the one that
        # counts, and the warning is turned into an error in case it fires first.
        # Pillow's other warnings are about damaged metadata (corrupt EXIF, say), which
        # is dropped anyway: the photo itself is fine, so they must not refuse it.
        # (catch_warnings swaps the process's filter list; racing threads could at worst
        # leave these two narrow filters behind.)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Only the plugin of the sniffed format may open it: a file with a JPEG
            # header is decoded as a JPEG or not at all.
            with Image.open(io.BytesIO(data), formats=[_PILLOW_FORMAT[kind]]) as opened:
                width, height = opened.size
                # The size comes from the header; nothing is decoded yet.
                if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
                    raise ValidationFailed.single(field, too_many_pixels)
                if kind == "png":
                    _check_png(data)
                # JPEG can decode at 1/2, 1/4 or 1/8 scale: less memory and time for a
                # big photo that will be shrunk anyway (no-op for the other formats).
                opened.draft("RGB", (MAX_SIDE, MAX_SIDE))
                # load() decodes everything: a truncated or corrupt file fails here
                # (Pillow's LOAD_TRUNCATED_IMAGES stays False).
                opened.load()
                image = _upright_rgb(opened)
            image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
            main = _jpeg_bytes(image)
            image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
            thumbnail = _jpeg_bytes(image)
    except ValidationFailed:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationFailed.single(field, too_many_pixels) from None
    except Exception:
        # Decoders fail in many ways on hostile input (OSError, SyntaxError, ValueError,
        # struct.error, EOFError, MemoryError, the HEIF library's own errors…): all of
        # them mean that this is not an image we can read.
        logger.info("upload refused: unreadable %s image", kind, exc_info=True)
        raise ValidationFailed.single(field, unreadable) from None
    return _Clean(data=main, thumbnail=thumbnail, content_type=JPEG, extension=".jpg")


# Samples per pixel of each PNG colour type (grey, RGB, palette, grey+alpha, RGBA).
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# The seven passes of Adam7 interlacing: first column and row, then steps across and down.
_ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)


def _check_png(data: bytes) -> None:
    """Check the PNG's chunks and the size its image data inflates to; ValueError if wrong.

    IHDR first, nothing after IEND, and image data that inflates to no more than the
    declared width and height need. Pillow stops inflating once the picture is complete,
    so a 100 x 100 image whose data would expand to a gigabyte decodes fine there;
    counting (not keeping) the inflated bytes, a megabyte at a time, finds it.
    """
    offset = 8
    expected = None
    inflater = zlib.decompressobj()
    produced = 0
    while offset + 12 <= len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        offset += 12 + length
        if len(body) != length or offset > len(data):
            raise ValueError("PNG chunk runs past the end of the file")
        if expected is None:
            if kind != b"IHDR" or length != 13:
                raise ValueError("PNG does not start with its header")
            expected = _png_raw_size(body)
        elif kind == b"IDAT":
            pending = body
            while pending and not inflater.eof:
                produced += len(inflater.decompress(pending, _READ_CHUNK))
                if produced > expected:
                    raise ValueError("PNG image data inflates beyond its declared size")
                pending = inflater.unconsumed_tail
        elif kind == b"IEND":
            if offset != len(data):
                raise ValueError("data after the end of the PNG")
            return
    raise ValueError("PNG without an end")


def _png_raw_size(header: bytes) -> int:
    """Bytes of filtered scanlines a PNG of this header inflates to."""
    width, height = int.from_bytes(header[0:4], "big"), int.from_bytes(header[4:8], "big")
    bit_depth, colour, interlace = header[8], header[9], header[12]
    bits = _PNG_CHANNELS.get(colour, 4) * bit_depth

    def scanlines(w: int, h: int) -> int:
        # One filter-type byte per row, then the row's samples rounded up to a byte.
        return h * (1 + (w * bits + 7) // 8) if w and h else 0

    if interlace != 1:
        return scanlines(width, height)
    return sum(
        scanlines((width - x + dx - 1) // dx, (height - y + dy - 1) // dy)
        for x, y, dx, dy in _ADAM7
    )


def _upright_rgb(image: Image.Image) -> Image.Image:
    """A plain RGB copy, turned as the camera's EXIF orientation says, transparency on white."""
    # Phones store portrait photos sideways plus an orientation tag; the tag is dropped
    # with the rest of the EXIF, so the pixels themselves must be turned first.
    upright = ImageOps.exif_transpose(image)
    has_alpha = upright.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        upright.mode == "P" and "transparency" in upright.info
    )
    if has_alpha:
        # A transparent background would become black in JPEG; paper is white.
        rgba = upright.convert("RGBA")
        result = Image.new("RGB", rgba.size, "white")
        result.paste(rgba, mask=rgba.getchannel("A"))
    elif upright.mode != "RGB":
        result = upright.convert("RGB")
    else:
        result = upright
    # Forget the source's metadata (EXIF, XMP, ICC profile, comments, PNG text): the JPEG
    # encoder copies a comment from ``info`` even when not asked to.
    result.info = {}
    return result


def _jpeg_bytes(image: Image.Image) -> bytes:
    """JPEG with no metadata: Pillow writes EXIF, XMP or ICC only when asked to."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return buffer.getvalue()


# --- PDFs -------------------------------------------------------------------------------


def _check_pdf(data: bytes, field: str) -> None:
    """Refuse a PDF that does not parse, is encrypted, is too long or carries active content."""
    unreadable = _l("The PDF could not be read: it may be damaged. Export it again and retry.")
    encrypted = _l("The PDF is protected by a password: upload a copy without protection.")
    active = _l(
        "The PDF contains scripts, automatic actions or attached files, which are not "
        "accepted: print it to a new PDF and upload that."
    )
    too_complex = _l(
        "The PDF is too complex to be checked: print it to a new PDF (or scan it) and upload that."
    )
    if not _ends_cleanly(data):
        # Bytes after the last %%EOF are how PDF/HTML or PDF/ZIP polyglots are built.
        raise ValidationFailed.single(field, unreadable)
    try:
        # pypdf's own limits, tightened for a receipt: a cross-reference stream may not
        # declare more objects than we would check, nor one stream inflate past 32 MB.
        with apply_configuration(**_PDF_LIMITS):
            reader = PdfReader(
                io.BytesIO(data), strict=False, xref_stream_maximum_entries=MAX_PDF_OBJECTS
            )
            if reader.is_encrypted:
                raise ValidationFailed.single(field, encrypted)
            objects = len(reader.xref_objStm) + sum(len(ids) for ids in reader.xref.values())
            if objects > MAX_PDF_OBJECTS:
                raise ValidationFailed.single(field, too_complex)
            pages = len(reader.pages)
            if pages == 0:
                raise ValidationFailed.single(field, unreadable)
            if pages > MAX_PDF_PAGES:
                raise ValidationFailed.single(
                    field,
                    _l(
                        "The PDF has more than %(pages)d pages: "
                        "upload only the pages of the receipt.",
                        pages=MAX_PDF_PAGES,
                    ),
                )
            found_active = _has_active_content(reader)
    except ValidationFailed:
        raise
    except Exception as exc:
        # pypdf raises many kinds of errors on broken or hostile files. An encrypted PDF
        # may fail before is_encrypted is asked (an unsupported cipher), so say so.
        logger.info("upload refused: unreadable PDF", exc_info=True)
        if _over_a_limit(exc):
            message = too_complex
        else:
            message = encrypted if _RAW_ENCRYPT.search(data) else unreadable
        raise ValidationFailed.single(field, message) from None
    if found_active or _raw_active_content(data):
        raise ValidationFailed.single(field, active)


def _ends_cleanly(data: bytes) -> bool:
    """Whether only whitespace (or NUL padding) follows the last ``%%EOF``."""
    end = data.rfind(b"%%EOF")
    return end != -1 and not data[end + 5 :].strip(b" \t\r\n\f\x00")


def _has_active_content(reader: PdfReader) -> bool:
    """Whether any object of the file names a script, an action, an attachment or XFA.

    Every object in the cross-reference table is visited, not only those reachable from
    the catalogue (names tree, pages, annotations): a viewer may still use the others,
    and pypdf decodes ``#xx`` escapes in names, which a byte search would miss.
    """
    catalog = reader.trailer.get("/Root")
    catalog = catalog.get_object() if catalog is not None else None
    if not isinstance(catalog, DictionaryObject):
        raise ValueError("PDF without a catalogue")
    if "/OpenAction" in catalog:
        open_action = catalog["/OpenAction"].get_object()
        # An array is a destination (open at this page), which is harmless.
        if isinstance(open_action, DictionaryObject) and (
            open_action.get("/S") not in _PDF_SAFE_OPEN_ACTIONS or "/Next" in open_action
        ):
            return True
    references = [(idnum, 0) for idnum in reader.xref_objStm]
    references += [
        (idnum, generation)
        for generation, entries in reader.xref.items()
        for idnum in list(entries)
    ]
    in_streams = set(reader.xref_objStm)
    budget = _MAX_PDF_INFLATED_BYTES
    for idnum, generation in references:
        try:
            obj = reader.get_object(IndirectObject(idnum, generation, reader))
        except Exception as exc:
            # A damaged object is common in real-world PDFs and viewers skip or repair
            # it. One stored as plain bytes is still covered by _raw_active_content; one
            # inside a compressed object stream is not, so that one is refused. Nor is
            # one that hit a limit (nested 100,000 deep, say): it was built to hurt.
            if (generation == 0 and idnum in in_streams) or _over_a_limit(exc):
                raise
            logger.info("PDF object %d %d unreadable, skipped", idnum, generation)
            continue
        if _is_active(obj, 0):
            return True
        if isinstance(obj, EncodedStreamObject):
            budget -= _expanded_size(obj)
            if budget < 0:
                raise _TooComplex("the streams inflate beyond the budget")
    return _is_active(reader.trailer, 0)


class _TooComplex(Exception):
    """Checking the file would cost more than any receipt needs (a bomb, most likely)."""


# pypdf's settings while it reads an upload (see pypdf.Configuration).
_PDF_LIMITS: dict[str, int] = {
    "zlib_maximum_output_length": _MAX_PDF_STREAM_BYTES,
    "lzw_maximum_output_length": _MAX_PDF_STREAM_BYTES,
    "run_length_maximum_output_length": _MAX_PDF_STREAM_BYTES,
    "page_tree_maximum_entries": 100 * MAX_PDF_PAGES,
    "page_tree_maximum_depth": 32,
}


def _over_a_limit(exc: BaseException) -> bool:
    """Whether the error, or one it was raised from, says the file crossed a resource limit."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, (_TooComplex, LimitReachedError, RecursionError, MemoryError)):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _expanded_size(stream: EncodedStreamObject) -> int:
    """The size of the stream once its compression is undone, counted without keeping it.

    A picture may expand to what its width and height need; anything else to 32 MB.
    Beyond that (or past MAX_PIXELS) it raises _TooComplex. Picture codecs (JPEG, JPEG
    2000, fax, JBIG2) are not run: their output is bounded by the pixel count.
    """
    limit = _MAX_PDF_STREAM_BYTES
    if stream.get("/Subtype") == "/Image":
        width, height = stream.get("/Width"), stream.get("/Height")
        width = width.get_object() if isinstance(width, IndirectObject) else width
        height = height.get_object() if isinstance(height, IndirectObject) else height
        if isinstance(width, int) and isinstance(height, int):
            if width * height > MAX_PIXELS:
                raise _TooComplex("picture of more than MAX_PIXELS")
            # Up to four 16-bit samples a pixel, plus a predictor byte a row.
            limit = max(limit, width * height * 8 + height)
    filters = stream.get("/Filter")
    filters = filters.get_object() if isinstance(filters, IndirectObject) else filters
    names = [filters] if isinstance(filters, NameObject) else list(filters or [])
    data = stream._data
    try:
        for name in names:
            if name in ("/ASCIIHexDecode", "/AHx"):
                data = ASCIIHexDecode.decode(data)  # text encodings only ever shrink
            elif name in ("/ASCII85Decode", "/A85"):
                data = ASCII85Decode.decode(data)
            elif name in ("/FlateDecode", "/Fl"):
                return _inflated_size(data, limit)
            elif name in ("/LZWDecode", "/LZW", "/RunLengthDecode", "/RL"):
                decoder = LZWDecode if "LZW" in name else RunLengthDecode
                with apply_configuration(
                    lzw_maximum_output_length=limit, run_length_maximum_output_length=limit
                ):
                    return len(decoder.decode(data))
            else:
                break
    except Exception as exc:
        if _over_a_limit(exc):
            raise
        # A damaged stream: viewers show what they can of it, and so much is harmless.
    return len(data)


def _inflated_size(data: bytes, limit: int) -> int:
    """How many bytes zlib data inflates to, a megabyte at a time; _TooComplex past limit."""
    inflater = zlib.decompressobj()
    produced = 0
    pending = data
    try:
        while pending and not inflater.eof:
            produced += len(inflater.decompress(pending, _READ_CHUNK))
            if produced > limit:
                raise _TooComplex("stream inflates past its limit")
            pending = inflater.unconsumed_tail
    except zlib.error:
        pass  # damaged from here on: a viewer stops here too
    return produced


def _is_active(obj: Any, depth: int) -> bool:
    """Whether this object, or a direct object nested in it, is active content."""
    if depth > _PDF_MAX_DEPTH:
        return True
    if isinstance(obj, DictionaryObject):  # includes streams, whose dictionary this is
        for key, value in obj.items():
            if key in _PDF_DANGEROUS_KEYS:
                return True
            if (
                key in ("/S", "/Subtype", "/Type")
                and isinstance(value, NameObject)
                and value in _PDF_DANGEROUS_VALUES
            ):
                return True
            if key == "/URI" and _unsafe_uri(value):
                return True
            # Indirect references are visited on their own, in the caller's loop.
            if not isinstance(value, IndirectObject) and _is_active(value, depth + 1):
                return True
        return False
    if isinstance(obj, ArrayObject):
        return any(
            not isinstance(item, IndirectObject) and _is_active(item, depth + 1) for item in obj
        )
    return False


def _unsafe_uri(value: Any) -> bool:
    """Whether a link target has a scheme other than http, https or mailto."""
    if isinstance(value, IndirectObject):
        value = value.get_object()
    if isinstance(value, ByteStringObject):
        value = bytes(value).decode("latin-1")
    if not isinstance(value, (TextStringObject, str)):
        return False  # the catalogue's /URI dictionary (a base address), not a link
    # Browsers drop spaces and control characters inside a scheme ("java\tscript:").
    cleaned = "".join(char for char in value if char > " ").lower()
    match = _URI_SCHEME.match(cleaned)
    return match is not None and match.group(1) not in _PDF_SAFE_URI_SCHEMES


def _raw_active_content(data: bytes) -> bool:
    """A byte-level search for active-content names, in case the parser missed an object."""
    if _RAW_DANGEROUS.search(data):
        return True
    return bool(_RAW_DANGEROUS_OUTSIDE_STREAMS.search(_RAW_STREAM.sub(b"stream endstream", data)))


# --- writing ----------------------------------------------------------------------------


def _write_all(
    folder: str,
    key: str,
    data: bytes,
    thumbnail_key: str | None,
    thumbnail: bytes | None,
    field: str,
) -> None:
    """Write the file and its preview, both or neither; a failure becomes ValidationFailed."""
    written: list[str] = []
    try:
        # 0o700: the folder holds people's receipts and certificates, nobody else's business.
        Path(folder).mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_atomic(folder, key, data)
        written.append(key)
        if thumbnail_key is not None and thumbnail is not None:
            _write_atomic(folder, thumbnail_key, thumbnail)
            written.append(thumbnail_key)
    except OSError:
        logger.exception("upload could not be written to %s", folder)
        for done in written:
            with contextlib.suppress(OSError):
                delete_stored(folder, done)
        raise ValidationFailed.single(
            field, _l("The file could not be saved. Nothing was stored: please try again.")
        ) from None


def _write_atomic(folder: str, key: str, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename: never a half-written file."""
    # mkstemp creates the file with mode 0o600, and in the same folder so that the
    # rename stays on one file system (and therefore atomic).
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path_of(folder, key))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _safe_name(filename: str | None) -> str:
    """The client's file name without any path, at most 255 characters, never empty."""
    # Old browsers and some apps send a whole client path (C:\Users\…\scan.pdf); only
    # its last part is the name. secure_filename then keeps ASCII letters, digits, "._-".
    # A NUL ends the name for C-based tools ("scan.jpg\0.php" is "scan.jpg" to them), so
    # whatever follows it is not part of the name anyone will see.
    name = secure_filename(PureWindowsPath((filename or "").split("\x00", 1)[0]).name)
    if len(name) > 255:
        # Keep the extension, which tells a person what the file was.
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 16 and stem:
            name = f"{stem[: 255 - len(extension) - 1]}.{extension}"
        else:
            name = name[:255]
    return name or "upload"


def _megabytes(max_bytes: int) -> str:
    """The limit in MB as people write it: "10", or "2.5" for a limit that is not whole."""
    megabytes = max_bytes / (1024 * 1024)
    if megabytes >= 1 and megabytes == int(megabytes):
        return str(int(megabytes))
    return f"{megabytes:.2f}".rstrip("0").rstrip(".") or "0"
