"""Hostile files, generated at test time (never committed): zip bombs, endless rows, endless columns.

Each generator writes a small file quickly (well under a second for the sizes the
tests use) and streams what it writes, so generating a bomb never needs the memory
the bomb would take to read. ``python -m tests.hostile_files bomb out.xlsx --unpacked-mb 1024``
builds the full-size bomb of the issue (1 MB packed, 1 GB of shared strings) by hand.
"""

from __future__ import annotations

import argparse
import json
import zipfile
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "xlsx_parts",
    "xlsx_bomb",
    "xlsx_many_rows",
    "xlsx_huge_dimension",
    "xlsx_wide_row",
    "xlsx_sparse_rows",
    "csv_many_rows",
    "csv_wide_header",
    "json_many_records",
    "json_wide_record",
]

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
    f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_CT}.worksheet+xml"/>'
    f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_CT}.sharedStrings+xml"/>'
    "</Types>"
)
_ROOT_RELS = (f'<Relationships xmlns="{_PKG_REL}"><Relationship Id="rId1" '
              f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WORKBOOK = (f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
             '<sheet name="sessions" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WORKBOOK_RELS = (f'<Relationships xmlns="{_PKG_REL}">'
                  f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
                  f'<Relationship Id="rId2" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/>'
                  "</Relationships>")
_HEADER = ["patient_id", "performed_at", "exercise", "side", "sets", "reps", "hold_s"]


def _inline(col: int, row: int, text: str) -> str:
    return f'<c r="{_letters(col)}{row}" t="inlineStr"><is><t>{text}</t></is></c>'


def _letters(col: int) -> str:
    out = ""
    while col:
        col, rem = divmod(col - 1, 26)
        out = chr(65 + rem) + out
    return out


def _header_row() -> str:
    return '<row r="1">' + "".join(_inline(i + 1, 1, h) for i, h in enumerate(_HEADER)) + "</row>"


def _data_row(r: int) -> str:
    day = 1 + (r % 28)
    return (f'<row r="{r}">' + _inline(1, r, "P001") + _inline(2, r, f"2026-01-{day:02d} 08:00")
            + _inline(3, r, "knee_to_chest") + _inline(4, r, "left")
            + f'<c r="E{r}"><v>1</v></c><c r="F{r}"><v>10</v></c><c r="G{r}"><v>5</v></c></row>')


def xlsx_parts(path: Path, sheet: Iterable[str], shared: Iterable[str] = (),
               dimension: str | None = None, level: int = 6) -> Path:
    """Write a minimal valid workbook whose worksheet XML and shared strings come from the given chunks."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _ROOT_RELS)
        z.writestr("xl/workbook.xml", _WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        with z.open("xl/sharedStrings.xml", "w", force_zip64=True) as fh:
            fh.write(f'<sst xmlns="{_MAIN}">'.encode())
            for chunk in shared:
                fh.write(chunk.encode())
            fh.write(b"</sst>")
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            fh.write(f'<worksheet xmlns="{_MAIN}">'.encode())
            if dimension:
                fh.write(f'<dimension ref="{dimension}"/>'.encode())
            fh.write(b"<sheetData>")
            for chunk in sheet:
                fh.write(chunk.encode())
            fh.write(b"</sheetData></worksheet>")
    return path


def xlsx_bomb(path: Path, unpacked_mb: float, *, string_chars: int = 1 << 20) -> Path:
    """A workbook of one header row whose shared-strings part unpacks to ``unpacked_mb`` MB (about 1000 to 1).

    The part holds texts of ``string_chars`` letters ``A`` (default 1 MiB each: long runs of one byte are
    what deflate packs best, about 1000 to 1).
    """
    text = "A" * min(string_chars, 1 << 20)
    per_string = max(string_chars // len(text), 1)
    copies = max(int(unpacked_mb * 1024 * 1024) // (per_string * len(text) + 17), 1)

    def shared() -> Iterable[str]:
        for _ in range(copies):
            yield "<si><t>"
            for _ in range(per_string):
                yield text
            yield "</t></si>"

    return xlsx_parts(path, [_header_row()], shared(), level=9)


def xlsx_many_rows(path: Path, n_rows: int) -> Path:
    """A valid sessions workbook with ``n_rows`` data rows (inline strings)."""
    return xlsx_parts(path, [_header_row(), *(_data_row(r) for r in range(2, n_rows + 2))])


def xlsx_huge_dimension(path: Path, n_rows: int) -> Path:
    """A workbook declaring A1:XFD1048576 (16,384 columns) and ``n_rows`` ordinary rows (padding: 16,384 wide)."""
    return xlsx_parts(path, [_header_row(), *(_data_row(r) for r in range(2, n_rows + 2))],
                      dimension="A1:XFD1048576")


def xlsx_wide_row(path: Path, n_rows: int) -> Path:
    """Ordinary rows, each with one more value in column XFD (16,384)."""
    return xlsx_parts(path, [_header_row(), *(_data_row(r)[:-6] + f'<c r="XFD{r}"><v>1</v></c></row>'
                                              for r in range(2, n_rows + 2))])


def xlsx_sparse_rows(path: Path) -> Path:
    """A header, one row, and one row numbered 1,048,576: a reader that fills the gap makes a million rows."""
    return xlsx_parts(path, [_header_row(), _data_row(2), _data_row(1_048_576)])


def csv_many_rows(path: Path, n_rows: int) -> Path:
    """A valid sessions CSV with ``n_rows`` rows."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(_HEADER) + "\n")
        line = "P001,2026-01-05 08:00,knee_to_chest,left,1,10,5\n"
        block = line * 10_000
        for _ in range(n_rows // 10_000):
            fh.write(block)
        fh.write(line * (n_rows % 10_000))
    return path


def csv_wide_header(path: Path, n_columns: int) -> Path:
    """A CSV whose header has ``n_columns`` one-letter columns, and one row."""
    with path.open("w", encoding="utf-8") as fh:
        fh.write(",".join("a" for _ in range(n_columns)) + "\n")
        fh.write(",".join("1" for _ in range(n_columns)) + "\n")
    return path


def json_many_records(path: Path, n_records: int, *, empty: bool = False) -> Path:
    """A JSON list of ``n_records`` pain records (or of empty objects ``{}``, the cheapest record to write)."""
    record = "{}" if empty else json.dumps({"patient_id": "P001", "recorded_at": "2026-01-05 20:00", "nprs": 4})
    with path.open("w", encoding="utf-8") as fh:
        fh.write("[")
        block = ",".join([record] * 10_000)
        full, rest = divmod(n_records, 10_000)
        parts = [block] * full + ([",".join([record] * rest)] if rest else [])
        fh.write(",".join(parts))
        fh.write("]")
    return path


def json_wide_record(path: Path, n_keys: int) -> Path:
    """One JSON record with ``n_keys`` distinct keys."""
    path.write_text("[{" + ",".join(f'"k{i}": 1' for i in range(n_keys)) + "}]", encoding="utf-8")
    return path


def main() -> None:  # pragma: no cover - a tool for measuring by hand
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="what", required=True)
    bomb = sub.add_parser("bomb", help="an .xlsx whose shared strings unpack to UNPACKED_MB")
    bomb.add_argument("out", type=Path)
    bomb.add_argument("--unpacked-mb", type=float, default=1024)
    rows = sub.add_parser("rows", help="an .xlsx with N rows")
    rows.add_argument("out", type=Path)
    rows.add_argument("--rows", type=int, default=14_700_000)
    args = parser.parse_args()
    if args.what == "bomb":
        xlsx_bomb(args.out, args.unpacked_mb)
    else:
        xlsx_many_rows(args.out, args.rows)
    print(f"{args.out}: {args.out.stat().st_size / 1048576:.2f} MB")


if __name__ == "__main__":  # pragma: no cover
    main()
