"""Verification records: one JSON file per run, written atomically, listed by ``fmreview zoo status``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

COLUMNS = ["result", "model", "dataset", "metric", "reported", "reproduced", "ci_low", "ci_high", "delta",
           "tolerance", "verdict", "n", "device", "checkpoint_revision", "protocol", "file"]


def protocol_label(record: dict) -> str | None:
    """A record's protocol in one word: the named protocol's id, 'inline', or None (unknown: verdict indicative).
    The record itself keeps the whole resolved protocol under ``protocol``."""
    p = record.get("protocol")
    if not isinstance(p, dict) or p.get("origin") in (None, "unknown"):
        return None
    return p.get("id") or p.get("origin")


def records_dir(directory=None) -> Path:
    if directory:
        return Path(directory)
    env = os.environ.get("FMREVIEW_RECORDS")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "fmreview" / "verifications"


def write_record(record: dict, directory=None) -> Path:
    from fmreview.catalog.yamlio import write_atomic

    d = records_dir(directory)
    name = f"{record['result'] or record['model']}--{record['dataset_fingerprint'][:12]}--n{record['n']}.json"
    path = d / name
    write_atomic(path, json.dumps(record, indent=2, sort_keys=True) + "\n")
    return path


def load_records(directory=None) -> pd.DataFrame:
    """All verification records as a DataFrame (reported vs reproduced, side by side)."""
    d = records_dir(directory)
    rows = []
    for p in sorted(d.glob("*.json")) if d.is_dir() else []:
        try:
            r = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        rows.append({c: r.get(c) for c in COLUMNS[:-1]} | {"protocol": protocol_label(r), "file": p.name})
    return pd.DataFrame(rows, columns=COLUMNS)
