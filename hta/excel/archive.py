"""Is this file a workbook we can safely open? Checks made before any part is parsed.

An .xlsx workbook is a zip archive of XML parts. Workbooks arrive from companies, colleagues
and old versions of ourselves, so before the reader parses one it checks, in order:

1. the file is a zip archive at all (a CSV renamed .xlsx, a legacy .xls, a truncated download
   each get their own message);
2. it holds at most ``MAX_MEMBERS`` parts whose declared sizes add up to at most
   ``MAX_UNCOMPRESSED_BYTES`` (this bounds the memory the reader can need);
3. every part really inflates to no more than its declared size and its CRC checks: each part
   is inflated once, in bounded chunks, and reading stops at the limit, so a zip bomb (a small
   file that expands enormously, or one whose directory lies about its sizes) is refused
   without ever being expanded;
0. before anything else, the file is at most ``MAX_FILE_BYTES`` (64 MiB) on disk; a file that
   is not a zip archive is identified from its first and last 64 KiB only, never read whole
   (an encrypted, password-protected workbook is an OLE2 file with an ``EncryptedPackage``
   stream, and is named as such);
4. it has the parts of a spreadsheet (``[Content_Types].xml`` and ``xl/workbook.xml``).

Macro-enabled workbooks (.xlsm, or any workbook with ``xl/vbaProject.bin``) are read for their
data; their macros are never run (the reader (hta.excel.xlsx) never parses xl/vbaProject.bin).

``check_archive`` returns None for an acceptable file, or a short description of what was found
for the reader to put in its one-line problem report.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

#: The largest total uncompressed size of a workbook's parts, in bytes (50 MiB). The flagship
#: input workbook is about 0.1 MiB unzipped; the reader (hta.excel.xlsx) streams each part and
#: bounds what it keeps by rows and cells; this limit bounds the time spent inflating and checking
#: the parts (about 0.3 s for 50 MiB).
MAX_UNCOMPRESSED_BYTES = 50 * 1024 * 1024
#: The largest number of parts in a workbook archive.
MAX_MEMBERS = 10_000
#: The largest workbook file read, in bytes (64 MiB): larger files are refused from their size
#: alone, before any byte is read (a workbook within MAX_UNCOMPRESSED_BYTES is never larger).
MAX_FILE_BYTES = 64 * 1024 * 1024
#: How much of a file is read to tell what it is (its first bytes, and for an OLE2 file the
#: stream names of its directory, which say whether it is an encrypted workbook).
_SNIFF_BYTES = 64 * 1024
_ENCRYPTED = ("EncryptedPackage".encode("utf-16-le"), "EncryptionInfo".encode("utf-16-le"))
_CHUNK = 1024 * 1024
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls (and other OLE2 files)


def _size(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB" if n >= 2**20 else f"{n / 1024:,.1f} KiB"


def _sniff(path: Path) -> tuple[bytes, bytes]:
    """The first and last :data:`_SNIFF_BYTES` of a file (never the whole of a large file)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(_SNIFF_BYTES)
        if size > 2 * _SNIFF_BYTES:
            f.seek(size - _SNIFF_BYTES)
            tail = f.read(_SNIFF_BYTES)
        else:
            tail = b""
    return head, tail


def _describe_start(path: Path) -> str:
    data, tail = _sniff(path)
    head = data[:64]
    if not head:
        return "an empty file"
    if head.startswith(_OLE_MAGIC):
        if any(marker in data or marker in tail for marker in _ENCRYPTED):
            return ("a password-protected (encrypted) workbook: remove the password in Excel "
                    "(File > Info > Protect Workbook) and save it again as .xlsx")
        return "a legacy Excel 97-2003 (.xls) or other OLE2 file: save it as .xlsx"
    if head.startswith(b"PK"):
        return "a damaged or truncated zip archive (no central directory)"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or any(not (c.isprintable() or c in "\t\r\n") for c in text):
        return "a binary file that is not a zip archive"
    first = text.splitlines()[0][:40] if text.strip() else ""
    return f"a text file (it starts '{first}')"


def check_archive(path: Path) -> str | None:
    """None if ``path`` is a zip archive safe to parse; else what was found instead."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        return f"a file that cannot be read ({type(exc).__name__})"
    if size > MAX_FILE_BYTES:
        return f"a file of {_size(size)} (at most {_size(MAX_FILE_BYTES)} are read)"
    try:
        is_zip = zipfile.is_zipfile(path)
    except OSError as exc:
        return f"a file that cannot be read ({type(exc).__name__})"
    if not is_zip:
        return _describe_start(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > MAX_MEMBERS:
                return f"an archive of {len(members):,} parts (at most {MAX_MEMBERS:,} are read)"
            declared = sum(m.file_size for m in members)
            if declared > MAX_UNCOMPRESSED_BYTES:
                return (f"an archive that expands to {_size(declared)} "
                        f"(at most {_size(MAX_UNCOMPRESSED_BYTES)} are read)")
            names = {m.filename for m in members}
            if not {"[Content_Types].xml", "xl/workbook.xml"} <= names:
                return "a zip archive that is not a spreadsheet (no xl/workbook.xml part)"
            total = 0
            for member in members:
                inflated = 0
                with archive.open(member) as stream:
                    while chunk := stream.read(_CHUNK):
                        inflated += len(chunk)
                        total += len(chunk)
                        if inflated > member.file_size or total > MAX_UNCOMPRESSED_BYTES:
                            return (f"an archive whose part '{member.filename}' expands beyond its declared "
                                    f"size or beyond {_size(MAX_UNCOMPRESSED_BYTES)} in all (a zip bomb?)")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError, ValueError) as exc:
        return f"a damaged zip archive ({exc})"
    return None
