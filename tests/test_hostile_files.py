"""Hostile input files: each is refused with one clear message, or read safely (issue 14).

Renamed, legacy, empty and truncated files, archives that are not spreadsheets, zip bombs (by
declared size, by number of parts, and by sizes that lie), and macro-enabled workbooks, whose
data are read and whose macros never run. The CLI exits 2 with one line and no traceback.
"""

from __future__ import annotations

import shutil
import struct
import time
import zipfile
from pathlib import Path

import broken_workbooks as bw
import pytest

from hta.app.cli import main
from hta.excel import archive
from hta.excel.reader import read_inputs, validate

EXPECTED = "an Excel workbook (.xlsx) that can be opened"


def _only_problem(path: Path):
    problems = validate(path)
    assert len(problems) == 1, problems
    problem = problems[0]
    assert problem.workbook == path.name and problem.expected == EXPECTED
    return problem


def _rezip(source: Path, target: Path, extra: dict[str, bytes] | None = None) -> Path:
    """Copy the parts of ``source`` into a new archive ``target``, adding ``extra`` parts."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
        for name, data in (extra or {}).items():
            dst.writestr(name, data)
    return target


@pytest.fixture()
def valid(tmp_path) -> Path:
    return bw.valid_workbook(tmp_path)


@pytest.mark.parametrize(
    "content, found",
    [
        (b"", "an empty file"),
        (b"time,survival\n0,1\n", "a text file (it starts 'time,survival')"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "legacy Excel 97-2003 (.xls)"),
        (bytes(range(256)), "a binary file that is not a zip archive"),
    ],
    ids=["empty", "csv-renamed", "legacy-xls", "binary"],
)
def test_files_that_are_not_zip_archives(tmp_path, content, found):
    path = tmp_path / "inputs.xlsx"
    path.write_bytes(content)
    assert found in _only_problem(path).found


def test_truncated_download(tmp_path, valid):
    path = tmp_path / "truncated.xlsx"
    path.write_bytes(valid.read_bytes()[: valid.stat().st_size // 2])
    assert "truncated" in _only_problem(path).found or "damaged" in _only_problem(path).found


def test_zip_archive_that_is_not_a_spreadsheet(tmp_path):
    path = tmp_path / "photos.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "not a workbook")
    assert "not a spreadsheet" in _only_problem(path).found


def test_zip_bomb_is_refused_without_being_expanded(tmp_path, valid):
    # 200 MiB of zeros deflate to about 200 KiB: refused from the archive's directory alone.
    path = _rezip(valid, tmp_path / "bomb.xlsx", {"xl/media/image1.bin": b"\0" * (200 * 2**20)})
    assert path.stat().st_size < 2**20
    started = time.perf_counter()
    problem = _only_problem(path)
    assert time.perf_counter() - started < 2.0
    assert "expands to 200 MiB (at most 50 MiB are read)" in problem.found


def test_archive_whose_sizes_lie_is_refused(tmp_path, valid):
    # A part that declares 1,000 bytes but inflates to 10 MB: zipfile stops at the declared
    # size and the CRC fails; the reader never hands the file to openpyxl.
    source = _rezip(valid, tmp_path / "honest.xlsx", {"xl/media/a.bin": b"\0" * 10_000_000})
    data = bytearray(source.read_bytes())
    central = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 1000)  # uncompressed size in the central directory
    local = data.rfind(b"PK\x03\x04", 0, data.rfind(b"xl/media/a.bin", 0, central) + 1)
    struct.pack_into("<I", data, local + 22, 1000)  # and in the local header
    path = tmp_path / "liar.xlsx"
    path.write_bytes(bytes(data))
    assert "damaged zip archive" in _only_problem(path).found


def test_too_many_parts(tmp_path, valid, monkeypatch):
    monkeypatch.setattr(archive, "MAX_MEMBERS", 5)
    assert "parts (at most 5 are read)" in _only_problem(valid).found


def test_size_limit_applies_to_the_whole_archive(tmp_path, valid, monkeypatch):
    monkeypatch.setattr(archive, "MAX_UNCOMPRESSED_BYTES", 1024)
    assert "KiB (at most 1.0 KiB are read)" in _only_problem(valid).found


def test_macro_enabled_workbook_is_read_and_its_macros_never_run(tmp_path, valid):
    macro = b"Attribute VB_Name = \"Module1\"\nSub Auto_Open(): Kill \"C:\\*.*\": End Sub\n"
    path = _rezip(valid, tmp_path / "inputs.xlsm", {"xl/vbaProject.bin": macro})
    assert validate(path) == []
    with_macro, plain = read_inputs(path), read_inputs(valid)
    assert with_macro.parameters.to_frame().equals(plain.parameters.to_frame())


def test_cli_refuses_a_zip_bomb_with_one_line_and_no_files(tmp_path, valid, capsys):
    path = _rezip(valid, tmp_path / "bomb.xlsx", {"xl/media/image1.bin": b"\0" * (200 * 2**20)})
    code = main(["validate", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "bomb.xlsx" in err and "expands to 200 MiB" in err
    out = tmp_path / "results"
    scenario = tmp_path / "scenario.py"
    scenario.write_text(
        "from hta.excel.reader import read_inputs\n"
        f"def run(context):\n    read_inputs({str(path)!r})\n"
    )
    assert main(["run", str(scenario), "--out", str(out)]) == 2
    assert not out.exists()


def test_a_directory_named_like_a_workbook(tmp_path):
    folder = tmp_path / "inputs.xlsx"
    folder.mkdir()
    problems = validate(folder)
    assert len(problems) == 1 and "a folder" in problems[0].found
    shutil.rmtree(folder)
