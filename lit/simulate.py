"""Simulated screening of a fully labelled review: how much work would the prioritisation have saved?

The simulation replays the live loop (:class:`fmreview.lit.prioritise.Prioritiser`, the very same code): start
from a few prior records of known label, then repeatedly let the model rank the unlabelled records, "screen" the
top ``step`` of them (reveal their labels) and retrain — until every record is screened. The order in which the
records came out is then scored. Prior records are left out of every metric (as ASReview's insights do by
default): N is the number of records screened after the priors, R the relevant ones among them, and ``pos_i``
the 1-based position in that order at which the i-th relevant record was screened.

* recall curve: recall(k) = (relevant among the first k) / R, against k / N; random screening is the diagonal.
* records screened to reach recall r: n_r = pos_⌈r·R⌉ (the first position at which at least r·R were found).
* WSS@r (work saved over sampling; Cohen et al. 2006, *JAMIA* 13:206): WSS@r = (N − n_r) / N − (1 − r).
  Random order gives ≈ 0; a perfect order (R ≪ N) ≈ r. asreview-insights computes it as r' − n_r'/N with
  r' = ⌊r·R⌋/R against a rounded random baseline, which can differ from this by about 1/R.
* ATD (average time to discovery; Ferdinands et al. 2023, *Syst Rev* 12:100): the mean over relevant records
  of the fraction of records screened when each was found, ATD = (1/R) Σ_i pos_i / N. asreview-insights reports
  the mean of pos_i itself (a count); divide it by N to compare.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .prioritise import Prioritiser, texts_of
from .review import ReviewError

LABEL_COLUMNS = ("label_included", "included", "final_included", "label", "included_label")


def read_labelled(path: Path | str) -> tuple[list[str], list[str], np.ndarray]:
    """Titles, abstracts and 0/1 labels of a labelled CSV/TSV: the SYNERGY/ASReview layout (title, abstract,
    label_included) or the Cohen 2006 files (pubmedID, title, authors, abstract, year, …, label_included,
    label_abstract_screening; ``label_included`` — the final, full-text decision — is the label used)."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise ReviewError(f"{path}: no such file")
    sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    try:
        df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise ReviewError(f"{path}: cannot read as CSV ({type(e).__name__}: {str(e).splitlines()[0][:120]})") \
            from None
    cols = {c.strip().lower(): c for c in df.columns}
    if "title" not in cols:
        raise ReviewError(f"{path}: no 'title' column (columns: {', '.join(map(str, df.columns))})")
    label = next((cols[c] for c in LABEL_COLUMNS if c in cols), None)
    if label is None:
        raise ReviewError(f"{path}: no label column; expected one of {', '.join(LABEL_COLUMNS)}")
    raw = df[label].str.strip()
    bad = ~raw.isin(["0", "1", "0.0", "1.0"])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ReviewError(f"{path}:{i + 2}: {label} is {df[label].iloc[i]!r}; a fully labelled file needs 0 or 1 "
                          "in every row")
    y = raw.astype(float).astype(int).to_numpy()
    if len(y) == 0:
        raise ReviewError(f"{path}: no records")
    abstract = df[cols["abstract"]].tolist() if "abstract" in cols else [""] * len(df)
    return df[cols["title"]].tolist(), abstract, y


def choose_priors(y: np.ndarray, n_included: int, n_excluded: int, seed: int) -> np.ndarray:
    """Prior records drawn at random (seeded) from the relevant and the irrelevant ones."""
    rng = np.random.default_rng(seed)
    rel, irr = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    if n_included > len(rel) or n_excluded > len(irr):
        raise ReviewError(f"asked for {n_included} included and {n_excluded} excluded prior records; the file has "
                          f"{len(rel)} and {len(irr)}")
    return np.concatenate([rng.choice(rel, n_included, replace=False),
                           rng.choice(irr, n_excluded, replace=False)]).astype(np.int64)


@dataclass
class Metrics:
    records: int  # N, after the priors
    relevant: int  # R, after the priors
    wss95: float | None
    atd: float | None
    screened_at_95: int | None
    screened_at_100: int | None
    recall_x: np.ndarray = field(repr=False, default=None)
    recall_y: np.ndarray = field(repr=False, default=None)


def screened_at(labels_in_order, r: float) -> int | None:
    """n_r: the 1-based position at which at least r·R relevant records had been screened."""
    labels_in_order = np.asarray(labels_in_order)
    pos = np.flatnonzero(labels_in_order == 1) + 1
    if len(pos) == 0:
        return None
    k = max(1, math.ceil(r * len(pos) - 1e-9))  # the tolerance keeps 0.95·100 = 95.000…01 at 95
    return int(pos[k - 1])


def metrics(labels_in_order) -> Metrics:
    """WSS@95, ATD, n_95, n_100 and the recall curve of one screening order (labels 1/0 in the order screened);
    see the module docstring for the formulas."""
    y = np.asarray(labels_in_order, dtype=np.int64)
    n, r = len(y), int(y.sum())
    x = np.arange(n + 1) / max(n, 1)
    if r == 0:
        return Metrics(n, 0, None, None, None, None, x, np.zeros(n + 1))
    curve = np.concatenate([[0], np.cumsum(y)]) / r
    n95 = screened_at(y, 0.95)
    pos = np.flatnonzero(y == 1) + 1
    return Metrics(records=n, relevant=r, wss95=(n - n95) / n - 0.05, atd=float(np.mean(pos / n)),
                   screened_at_95=n95, screened_at_100=screened_at(y, 1.0), recall_x=x, recall_y=curve)


@dataclass
class Simulation:
    model: str
    seed: int
    priors: np.ndarray  # pool indices of the prior records
    order: np.ndarray  # pool indices in the order screened after the priors
    labels_in_order: np.ndarray
    metrics: Metrics
    seconds: float

    def to_json(self) -> dict:
        m = self.metrics
        rnd = (lambda v: None if v is None else round(v, 4))
        return {"records": m.records, "relevant": m.relevant, "wss95": rnd(m.wss95), "atd": rnd(m.atd),
                "screened_at_95": m.screened_at_95, "screened_at_100": m.screened_at_100, "model": self.model,
                "seed": self.seed}

    def summary(self) -> str:
        j = self.to_json()
        fmt = (lambda v, p=".3f": "n/a" if v is None else format(v, p))
        return "\n".join([
            f"model {j['model']}, seed {j['seed']}, {len(self.priors)} prior records (left out of the metrics)",
            f"records   {j['records']}  (relevant {j['relevant']})",
            f"WSS@95    {fmt(j['wss95'])}",
            f"ATD       {fmt(j['atd'])}  (mean fraction screened when each relevant record was found)",
            f"to 95 %   {j['screened_at_95']} records screened",
            f"to 100 %  {j['screened_at_100']} records screened",
            f"time      {self.seconds:.2f} s"])


def simulate(texts: list[str], y, model: str = "nb", seed: int = 0, prior_included: int = 1,
             prior_excluded: int = 1, priors=None, step: int = 1) -> Simulation:
    """Replay the screening of a labelled pool with the live loop's model.

    The model is retrained after every ``step`` records (default 1: after every record, as in the live loop).
    ``priors`` (pool indices) overrides the seeded draw of ``prior_included`` + ``prior_excluded`` records.
    """
    t0 = time.perf_counter()
    y = np.asarray(y, dtype=np.int64)
    if step < 1:
        raise ReviewError("step must be at least 1")
    prior = (np.asarray(priors, dtype=np.int64) if priors is not None
             else choose_priors(y, prior_included, prior_excluded, seed))
    model_ = Prioritiser(texts, model=model, seed=seed)
    labelled = list(prior)
    order: list[int] = []
    n = len(y)
    while len(labelled) < n:
        ranking = model_.rank(np.array(labelled, dtype=np.int64), y[labelled])
        take = ranking.order[:step].tolist()
        labelled.extend(take)
        order.extend(take)
    order_ = np.array(order, dtype=np.int64)
    labels = y[order_]
    return Simulation(model=model, seed=seed, priors=prior, order=order_, labels_in_order=labels,
                      metrics=metrics(labels), seconds=time.perf_counter() - t0)


def simulate_file(path, model: str = "nb", seed: int = 0, prior_included: int = 1, prior_excluded: int = 1,
                  step: int = 1) -> Simulation:
    titles, abstracts, y = read_labelled(path)
    if y.sum() == 0 or y.sum() == len(y):
        raise ReviewError(f"{path}: every record has the same label; a simulation needs relevant and irrelevant "
                          "ones")
    return simulate(texts_of(titles, abstracts), y, model=model, seed=seed, prior_included=prior_included,
                    prior_excluded=prior_excluded, step=step)
