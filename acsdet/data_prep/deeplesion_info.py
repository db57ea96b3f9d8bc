"""Parse DeepLesion's ``DL_info.csv`` into typed, 0-based records.

One row of ``DL_info.csv`` is one lesion.  :func:`parse_dl_info_row` turns a row into a
:class:`DLInfoRecord` (coordinates converted from the file's 1-based pixels to 0-based pixels,
the way published pipelines do it: subtract 1), and :func:`read_dl_info` reads a whole file.
Every malformed value raises :class:`DLInfoError`, a one-line ``ValueError`` that names the
file, the row (1-based line number in the file, header = line 1), the key-slice file name and
the column.  With ``skip_bad_rows=True`` the bad rows are skipped, logged and counted instead.
The file is read as UTF-8 with or without a byte-order mark (``utf-8-sig``: a csv saved by
Excel starts with one); bytes that are not UTF-8 and broken csv quoting are one-line errors
naming the line too.  Quoted text in a message has its line breaks and control characters
escaped, so every message stays on one line.

:func:`drop_duplicate_rows` drops the rows that repeat an earlier row's lesion (same key slice,
same RECIST and box), naming both rows; several rows of one key slice with other geometry are
its several lesions, as in the real file.

The ``csv`` module does the quoting ("154.273, 176.808, ...") and this module only validates
the fields: no library knows DeepLesion's column semantics.
"""
import csv
import io
import logging
import math
import os.path as osp
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

__all__ = [
    'DLInfoError', 'DLInfoRecord', 'DL_INFO_COLUMNS', 'SPLIT_NAMES', 'parse_dl_info_row',
    'read_dl_info', 'group_by_key_slice', 'drop_duplicate_rows'
]

logger = logging.getLogger('acsdet.data_prep')

#: The columns of ``DL_info.csv``, in the file's order.
DL_INFO_COLUMNS = (
    'File_name', 'Patient_index', 'Study_index', 'Series_ID', 'Key_slice_index',
    'Measurement_coordinates', 'Bounding_boxes', 'Lesion_diameters_Pixel_',
    'Normalized_lesion_location', 'Coarse_lesion_type', 'Possibly_noisy', 'Slice_range',
    'Spacing_mm_px_', 'Image_size', 'DICOM_windows', 'Patient_gender', 'Patient_age',
    'Train_Val_Test')

#: ``Train_Val_Test`` code -> split name (the official split).
SPLIT_NAMES = {1: 'train', 2: 'val', 3: 'test'}

_FILE_NAME_RE = re.compile(r'^(\d{6}_\d{2}_\d{2})_(\d{3,4})\.png$')


class DLInfoError(ValueError):
    """A malformed ``DL_info.csv`` row; the message is one line naming file, row and column."""


#: What ``str.splitlines`` breaks a line at, besides the C0 / C1 control characters.
_LINE_BREAKS = {'\x85', '\u2028', '\u2029'}


def _one_line(text: str) -> str:
    """``text`` with line breaks and control characters escaped (``\\n``, ``\\x1f``)."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch in _LINE_BREAKS or unicodedata.category(ch) in ('Cc', 'Zl', 'Zp'):
            out.append({'\n': '\\n', '\r': '\\r', '\t': '\\t'}.get(ch)
                       or (f'\\x{ord(ch):02x}' if ord(ch) < 256 else f'\\u{ord(ch):04x}'))
        else:
            out.append(ch)
    return ''.join(out)


@dataclass
class DLInfoRecord:
    """One lesion (one row of ``DL_info.csv``), coordinates 0-based.

    Attributes:
        file_name (str): Key-slice file name, e.g. ``'000001_01_01_109.png'``.
        series (str): Series folder under ``Images_png``, e.g. ``'000001_01_01'``.
        key_slice (int): Key-slice index, e.g. ``109`` (the PNG is ``<series>/109.png``).
        patient (int), study (int), series_id (int): The indices of the row.
        recist (tuple[float]): 8 floats, 0-based: long axis ``x1, y1, x2, y2`` then short axis
            ``x3, y3, x4, y4``.
        bbox (tuple[float]): ``x1, y1, x2, y2``, 0-based.
        diameters_px (tuple[float]): Long and short diameter in pixels.
        location (tuple[float]): Normalised lesion location ``x, y, z`` in [0, 1].
        lesion_type (int): Coarse lesion type, -1 when unlabelled.
        noisy (int): ``Possibly_noisy`` (0/1).
        slice_range (tuple[int]): First and last slice index available around the key slice.
        pixel_spacing (float): mm per pixel (x; DeepLesion pixels are square).
        slice_interval (float): mm between slices.
        image_size (tuple[int]): ``width, height``.
        dicom_window (tuple[float]): ``low, high`` in HU.
        gender (str or None): ``'M'``/``'F'``.
        age (float or None): None when empty or NaN.
        split (str): ``'train'``, ``'val'`` or ``'test'``.
        row (int): 1-based line number in the file (the header is line 1).
    """
    file_name: str
    series: str
    key_slice: int
    patient: int
    study: int
    series_id: int
    recist: Tuple[float, ...]
    bbox: Tuple[float, ...]
    diameters_px: Tuple[float, float]
    location: Tuple[float, float, float]
    lesion_type: int
    noisy: int
    slice_range: Tuple[int, int]
    pixel_spacing: float
    slice_interval: float
    image_size: Tuple[int, int]
    dicom_window: Tuple[float, float]
    gender: Optional[str]
    age: Optional[float]
    split: str
    row: int = field(default=0, compare=False)

    @property
    def long_diameter_mm(self) -> float:
        """Long RECIST diameter in mm (pixel diameter times pixel spacing)."""
        return self.diameters_px[0] * self.pixel_spacing

    @property
    def short_diameter_mm(self) -> float:
        """Short RECIST diameter in mm."""
        return self.diameters_px[1] * self.pixel_spacing


class _RowParser:
    """Field parsers that raise :class:`DLInfoError` with the row's context."""

    def __init__(self, row: Dict[str, str], row_number: int, source: str):
        self.row = row
        self.where = f'{source} row {row_number} ({_one_line(row.get("File_name") or "?")})'

    def fail(self, column: str, message: str):
        raise DLInfoError(f'{self.where}: {column} {_one_line(message)}')

    def raw(self, column: str) -> str:
        value = self.row.get(column)
        if value is None:
            self.fail(column, 'is missing (row has too few fields)')
        return value.strip()

    def numbers(self, column: str, count: int) -> Tuple[float, ...]:
        text = self.raw(column)
        parts = [p.strip() for p in text.split(',')] if text else []
        if len(parts) != count:
            self.fail(column, f'has {len(parts)} numbers, expected {count}: "{text}"')
        try:
            values = tuple(float(p) for p in parts)
        except ValueError:
            self.fail(column, f'is not numeric: "{text}"')
        if not all(math.isfinite(v) for v in values):
            self.fail(column, f'is not finite: "{text}"')
        return values

    def integer(self, column: str) -> int:
        text = self.raw(column)
        try:
            value = float(text)
        except ValueError:
            self.fail(column, f'is not an integer: "{text}"')
        if not value.is_integer():
            self.fail(column, f'is not an integer: "{text}"')
        return int(value)

    def integers(self, column: str, count: int) -> Tuple[int, ...]:
        values = self.numbers(column, count)
        if not all(v.is_integer() for v in values):
            self.fail(column, f'holds non-integers: "{self.raw(column)}"')
        return tuple(int(v) for v in values)


def parse_dl_info_row(row: Dict[str, str], row_number: int = 0,
                      source: str = 'DL_info.csv') -> DLInfoRecord:
    """Parse one ``DL_info.csv`` row (a ``csv.DictReader`` dict) into a 0-based record.

    Args:
        row (dict[str, str]): Column name -> raw text.
        row_number (int): Line number for error messages. Default: 0.
        source (str): File name for error messages. Default: ``'DL_info.csv'``.

    Returns:
        DLInfoRecord: The lesion.

    Raises:
        DLInfoError: A field is missing, has the wrong number of values, is non-numeric or
            out of its domain (the message names the file, row and column).
    """
    p = _RowParser(row, row_number, source)
    if None in row:  # csv.DictReader puts surplus fields under the key None
        p.fail('row', f'has {len(DL_INFO_COLUMNS) + len(row[None])} fields, expected '
               f'{len(DL_INFO_COLUMNS)}')
    file_name = p.raw('File_name')
    m = _FILE_NAME_RE.match(file_name)
    if not m:
        p.fail('File_name', f'is not "<patient:06d>_<study:02d>_<series:02d>_<slice>.png": '
               f'"{file_name}"')
    series, key_slice = m.group(1), int(m.group(2))
    key_col = p.integer('Key_slice_index')
    if key_col != key_slice:
        p.fail('Key_slice_index', f'is {key_col} but File_name says {key_slice}')

    recist = tuple(v - 1.0 for v in p.numbers('Measurement_coordinates', 8))
    bbox = tuple(v - 1.0 for v in p.numbers('Bounding_boxes', 4))
    if bbox[2] < bbox[0] or bbox[3] < bbox[1]:
        p.fail('Bounding_boxes', f'has x2 < x1 or y2 < y1: "{p.raw("Bounding_boxes")}"')
    diameters = p.numbers('Lesion_diameters_Pixel_', 2)
    location = p.numbers('Normalized_lesion_location', 3)
    lesion_type = p.integer('Coarse_lesion_type')
    if lesion_type not in (-1, 1, 2, 3, 4, 5, 6, 7, 8):
        p.fail('Coarse_lesion_type', f'is {lesion_type}, expected -1 or 1..8')
    noisy = p.integer('Possibly_noisy')
    if noisy not in (0, 1):
        p.fail('Possibly_noisy', f'is {noisy}, expected 0 or 1')
    slice_range = p.integers('Slice_range', 2)
    if not slice_range[0] <= key_slice <= slice_range[1]:
        p.fail('Slice_range', f'{list(slice_range)} does not contain the key slice {key_slice}')
    spacing = p.numbers('Spacing_mm_px_', 3)
    if min(spacing) <= 0:
        p.fail('Spacing_mm_px_', f'must be positive: "{p.raw("Spacing_mm_px_")}"')
    image_size = p.integers('Image_size', 2)
    if min(image_size) <= 0:
        p.fail('Image_size', f'must be positive: "{p.raw("Image_size")}"')
    window = p.numbers('DICOM_windows', 2)
    if window[1] <= window[0]:
        p.fail('DICOM_windows', f'has high <= low: "{p.raw("DICOM_windows")}"')
    gender = p.raw('Patient_gender') or None
    if gender not in (None, 'M', 'F'):
        p.fail('Patient_gender', f'is "{gender}", expected M, F or empty')
    age_text = p.raw('Patient_age')
    if age_text == '' or age_text.lower() == 'nan':
        age = None
    else:
        try:
            age = float(age_text)
        except ValueError:
            p.fail('Patient_age', f'is not numeric: "{age_text}"')
        if not math.isfinite(age) or age < 0:
            p.fail('Patient_age', f'is not a valid age: "{age_text}"')
    split_code = p.integer('Train_Val_Test')
    if split_code not in SPLIT_NAMES:
        p.fail('Train_Val_Test', f'is {split_code}, expected 1 (train), 2 (val) or 3 (test)')
    return DLInfoRecord(
        file_name=file_name, series=series, key_slice=key_slice,
        patient=p.integer('Patient_index'), study=p.integer('Study_index'),
        series_id=p.integer('Series_ID'), recist=recist, bbox=bbox,
        diameters_px=diameters, location=location, lesion_type=lesion_type, noisy=noisy,
        slice_range=slice_range, pixel_spacing=spacing[0], slice_interval=spacing[2],
        image_size=image_size, dicom_window=window, gender=gender, age=age,
        split=SPLIT_NAMES[split_code], row=row_number)


class _CountedLines:
    """Iterate over the lines of a text, counting them (the csv reader's lines)."""

    def __init__(self, text: str):
        self._lines = iter(io.StringIO(text, newline=''))
        self.count = 0

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.count += 1
        return line


def _decode(path: str, data: bytes) -> str:
    """The file's text: UTF-8, its byte-order mark (if any) removed."""
    try:
        return data.decode('utf-8-sig')
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b'\n') + 1
        column = err.start - (data.rfind(b'\n', 0, err.start) + 1) + 1
        raise DLInfoError(f'{path} row {line}: not UTF-8 text (byte 0x{data[err.start]:02x} '
                          f'at column {column}: {err.reason}); save the csv as UTF-8') from None


def read_dl_info(path: str, skip_bad_rows: bool = False,
                 skipped: Optional[List[Tuple[int, str]]] = None) -> List[DLInfoRecord]:
    """Read ``DL_info.csv`` (UTF-8, with or without a byte-order mark).

    Args:
        path (str): The csv file.
        skip_bad_rows (bool): Log and skip malformed rows instead of raising. Default: False.
        skipped (list, optional): If given, ``(row_number, message)`` of every skipped row is
            appended to it (the count for reports).

    Returns:
        list[DLInfoRecord]: The lesions in file order; ``row`` is the record's first line in
        the file (the header is line 1).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        DLInfoError: The header lacks a column, the file is not UTF-8 text, or
            (``skip_bad_rows=False``) a row is malformed (broken csv quoting included).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'DL_info.csv not found: {path}')
    with open(path, 'rb') as f:
        text = _decode(path, f.read())
    lines = _CountedLines(text)
    reader = csv.reader(lines)

    def next_row():
        """(first line, fields) of the next csv record, or None at the end."""
        first = lines.count + 1
        try:
            return first, next(reader)
        except StopIteration:
            return None
        except csv.Error as err:
            return first, DLInfoError(f'{path} row {first}: not valid csv ({_one_line(str(err))})')

    header = next_row()
    while header is not None and header[1] == []:  # blank lines before the header
        header = next_row()
    if header is not None and isinstance(header[1], DLInfoError):
        raise header[1]
    fieldnames = [] if header is None else [name.strip() for name in header[1]]
    missing = [c for c in DL_INFO_COLUMNS if c not in fieldnames]
    if missing:
        raise DLInfoError(f'{path}: header lacks column(s) {", ".join(missing)}')
    records: List[DLInfoRecord] = []
    while True:
        item = next_row()
        if item is None:
            break
        line, fields = item
        try:
            if isinstance(fields, DLInfoError):
                raise fields
            if not any(v.strip() for v in fields):
                continue  # blank line
            # as csv.DictReader: missing fields are None, surplus ones go under the key None
            row: Dict[Optional[str], object] = dict(zip(fieldnames, fields))
            for name in fieldnames[len(fields):]:
                row[name] = None
            if len(fields) > len(fieldnames):
                row[None] = fields[len(fieldnames):]
            records.append(parse_dl_info_row(row, line, path))
        except DLInfoError as err:
            if not skip_bad_rows:
                raise
            logger.warning('skipping malformed row: %s', err)
            if skipped is not None:
                skipped.append((line, str(err)))
    return records


def group_by_key_slice(records: Sequence[DLInfoRecord]) -> Dict[str, List[DLInfoRecord]]:
    """Group lesions by key-slice file name, sorted by file name; file order within a group.

    Args:
        records (Sequence[DLInfoRecord]): Lesions.

    Returns:
        dict[str, list[DLInfoRecord]]: ``file_name`` -> its lesions.

    Raises:
        DLInfoError: Two rows of one key slice disagree on slice range, spacing, window, size or
            split (the key-slice metadata must be one value per image; the DICOM window
            may differ per lesion, the image takes its first row's).
    """
    groups: Dict[str, List[DLInfoRecord]] = {}
    for rec in records:
        groups.setdefault(rec.file_name, []).append(rec)
    for name, recs in groups.items():
        first = recs[0]
        for other in recs[1:]:
            for attr in ('slice_range', 'slice_interval', 'pixel_spacing', 'image_size',
                         'split'):
                if getattr(other, attr) != getattr(first, attr):
                    raise DLInfoError(
                        f'DL_info.csv rows {first.row} and {other.row} ({name}) disagree on '
                        f'{attr}: {getattr(first, attr)} vs {getattr(other, attr)}')
    return dict(sorted(groups.items()))


#: Per-lesion attributes (besides the geometry) and their csv columns, for duplicate messages.
_ATTR_COLUMNS = (
    ('patient', 'Patient_index'), ('study', 'Study_index'), ('series_id', 'Series_ID'),
    ('diameters_px', 'Lesion_diameters_Pixel_'), ('location', 'Normalized_lesion_location'),
    ('lesion_type', 'Coarse_lesion_type'), ('noisy', 'Possibly_noisy'),
    ('slice_range', 'Slice_range'), ('pixel_spacing', 'Spacing_mm_px_'),
    ('slice_interval', 'Spacing_mm_px_'), ('image_size', 'Image_size'),
    ('dicom_window', 'DICOM_windows'), ('gender', 'Patient_gender'), ('age', 'Patient_age'),
    ('split', 'Train_Val_Test'))


def drop_duplicate_rows(records: Sequence[DLInfoRecord],
                        dropped: Optional[List[Tuple[int, str]]] = None) -> List[DLInfoRecord]:
    """Drop the rows that repeat an earlier row's lesion.

    A row is a duplicate when an earlier row has the same ``File_name``, the same
    ``Measurement_coordinates`` and the same ``Bounding_boxes`` (compared as parsed numbers,
    so ``"12"`` and ``"12.0"`` are equal). The first row is kept. Rows of one key slice with
    other geometry are not duplicates: they are the key slice's other lesions.

    Args:
        records (Sequence[DLInfoRecord]): Lesions in file order.
        dropped (list, optional): If given, ``(row, message)`` of every dropped row is
            appended to it. The message is one line naming both rows, e.g. ``row 4
            (000001_01_01_010.png): duplicate of row 2 (same key slice,
            Measurement_coordinates and Bounding_boxes); dropped``. When the rows differ in
            another column, it says so, and the first row's values are the ones kept.

    Returns:
        list[DLInfoRecord]: The records without the duplicates, in file order.
    """
    first: Dict[tuple, DLInfoRecord] = {}
    kept: List[DLInfoRecord] = []
    for rec in records:
        key = (rec.file_name, rec.recist, rec.bbox)
        orig = first.get(key)
        if orig is None:
            first[key] = rec
            kept.append(rec)
            continue
        msg = (f'row {rec.row} ({rec.file_name}): duplicate of row {orig.row} (same key slice, '
               'Measurement_coordinates and Bounding_boxes); dropped')
        differ = []
        for attr, column in _ATTR_COLUMNS:
            if getattr(rec, attr) != getattr(orig, attr) and column not in differ:
                differ.append(column)
        if differ:
            msg += f' (it differs in {", ".join(differ)}; row {orig.row} is kept)'
        if dropped is not None:
            dropped.append((rec.row, msg))
    return kept
