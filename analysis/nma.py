"""Network meta-analysis from arm-level data (a score per model per dataset), contrast-based.

Each study's arms (sorted by treatment) are turned into contrasts against its first arm b:
yₜ − y_b with Var = vₜ + v_b and Cov(yₜ − y_b, yₛ − y_b) = v_b, so multi-arm studies carry their covariance.
The consistency model is the multivariate model (White et al. 2012; metafor's contrast-based ``rma.mv``)

    yₜ − y_b = d_t − d_b + δ,   δ ~ N(0, τ² (½ J + ½ I)) within a study     (random = ~ comp | study, ρ = ½)

with d_ref = 0, τ² by REML, and the common-effect model (τ² = 0). Without sampling variances (Dice and the
like, where sources report none) V = 0 and τ² absorbs the residual: the model is then the additive
treatment-plus-study model yₛₜ = αₛ + d_t + εₛₜ, εₛₜ ~ N(0, τ²/2), whose REML τ² is twice the residual mean
square of the two-way ANOVA.

- P-scores (Rücker & Schwarzer 2015): Pₜ = mean over s ≠ t of Φ((d̂ₜ − d̂ₛ)/se(d̂ₜ − d̂ₛ)) for larger-is-better
  outcomes (signs flipped with ``lower_is_better``), from the random-effects estimates.
- Design-by-treatment inconsistency (Higgins et al. 2012): each design (set of treatments in a study) gets its
  own contrasts; the columns of that full interaction model beyond the consistency model are added and
  tested by a Wald χ² with τ² re-estimated under the interaction model; with sampling variances the
  common-effect decomposition Q = Q_within designs + Q_between designs is given too.
- A disconnected network is split into its components, each analysed on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .errors import AnalysisError, InputError
from .multilevel import Blocks, RandomSpec, _Engine, _qe, rma_mv


@dataclass
class NMA:
    """One connected network: effects against ``reference``, league table, P-scores, inconsistency."""

    treatments: list[str]
    reference: str
    lower_is_better: bool
    level: float
    n_studies: int
    n_contrasts: int
    n_designs: int
    has_variances: bool
    tau2: float
    d: np.ndarray  # random-effects d_t (reference 0), in the order of treatments
    vd: np.ndarray  # its covariance
    d_common: np.ndarray | None
    vd_common: np.ndarray | None
    q: float | None
    q_df: int
    q_pval: float | None
    inconsistency: dict
    edges: pd.DataFrame  # treatment pairs compared directly: a, b, studies
    loglik: float
    studies: list[str] = field(default_factory=list)

    def _crit(self) -> float:
        return float(stats.norm.ppf(0.5 + self.level / 2))

    def _effects(self, d, vd) -> list[dict]:
        i0 = self.treatments.index(self.reference)
        c = self._crit()
        out = []
        for i, t in enumerate(self.treatments):
            if i == i0:
                continue
            est = float(d[i] - d[i0])
            se = float(np.sqrt(vd[i, i] + vd[i0, i0] - 2 * vd[i, i0]))
            out.append({"treatment": t, "estimate": est, "se": se, "ci_low": est - c * se, "ci_high": est + c * se,
                        "pval": float(2 * stats.norm.sf(abs(est / se))) if se > 0 else None})
        return out

    @property
    def effects(self) -> list[dict]:
        return self._effects(self.d, self.vd)

    @property
    def common(self) -> list[dict] | None:
        return None if self.d_common is None else self._effects(self.d_common, self.vd_common)

    def league(self) -> pd.DataFrame:
        """Every relative effect row − column with its CI (random effects), long form."""
        c = self._crit()
        rows = []
        for i, a in enumerate(self.treatments):
            for j, b in enumerate(self.treatments):
                if i == j:
                    continue
                est = float(self.d[i] - self.d[j])
                se = float(np.sqrt(self.vd[i, i] + self.vd[j, j] - 2 * self.vd[i, j]))
                rows.append({"a": a, "b": b, "estimate": est, "se": se, "ci_low": est - c * se,
                             "ci_high": est + c * se})
        return pd.DataFrame(rows)

    def league_table(self, digits: int = 3) -> pd.DataFrame:
        """netmeta's league table: treatments on the diagonal (best P-score first), row − column below it."""
        order = sorted(self.treatments, key=lambda t: -self.pscore[t])
        lg = self.league().set_index(["a", "b"])
        out = pd.DataFrame("", index=order, columns=order)
        for i, a in enumerate(order):
            for j, b in enumerate(order):
                if i == j:
                    out.loc[a, b] = a
                elif i > j:
                    r = lg.loc[(a, b)]
                    out.loc[a, b] = f"{r.estimate:.{digits}f} [{r.ci_low:.{digits}f}, {r.ci_high:.{digits}f}]"
        return out

    @property
    def pscore(self) -> dict[str, float]:
        n = len(self.treatments)
        sign = -1.0 if self.lower_is_better else 1.0
        out = {}
        for i, t in enumerate(self.treatments):
            ps = []
            for j in range(n):
                if j == i:
                    continue
                se = np.sqrt(self.vd[i, i] + self.vd[j, j] - 2 * self.vd[i, j])
                ps.append(stats.norm.cdf(sign * (self.d[i] - self.d[j]) / se))
            out[t] = float(np.mean(ps))
        return dict(sorted(out.items()))

    def to_dict(self) -> dict:
        return {"reference": self.reference, "treatments": list(self.treatments), "n_studies": self.n_studies,
                "n_contrasts": self.n_contrasts, "n_designs": self.n_designs,
                "variances": "reported" if self.has_variances else "none (τ² absorbs the residual)",
                "tau2": self.tau2, "effects": self.effects, "common": self.common, "pscore": self.pscore,
                "q": self.q, "q_df": self.q_df, "q_pval": self.q_pval, "inconsistency": self.inconsistency}

    def summary(self) -> str:
        kind = ("contrast-based random-effects model, REML, with the studies' sampling variances" if self.has_variances
                else "additive model without sampling variances: τ² absorbs the residual")
        lines = [f"Network meta-analysis: {len(self.treatments)} treatments, {self.n_studies} studies, "
                 f"{self.n_contrasts} contrasts, {self.n_designs} designs", f"({kind})", "",
                 f"tau^2 = {self.tau2:.6g}   tau = {np.sqrt(self.tau2):.6g}"]
        if self.q is not None:
            lines.append(f"Q (heterogeneity and inconsistency, df = {self.q_df}) = {self.q:.4f}, p = {self.q_pval:.4g}")
        inc = self.inconsistency
        if inc.get("df"):
            lines.append(f"Design-by-treatment inconsistency: chi^2(df = {inc['df']}) = {inc['stat']:.4f}, "
                         f"p = {inc['pval']:.4g}")
        else:
            lines.append(f"Design-by-treatment inconsistency: not testable ({inc.get('note')})")
        lines += ["", f"Relative effects against {self.reference} (random effects; {100 * self.level:.0f}% CI):"]
        ps = self.pscore
        for e in sorted(self.effects, key=lambda e: -ps[e["treatment"]]):
            lines.append(f"  {e['treatment']:<28} {e['estimate']:9.4f}  [{e['ci_low']:.4f}, {e['ci_high']:.4f}]")
        lines += ["", "P-scores (1 = best): " + ", ".join(f"{t} {v:.3f}" for t, v in
                                                          sorted(ps.items(), key=lambda kv: -kv[1]))]
        return "\n".join(lines)


@dataclass
class Network:
    """The result of :func:`nma`: one :class:`NMA` per connected component."""

    components: list[NMA]
    dropped: list[str]  # studies left out (one arm)
    message: str | None  # set when the network is disconnected

    @property
    def connected(self) -> bool:
        return len(self.components) == 1

    def to_dict(self) -> dict:
        if self.connected:
            out = self.components[0].to_dict()
        else:
            out = {"disconnected": True, "message": self.message, "components": [c.to_dict() for c in self.components]}
        out["dropped_studies"] = list(self.dropped)
        return out

    def summary(self) -> str:
        parts = [c.summary() for c in self.components]
        if self.message:
            parts.insert(0, self.message)
        return "\n\n".join(parts)


def _arms(data: pd.DataFrame, study, treatment, yi, vi):
    for c in (study, treatment, yi) + ((vi,) if vi else ()):
        if c not in data.columns:
            raise InputError(f"no column {c!r}; columns are: {', '.join(map(str, data.columns))}")
    df = pd.DataFrame({"study": data[study], "treatment": data[treatment],
                       "yi": pd.to_numeric(data[yi], errors="coerce"),
                       "vi": pd.to_numeric(data[vi], errors="coerce") if vi else 0.0})
    df["row"] = np.arange(len(df)) + 1
    for c, name in (("study", study), ("treatment", treatment)):
        if df[c].isna().any():
            raise InputError(f"row {int(df.row[df[c].isna()].iloc[0])}, column {name}: missing value")
    df["study"], df["treatment"] = df.study.astype(str), df.treatment.astype(str)
    bad = ~np.isfinite(df.yi)
    if bad.any():
        r = int(df.row[bad].iloc[0])
        raise InputError(f"row {r}, column {yi}: expected a finite number, got {data[yi].iloc[r - 1]!r}")
    if vi:
        bad = ~np.isfinite(df.vi) | (df.vi <= 0)
        if bad.any():
            r = df.row[bad].tolist()
            raise InputError(f"rows {', '.join(map(str, r[:8]))}{' …' if len(r) > 8 else ''}, column {vi}: sampling "
                             "variances must be positive numbers; leave --vi out when the source reports none (the "
                             "additive model then estimates the residual variance)")
    dup = df.duplicated(["study", "treatment"], keep=False)
    if dup.any():
        d = df[dup].sort_values(["study", "treatment", "row"])
        first = d.groupby(["study", "treatment"]).row.apply(lambda r: ", ".join(map(str, r))).head(5)
        lst = "; ".join(f"{s} × {t} (rows {rows})" for (s, t), rows in first.items())
        raise InputError(f"duplicate (study, treatment) rows: {lst}. Each treatment may appear once per study: "
                         "average or drop the repeats, or tell the conditions apart in the study column")
    return df


def _components(df: pd.DataFrame) -> list[list[str]]:
    """Treatment sets of the connected components of the network (studies link their arms)."""
    tr = sorted(df.treatment.unique())
    st = sorted(df.study.unique())
    ti = {t: i for i, t in enumerate(tr)}
    si = {s: i + len(tr) for i, s in enumerate(st)}
    r = df.treatment.map(ti).to_numpy()
    c = df.study.map(si).to_numpy()
    n = len(tr) + len(st)
    g = coo_matrix((np.ones(len(r)), (r, c)), shape=(n, n))
    _, lab = connected_components(g, directed=False)
    comps: dict[int, list[str]] = {}
    for t, i in ti.items():
        comps.setdefault(int(lab[i]), []).append(t)
    return sorted((sorted(v) for v in comps.values()), key=lambda v: (-len(v), v))


def _contrasts(df: pd.DataFrame):
    """Contrast rows against each study's first arm (sorted by treatment) and their sampling covariance
    (vectorised over studies: a benchmark table has hundreds of datasets with dozens of arms each)."""
    a = df.sort_values(["study", "treatment"], kind="stable").reset_index(drop=True)
    study = a.study.to_numpy()
    first = np.r_[True, study[1:] != study[:-1]]
    start = np.flatnonzero(first)
    sizes = np.diff(np.r_[start, len(a)])
    base_idx = np.repeat(start, sizes)  # the study's first arm, for every arm
    trt, y, v = a.treatment.to_numpy(), a.yi.to_numpy(float), a.vi.to_numpy(float)
    designs = pd.Series(trt).groupby(np.repeat(np.arange(len(start)), sizes)).agg(":".join).to_numpy()
    keep = ~first
    arms = np.flatnonzero(keep)
    b = base_idx[arms]
    con = pd.DataFrame({"study": study[arms], "treat": trt[arms], "base": trt[b], "yi": y[arms] - y[b],
                        "design": np.repeat(designs, sizes - 1),
                        "comp": pd.Series(trt[arms]).str.cat(pd.Series(trt[b]), sep="-").to_numpy()})
    # covariance: v_b on every pair of one study's contrasts, plus v_t on the diagonal
    rows, cols, vals = [], [], []
    offset = np.r_[0, np.cumsum(sizes - 1)]
    for n in np.unique(sizes - 1):
        sel = np.flatnonzero(sizes - 1 == n)
        if n == 0:
            continue
        o = offset[sel][:, None] + np.arange(n)[None, :]  # contrast rows of these studies
        r = np.broadcast_to(o[:, :, None], (len(sel), n, n))
        c = np.broadcast_to(o[:, None, :], (len(sel), n, n))
        vb = v[start[sel]][:, None, None] * np.ones((1, n, n))
        vt = v[start[sel][:, None] + 1 + np.arange(n)[None, :]]
        vb = vb + vt[:, :, None] * np.eye(n)[None, :, :]
        nz = vb != 0
        rows.append(r[nz])
        cols.append(c[nz])
        vals.append(vb[nz])
    cat = (lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt))
    return con, (cat(rows, np.int64), cat(cols, np.int64), cat(vals, float))


def _greedy_extra(Xc: np.ndarray, cands: np.ndarray, tol: float = 1e-7) -> list[int]:
    """Indices of candidate columns that raise the rank of [Xc, chosen…], taken in order (R's qr rank)."""
    Q, _ = np.linalg.qr(Xc) if Xc.shape[1] else (np.zeros((Xc.shape[0], 0)), None)
    chosen = []
    for j in range(cands.shape[1]):
        c = cands[:, j]
        r = c - Q @ (Q.T @ c)
        nr = np.linalg.norm(r)
        if nr > tol * max(np.linalg.norm(c), 1.0):
            Q = np.column_stack([Q, r / nr])
            chosen.append(j)
    return chosen


def _fit_component(df: pd.DataFrame, reference: str | None, lower_is_better: bool, level: float,
                   has_v: bool) -> NMA:
    trts = sorted(df.treatment.unique())
    if reference is None or reference not in trts:
        counts = df.groupby("treatment").study.nunique()
        reference = sorted(trts, key=lambda t: (-counts[t], t))[0]
    others = [t for t in trts if t != reference]
    con, Vcoo = _contrasts(df)
    k = len(con)
    col = {t: j for j, t in enumerate(others)}
    Xc = np.zeros((k, len(others)))
    r = np.arange(k)
    tc = con.treat.map(col).to_numpy(dtype=float)  # NaN for the reference, which has no column
    bc = con.base.map(col).to_numpy(dtype=float)
    Xc[r[~np.isnan(tc)], tc[~np.isnan(tc)].astype(int)] += 1.0
    Xc[r[~np.isnan(bc)], bc[~np.isnan(bc)].astype(int)] -= 1.0
    data = con[["comp", "study"]]
    try:
        fit = rma_mv(con.yi.to_numpy(), _sparse(Vcoo, k), data=data, random="comp | study", struct="CS", rho=0.5,
                     mods=Xc, intercept=False)
    except AnalysisError as e:
        raise AnalysisError(f"the network model could not be fitted: {e}") from None
    i0 = trts.index(reference)
    pos = [trts.index(t) for t in others]

    def full(beta, vb):
        d = np.zeros(len(trts))
        vd = np.zeros((len(trts), len(trts)))
        d[pos] = beta
        vd[np.ix_(pos, pos)] = vb
        return d, vd

    d, vd = full(fit.beta, fit.vb)
    d_c = vd_c = None
    q = q_p = None
    if has_v:
        b_c, A_c, q, q_p = _common(con.yi.to_numpy(), Xc, Vcoo, data)
        d_c, vd_c = full(b_c, A_c)
    inc = _inconsistency(con, Xc, Vcoo, data, has_v)
    # a multi-arm study compares every pair of its arms directly: co-occurrence counts B'B of the study × treatment
    # incidence matrix
    incidence = np.zeros((df.study.nunique(), len(trts)))
    incidence[pd.factorize(df.study)[0], pd.Categorical(df.treatment, categories=trts).codes] = 1.0
    co = incidence.T @ incidence
    ia, ib = np.triu_indices(len(trts), 1)
    keep = co[ia, ib] > 0
    edges = pd.DataFrame({"a": np.asarray(trts)[ia[keep]], "b": np.asarray(trts)[ib[keep]],
                          "studies": co[ia, ib][keep].astype(int)})
    del i0
    return NMA(treatments=trts, reference=reference, lower_is_better=lower_is_better, level=level,
               n_studies=int(df.study.nunique()), n_contrasts=k, n_designs=int(con.design.nunique()),
               has_variances=has_v, tau2=float(fit.tau2[0]), d=d, vd=vd, d_common=d_c, vd_common=vd_c,
               q=q, q_df=k - len(others), q_pval=q_p, inconsistency=inc, edges=edges, loglik=fit.loglik,
               studies=sorted(df.study.unique()))


def _sparse(Vcoo, k):
    from scipy import sparse

    r, c, v = Vcoo
    return sparse.csr_matrix((v, (r, c)), shape=(k, k))


def _common(y, X, Vcoo, data):
    """Common-effect GLS fit with weights V⁻¹: (β, Var β, Q, p)."""
    spec = RandomSpec(nested=[], nested_codes=[])
    codes = pd.factorize(data.study, sort=True)[0]
    blocks = Blocks(codes, y, X, Vcoo, spec)
    eng = _Engine(blocks, spec, None, "ML", X.shape[1], len(y), 0.0)
    ll, _, _, beta, A = eng.evaluate(np.array([]), derivatives=False)
    if beta is None:
        raise InputError("the sampling covariance of the contrasts is singular")
    q, qp = _qe(blocks, len(y), X.shape[1])
    return beta, A, q, qp


def _inconsistency(con, Xc, Vcoo, data, has_v) -> dict:
    key = con.design + "|" + con.comp
    keys = sorted(key.unique())
    codes = pd.Categorical(key, categories=keys).codes
    cands = np.zeros((len(key), len(keys)))
    cands[np.arange(len(key)), codes] = 1.0
    # rows with one key have identical rows in Xc and in the candidates: the ranks are those of the unique rows
    first = pd.Series(np.arange(len(key))).groupby(codes).first().to_numpy()
    extra = _greedy_extra(Xc[first], cands[first])
    out = {"method": "design-by-treatment interaction (Higgins et al. 2012), Wald test, random effects",
           "df": len(extra), "stat": None, "pval": None, "tau2": None, "q_between_designs": None,
           "q_between_pval": None, "q_within_designs": None, "note": None}
    if not extra:
        out["note"] = ("no design differs from another in a way the consistency model does not already fit "
                       "(no loops of evidence from different designs)")
        return out
    E = cands[:, extra]
    X = np.column_stack([Xc, E])
    if X.shape[0] <= X.shape[1]:
        out["note"] = "too few contrasts to fit the design-by-treatment interaction model"
        return out
    try:
        fit = rma_mv(con.yi.to_numpy(), _sparse(Vcoo, len(con)), data=data, random="comp | study", struct="CS",
                     rho=0.5, mods=X, intercept=False)
    except AnalysisError as e:
        out["note"] = f"the design-by-treatment interaction model could not be fitted ({e})"
        return out
    p = Xc.shape[1]
    bE, vE = fit.beta[p:], fit.vb[p:, p:]
    stat = float(bE @ np.linalg.solve(vE, bE))
    out.update(stat=stat, pval=float(stats.chi2.sf(stat, len(extra))), tau2=float(fit.tau2[0]))
    if has_v:
        _, _, q_c, _ = _common(con.yi.to_numpy(), Xc, Vcoo, data)
        _, _, q_i, _ = _common(con.yi.to_numpy(), X, Vcoo, data)
        out.update(q_between_designs=q_c - q_i, q_between_pval=float(stats.chi2.sf(q_c - q_i, len(extra))),
                   q_within_designs=q_i)
    return out


def nma(data: pd.DataFrame, *, study: str = "study", treatment: str = "treatment", yi: str = "yi",
        vi: str | None = "vi", reference: str | None = None, lower_is_better: bool = False,
        level: float = 0.95, drop_single_arm: bool = False) -> Network:
    """Network meta-analysis of arm-level data: one row per (study, treatment) with the outcome ``yi`` and its
    sampling variance ``vi`` (``vi=None`` when none is known: the additive model). The reference defaults
    to the treatment in the most studies. A study with one arm compares nothing: an error, or with
    ``drop_single_arm`` it is left out and listed in ``dropped``."""
    df = _arms(data, study, treatment, yi, vi)
    arms = df.groupby("study").treatment.nunique()
    single = sorted(arms.index[arms < 2])
    if single and not drop_single_arm:
        rows = df.row[df.study.isin(single)].tolist()
        raise InputError(f"{len(single)} stud{'y has' if len(single) == 1 else 'ies have'} one arm "
                         f"({', '.join(single[:6])}{' …' if len(single) > 6 else ''}; rows "
                         f"{', '.join(map(str, rows[:8]))}{' …' if len(rows) > 8 else ''}): a study with one "
                         "treatment compares nothing. Drop those rows or add the study's other arms")
    df = df[~df.study.isin(single)]
    if df.empty:
        raise InputError("no study has two or more treatments: a network needs studies that compare treatments")
    if reference is not None and reference not in set(df.treatment):
        raise InputError(f"reference {reference!r} is not a treatment of the network; treatments are: "
                         f"{', '.join(sorted(df.treatment.unique()))}")
    comps = _components(df)
    fits = []
    for trts in comps:
        sub = df[df.treatment.isin(trts)]
        ref = reference if reference in trts else None
        fits.append(_fit_component(sub, ref, lower_is_better, level, vi is not None))
    msg = None
    if len(comps) > 1:
        desc = "; ".join(f"{{{', '.join(c)}}}" for c in comps)
        msg = (f"The network is disconnected: {len(comps)} components ({desc}). No study links them, so no "
               "treatment of one can be compared with a treatment of another; each component is analysed on "
               "its own. Add a study that evaluates treatments of both, or report the components separately.")
    return Network(components=fits, dropped=single, message=msg)
