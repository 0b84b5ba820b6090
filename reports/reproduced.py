"""Verification records as evidence: reported and reproduced side by side, for ``results --verified``,
``show``, the report's "Reproduced" section and the analyses' ``--verified-only`` / ``--values reproduced``.

A record is one ``fmreview zoo verify`` (or sweep) run, a JSON file in the records folder ($FMREVIEW_RECORDS, or
``--records DIR``). Reported and reproduced values are on the fraction scale of the catalog's results frame (a
percent is divided by 100), as the zoo writes them.

When a result has several records, the one that speaks for it is chosen in this order: a *full* run (not
subsampled with ``--limit``) made against the value the catalog holds now (a record whose ``reported`` differs
is *stale*: the catalog value changed since), then the newest (``created``), then the last file name.

What counts, and for what:
  ``--verified-only``        results whose chosen record says **reproduced**: a full run under the protocol the
                             result states agreed with the reported value within its tolerance. "not reproduced",
                             "inconclusive" (CI covers the reported value but the difference exceeds the tolerance,
                             or a --limit run) and "indicative" (the result states no protocol, so the zoo used its
                             own defaults) do not count; stale records do not count.
  ``--values reproduced``    each result's value is replaced by its chosen record's reproduced value, with the
                             record's bootstrap CI (which then gives the sampling variance) and test-set size;
                             records of full runs under the stated protocol count whatever their verdict
                             (reproduced, not reproduced, inconclusive); indicative, subsampled and stale ones do not.
                             Results without such a record are left out.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .cli import UserError
from .tables import _plain

VERDICTS = ("reproduced", "not reproduced", "inconclusive", "indicative")
COUNTS_AS_VERIFIED = ("reproduced",)
USABLE_AS_VALUE = ("reproduced", "not reproduced", "inconclusive")
VALUES = ("reported", "reproduced")
STALE_TOLERANCE = 1e-6  # on the fraction scale: the catalog prints <= 4 decimals of a percent
COLUMNS = ["result", "model", "dataset", "metric", "reported", "reproduced", "ci_low", "ci_high", "ci_level",
           "delta", "tolerance", "verdict", "n", "subsampled", "protocol", "recipe", "device",
           "checkpoint_revision", "created", "file"]


def records_folder(directory=None, *, required: bool = False) -> Path | None:
    """The records folder: ``directory``, else $FMREVIEW_RECORDS, else the zoo's default. A folder given
    explicitly must exist (``required``); the default may be absent (no records yet)."""
    from fmreview.zoo.records import records_dir

    d = records_dir(directory)
    if d.exists() and not d.is_dir():
        raise UserError(f"--records {d}: not a folder (expected the folder zoo verify writes its records to)")
    if not d.exists():
        if required and directory is not None:
            raise UserError(f"--records {d}: no such folder (zoo verify --records {d} writes records there)")
        return None
    return d


def load(directory=None, *, required: bool = False) -> pd.DataFrame:
    """Every record in the folder, one row each (``COLUMNS``; ``protocol`` is the protocol's id, 'inline' or
    'unknown'). Files that are not valid JSON objects are skipped with a note on ``attrs['skipped']``."""
    d = records_folder(directory, required=required)
    rows, skipped = [], []
    for p in sorted(d.glob("*.json")) if d else []:
        try:
            r = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            skipped.append(f"{p.name}: {e}")
            continue
        if not isinstance(r, dict) or not r.get("result"):
            skipped.append(f"{p.name}: not a verification record of a catalog result")
            continue
        row = {c: r.get(c) for c in COLUMNS}
        proto = r.get("protocol")
        row["protocol"] = (proto.get("id") or proto.get("origin")) if isinstance(proto, dict) else (proto or "unknown")
        row["subsampled"] = bool(r.get("subsampled"))
        row["file"] = p.name
        rows.append(row)
    df = pd.DataFrame(rows, columns=COLUMNS)
    df.attrs["skipped"] = skipped
    df.attrs["folder"] = str(d) if d else None
    return df


def chosen(records: pd.DataFrame, results: pd.DataFrame) -> pd.DataFrame:
    """One record per catalog result that has any (the rule in the module docstring), joined to the result:
    columns id, model, dataset, subset, metric, unit, reported (the catalog's value, fraction scale), reproduced,
    ci_low, ci_high, delta, tolerance, verdict, n, runs (records of this result), stale, verified (counts for
    --verified-only), usable (may stand in for the value), protocol, device, checkpoint_revision, created, file."""
    cols = ["id", "model", "dataset", "subset", "metric", "unit", "reported", "reproduced", "ci_low", "ci_high",
            "delta", "tolerance", "verdict", "n", "runs", "stale", "verified", "usable", "protocol", "device",
            "checkpoint_revision", "created", "file"]
    if records.empty or results.empty:
        return pd.DataFrame(columns=cols)
    cat_value = dict(zip(results["id"], results["value"]))
    rec = records[records["result"].isin(cat_value)].copy()
    if rec.empty:
        return pd.DataFrame(columns=cols)
    rep = pd.to_numeric(rec["reported"], errors="coerce").to_numpy(dtype=float)
    now = np.array([cat_value[r] for r in rec["result"]], dtype=float)
    rec["stale"] = ~(np.abs(rep - now) <= STALE_TOLERANCE)
    rec["full"] = ~rec["subsampled"].astype(bool)
    rec["created"] = rec["created"].fillna("")
    rec = rec.sort_values(["result", "full", "stale", "created", "file"], ascending=[True, False, True, False, False],
                          kind="stable")
    runs = rec.groupby("result").size()
    best = rec.drop_duplicates("result", keep="first").set_index("result")
    res = results.set_index("id").loc[best.index]
    out = pd.DataFrame({
        "id": best.index, "model": res["model"].to_numpy(), "dataset": res["dataset"].to_numpy(),
        "subset": res["subset"].to_numpy(), "metric": res["metric"].to_numpy(), "unit": res["unit"].to_numpy(),
        "reported": res["value"].to_numpy(dtype=float),
        "reproduced": pd.to_numeric(best["reproduced"], errors="coerce").to_numpy(dtype=float),
        "ci_low": pd.to_numeric(best["ci_low"], errors="coerce").to_numpy(dtype=float),
        "ci_high": pd.to_numeric(best["ci_high"], errors="coerce").to_numpy(dtype=float),
    })
    out["delta"] = out["reproduced"] - out["reported"]
    out["tolerance"] = pd.to_numeric(best["tolerance"], errors="coerce").to_numpy(dtype=float)
    out["verdict"] = best["verdict"].fillna("no verdict").astype(str).to_numpy()
    out["n"] = pd.array(best["n"].to_numpy(), dtype="Int64")
    out["runs"] = runs.loc[best.index].to_numpy()
    full, stale = best["full"].to_numpy(dtype=bool), best["stale"].to_numpy(dtype=bool)
    out["stale"] = stale
    out["verified"] = full & ~stale & best["verdict"].isin(COUNTS_AS_VERIFIED).to_numpy()
    out["usable"] = full & ~stale & best["verdict"].isin(USABLE_AS_VALUE).to_numpy()
    for c in ("protocol", "device", "checkpoint_revision", "created", "file"):
        out[c] = best[c].to_numpy()
    return out.sort_values(["model", "dataset", "id"], kind="stable").reset_index(drop=True)[cols]


def apply(results: pd.DataFrame, *, verified_only: bool = False, values: str = "reported",
          records=None) -> tuple[pd.DataFrame, str | None]:
    """The results an analysis pools under ``--verified-only`` / ``--values`` (see the module docstring), and
    a note saying what was kept (None when neither option is set)."""
    if values not in VALUES:
        raise UserError(f"--values {values}: expected one of {', '.join(VALUES)}")
    if not verified_only and values == "reported":
        return results, None
    recs = load(records, required=True)
    table = chosen(recs, results)
    where = recs.attrs.get("folder") or "the records folder"
    if table.empty:
        raise UserError(f"no verification record in {where} is for a result these filters select; run "
                        "`fmreview zoo verify` (or zoo sweep) on them first, or leave out --verified-only / "
                        "--values reproduced")
    keep = table["verified"] if verified_only else table["usable"]
    if values == "reproduced":
        keep = keep & table["usable"]
    kept = table[keep.to_numpy(dtype=bool)]
    stale = int(table["stale"].sum())
    what = ("with a record whose verdict is 'reproduced'" if verified_only else
            "with a record of a full run under the stated protocol")
    note = (f"{len(kept)} of {len(results)} results {what} ({where}; {len(table)} have records"
            + (f", {stale} of them stale: the catalog value changed since the run" if stale else "") + ")")
    out = results[results["id"].isin(set(kept["id"]))].copy()
    if values == "reproduced":
        by = kept.set_index("id")
        out["value"] = out["id"].map(by["reproduced"]).astype(float)
        out["ci_low"] = out["id"].map(by["ci_low"]).astype(float)
        out["ci_high"] = out["id"].map(by["ci_high"]).astype(float)
        out["ci_level"] = 0.95
        out["n"] = out["id"].map(by["n"]).astype("Int64")
        for c in ("sd", "se", "n_positive", "n_negative"):  # the source's spread belongs to the reported value
            if c in out:
                out[c] = None
        note += "; values are the reproduced ones, with their bootstrap CIs"
    if out.empty:
        raise UserError(f"no result is left: {note}")
    return out, note


# ------------------------------------------------------------------------------------------------ display


def side_by_side(table: pd.DataFrame) -> pd.DataFrame:
    """The columns people read: reported and reproduced (with its CI) next to each other, and the verdict."""
    cols = ["id", "model", "dataset", "metric", "reported", "reproduced", "ci_low", "ci_high", "delta", "verdict",
            "n", "runs", "protocol"]
    out = table[cols].copy()
    out.loc[table["stale"].to_numpy(dtype=bool), "verdict"] = out["verdict"] + " (stale)"
    return out


def for_result(table: pd.DataFrame, result_id: str) -> dict | None:
    """``show RESULT_ID``: the chosen record beside the reported value, in the result's own unit, JSON-ready."""
    rows = table[table["id"] == result_id]
    if rows.empty:
        return None
    r = rows.iloc[0]
    k = 100.0 if r.unit == "percent" else 1.0
    scaled = lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v) * k, 10)  # noqa: E731
    doc = {"reported": scaled(r.reported), "reproduced": scaled(r.reproduced), "ci_low": scaled(r.ci_low),
           "ci_high": scaled(r.ci_high), "ci_level": 0.95, "delta": scaled(r.delta), "tolerance": scaled(r.tolerance),
           "unit": r.unit, "verdict": r.verdict, "n": r.n, "runs": r.runs, "stale": bool(r.stale),
           "counts_as_verified": bool(r.verified), "protocol": r.protocol, "device": r.device,
           "checkpoint_revision": r.checkpoint_revision, "created": r.created, "record": r.file}
    return {k_: _plain(v) for k_, v in doc.items() if _plain(v) is not None}


def scatter(table: pd.DataFrame):
    """Reported (x) against reproduced (y) with the reproduced 95% bootstrap CI, the identity line and a
    marker per verdict."""
    from .plotting import PALETTE, plt

    colours = dict(zip(VERDICTS, PALETTE))
    markers = {"reproduced": "o", "not reproduced": "X", "inconclusive": "s", "indicative": "D"}
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    x = table["reported"].to_numpy(dtype=float)
    y = table["reproduced"].to_numpy(dtype=float)
    lo = np.concatenate([x, y, table["ci_low"].to_numpy(dtype=float)])
    hi = np.concatenate([x, y, table["ci_high"].to_numpy(dtype=float)])
    a, b = float(np.nanmin(lo)), float(np.nanmax(hi))
    pad = max(0.02, 0.05 * (b - a))
    ax.plot([a - pad, b + pad], [a - pad, b + pad], color="#999999", lw=1, ls="--", label="reproduced = reported",
            zorder=1)
    for verdict in [v for v in VERDICTS if v in set(table["verdict"])] + sorted(set(table["verdict"]) - set(VERDICTS)):
        sel = (table["verdict"] == verdict).to_numpy()
        err = np.vstack([y[sel] - table["ci_low"].to_numpy(dtype=float)[sel],
                         table["ci_high"].to_numpy(dtype=float)[sel] - y[sel]])
        ax.errorbar(x[sel], y[sel], yerr=np.clip(np.nan_to_num(err), 0, None), fmt=markers.get(verdict, "o"),
                    color=colours.get(verdict, "#333333"), ms=5, capsize=2, lw=1, label=f"{verdict} ({sel.sum()})",
                    zorder=2)
    ax.set_xlim(a - pad, b + pad)
    ax.set_ylim(a - pad, b + pad)
    ax.set_aspect("equal")
    ax.set_xlabel("Reported (fraction)")
    ax.set_ylabel("Reproduced by the zoo (95% bootstrap CI)")
    ax.set_title("Reported vs reproduced")
    ax.legend(fontsize=7, frameon=True, framealpha=0.85, loc="best")
    return fig


def section(rep, blocks: list, results: pd.DataFrame, records=None) -> None:
    """The report's "Reproduced" section: what was re-run, the scatter, the verdict counts and the table; an
    honest sentence when nothing was."""
    recs = load(records, required=records is not None)
    table = chosen(recs, results)
    where = recs.attrs.get("folder")
    if table.empty:
        blocks.append(("p", "No reported result has been re-run by the reference zoo yet"
                            + (f" (no verification record in {where} is for a catalog result)" if where else
                               " (there is no records folder)")
                            + ", so every number in this report is as its source reported it. "
                              "`fmreview zoo verify` or `fmreview zoo sweep` writes records; "
                              "`fmreview report --records DIR` reads them."))
        return
    counts = table["verdict"].value_counts()
    parts = [f"{counts[v]} {v}" for v in VERDICTS if v in counts] + \
            [f"{counts[v]} {v}" for v in sorted(set(counts.index) - set(VERDICTS))]
    stale = int(table["stale"].sum())
    blocks.append(("p", f"The reference zoo re-ran {len(table)} of {len(results)} reported results "
                        f"({int(table['runs'].sum())} runs; records in {where}): {', '.join(parts)}. "
                        "Reproduced means the re-run's value is within the result's tolerance of the reported one "
                        "(default 2 points); not reproduced, that it is not and the 95% bootstrap CI excludes the "
                        "reported value; inconclusive, that the CI still covers it or the run used part of the test "
                        "set; indicative, that the result states no protocol, so the zoo used its default recipe and "
                        "the run does not check the reported number. Where a result has several runs, a full run "
                        "against the current catalog value speaks for it, the newest first."
                        + (f" {stale} record(s) are stale: the catalog value changed after the run." if stale else "")))
    rep.figure(blocks, scatter(table), "reproduced_scatter",
               f"Reported vs reproduced for the {len(table)} re-run results (fraction scale), with the 95% bootstrap "
               "CI of each re-run and the identity line.")
    verdicts = pd.DataFrame({"verdict": list(counts.index), "results": [int(c) for c in counts.to_numpy()]})
    rep.table(blocks, verdicts, "reproduced_verdicts", "Verdicts of the reference zoo's re-runs")
    rep.table(blocks, side_by_side(table), "reproduced", "Reported and reproduced values, result by result")
