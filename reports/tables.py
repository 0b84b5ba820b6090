"""Rendering DataFrames for the terminal (table), for spreadsheets (csv) and for programs (json)."""

from __future__ import annotations

import io
import json
import math

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


def _cell(v, width: int | None = None) -> str:
    v = _plain(v)
    if v is None:
        s = ""
    elif isinstance(v, list):
        s = ",".join(str(x) for x in v)
    elif isinstance(v, float):
        s = f"{v:.4g}"
    else:
        s = str(v)
    if width and len(s) > width:
        s = s[: width - 1] + "…"
    return s


def render(df: pd.DataFrame, fmt: str, table_columns: list[str] | None = None, max_width: int = 40) -> str:
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
    rows = [[_cell(v, max_width) for v in row] for row in df[cols].itertuples(index=False, name=None)]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]
    line = lambda cells: "  ".join(s.ljust(w) for s, w in zip(cells, widths)).rstrip()
    out = [line(cols), line(["-" * w for w in widths])] + [line(r) for r in rows]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out) + "\n"
