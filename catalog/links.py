"""One entry with everything linked to it (``fmreview show ID``)."""

from __future__ import annotations


def _dump(rec) -> dict:
    return rec.model_dump(mode="json", exclude_none=True, exclude_defaults=False)


def linked(cat, id_: str) -> dict | None:
    raw = cat.raw
    res = cat.results
    if id_ in raw.models:
        m = raw.models[id_].record
        doc = {"model": _dump(m), "file": raw.models[id_].file}
        if m.paper and m.paper in raw.papers:
            doc["paper"] = _dump(raw.papers[m.paper].record)
        doc["derived_models"] = sorted(k for k, e in raw.models.items() if e.record.base_model == id_)
        rows = res[res["model"] == id_]
        doc["results"] = [
            {k: r[k] for k in ("id", "dataset", "subset", "modality", "metric", "value_reported", "unit", "setting", "prompt", "aggregate", "doubt", "locator", "source_url") if r[k] is not None and r[k] == r[k]}
            for r in rows.to_dict("records")
        ]
        return doc
    if id_ in raw.datasets:
        d = raw.datasets[id_].record
        doc = {"dataset": _dump(d), "file": raw.datasets[id_].file}
        rows = res[res["dataset"] == id_]
        doc["models_evaluated"] = sorted(set(rows["model"]))
        doc["n_results"] = int(len(rows))
        return doc
    if id_ in raw.papers:
        p = raw.papers[id_].record
        doc = {"paper": _dump(p), "file": raw.papers[id_].file}
        doc["models"] = sorted(k for k, e in raw.models.items() if e.record.paper == id_)
        doc["datasets"] = sorted(k for k, e in raw.datasets.items() if e.record.paper == id_)
        doc["result_files"] = sorted({e.file for e in raw.result_files if e.record.source.paper == id_})
        doc["n_results"] = int((res["source_paper"] == id_).sum())
        return doc
    for e in raw.result_files:
        for r in e.record.results:
            if r.id == id_:
                return {"result": _dump(r), "source": _dump(e.record.source), "file": e.file}
    return None
