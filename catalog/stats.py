"""Size of the evidence base (``fmreview catalog stats``)."""

from __future__ import annotations

from collections import Counter


def _count_lists(series) -> dict:
    c = Counter(x for xs in series for x in xs)
    return dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))


def _count(series) -> dict:
    c = Counter(x for x in series if x is not None and x == x)
    return dict(sorted(c.items(), key=lambda kv: (-kv[1], str(kv[0]))))


def catalog_stats(cat) -> dict:
    m, d, p, r = cat.models, cat.datasets, cat.papers, cat.results
    n = len(r)
    has_unc = r[["sd", "se", "ci_low"]].notna().any(axis=1) if n else r["sd"]
    return {
        "entities": {"papers": len(p), "models": len(m), "datasets": len(d), "results": n,
                     "result_sources": int(r["source_url"].nunique()) if n else 0},
        "models_by_family": _count(m["family"]),
        "models_by_band": _count(m["band"]),
        "models_by_group": _count(m["model_group"]),
        "models_by_modality": _count_lists(m["modalities"]),
        "models_by_task": _count_lists(m["tasks"]),
        "models_by_year": dict(sorted(Counter(int(y) for y in m["year"].dropna()).items())),
        "models_with_open_weights": int(m["open_weights"].fillna(False).astype(bool).sum()),
        "models_on_hf_hub": int(m["hf_repo"].notna().sum()),
        "papers_by_year": dict(sorted(Counter(int(y) for y in p["year"].dropna()).items())),
        "papers_by_kind": _count(p["kind"]),
        "datasets_by_modality": _count_lists(d["modalities"]),
        "results_by_metric": _count(r["metric"]),
        "results_by_setting": _count(r["setting"]),
        "results_share_with_n": round(float(r["n"].notna().mean()), 3) if n else 0.0,
        "results_share_with_uncertainty": round(float(has_unc.mean()), 3) if n else 0.0,
    }
