"""Uploaded receipts: accepted by content only, cleaned, stored atomically, or refused cleanly.

Every fixture file is generated here with Pillow, pillow-heif, pypdf or by hand, so the
repository carries no binaries and each hostile case is visible in the test itself.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask_babel import force_locale
from PIL import Image, ImageDraw
from pypdf import PdfWriter
from pypdf.annotations import Link
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    TextStringObject,
)
from werkzeug.datastructures import FileStorage

from voucher import create_app
from voucher.services import uploads
from voucher.services.errors import ValidationFailed

MB = 1024 * 1024
LIMIT = 10 * MB


@pytest.fixture(scope="module")
def _app() -> Flask:
    # One small app for the module: these tests touch no database, so running them on
    # every configured backend (as the shared ``app`` fixture does) would only repeat them.
    return create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://"})


@pytest.fixture(autouse=True)
def english(_app: Flask) -> Iterator[None]:
    """A request context in English, so that lazy messages render and can be compared."""
    with _app.test_request_context(), force_locale("en"):
        yield


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    # Not created beforehand: store_upload must create it.
    return tmp_path / "uploads"


def upload(data: bytes, filename: str = "receipt.jpg", content_type: str = "image/jpeg"):
    return FileStorage(stream=io.BytesIO(data), filename=filename, content_type=content_type)


def store(folder: Path, data: bytes, filename: str = "receipt.jpg", **kwargs):
    return uploads.store_upload(upload(data, filename), str(folder), LIMIT, **kwargs)


def refusal(folder: Path, data: bytes, filename: str = "receipt.jpg", **kwargs) -> str:
    """Store, expect a refusal on the field, check that nothing is on disk; the message."""
    with pytest.raises(ValidationFailed) as caught:
        store(folder, data, filename, **kwargs)
    assert list(caught.value.errors) == [kwargs.get("field", "file")]
    assert files_in(folder) == []
    return str(caught.value.errors[kwargs.get("field", "file")][0])


def files_in(folder: Path) -> list[str]:
    """Everything in the folder, temporary files included."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- generated files --------------------------------------------------------------------


def jpeg_with_gps(size: tuple[int, int] = (3000, 2000), orientation: int = 6) -> bytes:
    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).rectangle((0, 0, size[0] // 4, size[1] // 4), fill="red")
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation: 6 = the camera was held in portrait
    exif[0x010F] = "PhoneMaker"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (45.0, 28.0, 1.5)  # Milan
    gps[3] = "E"
    gps[4] = (9.0, 11.0, 2.5)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif, comment=b"secret note", quality=90)
    return buffer.getvalue()


def png_with_alpha(size: tuple[int, int] = (400, 300)) -> bytes:
    image = Image.new("RGBA", size, (0, 0, 0, 0))  # fully transparent (black underneath)
    ImageDraw.Draw(image).rectangle((100, 100, 200, 200), fill=(0, 0, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def png_header_only(width: int, height: int, bit_depth: int = 8, colour: int = 0) -> bytes:
    """A PNG that declares a size, with one tiny IDAT: tests the check before decoding."""
    return _png(width, height, bit_depth, colour, zlib.compress(b"\x00" * 16))


def png_bomb(side: int = 20_000) -> bytes:
    """A valid one-colour 1-bit PNG of side x side pixels, small on disk (about 60 kB)."""
    row = b"\x00" + b"\x00" * ((side + 7) // 8)  # filter byte + one bit per pixel
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    return _png(side, side, 1, 0, idat)


def _png(width: int, height: int, bit_depth: int, colour: int, idat: bytes) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def pdf_bytes(writer: PdfWriter) -> bytes:
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def blank_pdf(pages: int = 1) -> PdfWriter:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    return writer


def javascript_action(script: str = "app.alert('hi')") -> DictionaryObject:
    return DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Action"),
            NameObject("/S"): NameObject("/JavaScript"),
            NameObject("/JS"): TextStringObject(script),
        }
    )


def raw_pdf(*objects: bytes) -> bytes:
    """A minimal PDF written by hand, with a correct cross-reference table.

    Object 1 must be the catalogue. Used where pypdf's writer would normalise away the
    trick under test (such as ``#xx`` escapes in names).
    """
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


RAW_PAGES = (
    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
)


# --- accepted ---------------------------------------------------------------------------


def test_jpeg_is_reencoded_upright_without_exif_and_gets_a_thumbnail(folder):
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # GPS is really there

    stored = store(folder, original, "IMG_0001.JPG")

    assert stored.content_type == "image/jpeg"
    assert stored.sha256 == hashlib.sha256(original).hexdigest()
    assert stored.original_filename == "IMG_0001.JPG"
    assert stored.storage_key.endswith(".jpg") and stored.thumbnail_key
    path = uploads.path_of(str(folder), stored.storage_key)
    data = path.read_bytes()
    assert stored.size_bytes == len(data)
    assert b"Exif" not in data and b"secret note" not in data and b"PhoneMaker" not in data
    with Image.open(path) as image:
        assert image.format == "JPEG"
        assert not image.getexif()
        assert "exif" not in image.info and "comment" not in image.info
        # Orientation 6: the 3000x2000 landscape pixels become a portrait, long side 2500.
        assert image.size == (1667, 2500)
        # The red corner was top-left in the sensor's frame; turned, it is top-right.
        assert image.getpixel((1600, 50))[0] > 200 and image.getpixel((1600, 50))[1] < 60
    with Image.open(uploads.path_of(str(folder), stored.thumbnail_key)) as thumbnail:
        assert thumbnail.format == "JPEG"
        assert max(thumbnail.size) <= 320
        assert not thumbnail.getexif()
    assert files_in(folder) == sorted([stored.storage_key, stored.thumbnail_key])


def test_files_and_folder_are_private(folder):
    stored = store(folder, jpeg_with_gps((400, 300)))
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for key in (stored.storage_key, stored.thumbnail_key):
        assert stat.S_IMODE(uploads.path_of(str(folder), key).stat().st_mode) == 0o600


def test_small_image_is_not_enlarged(folder):
    stored = store(folder, jpeg_with_gps((400, 300), orientation=1))
    with Image.open(uploads.path_of(str(folder), stored.storage_key)) as image:
        assert image.size == (400, 300)


def test_photo_with_corrupt_exif_is_accepted(folder):
    # Some phones and editors write broken EXIF; the metadata is dropped, the photo kept.
    buffer = io.BytesIO()
    broken_exif = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x05\x00\x12\x01\x03\x00"
    Image.new("RGB", (50, 40), "red").save(buffer, format="JPEG", exif=broken_exif)
    stored = store(folder, buffer.getvalue())
    with Image.open(uploads.path_of(str(folder), stored.storage_key)) as image:
        assert image.size == (50, 40)
        assert "exif" not in image.info


def test_png_with_alpha_becomes_a_jpeg_on_white(folder):
    stored = store(folder, png_with_alpha(), "scan.png")
    assert stored.content_type == "image/jpeg"
    assert stored.storage_key.endswith(".jpg")
    with Image.open(uploads.path_of(str(folder), stored.storage_key)) as image:
        assert image.mode == "RGB"
        assert image.size == (400, 300)
        assert all(channel > 240 for channel in image.getpixel((5, 5)))  # white, not black
        red, green, blue = image.getpixel((150, 150))
        assert blue > 200 and red < 40 and green < 40


def test_heic_is_accepted_and_converted(folder):
    pillow_heif = pytest.importorskip("pillow_heif")
    if not pillow_heif.libheif_info().get("HEIF"):
        pytest.skip("pillow-heif has no HEVC encoder here, so no HEIC can be generated")
    image = Image.new("RGB", (640, 480), "green")
    buffer = io.BytesIO()
    image.save(buffer, format="HEIF", quality=80)
    original = buffer.getvalue()
    assert original[4:12] == b"ftypheic"

    stored = store(folder, original, "IMG_0002.HEIC")

    assert stored.content_type == "image/jpeg"
    assert stored.sha256 == hashlib.sha256(original).hexdigest()
    with Image.open(uploads.path_of(str(folder), stored.storage_key)) as converted:
        assert converted.format == "JPEG"
        assert converted.size == (640, 480)
    assert stored.thumbnail_key


def test_pdf_is_stored_as_uploaded_without_thumbnail(folder):
    original = pdf_bytes(blank_pdf())
    stored = store(folder, original, "fattura.pdf")
    assert stored.content_type == "application/pdf"
    assert stored.thumbnail_key is None
    assert stored.storage_key.endswith(".pdf")
    assert stored.size_bytes == len(original)
    assert stored.sha256 == hashlib.sha256(original).hexdigest()
    assert uploads.path_of(str(folder), stored.storage_key).read_bytes() == original
    assert files_in(folder) == [stored.storage_key]


def test_pdf_with_links_and_an_opening_page_is_accepted(folder):
    # What office suites and invoicing software commonly write: not active content.
    writer = blank_pdf(2)
    writer.add_annotation(0, Link(rect=(50, 50, 200, 80), url="https://www.example.it/"))
    writer.add_annotation(0, Link(rect=(50, 100, 200, 130), target_page_index=1))
    writer._root_object[NameObject("/OpenAction")] = ArrayObject(
        [writer.pages[0].indirect_reference, NameObject("/Fit")]
    )
    stored = store(folder, pdf_bytes(writer), "fattura.pdf")
    assert stored.content_type == "application/pdf"


def test_pdf_of_thirty_pages_is_accepted(folder):
    assert store(folder, pdf_bytes(blank_pdf(30)), "a.pdf").content_type == "application/pdf"


def test_type_is_decided_by_content_not_by_name_or_client_type(folder):
    # A PDF called .jpg and announced as an image is still a PDF.
    stored = uploads.store_upload(
        upload(pdf_bytes(blank_pdf()), "photo.jpg", "image/jpeg"), str(folder), LIMIT
    )
    assert stored.content_type == "application/pdf"
    assert stored.storage_key.endswith(".pdf")


def test_path_traversal_in_the_name_is_harmless(folder):
    stored = store(folder, jpeg_with_gps((200, 100)), "../../etc/passwd.jpg")
    assert stored.original_filename == "passwd.jpg"
    assert "/" not in stored.storage_key and ".." not in stored.storage_key
    assert files_in(folder) == sorted([stored.storage_key, stored.thumbnail_key])
    assert not (folder.parent / "etc").exists()


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("ricevuta farmacia.pdf", "ricevuta_farmacia.pdf"),
        ("C:\\Users\\Mario\\scontrino.pdf", "scontrino.pdf"),
        ("/home/mario/Scansione 2024-05-01.PDF", "Scansione_2024-05-01.PDF"),
        ("scontrino caffè.jpg", "scontrino_caffe.jpg"),
        ("..", "upload"),
        ("???", "upload"),
        ("a" * 300 + ".pdf", "a" * 251 + ".pdf"),
    ],
)
def test_original_filename_is_sanitised(folder, filename, expected):
    assert store(folder, pdf_bytes(blank_pdf()), filename).original_filename == expected


def test_every_upload_gets_a_new_random_key(folder):
    data = pdf_bytes(blank_pdf())
    first, second = store(folder, data), store(folder, data)
    assert first.storage_key != second.storage_key
    assert first.sha256 == second.sha256  # the same receipt, recognisable as such


# --- refused ----------------------------------------------------------------------------

NOT_ACCEPTED = "This file type is not accepted"


def test_missing_file_is_refused(folder):
    with pytest.raises(ValidationFailed) as caught:
        uploads.store_upload(None, str(folder), LIMIT, field="certificate")
    assert list(caught.value.errors) == ["certificate"]
    assert "Choose a file" in str(caught.value.errors["certificate"][0])
    assert "Choose a file" in refusal(folder, b"data", filename="")


def test_empty_file_is_refused(folder):
    assert refusal(folder, b"", "receipt.jpg") == "The file is empty."


def test_oversize_file_is_refused_without_reading_it_all(folder):
    class CountingStream(io.BytesIO):
        read_bytes = 0

        def read(self, size: int | None = -1) -> bytes:
            chunk = super().read(size)
            CountingStream.read_bytes += len(chunk)
            return chunk

    data = pdf_bytes(blank_pdf()) + b" " * (3 * MB)
    stream = CountingStream(data)
    with pytest.raises(ValidationFailed) as caught:
        uploads.store_upload(FileStorage(stream=stream, filename="big.pdf"), str(folder), 2 * MB)
    assert CountingStream.read_bytes == 2 * MB + 1
    assert str(caught.value.errors["file"][0]) == (
        "The file is larger than 2 MB: upload a smaller one."
    )
    assert files_in(folder) == []


def test_limit_is_said_in_megabytes():
    assert str(uploads.accepted_hint(10 * MB)) == "A photo (JPEG, PNG, HEIC) or a PDF, up to 10 MB."
    assert str(uploads.accepted_hint(int(2.5 * MB))) == (
        "A photo (JPEG, PNG, HEIC) or a PDF, up to 2.5 MB."
    )
    assert str(uploads.ACCEPTED_HINT) == "A photo (JPEG, PNG, HEIC) or a PDF."


def test_file_of_exactly_the_limit_is_accepted(folder):
    data = pdf_bytes(blank_pdf())
    stored = uploads.store_upload(upload(data, "a.pdf"), str(folder), len(data))
    assert stored.size_bytes == len(data)


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("receipt.jpg", jpeg_with_gps((50, 50)))
    return buffer.getvalue()


def _gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), "red").save(buffer, format="GIF")
    return buffer.getvalue()


def _avif_like() -> bytes:
    # An ISO-BMFF file of the HEIF family that is not HEVC (here: AVIF brands).
    return struct.pack(">I", 24) + b"ftypavif" + b"\x00\x00\x00\x00" + b"mif1avif" + b"\x00" * 64


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("windows executable", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 56 + b"PE\x00\x00" * 8),
        ("html", b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"),
        (
            "svg with script",
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
            b"<script>alert(document.cookie)</script></svg>",
        ),
        ("gif", _gif()),
        ("zip", _zip()),
        ("plain text", b"just some text\n"),
        ("avif", _avif_like()),
        ("jpeg magic not at the start", b"\x00" + jpeg_with_gps((50, 50))),
    ],
)
def test_other_file_types_are_refused_whatever_their_name(folder, name, data):
    assert NOT_ACCEPTED in refusal(folder, data, "receipt.jpg")


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF\x00" + os.urandom(2000),  # header, then garbage
        jpeg_with_gps((800, 600))[:3000],  # a real photo, cut short in transit
        png_with_alpha()[:200],
        struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00mif1heic" + b"\x00" * 64,
    ],
    # (A PNG signature followed by HTML is in tests/hostile_corpus.py: a polyglot.)
    ids=["jpeg-garbage", "jpeg-truncated", "png-truncated", "heic-empty"],
)
def test_broken_images_are_refused(folder, data):
    assert refusal(folder, data).startswith("The image could not be read")


def test_decompression_bomb_is_refused_before_decoding(folder):
    bomb = png_bomb()
    assert len(bomb) < 200_000  # small on disk, 400 megapixels once decoded
    assert "megapixels" in refusal(folder, bomb, "bomb.png")


def test_pixel_limit_is_our_own_not_pillows_global(folder, monkeypatch):
    # Over our limit but under Pillow's own warning threshold; and even if that global
    # were raised (or disabled) elsewhere, our limit still holds.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    side = int((uploads.MAX_PIXELS * 1.1) ** 0.5)
    assert "megapixels" in refusal(folder, png_header_only(side, side), "big.png")


def test_pillows_bomb_warning_is_a_refusal_too(folder, monkeypatch):
    # If someone lowers Pillow's global below our limit, its warning must not slip by.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    assert "megapixels" in refusal(folder, jpeg_with_gps((100, 100)))


def test_encrypted_pdf_is_refused(folder):
    writer = blank_pdf()
    writer.encrypt(user_password="secret", owner_password="owner")
    assert "protected by a password" in refusal(folder, pdf_bytes(writer), "a.pdf")


ACTIVE = "scripts, automatic actions or attached files"


def test_pdf_with_open_action_javascript_is_refused(folder):
    writer = blank_pdf()
    writer._root_object[NameObject("/OpenAction")] = writer._add_object(javascript_action())
    assert ACTIVE in refusal(folder, pdf_bytes(writer), "a.pdf")


def test_pdf_with_open_action_to_a_website_is_refused(folder):
    writer = blank_pdf()
    writer._root_object[NameObject("/OpenAction")] = DictionaryObject(
        {NameObject("/S"): NameObject("/URI"), NameObject("/URI"): TextStringObject("https://x")}
    )
    assert ACTIVE in refusal(folder, pdf_bytes(writer), "a.pdf")


def test_pdf_with_a_page_additional_action_is_refused(folder):
    writer = blank_pdf()
    writer.pages[0][NameObject("/AA")] = DictionaryObject({NameObject("/O"): javascript_action()})
    assert ACTIVE in refusal(folder, pdf_bytes(writer), "a.pdf")


def test_pdf_with_document_javascript_is_refused(folder):
    writer = blank_pdf()
    scripts = DictionaryObject(
        {
            NameObject("/Names"): ArrayObject(
                [TextStringObject("init"), writer._add_object(javascript_action())]
            )
        }
    )
    writer._root_object[NameObject("/Names")] = DictionaryObject(
        {NameObject("/JavaScript"): writer._add_object(scripts)}
    )
    assert ACTIVE in refusal(folder, pdf_bytes(writer), "a.pdf")


def test_pdf_with_an_attachment_is_refused(folder):
    writer = blank_pdf()
    writer.add_attachment("invoice.exe", b"MZ\x90\x00")
    assert ACTIVE in refusal(folder, pdf_bytes(writer), "a.pdf")


def test_pdf_with_a_javascript_link_is_refused(folder):
    writer = blank_pdf()
    annotation = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Link"),
            NameObject("/Rect"): ArrayObject([NumberObject(n) for n in (0, 0, 100, 100)]),
            NameObject("/A"): javascript_action(),
        }
    )
    writer.pages[0][NameObject("/Annots")] = ArrayObject([writer._add_object(annotation)])
    assert ACTIVE in refusal(folder, pdf_bytes(writer), "a.pdf")


def test_pdf_with_xfa_form_is_refused(folder):
    writer = blank_pdf()
    writer._root_object[NameObject("/AcroForm")] = DictionaryObject(
        {NameObject("/Fields"): ArrayObject(), NameObject("/XFA"): ArrayObject()}
    )
    assert ACTIVE in refusal(folder, pdf_bytes(writer), "a.pdf")


def test_pdf_with_escaped_names_is_refused(folder):
    # "/J#61vaScript" is "/JavaScript" to a viewer; a byte search alone would miss it.
    data = raw_pdf(
        b"<< /Type /Catalog /Pages 2 0 R /Open#41ction 4 0 R >>",
        *RAW_PAGES,
        b"<< /S /J#61vaScript /J#53 (app.alert(1)) >>",
    )
    assert b"/JavaScript" not in data and b"/JS" not in data
    assert ACTIVE in refusal(folder, data, "a.pdf")


def test_pdf_with_script_in_an_unreferenced_object_is_refused(folder):
    # Object 4 hangs from nothing, but a viewer that rebuilds the file may still find it.
    data = raw_pdf(
        b"<< /Type /Catalog /Pages 2 0 R >>",
        *RAW_PAGES,
        b"<< /S /JavaScript /JS (app.alert(1)) >>",
    )
    assert ACTIVE in refusal(folder, data, "a.pdf")
    clean = raw_pdf(b"<< /Type /Catalog /Pages 2 0 R >>", *RAW_PAGES)
    assert store(folder, clean, "a.pdf").content_type == "application/pdf"


def test_pdf_with_too_many_pages_is_refused(folder):
    assert "more than 30 pages" in refusal(folder, pdf_bytes(blank_pdf(31)), "a.pdf")


def test_pdf_with_too_many_objects_is_refused(folder):
    filler = [b"<< /A [1 2 3] >>"] * uploads.MAX_PDF_OBJECTS
    data = raw_pdf(b"<< /Type /Catalog /Pages 2 0 R >>", *RAW_PAGES, *filler)
    assert "too complex" in refusal(folder, data, "a.pdf")


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.4\n<html><body><script>alert(1)</script></body></html>\n",
        b"%PDF-1.4\n<html><script>alert(1)</script></html>\n%%EOF\n",
        pdf_bytes(blank_pdf()) + b"<html><script>alert(1)</script></html>",
        pdf_bytes(blank_pdf()) + _zip(),
    ],
    ids=["pdf-then-html", "pdf-html-eof", "valid-pdf-html", "valid-pdf-zip"],
)
def test_polyglot_pdfs_are_refused(folder, data):
    assert refusal(folder, data, "a.pdf").startswith("The file also contains web page code")


@pytest.mark.parametrize(
    "data",
    [
        pdf_bytes(blank_pdf())[:400],
        b"%PDF-1.7\n" + os.urandom(3000),
        pdf_bytes(blank_pdf()) + b"trailing junk",
    ],
    ids=["cut", "garbage", "junk-after-eof"],
)
def test_broken_pdfs_are_refused(folder, data):
    assert refusal(folder, data, "a.pdf").startswith("The PDF could not be read")


def test_pdf_without_pages_is_refused(folder):
    data = raw_pdf(b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>")
    assert refusal(folder, data, "a.pdf").startswith("The PDF could not be read")


# --- writing failures -------------------------------------------------------------------

SAVE_FAILED = "The file could not be saved. Nothing was stored: please try again."


def test_disk_full_leaves_nothing_and_says_so(folder, monkeypatch):
    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_space)
    assert refusal(folder, jpeg_with_gps((400, 300))) == SAVE_FAILED
    assert folder.exists()  # the folder was made; only the files are gone


def test_failure_on_the_thumbnail_removes_the_main_file(folder, monkeypatch):
    real_replace = os.replace
    calls = []

    def second_fails(source, target):
        calls.append(target)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", second_fails)
    assert refusal(folder, jpeg_with_gps((400, 300))) == SAVE_FAILED
    assert len(calls) == 2


def test_unwritable_folder_is_a_refusal(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_bytes(b"")
    with pytest.raises(ValidationFailed) as caught:
        uploads.store_upload(upload(pdf_bytes(blank_pdf()), "a.pdf"), str(blocker / "x"), LIMIT)
    assert str(caught.value.errors["file"][0]) == SAVE_FAILED


# --- keys, paths, deletion --------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "../x",
        "../" + "a" * 32 + ".jpg",
        "/etc/passwd",
        "a" * 32 + ".jpg/../../x",
        "a" * 32 + ".exe",
        "A" * 32 + ".jpg",  # our keys are lower-case hex
        "g" * 32 + ".jpg",
        "a" * 31 + ".jpg",
        "a" * 32 + ".jpg\n",
        "a" * 32 + "-thumb.pdf",
        "",
    ],
)
def test_path_of_refuses_keys_that_are_not_ours(tmp_path, key):
    with pytest.raises(ValueError):
        uploads.path_of(str(tmp_path), key)


def test_path_of_and_delete_stored(folder):
    stored = store(folder, jpeg_with_gps((400, 300)))
    path = uploads.path_of(str(folder), stored.storage_key)
    assert path == folder / stored.storage_key and path.is_file()

    uploads.delete_stored(str(folder), stored.storage_key)
    uploads.delete_stored(str(folder), stored.thumbnail_key)
    assert files_in(folder) == []
    uploads.delete_stored(str(folder), stored.storage_key)  # already gone: no error
    uploads.delete_stored(str(folder), None)
    with pytest.raises(ValueError):
        uploads.delete_stored(str(folder), "../../etc/passwd")
