"""Spreadsheets that come out byte for byte the same each time they are generated."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime

from openpyxl import Workbook
from openpyxl.writer.excel import ExcelWriter

# Zip entries carry a timestamp; DOS dates cannot go before 1980.
_EPOCH = (1980, 1, 1, 0, 0, 0)


def workbook_bytes(workbook: Workbook, when: datetime) -> bytes:
    """Save ``workbook`` with ``when`` as its creation date and fixed zip timestamps.

    openpyxl stamps the document properties and every zip entry with the current time,
    so two exports of the same data would differ; a treasury comparing files (or a test)
    needs the same bytes for the same content.
    """
    stamp = when.replace(tzinfo=None, microsecond=0)
    workbook.properties.created = stamp
    workbook.properties.modified = stamp
    workbook.properties.creator = "Conciliazione voucher"
    raw = io.BytesIO()
    # ExcelWriter directly: ``Workbook.save`` would overwrite ``modified`` with the clock.
    ExcelWriter(workbook, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED)).save()
    return _fixed_zip(raw.getvalue())


def _fixed_zip(data: bytes) -> bytes:
    """Rewrite a zip archive with the same entries, in order, at a fixed timestamp."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=_EPOCH)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            target.writestr(entry, source.read(info.filename))
    return out.getvalue()
