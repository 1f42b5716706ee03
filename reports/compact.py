"""The compact form of a results document's records (``schema_version`` 2).

A full run writes about 250,000 records whose values repeat: the same case dict for every
record of a case, a handful of entry points and messages, repro snippets that differ only
in the case id and dtype of a shared preamble and body. Version 1 wrote each record as a
JSON object (278 MB for 130,000 records); version 2 writes the records column by column,
each column in the smallest of three forms (``lossconform.record``, "The records, compact",
describes the format; ``json_schema()`` its JSON Schema):

``{"values": [...]}``
    one value per record (numbers that rarely repeat: errors, times);
``{"table": [...], "index": [...]}``
    each distinct value once, each record its position in ``table``;
``{"lines": [...], "texts": [[...], ...], "fill": [...], "index": [...]}``
    texts (repro snippets): each record's text with every occurrence of its own value of
    column ``fill[j]`` replaced by the placeholder ``"\\x00" + chr(1 + j)`` (and a NUL of
    the text itself written ``"\\x00\\x00"``), each distinct template once in ``texts`` as
    line numbers into ``lines`` (joined with newlines), each record its template's position.

Any column may add ``"absent": [...]``: the (ascending) positions of the records that lack
the key (their slot in the column holds null). Nothing is lost: ``decode_records``
gives back records equal to the ones ``encode_records`` was given (values, types, key order
of nested objects), which a test proves on real records.

This module knows no framework and no field's meaning beyond ``FILL_FIELDS``.
"""
from __future__ import annotations

import math
import re
from itertools import chain, compress, repeat
from operator import eq, itemgetter
from typing import Any, Sequence

import orjson

__all__ = ["FILL_FIELDS", "CompactError", "encode_records", "decode_columns",
           "decode_records", "records_of", "templates"]

#: The record fields whose value a text column's templates may leave out (placeholders):
#: a repro snippet names its own case id and dtype.
FILL_FIELDS: tuple[str, ...] = ("id", "dtype")
#: A text column is considered (lines and templates) when its distinct values hold at
#: least this many characters and one of them a newline.
TEXT_MIN_CHARS = 4096
_NO_FILL = re.compile(r"[\x00-\x08]")
_PLACEHOLDER = re.compile(r"\x00([\x00-\x08])", re.DOTALL)
_STR_OR_NONE = frozenset((str, type(None)))
_FLOAT_STR_OR_NONE = frozenset((float, str, type(None)))


class CompactError(ValueError):
    """The compact records are malformed: ``str()`` says where (``records.columns.NAME``)."""


# -- writing --------------------------------------------------------------------------------
def encode_records(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The compact form of ``records`` (plain JSON values: what ``jsonable`` makes), as
    ``{"n": N, "columns": {name: column}}``; the key order of the first record that has
    each key is kept (a record's own key order is restored in that order)."""
    n = len(records)
    names: dict[str, None] = dict.fromkeys(records[0]) if records else {}
    keys = names.keys()
    same = all(map(keys.__eq__, map(dict.keys, records)))
    if not same:
        for rec in records:
            names.update(dict.fromkeys(rec))
    columns: dict[str, Any] = {}
    raw: dict[str, list[Any]] = {}
    for name in names:
        present = None if same else list(map(dict.__contains__, records, repeat(name)))
        if present is None or all(present):
            col = list(map(itemgetter(name), records))
            present = None
        else:
            col = [r.get(name) for r in records]
        raw[name] = col
        columns[name] = _encode_column(col)
        if present is not None:
            columns[name]["absent"] = [k for k, p in enumerate(present) if not p]
    for name, col in columns.items():  # texts: once the fill columns are known
        values = raw[name]
        if "table" in col and all(f in raw for f in FILL_FIELDS):
            text = _encode_text(values, col, [raw[f] for f in FILL_FIELDS])
            if text is not None:
                if "absent" in col:
                    text["absent"] = col["absent"]
                columns[name] = text
    return {"n": n, "columns": columns}


def _no_negative_zero(col: list[Any]) -> bool:
    """Whether no value of ``col`` is -0.0 (which equals 0.0 in Python, not in JSON)."""
    if 0.0 not in col:
        return True
    zeros = compress(col, map(eq, col, repeat(0.0)))
    return all(math.copysign(1.0, z) > 0 for z in zeros)


def _encode_column(col: list[Any]) -> dict[str, Any]:
    types = set(map(type, col))
    if types <= _STR_OR_NONE or (types <= _FLOAT_STR_OR_NONE and _no_negative_zero(col)):
        # the values are their own keys (a float equals no string; -0.0 equals 0.0 and
        # is taken apart below)
        distinct = dict.fromkeys(col)
        if len(distinct) * 2 > len(col):
            return {"values": col}
        table = list(distinct)
        where = dict(zip(table, range(len(table))))
        return {"table": table, "index": list(map(where.__getitem__, col))}
    if types <= _FLOAT_STR_OR_NONE and len(set(col)) * 2 > len(col):
        return {"values": col}
    # 1, 1.0 and true are equal in Python, not in JSON: key on the JSON text, written once
    # per object (records share theirs: one case object for all records of a case)
    ids = list(map(id, col))
    objects = dict(zip(ids, col))
    text = dict(zip(objects, map(orjson.dumps, objects.values())))
    keys = list(map(text.__getitem__, ids))
    last = dict(zip(keys, range(len(keys))))  # first-seen order; any copy is the value
    if len(last) * 2 > len(col):
        return {"values": col}
    table = list(map(col.__getitem__, last.values()))
    where = dict(zip(last, range(len(last))))
    return {"table": table, "index": list(map(where.__getitem__, keys))}


def _encode_text(values: list[Any], col: dict[str, Any], fills: list[list[Any]]
                 ) -> dict[str, Any] | None:
    """The lines-and-templates form of a column of strings, or None when it does not pay."""
    table = col["table"]
    if not all(v.__class__ is str for v in table):
        return None
    chars = sum(map(len, table))
    if chars < TEXT_MIN_CHARS or not any("\n" in v for v in table):
        return None
    text = templates(values, fills)
    size = sum(map(len, text["lines"])) + 4 * sum(map(len, text["texts"]))
    return text if size < chars else None


def templates(values: Sequence[Any], fills: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """The lines-and-templates form (``{"lines", "texts", "fill", "index"}``) of a column of
    texts (a value that is not a string is taken as its ``str``), ``fills`` the columns
    ``FILL_FIELDS``; ``decode_columns`` gives the texts back."""
    cache: dict[tuple[Any, ...], int] = {}
    found: dict[str, int] = {}
    index: list[int] = []
    append = index.append
    for value, *fill in zip(values, *fills):
        key = (value, *fill)
        k = cache.get(key)
        if k is None:
            t = _template(value if value.__class__ is str else str(value), fill)
            k = found.setdefault(t, len(found))
            cache[key] = k
        append(k)
    lines: dict[str, int] = {}
    texts = [[lines.setdefault(line, len(lines)) for line in t.split("\n")] for t in found]
    return {"lines": list(lines), "texts": texts, "fill": list(FILL_FIELDS), "index": index}


def _template(text: str, fill: Sequence[Any]) -> str:
    if "\x00" in text:
        text = text.replace("\x00", "\x00\x00")
    for j, value in enumerate(fill):
        if value.__class__ is str and value and not _NO_FILL.search(value) and value in text:
            text = text.replace(value, "\x00" + chr(1 + j))
    return text


# -- reading --------------------------------------------------------------------------------
def _fail(where: str, problem: str) -> CompactError:
    return CompactError(f"'records.columns.{where}' {problem}")


def _take(values: list[Any], index: Any, where: str, n: int | None) -> list[Any]:
    """``values[k]`` for every k of ``index`` (``n``: how many there must be); raises
    CompactError naming ``where`` when ``index`` is not a list of positions in ``values``."""
    if not isinstance(index, list) or (n is not None and len(index) != n):
        raise _fail(where, f"is not a list of {n} positions" if n is not None else
                    "is not a list of positions")
    try:
        out = list(map(values.__getitem__, index))
        if index and min(index) < 0:
            raise IndexError
    except (TypeError, IndexError):
        raise _fail(where, f"holds a position outside its table (0..{len(values) - 1})"
                    if "index" in where else
                    f"holds a line number outside 'lines' (0..{len(values) - 1})") from None
    return out


def decode_columns(compact: Any, texts: dict[str, dict[str, Any]] | None = None,
                   decode_texts: bool = True
                   ) -> tuple[int, dict[str, list[Any]], dict[str, list[int]]]:
    """``(n, columns, absent)`` of compact records: every column as one value per record
    (null where a record lacks the key), and per column the positions that lack it.
    ``texts``, when given, receives each text column's templates (``{"lines", "texts",
    "fill", "index"}``, checked) by name: a reader that wants the templates themselves
    (the report's page) need not split the texts again; with ``decode_texts=False`` it
    takes only those, and the text columns hold "" for every record. Raises CompactError
    naming what is malformed."""
    if not isinstance(compact, dict):
        raise CompactError("'records' is neither a list nor an object of columns")
    n = compact.get("n")
    columns = compact.get("columns")
    if n.__class__ is not int or n < 0:
        raise CompactError("'records.n' is missing or not a count")
    if not isinstance(columns, dict):
        raise CompactError("'records.columns' is missing or not an object")
    out: dict[str, list[Any]] = {}
    absent: dict[str, list[int]] = {}
    for name, col in columns.items():
        if not isinstance(col, dict):
            raise _fail(name, "is not an object")
        if "values" in col:
            values = col["values"]
            if not isinstance(values, list) or len(values) != n:
                raise _fail(f"{name}.values", f"is not a list of {n} values")
            out[name] = values
        elif "table" in col:
            table = col["table"]
            if not isinstance(table, list):
                raise _fail(f"{name}.table", "is not a list")
            out[name] = _take(table, col.get("index"), f"{name}.index", n)
        elif "texts" in col:
            out[name] = None  # type: ignore[assignment]  # after the fill columns
        else:
            raise _fail(name, "has none of 'values', 'table', 'texts'")
        gone = col.get("absent")
        if gone is not None:
            if not isinstance(gone, list) or (gone and (
                    set(map(type, gone)) != {int} or min(gone) < 0 or max(gone) >= n)):
                raise _fail(f"{name}.absent", f"is not a list of positions 0..{n - 1}")
            absent[name] = gone
    for name, col in columns.items():
        if out[name] is None:
            out[name] = _decode_text(col, name, n, out, decode_texts)
            if texts is not None:
                texts[name] = col
    return n, out, absent


def _decode_text(col: dict[str, Any], name: str, n: int, out: dict[str, list[Any]],
                 decode: bool = True) -> list[str]:
    lines, texts, fill = col.get("lines"), col.get("texts"), col.get("fill")
    if not isinstance(lines, list) or not all(x.__class__ is str for x in lines):
        raise _fail(f"{name}.lines", "is not a list of strings")
    if not isinstance(fill, list) or not all(f.__class__ is str and f in out and f != name
                                             and out[f] is not None for f in fill):
        raise _fail(f"{name}.fill", "does not name columns of the records")
    if not isinstance(texts, list) or not all(t.__class__ is list for t in texts):
        raise _fail(f"{name}.texts", "is not a list of lists of line numbers")
    _take(lines, list(chain.from_iterable(texts)), f"{name}.texts", None)  # checked once
    joined = ["\n".join(map(lines.__getitem__, t)) for t in texts]
    index = col.get("index")
    _take(texts, index, f"{name}.index", n)  # checked: positions in texts
    if not decode and "absent" not in col and fill == list(FILL_FIELDS):
        return [""] * n  # the caller takes the templates
    parts = [_segments(t, len(fill)) for t in joined]
    cache: dict[tuple[Any, ...], str] = {}
    result: list[str] = []
    append = result.append
    for k, *values in zip(index, *(out[f] for f in fill)):
        segs = parts[k]
        if segs.__class__ is str:  # no placeholder: the template is the text
            append(segs)
            continue
        key = (k, *values)
        text = cache.get(key)
        if text is None:
            text = cache[key] = "".join([x if x.__class__ is str else
                                         (values[x] if values[x].__class__ is str
                                          else str(values[x])) for x in segs])
        append(text)
    return result


def _segments(template: str, n_fill: int) -> str | list[str | int]:
    """A template as its text (no placeholder) or as pieces: literal strings and the
    positions (ints) of the fill values that go between them."""
    if "\x00" not in template:
        return template
    pieces = _PLACEHOLDER.split(template)  # text, mark, text, mark, ..., text
    out: list[str | int] = [pieces[0]]
    for mark, text in zip(pieces[1::2], pieces[2::2]):
        j = ord(mark) - 1
        if 0 <= j < n_fill:
            out += [j, text]
        else:  # "\x00\x00" is a NUL of the text; a mark past the fills stays as it is
            lit = "\x00" if j < 0 else "\x00" + mark
            if out[-1].__class__ is str:
                out[-1] += lit + text
            else:
                out.append(lit + text)
    return out


def decode_records(compact: Any) -> list[dict[str, Any]]:
    """The records of compact columns, each a dict in the columns' key order (a key a
    record lacks left out). Raises CompactError."""
    n, columns, absent = decode_columns(compact)
    return records_of(n, columns, absent)


def records_of(n: int, columns: dict[str, list[Any]], absent: dict[str, list[int]]
               ) -> list[dict[str, Any]]:
    """The records of decoded columns (``decode_columns``): one dict per position, in the
    columns' key order, each key a record lacks (``absent``) left out."""
    names = list(columns)
    if not names:
        return [{} for _ in range(n)]
    records = list(map(dict, map(zip, repeat(names), zip(*columns.values()))))
    for name, gone in absent.items():
        for k in gone:
            del records[k][name]
    return records
