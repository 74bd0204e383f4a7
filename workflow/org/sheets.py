"""Reading HR's sheet (XLSX with openpyxl, or CSV in UTF-8 with or without BOM, or GB18030)
into rows of named columns, with each row's number as the spreadsheet shows it.

Columns are found by their header, in Chinese or English (``姓名``/``name``, ``手机``/``mobile``
…), in any order; other columns are ignored. A file too large, with too many rows, that is no
spreadsheet, or a broken XLSX is refused with one clear sentence (``InvalidAction``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from workflow.errors import InvalidAction
from workflow.refusals import Size, quoted

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
#: header (lower-cased, spaces removed) → the column it is
HEADERS = {
    "姓名": "name", "名字": "name", "name": "name", "realname": "name",
    "手机": "mobile", "手机号": "mobile", "手机号码": "mobile", "mobile": "mobile",
    "phone": "mobile", "移动电话": "mobile",
    "邮箱": "email", "电子邮箱": "email", "电子邮件": "email", "email": "email",
    "e-mail": "email", "mail": "email",
    "部门": "unit", "单位": "unit", "所属部门": "unit", "unit": "unit", "department": "unit",
    "职务": "post", "岗位": "post", "职位": "post", "position": "post", "post": "post",
    "title": "post",
    "角色": "roles", "roles": "roles", "role": "roles",
    "登录名": "login", "账号": "login", "用户名": "login", "login": "login",
}  # fmt: skip
REQUIRED = ("name", "mobile", "unit")
#: the formats a refusal names
FORMATS = ("XLSX", "CSV")


@dataclass(frozen=True)
class SheetRow:
    #: the row's number in the sheet (the header is a row too)
    number: int
    values: dict[str, str]


def _cell(value: Any) -> str:
    """A cell as text: a whole number without ``.0`` (a mobile typed as a number)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_sheet(data: bytes, filename: str) -> list[SheetRow]:
    """The rows below the header, each with the columns found; refused as the module says."""
    if len(data) > MAX_BYTES:
        raise InvalidAction("import_too_large", limit=Size(MAX_BYTES))
    if not data.strip():
        raise InvalidAction("import_empty")
    name = (filename or "").lower()
    if data[:4] == b"PK\x03\x04" or name.endswith((".xlsx", ".xlsm")):
        lines = _xlsx(data)
    elif name.endswith((".csv", ".txt")) or not name:
        lines = _csv(data)
    else:
        raise InvalidAction("import_not_sheet", name=quoted(filename), formats=FORMATS)
    return _rows(lines)


def _rows(lines: Iterator[tuple[int, list[str]]]) -> list[SheetRow]:
    columns: dict[int, str] | None = None
    rows: list[SheetRow] = []
    for number, cells in lines:
        if not any(cells):
            continue
        if columns is None:
            columns = _header(cells)
            continue
        values = {key: cells[i] if i < len(cells) else "" for i, key in columns.items()}
        rows.append(SheetRow(number, values))
        if len(rows) > MAX_ROWS:
            raise InvalidAction("import_too_many_rows", limit=MAX_ROWS)
    if columns is None:
        raise InvalidAction("import_empty")
    return rows


def _header(cells: list[str]) -> dict[int, str]:
    columns: dict[int, str] = {}
    for i, cell in enumerate(cells):
        key = HEADERS.get("".join(cell.split()).lower().lstrip("\ufeff"))
        if key is not None and key not in columns.values():
            columns[i] = key
    missing = [key for key in REQUIRED if key not in columns.values()]
    if missing:
        raise InvalidAction("import_columns_missing", missing=[HEADER_NAMES[k] for k in missing])
    return columns


#: how a refusal names a missing column: both headers it would accept
HEADER_NAMES = {"name": "姓名/name", "mobile": "手机/mobile", "unit": "部门/unit"}


def _xlsx(data: bytes) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file (zip, XML, keys)
        raise InvalidAction("import_broken_xlsx") from exc
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None:
            raise InvalidAction("import_empty")
        lines = []
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            lines.append((number, [_cell(v) for v in row]))
            if number > MAX_ROWS + 50:
                raise InvalidAction("import_too_many_rows", limit=MAX_ROWS)
    except InvalidAction:
        raise
    except Exception as exc:  # a sheet whose XML is damaged
        raise InvalidAction("import_broken_xlsx") from exc
    finally:
        book.close()
    return iter(lines)


def _csv(data: bytes) -> Iterator[tuple[int, list[str]]]:
    if b"\x00" in data:
        raise InvalidAction("import_not_sheet", name=quoted("?"), formats=FORMATS)
    text = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        raise InvalidAction("import_not_sheet", name=quoted("?"), formats=FORMATS)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel  # type: ignore[assignment]
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        return iter([(reader.line_num, [c.strip() for c in row]) for row in reader])
    except csv.Error as exc:
        raise InvalidAction("import_not_sheet", name=quoted("CSV"), formats=FORMATS) from exc
