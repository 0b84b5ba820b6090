"""Rendering DataFrames for the terminal (table), for spreadsheets (csv) and for programs (json)."""

from __future__ import annotations

import io
import json
import math
import textwrap

import pandas as pd


def _plain(v):
    """A JSON-safe Python value: NA/NaN → None, numpy scalars → Python, lists kept."""
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if v is None or v is pd.NA:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if hasattr(v, "item"):
        v = v.item()
        if isinstance(v, float) and math.isnan(v):
            return None
    return v


def records(df: pd.DataFrame) -> list[dict]:
    cols = list(df.columns)
    return [{c: _plain(v) for c, v in zip(cols, row)} for row in df.itertuples(index=False, name=None)]


def _text(v) -> str:
    v = _plain(v)
    if v is None:
        return ""
    if isinstance(v, list):
        return ",".join(str(x) for x in v)
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _cell(v, width: int | None = None) -> str:
    s = _text(v)
    if width and len(s) > width:
        s = s[: width - 1] + "…"
    return s


def _wrapped(s: str, width: int | None) -> list[str]:
    if not width or len(s) <= width:
        return [s]
    return textwrap.wrap(s, width, break_long_words=True, break_on_hyphens=False) or [""]


def render(df: pd.DataFrame, fmt: str, table_columns: list[str] | None = None, max_width: int | None = 40, *,
           wrap: bool = False, keep: tuple[str, ...] = ("id",)) -> str:
    """A listing as ``table`` (aligned columns), ``csv`` or ``json`` (records with the frame's column names).

    In a table, cells longer than ``max_width`` are cut with "…", or with ``wrap=True`` continued on further
    lines of the row; ``max_width=None`` prints full cells. Columns named in ``keep`` (ids) are never cut or
    wrapped: an id that is cut is no id.
    """
    if fmt == "json":
        return json.dumps(records(df), indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        flat = df.copy()
        for c in flat.columns:
            if flat[c].dtype == object:
                flat[c] = flat[c].map(lambda v: ";".join(map(str, v)) if isinstance(v, list) else v)
        buf = io.StringIO()
        flat.to_csv(buf, index=False, lineterminator="\n")
        return buf.getvalue()
    cols = [c for c in (table_columns or list(df.columns)) if c in df.columns]
    limit = [None if c in keep else max_width for c in cols]
    rows: list[list[list[str]]] = []  # row -> column -> lines
    for row in df[cols].itertuples(index=False, name=None):
        if wrap:
            rows.append([_wrapped(_text(v), w) for v, w in zip(row, limit)])
        else:
            rows.append([[_cell(v, w)] for v, w in zip(row, limit)])
    widths = [max([len(c)] + [len(x) for r in rows for x in r[i]]) for i, c in enumerate(cols)]
    line = lambda cells: "  ".join(s.ljust(w) for s, w in zip(cells, widths)).rstrip()
    out = [line(cols), line(["-" * w for w in widths])]
    for r in rows:
        for k in range(max(len(c) for c in r) if r else 1):
            out.append(line([c[k] if k < len(c) else "" for c in r]))
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out) + "\n"
